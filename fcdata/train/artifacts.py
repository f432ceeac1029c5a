"""What a run leaves besides its weights: which tokenizer it used, its loss curve, its memory peak, text
and YAML files written atomically."""

from __future__ import annotations

import resource
from typing import Any

__all__ = ["tokenizer_reference", "plot_loss_curve", "peak_memory", "dump_yaml", "write_text"]


def tokenizer_reference(path: str | None) -> dict[str, Any]:
    """Which tokenizer the data was rendered with: its file, version and sha256 (the file itself is not
    copied: the v3 model ships with mistral-common)."""
    import hashlib

    from ..tokenizer import load_tokenizer

    tok = load_tokenizer(path)
    with open(tok.path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return {"path": tok.path, "given": path, "version": tok.version, "vocab_size": tok.vocab_size, "sha256": digest}


def plot_loss_curve(
    log_history: list[dict[str, Any]],
    target: str,
    *,
    title: str = "training loss",
    heldout_before: float | None = None,
    heldout_after: float | None = None,
) -> bool:
    """Write the training loss per logged step as a PNG (atomically); returns False when nothing was
    logged.

    ``heldout_before`` / ``heldout_after``: the loss on the held-out replies (same measure: mean
    cross-entropy per trained token) of the model before training and after, drawn as two marked points
    at the first and last step, so the curve shows how much of the training loss's fall carries over to
    data the model never saw. Steps are optimizer steps: the x axis has integer ticks only."""
    points = [(int(e["step"]), float(e["loss"])) for e in log_history if "loss" in e and "step" in e]
    if not points:
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from ..write import atomic_path

    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 60 else None, linewidth=1.2, label="training loss (logged steps)")
    first_step, last_step = 0, points[-1][0]
    if heldout_before is not None:
        ax.plot([first_step], [heldout_before], marker="o", linestyle="none", color="tab:red", label=f"held-out loss before training: {heldout_before:.3g}")
    if heldout_after is not None:
        ax.plot([last_step], [heldout_after], marker="s", linestyle="none", color="tab:green", label=f"held-out loss after training: {heldout_after:.3g}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (mean over trained tokens)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if heldout_before is not None or heldout_after is not None:
        ax.legend(fontsize="small")
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return True


def dump_yaml(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)


def write_text(target: str, text: str) -> None:
    from ..write import atomic_open

    with atomic_open(target, "w") as fh:
        fh.write(text)


def peak_memory(device: str) -> dict[str, Any]:
    """Peak memory of this process: the CUDA allocator's on a GPU, peak RSS on a CPU."""
    if device == "cuda":
        import torch

        return {
            "peak_memory_bytes": int(torch.cuda.max_memory_allocated()),
            "peak_memory_reserved_bytes": int(torch.cuda.max_memory_reserved()),
            "peak_memory_kind": "cuda max_memory_allocated",
        }
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_memory_bytes": int(rss_kb) * 1024, "peak_memory_kind": "process peak RSS (CPU run)"}
