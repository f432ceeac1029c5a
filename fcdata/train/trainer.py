"""Training on prepared data: the Hugging Face ``Trainer`` with PEFT LoRA (or all weights), fcdata's
collators and packing, and a loss computed only where it is needed.

What is used, and for what: ``transformers.Trainer`` runs the loop (optimizer, schedule, gradient
accumulation, checkpoints, DDP under ``accelerate launch``), subclassed for fcdata's loss
(:mod:`fcdata.train.loss`); PEFT makes the LoRA adapter; TRL's best-fit-decreasing algorithm packs the
samples (:func:`fcdata.pack.pack_dataset`); fcdata's collators (:mod:`fcdata.collate`) feed them.

* **The loss is exactly fcdata's trained tokens** (:func:`fcdata.train.loss.token_loss`): the mean over
  every trained target of the optimizer step, independent of how the step is cut into packs,
  micro-batches or processes; logits only at trained positions.
* **Gradient checkpointing really on**: enabled on the model (non-reentrant), and the Trainer puts the
  model in train mode at every step - transformers checkpoints a decoder layer only in train mode.
* **Packing on by default** (:mod:`fcdata.train.data`).
* **Runs under ``accelerate launch``** (DDP) unchanged: the Trainer shards the packs across processes,
  the trained-token count is summed over processes, and only the main process writes files.

:func:`train_model` is the run, in named steps: start (resume or not), rows, model, trainer, train,
metrics, save.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..paths import refuse_foreign_run_folder
from ..errors import NoRecordsError, UsageError
from .artifacts import dump_yaml, peak_memory, plot_loss_curve, tokenizer_reference, write_text
from .config import Resolved, TrainConfig, resolve
from .data import collator, is_prepared, load_prepared, training_rows
from .loss import FcdataTrainer, token_loss
from .models import ModelInfo, count_parameters, is_preset, load_base_model
from .threads import apply_threads

if TYPE_CHECKING:
    import datasets

__all__ = [
    "TrainResult",
    "FcdataTrainer",
    "train_model",
    "load_prepared",
    "is_prepared",
    "load_model_for_training",
    "enable_checkpointing",
    "apply_lora",
    "token_loss",
    "plot_loss_curve",
    "tokenizer_reference",
]

log = logging.getLogger(__name__)

_CKPT_DIR = "checkpoints"


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
        model_config=cfg.architecture,
        seed=cfg.seed,
    )


# ---------------------------------------------------------------------------------------- the run


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


# settings a resumed run may change (they do not change what the checkpoint's weights mean). The
# held-out split (eval_size, eval_fraction) may change only as far as the training data stays the same:
# data_fingerprint, compared like any setting, refuses the rest
_RESUMABLE = {"resume", "notes", "max_steps", "epochs", "save_steps", "save_total_limit", "logging_steps", "eval_size", "eval_fraction", "max_new_tokens", "eval_batch_size", "fill_ids", "threads"}


_SETTINGS_FILE = "settings.yaml"  # in checkpoints/: the settings of the run the checkpoints belong to


def data_fingerprint(dataset: "datasets.Dataset") -> str:
    """A hash of what a run trains on: the token and mask columns, in order, hashed as Arrow buffers (in C:
    0.31 s for 10M tokens of ids and masks on the 2-core development machine, shuffled or not). A run resumes, or counts as finished, only on the data it
    was trained on: changed data, a changed held-out split (``--eval-size``), is another run."""
    import hashlib

    import numpy as np
    import pyarrow.compute as pc

    names = [n for n in ("input_ids", "assistant_masks", "labels") if n in dataset.column_names]
    digest = hashlib.sha256(",".join(names).encode())
    view = dataset.select_columns(names).with_format("arrow")  # rows as selected or shuffled, not as stored
    step = 65_536
    for start in range(0, len(dataset), step):
        table = view[start : start + step]
        for name in names:
            column = table.column(name)
            digest.update(np.asarray(pc.list_value_length(column).to_numpy(zero_copy_only=False), dtype=np.int64).tobytes())
            digest.update(np.asarray(pc.list_flatten(column).to_numpy(zero_copy_only=False), dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def _resume_checkpoint(run_dir: str, cfg: TrainConfig, resolved_dict: dict[str, Any]) -> str | None:
    """The checkpoint to resume from (``None``: start), after checking that it was made with the same
    settings and data: those of the finished run (``config.yaml``), or of the interrupted one whose
    checkpoints these are (``checkpoints/settings.yaml``, written before its first step). ``resume:
    false`` removes old checkpoints."""
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
    if not os.path.isfile(saved):
        saved = os.path.join(ckpt_root, _SETTINGS_FILE)
    if not os.path.isfile(saved):
        raise UsageError(
            f"{run_dir} holds checkpoints of a run whose settings are not recorded (made by an older fcdata?); "
            "pass --no-resume to start over, or choose another -o"
        )
    import yaml

    with open(saved, encoding="utf-8") as fh:
        old = yaml.safe_load(fh) or {}
    differ = sorted(k for k in set(old) | set(resolved_dict) if k not in _RESUMABLE and old.get(k) != resolved_dict.get(k))
    if differ:
        what = "was trained on other data (another input, or another held-out split)" if differ == ["data_fingerprint"] else f"has other settings ({', '.join(differ)})"
        raise UsageError(
            f"{run_dir} holds the checkpoints of a run that {what}; "
            "resume it with the same settings and data, choose another -o, or pass --no-resume to start over"
        )
    return last


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def _checkpoint_step(path: str | None) -> int:
    match = re.search(r"checkpoint-(\d+)$", path or "")
    return int(match.group(1)) if match else 0


def _rows(dataset: "datasets.Dataset", cfg: TrainConfig, resolved: Resolved, num_proc: int | None, notes: list[str]) -> tuple[Any, dict[str, Any], int]:
    """Step 2: the rows to train on (packs, or samples that fit), and rows per micro-step."""
    rows, data_report, rows_per_step = training_rows(dataset, cfg, resolved, num_proc)
    if data_report.get("dropped_samples"):
        notes.append(f"data: {data_report['dropped_samples']} sample(s) longer than max_length {cfg.max_length} were left out")
    if len(rows) == 0:
        raise UsageError(f"no training sample fits max_length {cfg.max_length}")
    return rows, data_report, rows_per_step


def _model_to_train(cfg: TrainConfig, resolved: Resolved) -> tuple[Any, ModelInfo]:
    """Step 3: the base model, checkpointing enabled, LoRA applied unless every weight is trained."""
    model, info = load_model_for_training(cfg, resolved)
    if cfg.gradient_checkpointing:
        enable_checkpointing(model)
    if not cfg.full:
        model = apply_lora(model, cfg)
    model.train()
    info.parameters, info.trainable_parameters = count_parameters(model)
    return model, info


def _trainer(model: Any, rows: Any, rows_per_step: int, run_dir: str, cfg: TrainConfig, resolved: Resolved, on_log: Callable[[dict[str, Any]], None] | None, callbacks: list[Any] | None) -> Any:
    """Step 4: the Trainer, its arguments from the one builder (:mod:`fcdata.train.arguments`)."""
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback

    from .arguments import training_arguments

    args = training_arguments(
        os.path.join(run_dir, _CKPT_DIR),
        batch_size=rows_per_step,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler=cfg.lr_scheduler,
        warmup_ratio=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        optim=resolved.optim,
        adam_beta1=cfg.adam_beta1,
        adam_beta2=cfg.adam_beta2,
        bf16=resolved.bf16,
        use_cpu=resolved.device == "cpu",
        seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        group_by_length=not cfg.packing,
    )

    class _Relay(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if on_log is not None and logs is not None and state.is_world_process_zero:
                on_log({"step": state.global_step, "max_steps": state.max_steps, **logs})

    trainer = FcdataTrainer(model=model, args=args, train_dataset=rows, data_collator=collator(cfg, resolved), callbacks=[_Relay(), *(callbacks or [])])
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.fcdata_warmup_ratio = cfg.warmup_ratio
    return trainer


def _train(trainer: Any, resume_from: str | None, device: str) -> tuple[Any, float, int, int]:
    """Step 5: train; (the Trainer's output, seconds, trained tokens, tokens) summed over processes."""
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer.fcdata_started = start
    if resume_from is not None and _finished(trainer, resume_from):
        # the Trainer, resumed at its last step, would train one step more than asked: load the
        # finished weights and state instead
        from transformers.trainer_callback import TrainerState
        from transformers.trainer_utils import TrainOutput

        trainer._load_from_checkpoint(resume_from)
        trainer.state = TrainerState.load_from_json(os.path.join(resume_from, "trainer_state.json"))
        output = TrainOutput(trainer.state.global_step, float("nan"), {})
    else:
        output = trainer.train(resume_from_checkpoint=resume_from)
    runtime = time.perf_counter() - start
    counts = torch.tensor([trainer.fcdata_trained_tokens, trainer.fcdata_tokens], dtype=torch.float64, device=trainer.args.device)
    if trainer.accelerator.num_processes > 1:
        counts = trainer.accelerator.reduce(counts, reduction="sum")
    return output, runtime, int(counts[0].item()), int(counts[1].item())


def _finished(trainer: Any, checkpoint: str) -> bool:
    """Whether ``checkpoint`` already holds every optimizer step this run asks for (the Trainer's own
    count: ``max_steps``, or epochs x update steps per epoch)."""
    from transformers.trainer_callback import TrainerState

    done = TrainerState.load_from_json(os.path.join(checkpoint, "trainer_state.json")).global_step
    args = trainer.args
    if args.max_steps > 0:
        planned = args.max_steps
    else:
        per_epoch = max(len(trainer.get_train_dataloader()) // args.gradient_accumulation_steps, 1)
        planned = math.ceil(args.num_train_epochs * per_epoch)
    return done >= planned


def _metrics(trainer: Any, output: Any, runtime: float, trained_tokens: int, tokens: int, resume_from: str | None, run_dir: str, cfg: TrainConfig, resolved: Resolved, info: ModelInfo, data_report: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Step 6: what ``metrics.json`` holds. Throughput covers the steps this call trained; a resumed run
    that had already finished trains none and says so instead of a rate of 0."""
    history = trainer.state.log_history
    losses = [float(e["loss"]) for e in history if "loss" in e]
    steps = int(trainer.state.global_step)
    steps_now = steps - _checkpoint_step(resume_from)
    finished_before = resume_from is not None and steps_now <= 0
    if finished_before:
        notes.append(
            f"nothing to train: {run_dir} had already finished ({os.path.relpath(resume_from or '', run_dir)}, step {steps}); "
            "raise --epochs or --max-steps to train on, or pass --no-resume to start over"
        )
    rate = not finished_before and runtime > 0 and tokens > 0
    return {
        "steps": steps,
        "steps_this_run": max(steps_now, 0),
        "already_finished": finished_before,
        "epochs": float(trainer.state.epoch or 0.0),
        "loss": {"first": losses[0] if losses else None, "last": losses[-1] if losses else None},
        "train_loss": float(output.training_loss) if output.training_loss is not None and not math.isnan(output.training_loss) and not finished_before else None,
        "trained_tokens": trained_tokens,
        "tokens": tokens,
        "runtime_s": round(runtime, 3),
        "tokens_per_second": round(tokens / runtime, 1) if rate else None,
        "trained_tokens_per_second": round(trained_tokens / runtime, 1) if rate else None,
        **peak_memory(resolved.device),
        "world_size": int(trainer.accelerator.num_processes),
        "threads": resolved.threads,
        "warmup_steps": int(trainer.fcdata_warmup_steps),
        "resumed_from": os.path.relpath(resume_from, run_dir) if resume_from else None,
        "data": data_report,
        "model": info.to_dict(),
        "gradient_checkpointing": bool(cfg.gradient_checkpointing),
        "attn_implementation": resolved.attn_implementation,
        "bf16": resolved.bf16,
        "optim": resolved.optim,
        "notes": notes,
    }


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
    from transformers import set_seed

    # 1. start: the machine's settings, an empty data set refused, resume or not
    resolved = resolved or resolve(cfg)
    apply_threads(resolved.threads)
    notes = list(resolved.notes) + [n for n in (extra_notes or []) if n not in resolved.notes]
    if len(dataset) == 0:
        raise NoRecordsError("no training samples: the prepared data set is empty (every record rejected, or none in the input)")
    refuse_foreign_run_folder(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    resolved_dict = resolved.to_dict()
    resolved_dict["data_fingerprint"] = data_fingerprint(dataset)
    resume_from = _resume_checkpoint(run_dir, cfg, resolved_dict)
    if resume_from is None and _is_main_process():
        # before the first step: an interrupted run is resumed only with these settings and this data
        from ..write import atomic_open

        os.makedirs(os.path.join(run_dir, _CKPT_DIR), exist_ok=True)
        with atomic_open(os.path.join(run_dir, _CKPT_DIR, _SETTINGS_FILE)) as fh:
            fh.write(dump_yaml(resolved_dict))
    set_seed(cfg.seed)

    rows, data_report, rows_per_step = _rows(dataset, cfg, resolved, num_proc, notes)  # 2
    model, info = _model_to_train(cfg, resolved)  # 3
    trainer = _trainer(model, rows, rows_per_step, run_dir, cfg, resolved, on_log, callbacks)  # 4
    output, runtime, trained_tokens, tokens = _train(trainer, resume_from, resolved.device)  # 5
    notes.extend(trainer.fcdata_notes)
    metrics = _metrics(trainer, output, runtime, trained_tokens, tokens, resume_from, run_dir, cfg, resolved, info, data_report, notes)  # 6
    resolved_dict["notes"] = notes
    if metrics["already_finished"]:
        metrics = _earlier_metrics(run_dir, metrics)

    # 7. save (the main process)
    history = [dict(e) for e in trainer.state.log_history]
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        _save_run(run_dir, trainer, cfg, resolved_dict, metrics, history, save_base=is_preset(cfg.model) and not cfg.qlora and not cfg.full)
    trainer.accelerator.wait_for_everyone()
    model = trainer.model
    model.eval()
    return TrainResult(run_dir=run_dir, metrics=metrics, log_history=history, resolved=resolved, model_info=info, model=model, notes=notes)


def _earlier_metrics(run_dir: str, now: dict[str, Any]) -> dict[str, Any]:
    """A run that had already finished trains nothing: its metrics stay those of the training it did
    (tokens, loss, throughput), marked as reused, instead of this call's zeros."""
    import json

    path = os.path.join(run_dir, "metrics.json")
    try:
        with open(path, encoding="utf-8") as fh:
            old = json.load(fh)
    except (OSError, ValueError):
        return now
    if not isinstance(old, dict):
        return now
    return {**old, "already_finished": True, "steps_this_run": 0, "notes": now.get("notes", old.get("notes", []))}


def _save_run(run_dir: str, trainer: Any, cfg: TrainConfig, resolved_dict: dict[str, Any], metrics: dict[str, Any], history: list[dict[str, Any]], save_base: bool) -> None:
    from ..tokenizer import model_tokenizer
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
    # what an earlier run of another kind left (a full run's model/ under a LoRA run, or the reverse):
    # `fcdata eval RUN` would have loaded it instead of this run's weights
    stale = ["adapter", "base_model"] if cfg.full else ["model"] + ([] if save_base else ["base_model"])
    for name in stale:
        shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
    write_text(os.path.join(run_dir, "config.yaml"), dump_yaml(resolved_dict))
    write_json(os.path.join(run_dir, "tokenizer.json"), tokenizer_reference(model_tokenizer(cfg.model, cfg.tokenizer)))
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    write_json(os.path.join(run_dir, "log_history.json"), history)
    plot_loss_curve(history, os.path.join(run_dir, "loss_curve.png"), title=f"{cfg.model}: training loss")


def _plain_base(peft_model: Any) -> Any:
    """A copy of a PEFT model's base with the LoRA layers taken out (``unload`` on a deep copy), whose
    ``save_pretrained`` writes the base weights under their plain names. Used for small built-in bases."""
    import copy

    return copy.deepcopy(peft_model).unload()
