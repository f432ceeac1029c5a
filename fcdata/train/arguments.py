"""One builder of ``transformers.TrainingArguments`` (or TRL's ``SFTConfig``, its subclass) for training on
fcdata's prepared data: fcdata's trainer and the examples (``examples/train_hf_trainer.py``,
``examples/train_trl_sft.py``) all take their arguments from :func:`training_arguments`.

What every run on fcdata data needs, whoever drives it:

* ``remove_unused_columns=False``: the Trainer would otherwise drop ``seq_lengths`` (not an argument of
  ``model.forward``), and the packing collator could no longer see the sample boundaries;
* ``label_names=["labels"]``: the Trainer counts the trained targets of a step from them;
* no tqdm, no reporting integrations, no dataloader workers (the collators are cheap; workers fork);
* bf16 only where asked, the CPU when there is no GPU;
* names that changed across transformers versions (the warm-up share, the length-grouped sampler, the
  token count averaged over processes) said in this version's words.
"""

from __future__ import annotations

from typing import Any

__all__ = ["training_arguments"]


def _fields(arguments_class: Any) -> dict[str, Any]:
    return getattr(arguments_class, "__dataclass_fields__", {})


def training_arguments(
    output_dir: str,
    *,
    batch_size: int,
    learning_rate: float,
    gradient_accumulation_steps: int = 1,
    epochs: float = 1.0,
    max_steps: int = -1,
    bf16: bool = False,
    use_cpu: bool = False,
    seed: int = 0,
    lr_scheduler: str = "linear",
    warmup_ratio: float = 0.0,
    weight_decay: float = 0.0,
    max_grad_norm: float = 1.0,
    optim: str = "adamw_torch",
    adam_beta1: float = 0.9,
    adam_beta2: float = 0.999,
    logging_steps: int = 1,
    save_steps: int | None = None,
    save_total_limit: int | None = None,
    group_by_length: bool = False,
    arguments_class: Any = None,
    **extra: Any,
) -> Any:
    """``TrainingArguments`` (or ``arguments_class``, e.g. ``trl.SFTConfig``) for fcdata's prepared data.

    ``save_steps`` ``None``: no checkpoints. ``group_by_length``: length-grouped batches (less padding
    when samples are padded, not packed; reads the ``length`` column). ``extra`` goes to the class as
    it is (``dataset_kwargs=...`` for SFTConfig)."""
    if arguments_class is None:
        from transformers import TrainingArguments

        arguments_class = TrainingArguments
    fields = _fields(arguments_class)
    kwargs: dict[str, Any] = {
        "output_dir": output_dir,
        "per_device_train_batch_size": batch_size,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        "learning_rate": learning_rate,
        "lr_scheduler_type": lr_scheduler,
        "weight_decay": weight_decay,
        "max_grad_norm": max_grad_norm,
        "num_train_epochs": epochs,
        "max_steps": max_steps,
        "optim": optim,
        "adam_beta1": adam_beta1,
        "adam_beta2": adam_beta2,
        "bf16": bf16,
        "use_cpu": use_cpu,
        "seed": seed,
        "data_seed": seed,
        "logging_steps": logging_steps,
        "report_to": "none",
        "disable_tqdm": True,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "ddp_find_unused_parameters": False,
        "label_names": ["labels"],
        "length_column_name": "length",
    }
    if save_steps is None:
        kwargs["save_strategy"] = "no"
    else:
        kwargs.update(save_strategy="steps", save_steps=save_steps, save_total_limit=save_total_limit)
    # transformers 5 folded warmup_ratio into a float warmup_steps (< 1: a share of the run)
    if "warmup_ratio" in fields:
        kwargs["warmup_ratio"] = warmup_ratio
    else:
        kwargs["warmup_steps"] = warmup_ratio
    if "average_tokens_across_devices" in fields:
        kwargs["average_tokens_across_devices"] = True
    if group_by_length:
        if "train_sampling_strategy" in fields:
            kwargs["train_sampling_strategy"] = "group_by_length"
        else:
            kwargs["group_by_length"] = True
    kwargs.update(extra)
    return arguments_class(**kwargs)
