"""Training on prepared data: the Hugging Face Trainer with PEFT LoRA (or all weights), fcdata's collators
and packing, and a loss computed only where it is needed.

Why each piece is the way it is:

* **The loss is exactly fcdata's trained tokens.** Labels come from the prepared ``assistant_masks`` /
  ``labels`` through :mod:`fcdata.collate` (never re-derived here). Token ``t`` predicts ``labels[t + 1]``;
  the loss of an optimizer step is the sum of the cross-entropies of every trained target in the step
  (all micro-batches, all processes) divided by their number — the mean over trained tokens that
  mistral-finetune uses, independent of how the step is cut into micro-batches or packs. The Trainer
  counts the targets of the whole step (``num_items_in_batch``); :meth:`FcdataTrainer.compute_loss`
  divides by that count and tells the Trainer the loss is already scaled for gradient accumulation.
* **No full-vocabulary logits.** The model is asked for logits only at positions whose next token is
  trained (``logits_to_keep`` with a boolean mask: transformers applies ``lm_head`` to those hidden states
  only). With a 32768-token vocabulary, full fp32 logits of 2 x 4096 tokens are 1 GiB, and their softmax
  and gradient as much again; with ~25% of tokens trained the lm_head output shrinks fourfold.
* **Gradient checkpointing really on**: enabled on the model (non-reentrant), and the Trainer puts the
  model in train mode at every step — transformers checkpoints a decoder layer only in train mode.
* **Packing on by default**: best-fit-decreasing packs (:func:`fcdata.pack.pack_dataset`) of at most
  ``max_length`` tokens, fed through :class:`fcdata.collate.PackingCollator` (positions restart per
  sample, no attention across samples: flash-attention varlen kernels on one flat row when flash-attn is
  installed, otherwise one row per pack with sdpa's block-diagonal mask).
* **Runs under ``accelerate launch``** (DDP) unchanged: the Trainer shards the packs across processes,
  the trained-token count is summed over processes, and only the main process writes files.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import shutil
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..errors import InputError, UsageError
from .config import Resolved, TrainConfig, resolve
from .models import ModelInfo, is_preset, load_base_model

if TYPE_CHECKING:
    import datasets
    import torch

__all__ = [
    "TrainResult",
    "FcdataTrainer",
    "train_model",
    "load_prepared",
    "enable_checkpointing",
    "apply_lora",
    "token_loss",
    "plot_loss_curve",
    "tokenizer_reference",
]

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
_CKPT_DIR = "checkpoints"


# ---------------------------------------------------------------------------------------- the loss


def token_loss(model: Any, inputs: dict[str, Any]) -> tuple["torch.Tensor", int]:
    """Sum of the cross-entropies of every trained target in ``inputs`` and how many there are.

    ``inputs`` is a collated batch (``input_ids``, ``labels`` NOT shifted, and whatever else the collator
    returns). Only hidden states whose next token is trained go through ``lm_head``::

        labels        -100 -100 -100   20    2 -100
        keep (t)         0    0    1    1    0    0      keep[t] = labels[t + 1] != -100
        targets                   20    2

    The logits are upcast to fp32 for the cross-entropy only at those positions.
    """
    import torch
    import torch.nn.functional as F

    labels = inputs["labels"]
    model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
    next_labels = labels[:, 1:]
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = next_labels != IGNORE_INDEX
    targets = next_labels[keep[:, :-1]]
    if _bool_logits_to_keep():
        # transformers >= 5: lm_head runs on exactly the kept hidden states, flattened to [targets, V]
        logits = model(**model_inputs, logits_to_keep=keep).logits
    else:
        # older transformers take positions shared by every row: keep the union, then select per row
        # (exact for one flat packed row; the order of the selected rows matches `targets`)
        positions = keep.any(dim=0).nonzero().squeeze(1)
        logits = model(**model_inputs, logits_to_keep=positions).logits[keep[:, positions]]
    loss_sum = F.cross_entropy(logits.float(), targets, reduction="sum")
    return loss_sum, int(targets.numel())


def _bool_logits_to_keep() -> bool:
    """Whether this transformers takes a boolean ``[batch, length]`` mask as ``logits_to_keep``."""
    global _BOOL_KEEP
    if _BOOL_KEEP is None:
        try:
            from transformers.modeling_utils import slice_logits_to_keep  # noqa: F401

            _BOOL_KEEP = True
        except ImportError:
            _BOOL_KEEP = False
    return _BOOL_KEEP


_BOOL_KEEP: bool | None = None


def _trainer_class() -> type:
    """The Trainer subclass (built on first use so that importing this module does not import torch)."""
    global _TRAINER_CLASS
    if _TRAINER_CLASS is not None:
        return _TRAINER_CLASS
    from transformers import Trainer

    class _FcdataTrainer(Trainer):
        """``transformers.Trainer`` whose loss is :func:`token_loss` normalised over the whole step."""

        loss_is_scaled_for_ga = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # the Trainer counts the trained targets of each optimizer step only when it believes the
            # model takes loss kwargs; our loss always needs that count
            self.model_accepts_loss_kwargs = True
            self._loss_shifts_labels = True
            self.fcdata_trained_tokens = 0
            self.fcdata_tokens = 0
            self.fcdata_pad_id = 0
            self.fcdata_started: float | None = None

        def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
            # tokens seen so far (this process) and seconds since training started: throughput per
            # logging interval can be read from the log history without timing the whole run
            if "loss" in logs:
                import time as _time

                if self.fcdata_started is None:
                    self.fcdata_started = _time.perf_counter()
                logs = {**logs, "tokens_seen": self.fcdata_tokens, "trained_tokens_seen": self.fcdata_trained_tokens, "elapsed_s": round(_time.perf_counter() - self.fcdata_started, 4)}
            super().log(logs, *args, **kwargs)

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            loss_sum, n = token_loss(model, inputs)
            self.fcdata_trained_tokens += n
            self.fcdata_tokens += _real_tokens(inputs, self.fcdata_pad_id)
            if num_items_in_batch is None:
                # no step-wide count (no labels seen by the Trainer): a per-micro-batch mean, scaled here
                # for gradient accumulation since the Trainer is told the loss is already scaled
                loss = loss_sum / max(n, 1) / max(int(getattr(self, "current_gradient_accumulation_steps", 1) or 1), 1)
            else:
                loss = loss_sum / num_items_in_batch
                if getattr(self.args, "average_tokens_across_devices", False) and self.accelerator.num_processes > 1:
                    # DDP averages gradients over processes; the count is already global
                    loss = loss * self.accelerator.num_processes
            return (loss, None) if return_outputs else loss

    _TRAINER_CLASS = _FcdataTrainer
    return _FcdataTrainer


_TRAINER_CLASS: type | None = None


def FcdataTrainer(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - a factory that reads like the class
    """Build the Trainer subclass (see :func:`token_loss` for its loss); arguments are the Trainer's."""
    return _trainer_class()(*args, **kwargs)


def _real_tokens(inputs: dict[str, Any], pad_id: int) -> int:
    """Tokens of a batch that are not padding: the attention mask of a padded batch; in a packed batch
    (no attention mask) every slot that does not hold the pad id (``<unk>``, which rendering never emits)."""
    mask = inputs.get("attention_mask")
    if mask is not None:
        return int(mask.sum())
    return int(inputs["input_ids"].ne(pad_id).sum())


# ---------------------------------------------------------------------------------------- model set-up


def enable_checkpointing(model: Any) -> None:
    """Non-reentrant activation checkpointing of every decoder layer (recomputed in backward)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:  # transformers < 5
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def apply_lora(model: Any, cfg: TrainConfig) -> Any:
    """Wrap ``model`` with LoRA adapters on ``cfg.lora.target_modules`` (fp32 adapter weights)."""
    from peft import LoraConfig, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in cfg.lora.target_modules if m not in present]
    if missing:
        raise UsageError(f"LoRA target modules not in this model: {', '.join(missing)}; it has e.g. {', '.join(sorted(present & {'q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'}))}")
    lcfg = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    for p in model.parameters():
        p.requires_grad_(False)
    with warnings.catch_warnings():
        # PEFT reads transformers' deprecated `is_gradient_checkpointing` alias: a FutureWarning about
        # their code, not the user's, that would otherwise land in every run's output
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, lcfg)


def _version_kwargs(arguments_class: Any, cfg: TrainConfig) -> dict[str, Any]:
    """Arguments whose names changed across transformers versions: the warm-up share (``warmup_ratio``,
    or a float ``warmup_steps`` in transformers 5) and the token count averaged over processes."""
    fields = getattr(arguments_class, "__dataclass_fields__", {})
    out: dict[str, Any] = {"warmup_ratio": cfg.warmup_ratio} if "warmup_ratio" in fields else {"warmup_steps": cfg.warmup_ratio}
    if "average_tokens_across_devices" in fields:
        out["average_tokens_across_devices"] = True
    return out


def _sampling_kwargs(arguments_class: Any, *, grouped: bool) -> dict[str, Any]:
    """Length-grouped batches for padded training (less padding), in this transformers version's words."""
    if not grouped:
        return {}
    fields = getattr(arguments_class, "__dataclass_fields__", {})
    if "train_sampling_strategy" in fields:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def _weights_dtype(cfg: TrainConfig, resolved: Resolved) -> str:
    """Full training keeps fp32 master weights (bf16 autocast); a frozen LoRA base is stored in bf16 on
    a bf16 GPU (half the memory, same compute under autocast), fp32 on a CPU."""
    if cfg.full:
        return "float32"
    return "bfloat16" if resolved.bf16 else "float32"


def load_model_for_training(cfg: TrainConfig, resolved: Resolved) -> tuple[Any, Any]:
    """The base model exactly as training loads it (quantisation, weight dtype, device, attention
    kernel, seed): training and the "before" evaluation of train-eval must see the same model."""
    return load_base_model(
        cfg.model,
        qlora=cfg.qlora,
        dtype=_weights_dtype(cfg, resolved),
        device=resolved.device,
        attn_implementation=resolved.attn_implementation,
        model_config=cfg.model_config,
        seed=cfg.seed,
    )


# ---------------------------------------------------------------------------------------- data


def load_prepared(path: str) -> "datasets.Dataset":
    """A prepared data set (``fcdata prepare`` output, ``datasets.load_from_disk``) with its columns checked."""
    import datasets

    try:
        ds = datasets.load_from_disk(path)
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(f"not a prepared data set (datasets.load_from_disk failed: {exc})", file=path) from exc
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise InputError(f"a DatasetDict without a 'train' split (has {', '.join(ds)})", file=path)
        ds = ds["train"]
    if "input_ids" not in ds.column_names or not ({"assistant_masks", "labels"} & set(ds.column_names)):
        raise InputError(f"prepared data needs input_ids and assistant_masks or labels; columns: {', '.join(ds.column_names)}", file=path)
    return ds


def _lengths(ds: "datasets.Dataset") -> list[int]:
    if "length" in ds.column_names:
        return [int(x) for x in ds["length"]]
    return [len(x) for x in ds["input_ids"]]


SDPA_PACK_LENGTH = 1024
"""Default row length of packs when attention is not flash-attention's varlen kernel (see
:func:`_pack_layout`)."""


def _pack_layout(cfg: TrainConfig, resolved: Resolved, longest: int) -> tuple[int, int]:
    """(tokens per packed row, rows per micro-step) so that a micro-step holds ``batch_size x max_length``
    token slots.

    flash-attention's varlen kernel attends within each sample whatever the row length, so rows are
    ``max_length`` long. sdpa and eager attend over a whole row under a block-diagonal mask, which costs
    the square of the row length: 4096-token rows of 500-token samples spend 8x the attention work and
    mask memory that the samples need. So they get rows of ``pack_length`` (default 1024, never shorter
    than the longest sample), more of them per step."""
    if resolved.attn_implementation.startswith("flash"):
        return cfg.max_length, cfg.batch_size
    target = cfg.pack_length or SDPA_PACK_LENGTH
    pack_len = min(cfg.max_length, max(target, longest))
    rows = max(1, round(cfg.batch_size * cfg.max_length / pack_len))
    return pack_len, rows


def _training_rows(ds: "datasets.Dataset", cfg: TrainConfig, resolved: Resolved, num_proc: int | None) -> tuple["datasets.Dataset", dict[str, Any], int]:
    """Packs (or length-filtered samples), a report of what happened to the samples, and the number of
    rows per micro-step."""
    from ..pack import pack_dataset

    columns = [c for c in ("input_ids", "assistant_masks", "labels") if c in ds.column_names]
    lengths = _lengths(ds)
    if cfg.packing:
        fitting = [n for n in lengths if n <= cfg.max_length]
        pack_len, rows_per_step = _pack_layout(cfg, resolved, max(fitting) if fitting else cfg.max_length)
        if not fitting:
            return ds.select([]), {"mode": "packed", "samples": len(lengths), "packed_samples": 0, "dropped_samples": len(lengths)}, rows_per_step
        work = ds if len(fitting) == len(lengths) else ds.select([i for i, n in enumerate(lengths) if n <= cfg.max_length])
        packed, report = pack_dataset(work, pack_len, overlong="error", num_proc=num_proc)
        info = report.to_dict()
        info.pop("dropped", None)
        info.update({"mode": "packed", "samples": len(lengths), "dropped_samples": len(lengths) - len(fitting), "pack_length": pack_len, "rows_per_step": rows_per_step})
        return packed, info, rows_per_step
    keep = [i for i, n in enumerate(lengths) if n <= cfg.max_length]
    rows = ds.select(keep).select_columns([*columns, *(["length"] if "length" in ds.column_names else [])])
    if "length" not in rows.column_names:
        rows = rows.add_column("length", [lengths[i] for i in keep])
    return rows, {"mode": "padded", "samples": len(lengths), "packed_samples": len(keep), "dropped_samples": len(lengths) - len(keep), "tokens": sum(lengths[i] for i in keep), "rows_per_step": cfg.batch_size}, cfg.batch_size


def _collator(cfg: TrainConfig, resolved: Resolved) -> Any:
    from ..collate import PackingCollator, PaddingCollator

    if cfg.packing:
        flash = resolved.attn_implementation.startswith("flash")
        # flash-attention's varlen kernel: one flat row; sdpa/eager build a dense mask per row: one row per pack
        return PackingCollator(layout="flat" if flash else "rows", return_flash_kwargs=flash)
    return PaddingCollator(pad_to_multiple_of=8)


# ---------------------------------------------------------------------------------------- artifacts


def _model_tokenizer(model: str, tokenizer: str | None) -> str | None:
    from ..tokenizer import model_tokenizer

    return model_tokenizer(model, tokenizer)


def tokenizer_reference(path: str | None) -> dict[str, Any]:
    """Which tokenizer the data was rendered with: its file, version and sha256 (the file itself is not
    copied: the v3 model ships with mistral-common)."""
    import hashlib

    from ..tokenizer import load_tokenizer

    tok = load_tokenizer(path)
    with open(tok.path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return {"path": tok.path, "given": path, "version": tok.version, "vocab_size": tok.vocab_size, "sha256": digest}


def plot_loss_curve(log_history: list[dict[str, Any]], target: str, *, title: str = "training loss") -> bool:
    """Write the loss per logged step as a PNG (atomically). Returns False when nothing was logged."""
    points = [(int(e["step"]), float(e["loss"])) for e in log_history if "loss" in e and "step" in e]
    if not points:
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..write import atomic_path

    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 60 else None, linewidth=1.2)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (mean over trained tokens)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return True


def _dump_yaml(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)


def _write_text(target: str, text: str) -> None:
    from ..write import atomic_open

    with atomic_open(target, "w") as fh:
        fh.write(text)


def _peak_memory(device: str) -> dict[str, Any]:
    if device == "cuda":
        import torch

        return {
            "peak_memory_bytes": int(torch.cuda.max_memory_allocated()),
            "peak_memory_reserved_bytes": int(torch.cuda.max_memory_reserved()),
            "peak_memory_kind": "cuda max_memory_allocated",
        }
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_memory_bytes": int(rss_kb) * 1024, "peak_memory_kind": "process peak RSS (CPU run)"}


# ---------------------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What a run did. ``model`` is the trained model in memory (PEFT-wrapped for LoRA), ready to
    generate; ``metrics`` is what ``metrics.json`` holds."""

    run_dir: str
    metrics: dict[str, Any]
    log_history: list[dict[str, Any]]
    resolved: Resolved
    model_info: ModelInfo
    model: Any = None
    notes: list[str] = field(default_factory=list)


def _resume_checkpoint(run_dir: str, cfg: TrainConfig, resolved_dict: dict[str, Any]) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    ckpt_root = os.path.join(run_dir, _CKPT_DIR)
    if not os.path.isdir(ckpt_root):
        return None
    if not cfg.resume:
        shutil.rmtree(ckpt_root, ignore_errors=True)  # every process may get here (DDP)
        return None
    last = get_last_checkpoint(ckpt_root)
    if last is None:
        return None
    saved = os.path.join(run_dir, "config.yaml")
    if os.path.isfile(saved):
        import yaml

        with open(saved, encoding="utf-8") as fh:
            old = yaml.safe_load(fh) or {}
        ignore = {"resume", "notes", "max_steps", "epochs", "save_steps", "save_total_limit", "logging_steps", "eval_size", "eval_fraction", "max_new_tokens", "eval_batch_size", "fill_ids"}
        differ = sorted(k for k in set(old) | set(resolved_dict) if k not in ignore and old.get(k) != resolved_dict.get(k))
        if differ:
            raise UsageError(
                f"{run_dir} holds checkpoints of a run with other settings ({', '.join(differ)}); "
                "resume it with the same settings, choose another -o, or pass --no-resume to start over"
            )
    return last


def train_model(
    dataset: "datasets.Dataset",
    run_dir: str,
    cfg: TrainConfig,
    *,
    resolved: Resolved | None = None,
    on_log: Callable[[dict[str, Any]], None] | None = None,
    num_proc: int | None = None,
    extra_notes: list[str] | None = None,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """Train on a prepared data set and save the run to ``run_dir``.

    Writes ``adapter/`` (LoRA) or ``model/`` (``full``), ``base_model/`` for a built-in random-weight base
    (so that ``fcdata eval`` reproduces it exactly), ``config.yaml`` (the resolved settings),
    ``tokenizer.json`` (which tokenizer), ``metrics.json``, ``loss_curve.png`` and ``checkpoints/``
    (resumed from automatically when present and the settings match).

    ``on_log`` receives each logged record (step, loss, learning rate, tokens seen, elapsed seconds); the
    library itself prints nothing. ``callbacks`` are extra ``transformers.TrainerCallback`` objects.
    """
    import torch
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback, TrainingArguments, set_seed

    resolved = resolved or resolve(cfg)
    notes = list(resolved.notes) + list(extra_notes or [])
    if len(dataset) == 0:
        raise UsageError("no training samples: the prepared data set is empty")
    os.makedirs(run_dir, exist_ok=True)
    resolved_dict = resolved.to_dict()
    resume_from = _resume_checkpoint(run_dir, cfg, {k: v for k, v in resolved_dict.items()})

    set_seed(cfg.seed)
    rows, data_report, rows_per_step = _training_rows(dataset, cfg, resolved, num_proc)
    if data_report.get("dropped_samples"):
        notes.append(f"data: {data_report['dropped_samples']} sample(s) longer than max_length {cfg.max_length} were left out")
    if len(rows) == 0:
        raise UsageError(f"no training sample fits max_length {cfg.max_length}")

    model, info = load_model_for_training(cfg, resolved)
    base_is_saved_preset = is_preset(cfg.model) and not cfg.qlora and not cfg.full
    if cfg.gradient_checkpointing:
        enable_checkpointing(model)
    if not cfg.full:
        model = apply_lora(model, cfg)
    model.train()
    from .models import count_parameters

    info.parameters, info.trainable_parameters = count_parameters(model)

    ckpt_root = os.path.join(run_dir, _CKPT_DIR)
    args = TrainingArguments(
        output_dir=ckpt_root,
        per_device_train_batch_size=rows_per_step,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        **_version_kwargs(TrainingArguments, cfg),
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        optim=resolved.optim,
        bf16=resolved.bf16,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
        use_cpu=resolved.device == "cpu",
        disable_tqdm=True,
        length_column_name="length",
        label_names=["labels"],
        **_sampling_kwargs(TrainingArguments, grouped=not cfg.packing),
    )

    class _Relay(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if on_log is not None and logs is not None and state.is_world_process_zero:
                on_log({"step": state.global_step, "max_steps": state.max_steps, **logs})

    trainer = FcdataTrainer(model=model, args=args, train_dataset=rows, data_collator=_collator(cfg, resolved), callbacks=[_Relay(), *(callbacks or [])])
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)

    if resolved.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer.fcdata_started = start
    output = trainer.train(resume_from_checkpoint=resume_from)
    runtime = time.perf_counter() - start
    counts = torch.tensor([trainer.fcdata_trained_tokens, trainer.fcdata_tokens], dtype=torch.float64, device=trainer.args.device)
    if trainer.accelerator.num_processes > 1:
        counts = trainer.accelerator.reduce(counts, reduction="sum")
    trained_tokens, tokens = int(counts[0].item()), int(counts[1].item())
    memory = _peak_memory(resolved.device)

    history = [dict(e) for e in trainer.state.log_history]
    losses = [float(e["loss"]) for e in history if "loss" in e]
    metrics: dict[str, Any] = {
        "steps": int(trainer.state.global_step),
        "epochs": float(trainer.state.epoch or 0.0),
        "loss": {"first": losses[0] if losses else None, "last": losses[-1] if losses else None},
        "train_loss": float(output.training_loss) if output.training_loss is not None and not math.isnan(output.training_loss) else None,
        "trained_tokens": trained_tokens,
        "tokens": tokens,
        "runtime_s": round(runtime, 3),
        "tokens_per_second": round(tokens / runtime, 1) if runtime > 0 else None,
        "trained_tokens_per_second": round(trained_tokens / runtime, 1) if runtime > 0 else None,
        **memory,
        "world_size": int(trainer.accelerator.num_processes),
        "resumed_from": os.path.relpath(resume_from, run_dir) if resume_from else None,
        "data": data_report,
        "model": info.to_dict(),
        "gradient_checkpointing": bool(cfg.gradient_checkpointing),
        "attn_implementation": resolved.attn_implementation,
        "bf16": resolved.bf16,
        "optim": resolved.optim,
        "notes": notes,
    }
    resolved_dict["notes"] = notes

    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        _save_run(run_dir, trainer, cfg, resolved_dict, metrics, history, base_is_saved_preset)
    trainer.accelerator.wait_for_everyone()
    model = trainer.model
    model.eval()
    return TrainResult(run_dir=run_dir, metrics=metrics, log_history=history, resolved=resolved, model_info=info, model=model, notes=notes)


def _save_run(run_dir: str, trainer: Any, cfg: TrainConfig, resolved_dict: dict[str, Any], metrics: dict[str, Any], history: list[dict[str, Any]], save_base: bool) -> None:
    from ..write import atomic_path, write_json

    model = trainer.accelerator.unwrap_model(trainer.model)
    target = os.path.join(run_dir, "model" if cfg.full else "adapter")
    with atomic_path(target, directory=True) as tmp:
        model.save_pretrained(tmp)
    if save_base and hasattr(model, "get_base_model"):
        plain = _plain_base(model)
        with atomic_path(os.path.join(run_dir, "base_model"), directory=True) as tmp:
            plain.save_pretrained(tmp)
        del plain
    _write_text(os.path.join(run_dir, "config.yaml"), _dump_yaml(resolved_dict))
    write_json(os.path.join(run_dir, "tokenizer.json"), tokenizer_reference(_model_tokenizer(cfg.model, cfg.tokenizer)))
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    write_json(os.path.join(run_dir, "log_history.json"), history)
    plot_loss_curve(history, os.path.join(run_dir, "loss_curve.png"), title=f"{cfg.model}: training loss")


def _plain_base(peft_model: Any) -> Any:
    """A copy of a PEFT model's base with the LoRA layers taken out (``unload`` on a deep copy), whose
    ``save_pretrained`` writes the base weights under their plain names. Used for small built-in bases."""
    import copy

    return copy.deepcopy(peft_model).unload()
