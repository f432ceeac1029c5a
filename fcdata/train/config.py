"""Training settings: one strict model of every setting, its precedence, and what the machine actually
allows (the *resolved* config, saved beside every run).

Precedence, lowest first (:func:`build_config`)::

    defaults  <  from-scratch defaults (built-in model + --full)  <  --config FILE  <  --set KEY=VALUE  <  named options

The defaults are the recipe users know for Mistral 7B tool calling: LoRA rank 32, alpha 64, dropout 0.05
on the q/k/v/o/gate/up/down projections, learning rate 2e-4, paged AdamW 8-bit, bf16, gradient
checkpointing; fcdata adds packing (on by default). They are made to adapt a pretrained model. A model
trained from random weights needs other ones (a learning rate ten times higher, several epochs, no
checkpointing of a model that small); so when the model is a built-in random-weight preset and every
weight is trained (``--full``), :data:`FROM_SCRATCH` replaces them, below anything the user sets, and the
run's notes say so. A LoRA run, or any run of a real model, keeps the recipe.

:class:`TrainConfig` is a pydantic model in strict mode: a value of the wrong type, out of its range, or
under an unknown key is refused with the key's name (``--set`` strings and YAML's quirks such as
``1e-4``, which YAML 1.1 reads as a string, are decoded as JSON first). :func:`resolve` says what the run
will really do and why, e.g. on a machine without CUDA bitsandbytes' paged optimizers cannot run, so the
optimizer becomes ``adamw_torch_fused`` (``adamw_torch`` where PyTorch has no fused CPU AdamW) and a note says so. The resolved config is what a run saves
(``config.yaml``) and what ``fcdata eval`` reads back. Config files (ours, and mistral-finetune's
``7B_lora.yaml``) are read by :mod:`fcdata.train.config_files`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import UsageError
from .config_files import from_mistral_finetune, load_config_file

__all__ = [
    "LoraSettings",
    "TrainConfig",
    "DEFAULT_TARGET_MODULES",
    "FROM_SCRATCH",
    "load_config_file",
    "from_mistral_finetune",
    "merge_overrides",
    "parse_set_option",
    "build_config",
    "resolve",
    "Resolved",
]

DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ATTENTION_KINDS = ("auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention")

_STRICT = ConfigDict(extra="forbid", strict=True, validate_default=False, populate_by_name=True, protected_namespaces=())


def _decode_string(value: Any, annotation: Any) -> Any:
    """``"16"`` -> 16, ``"true"`` -> True, ``"null"`` -> None, ``"1e-4"`` -> 0.0001 for a field that is
    not a plain string (values from ``--set`` are strings; YAML 1.1 reads ``1e-4`` as one)."""
    if not isinstance(value, str) or annotation is str:
        return value
    if annotation == (str | None):
        return None if value == "null" else value  # a path may look like a number
    try:
        return json.loads(value)
    except ValueError:
        return value  # refused by the field's own type, with its name


class LoraSettings(BaseModel):
    """The LoRA adapter (PEFT ``LoraConfig``)."""

    model_config = _STRICT

    r: int = Field(32, ge=1)
    alpha: int = Field(64, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGET_MODULES), min_length=1)

    @field_validator("r", "alpha", "dropout", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        return _decode_string(value, None)

    @field_validator("target_modules", mode="before")
    @classmethod
    def _module_list(cls, value: Any) -> Any:
        # --set lora.target_modules=q_proj,v_proj
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


class TrainConfig(BaseModel):
    """Every setting of ``fcdata train`` / ``eval`` / ``train-eval`` (see ``docs/training.md``).

    ``bf16`` and ``attn_implementation`` accept ``"auto"``: bf16 where the GPU supports it (fp32 on a
    CPU), flash-attention 2 where it is installed on a GPU, else PyTorch sdpa. ``model_config`` (the
    attribute is ``architecture``: pydantic reserves the name) overrides a built-in model's shape.
    """

    model_config = _STRICT

    # model
    model: str = "tiny-mistral"
    tokenizer: str | None = None
    full: bool = False
    qlora: bool = False
    lora: LoraSettings = Field(default_factory=LoraSettings)
    architecture: dict[str, Any] = Field(default_factory=dict, alias="model_config")
    attn_implementation: Literal["auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention"] = "auto"
    # optimisation
    learning_rate: float = Field(2e-4, gt=0.0)
    lr_scheduler: str = "cosine"  # checked against transformers' SchedulerType (check_choices)
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    adam_beta1: float = Field(0.9, ge=0.0, lt=1.0)
    adam_beta2: float = Field(0.999, ge=0.0, lt=1.0)
    max_grad_norm: float = Field(1.0, ge=0.0)
    optim: str = "paged_adamw_8bit"  # checked against transformers' OptimizerNames (check_choices)
    bf16: bool | Literal["auto"] = "auto"
    gradient_checkpointing: bool = True
    epochs: float = Field(1.0, ge=0.0)
    max_steps: int = Field(-1, ge=-1)
    batch_size: int = Field(2, ge=1)  # rows per device per micro-step (packs of max_length tokens when packing)
    gradient_accumulation_steps: int = Field(4, ge=1)
    seed: int = 0
    threads: int | None = Field(None, ge=1)  # CPU threads of torch (None: see fcdata.train.threads)
    # data
    packing: bool = True
    max_length: int = Field(4096, ge=16)
    pack_length: int | None = Field(None, ge=16)  # row length of packs without flash-attention (None: 1024); see trainer
    render_mode: Literal["exact", "single", "last"] = "exact"
    # bookkeeping
    logging_steps: int = Field(1, ge=1)
    save_steps: int = Field(200, ge=1)
    save_total_limit: int = Field(2, ge=1)
    resume: bool = True
    # evaluation (eval and train-eval)
    eval_size: int | None = Field(None, ge=1)
    eval_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    max_new_tokens: int | None = Field(None, ge=1)  # None: twice the longest reference reply + 16 (64..1024)
    eval_batch_size: int = Field(16, ge=1)
    fill_ids: bool = True  # the decoder writes call ids (never trained); see fcdata.train.generate

    @field_validator("*", mode="before")
    @classmethod
    def _strings(cls, value: Any, info: Any) -> Any:
        if info.field_name in ("lora", "architecture"):
            return value
        return _decode_string(value, cls.model_fields[info.field_name].annotation)

    @model_validator(mode="after")
    def _coherent(self) -> "TrainConfig":
        if self.full and self.qlora:
            raise ValueError("--full trains every weight and --qlora freezes a 4-bit base: choose one")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ValueError("give epochs > 0 or max_steps > 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain data under the user-facing keys (``model_config``, not ``architecture``)."""
        return self.model_dump(by_alias=True)


# ---------------------------------------------------------------------------------- from scratch

FROM_SCRATCH: dict[str, Any] = {
    "learning_rate": 3e-3,
    "lr_scheduler": "cosine",
    "warmup_ratio": 0.05,
    "adam_beta2": 0.95,
    "epochs": 4.0,
    "max_length": 512,
    "batch_size": 2,
    "gradient_accumulation_steps": 1,
    "gradient_checkpointing": False,
}
"""Defaults of a built-in random-weight model trained with ``--full`` (a from-scratch run): measured on
the synthetic task (``benchmarks/bench_learn_cpu.py``, docs/training.md "Learning from scratch")."""


def from_scratch(model: str, full: bool) -> bool:
    """Whether a run trains a built-in random-weight model's every weight, i.e. from scratch."""
    from .models import is_preset

    return full and is_preset(model)


# ---------------------------------------------------------------------------------- merging


def _valid_keys() -> str:
    top = [k for k in TrainConfig.model_fields if k not in ("lora", "architecture")]
    return ", ".join(sorted([*top, "model_config.<key>", *(f"lora.{k}" for k in LoraSettings.model_fields)]))


def _message(error: Mapping[str, Any], source: str) -> str:
    """One pydantic error as a sentence that names the key."""
    loc = [str(p) for p in error.get("loc", ())]
    kind = error.get("type", "")
    value = error.get("input")
    if kind == "extra_forbidden":
        if loc[:1] == ["lora"]:
            return f"{source}: unknown LoRA setting {loc[-1]!r}; valid: {', '.join(LoraSettings.model_fields)}"
        return f"{source}: unknown setting {loc[-1]!r}; valid settings: {_valid_keys()}"
    if kind in ("value_error", "assertion_error") and not loc:
        return f"{source}: {str(error.get('msg', '')).removeprefix('Value error, ')}"
    key = ".".join(p for p in loc if p not in ("bool", "literal['auto']", "int", "float", "str", "none"))
    key = "model_config" if key == "architecture" else key
    if key == "bf16":
        expected = "true, false or 'auto'"
    elif kind.startswith("float"):
        expected = "a number"
    elif kind.startswith("int"):
        expected = "an integer"
    elif kind.startswith("bool"):
        expected = "true or false"
    elif kind.startswith(("string", "str")):
        expected = "a string"
    elif kind.startswith(("dict", "model")):
        expected = "a mapping"
    elif kind.startswith("list"):
        expected = "a list"
    elif kind == "literal_error":
        expected = "one of " + str(error.get("ctx", {}).get("expected", ""))
    elif kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        ctx = error.get("ctx", {})
        bound = {"greater_than_equal": f">= {ctx.get('ge')}", "greater_than": f"> {ctx.get('gt')}", "less_than": f"< {ctx.get('lt')}", "less_than_equal": f"<= {ctx.get('le')}"}[kind]
        return f"{source}: {key} must be {bound}, got {value!r}"
    elif kind == "too_short":
        return f"{source}: {key} must not be empty"
    else:
        expected = str(error.get("msg", "a valid value")).lower()
    return f"{source}: config key {key!r}: expected {expected}, got {value!r}"


def _validate(data: Mapping[str, Any], source: str) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a union (bf16) reports one error per member: say it once
        seen: list[str] = []
        for err in errors:
            msg = _message(err, source)
            if msg not in seen:
                seen.append(msg)
        raise UsageError("; ".join(seen)) from None


def merge_overrides(base: TrainConfig, overrides: Mapping[str, Any], *, source: str = "config") -> TrainConfig:
    """A new config: ``base`` with ``overrides`` applied. Keys are setting names; ``lora`` may be a
    mapping (or its JSON text, as ``--set lora={"r": 8}`` gives it) or dotted (``lora.r``); likewise
    ``model_config`` (a built-in model's shape) or ``model_config.KEY``.
    Unknown keys, wrong types and out-of-range values are an error that names the key."""
    data = base.to_dict()
    lora = dict(data["lora"])
    shape = dict(data["model_config"])
    for key, value in overrides.items():
        if key in ("lora", "model_config"):
            # a whole section: a mapping (config file) or its JSON text (`--set model_config={...}`);
            # anything else is refused, never dropped (it used to vanish under the section's old value)
            value = _decode_string(value, None)
            if not isinstance(value, Mapping):
                raise UsageError(f"{source}: {key} must be a mapping of settings (e.g. {key}.KEY=VALUE, or {key}={{\"KEY\": VALUE}} as JSON), got {value!r}")
            (lora if key == "lora" else shape).update({str(k): v for k, v in value.items()})
        elif key.startswith("lora."):
            lora[key[5:]] = value
        elif key.startswith("model_config."):
            shape[key[len("model_config.") :]] = _decode_string(value, None)
        else:
            data[key] = value
    data["lora"] = lora
    data["model_config"] = shape
    return _validate(data, source)


def parse_set_option(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["lora.r=16", "epochs=2"]`` -> ``{"lora.r": "16", "epochs": "2"}`` (values typed by the model)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--set takes KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def build_config(
    *,
    config_file: str | None = None,
    sets: tuple[str, ...] | list[str] = (),
    named: Mapping[str, Any] | None = None,
) -> tuple[TrainConfig, list[str]]:
    """The settings of a run and notes on them, by precedence: defaults < from-scratch defaults (a
    built-in model trained with ``full``) < ``config_file`` < ``sets`` (``KEY=VALUE`` strings) <
    ``named`` (the command line's named options; ``None`` values are not given).

    A run without any model named says so in a note: the default model is a random-weight toy, and a
    forgotten ``--model`` must not pass silently for a real fine-tune."""
    layers: list[tuple[str, dict[str, Any]]] = []
    notes: list[str] = []
    if config_file:
        values, file_notes = load_config_file(config_file)
        notes.extend(file_notes)
        layers.append((config_file, values))
    set_values = parse_set_option(sets)
    if set_values:
        layers.append(("--set", set_values))
    given = {k: v for k, v in (named or {}).items() if v is not None}
    if given:
        layers.append(("command line", given))

    # the user's layers alone tell which model and whether every weight is trained
    probe = TrainConfig()
    for source, values in layers:
        probe = merge_overrides(probe, values, source=source)
    cfg = TrainConfig()
    if from_scratch(probe.model, probe.full):
        cfg = merge_overrides(cfg, FROM_SCRATCH, source="from-scratch defaults")
        user_keys = {k for _, values in layers for k in values}
        kept = [f"{k} {v}" for k, v in FROM_SCRATCH.items() if k not in user_keys]
        if kept:
            notes.append(f"from scratch ({probe.model}, --full): defaults for a random-weight model: {', '.join(kept)} (the LoRA recipe's are for pretrained models)")
    for source, values in layers:
        cfg = merge_overrides(cfg, values, source=source)
    if not any("model" in values for _, values in layers):
        notes.append(f"no --model given: using {cfg.model}, a random-weight model for smoke tests; pass --model for a real fine-tune")
    return cfg, notes


# ---------------------------------------------------------------------------------- resolution


@dataclass
class Resolved:
    """The settings a run really uses on this machine, and why any differ from what was asked."""

    config: TrainConfig
    device: str  # "cuda" or "cpu"
    bf16: bool
    optim: str
    attn_implementation: str
    threads: int | None = None  # torch's CPU threads for this run (None: left as torch set them)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = self.config.to_dict()
        out["bf16"] = self.bf16
        out["optim"] = self.optim
        out["attn_implementation"] = self.attn_implementation
        out["threads"] = self.threads
        out["device"] = self.device
        out["notes"] = list(self.notes)
        return out


def _fused_adamw_on_cpu() -> bool:
    """Whether this torch has the fused AdamW kernel for CPU tensors (torch >= 2.4): one pass over the
    parameters instead of a dozen, 3.5x faster a step than the foreach kernel on a 4 M-parameter model,
    whose 32768-token embeddings are most of its weights."""
    import torch

    try:
        p = torch.zeros(2, requires_grad=True)
        p.grad = torch.ones(2)
        torch.optim.AdamW([p], lr=1e-3, fused=True).step()
        return True
    except (RuntimeError, TypeError, ValueError):
        return False


def _flash_attn_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None


def check_choices(cfg: TrainConfig) -> None:
    """Refuse, before any data is read, a learning-rate schedule or an optimizer transformers does not
    know (it raised a traceback from ``TrainingArguments`` after the data was prepared)."""
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames

    for key, value, choices in (("lr_scheduler", cfg.lr_scheduler, SchedulerType), ("optim", cfg.optim, OptimizerNames)):
        known = [c.value for c in choices]
        if value not in known:
            raise UsageError(f"{key}: unknown value {value!r}; choose one of {', '.join(known)}")


def resolve(cfg: TrainConfig, *, device: str | None = None) -> Resolved:
    """What ``cfg`` becomes on this machine (needs torch). A model that cannot be loaded is refused
    here, before any work (:func:`fcdata.train.models.check_model`)."""
    import torch

    from .models import check_model
    from .threads import cpu_threads

    check_model(cfg.model, cfg.architecture)
    check_choices(cfg)

    notes: list[str] = []
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = device == "cuda"
    if cfg.qlora and not cuda:
        raise UsageError("--qlora loads the base model in 4-bit with bitsandbytes, which needs a CUDA GPU; train without --qlora on this machine")
    if cfg.bf16 == "auto":
        bf16 = bool(cuda and torch.cuda.is_bf16_supported())
        if not bf16:
            notes.append("bf16: off (no GPU with bf16 support here); training in fp32")
    else:
        bf16 = bool(cfg.bf16)
        if bf16 and cuda and not torch.cuda.is_bf16_supported():
            raise UsageError("bf16 was asked for, but this GPU does not support bf16; set bf16: false")
    optim = cfg.optim
    if "paged" in optim or "8bit" in optim:
        if not cuda:
            optim = "adamw_torch_fused" if _fused_adamw_on_cpu() else "adamw_torch"
            notes.append(f"optim: {cfg.optim} needs bitsandbytes on a CUDA GPU; using {optim} on this CPU")
        else:
            import importlib.util

            if importlib.util.find_spec("bitsandbytes") is None:
                notes.append(f"optim: {optim} needs bitsandbytes, which is not installed; using adamw_torch")
                optim = "adamw_torch"
    attn = cfg.attn_implementation
    if attn == "auto":
        if cuda and _flash_attn_available() and bf16:
            attn = "flash_attention_2"
        else:
            attn = "sdpa"
            if cuda:
                notes.append("attention: flash-attn is not installed; using PyTorch sdpa (memory-efficient kernel with a block-diagonal mask for packs)")
    elif attn.startswith("flash") and not (cuda and _flash_attn_available()):
        raise UsageError(f"attn_implementation {attn} needs the flash-attn package and a CUDA GPU; use sdpa")
    threads = None
    if not cuda:
        threads, why = cpu_threads(cfg.threads)
        if why:
            notes.append(why)
    return Resolved(config=cfg, device=device, bf16=bf16, optim=optim, attn_implementation=attn, threads=threads, notes=notes)
