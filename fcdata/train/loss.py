"""The loss of fcdata's trainer: exactly the mean cross-entropy over the prepared trained tokens, with
logits computed only where they are needed, in a ``transformers.Trainer`` subclass.

* Labels come from the prepared ``assistant_masks`` / ``labels`` through :mod:`fcdata.collate` (never
  re-derived here). Token ``t`` predicts ``labels[t + 1]``; the loss of an optimizer step is the sum of the
  cross-entropies of every trained target in the step (all micro-batches, all processes) divided by their
  number - the mean over trained tokens that mistral-finetune uses, independent of how the step is cut
  into micro-batches or packs. The Trainer counts the targets of the whole step
  (``num_items_in_batch``); the subclass divides by that count and tells the Trainer the loss is already
  scaled for gradient accumulation.
* No full-vocabulary logits: the model is asked for logits only at positions whose next token is trained
  (``logits_to_keep`` with a boolean mask: transformers applies ``lm_head`` to those hidden states only).
  With a 32768-token vocabulary, full fp32 logits of 2 x 4096 tokens are 1 GiB, and their softmax and
  gradient as much again; with ~25% of tokens trained the lm_head output shrinks fourfold.

Why not TRL's ``SFTTrainer``: its ``compute_loss`` computes entropy and token accuracy from the full
logits of every position, which is the memory this loss avoids, and it would have to be overridden to
keep the loss on fcdata's trained tokens; what TRL serves here is its packing algorithm
(:func:`fcdata.pack.pack_dataset`). ``examples/train_trl_sft.py`` shows SFTTrainer on fcdata data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["IGNORE_INDEX", "token_loss", "FcdataTrainer", "warmup_steps"]

IGNORE_INDEX = -100


def warmup_steps(ratio: float, total: int) -> tuple[int, str | None]:
    """Warm-up steps for a ``ratio`` of ``total`` optimizer steps, and a note when the run is too short
    for one.

    The Trainer rounds ``ratio x total`` up, and its linear warm-up starts at learning rate 0: a run of
    fewer than ``1 / ratio`` steps would spend a whole step warming up (a one-step run: its only step at
    learning rate 0, nothing learned, nothing said). Such a run has no warm-up instead, and says so."""
    exact = ratio * total
    if 0 < exact < 1:
        return 0, f"warm-up: {ratio:g} x {total} optimizer step(s) is less than one step, so there is none (the run starts at the full learning rate)"
    return math.ceil(exact), None


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
            self.fcdata_warmup_ratio = 0.0
            self.fcdata_warmup_steps = 0
            self.fcdata_notes: list[str] = []

        def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
            # tokens seen so far (this process) and seconds since training started: throughput per
            # logging interval can be read from the log history without timing the whole run
            if "loss" in logs:
                import time as _time

                if self.fcdata_started is None:
                    self.fcdata_started = _time.perf_counter()
                logs = {**logs, "tokens_seen": self.fcdata_tokens, "trained_tokens_seen": self.fcdata_trained_tokens, "elapsed_s": round(_time.perf_counter() - self.fcdata_started, 4)}
            super().log(logs, *args, **kwargs)

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            # the Trainer's warm-up is ceil(ratio x steps): a run shorter than 1 / ratio steps warms up
            # for a whole step, and a one-step run makes its only step at learning rate 0. Rounding down
            # leaves at least one step after the warm-up; the run's notes say when that changed it.
            if self.lr_scheduler is None:
                from transformers.optimization import get_scheduler

                self.fcdata_warmup_steps, note = warmup_steps(self.fcdata_warmup_ratio, num_training_steps)
                if note:
                    self.fcdata_notes.append(note)
                self.lr_scheduler = get_scheduler(
                    self.args.lr_scheduler_type,
                    optimizer=self.optimizer if optimizer is None else optimizer,
                    num_warmup_steps=self.fcdata_warmup_steps,
                    num_training_steps=num_training_steps,
                    scheduler_specific_kwargs=self.args.lr_scheduler_kwargs,
                )
                self._created_lr_scheduler = True
            return self.lr_scheduler

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


