"""Training settings: defaults, a YAML/TOML config file, command-line overrides, and what the machine
actually allows (the *resolved* config, saved beside every run).

Precedence, lowest first: the defaults below < the config file < ``--set key=value`` and the named
command-line options. The defaults are the recipe users know for Mistral 7B tool calling: LoRA rank 32,
alpha 64, dropout 0.05 on the q/k/v/o/gate/up/down projections, learning rate 2e-4, paged AdamW 8-bit,
bf16, gradient checkpointing; fcdata adds packing (on by default).

Some settings cannot hold everywhere. :func:`resolve` says what the run will really do and why, e.g. on a
machine without CUDA bitsandbytes' paged optimizers cannot run, so the optimizer becomes ``adamw_torch``
and a note says so. The resolved config is what a run saves (``config.yaml``) and what ``fcdata eval``
reads back.

A mistral-finetune / hackathon YAML (``7B_lora.yaml``: ``lora.rank``, ``optim.lr``, ``seq_len`` ...) is
recognised and translated key by key (:func:`from_mistral_finetune`), so the file users already have works.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import InputError, UsageError

__all__ = [
    "LoraSettings",
    "TrainConfig",
    "DEFAULT_TARGET_MODULES",
    "load_config_file",
    "from_mistral_finetune",
    "merge_overrides",
    "parse_set_option",
    "resolve",
    "Resolved",
]

DEFAULT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class LoraSettings:
    r: int = 32
    alpha: int = 64
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))


@dataclass
class TrainConfig:
    """Every setting of ``fcdata train`` / ``eval`` / ``train-eval`` (see ``docs/training.md``).

    ``bf16`` and ``attn_implementation`` accept ``"auto"``: bf16 where the GPU supports it (fp32 on a
    CPU), flash-attention 2 where it is installed on a GPU, else PyTorch sdpa.
    """

    # model
    model: str = "tiny-mistral"
    tokenizer: str | None = None
    full: bool = False
    qlora: bool = False
    lora: LoraSettings = field(default_factory=LoraSettings)
    model_config: dict[str, Any] = field(default_factory=dict)  # overrides of a built-in model's config
    attn_implementation: str = "auto"
    # optimisation
    learning_rate: float = 2e-4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    optim: str = "paged_adamw_8bit"
    bf16: bool | str = "auto"
    gradient_checkpointing: bool = True
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 2  # rows per device per micro-step (packs of max_length tokens when packing)
    gradient_accumulation_steps: int = 4
    seed: int = 0
    # data
    packing: bool = True
    max_length: int = 4096
    pack_length: int | None = None  # row length of packs without flash-attention (None: 1024); see trainer
    render_mode: str = "exact"
    # bookkeeping
    logging_steps: int = 1
    save_steps: int = 200
    save_total_limit: int = 2
    resume: bool = True
    # evaluation (eval and train-eval)
    eval_size: int | None = None
    eval_fraction: float = 0.1
    max_new_tokens: int | None = None  # None: twice the longest reference reply + 16 (64..1024)
    eval_batch_size: int = 16
    fill_ids: bool = True  # the decoder writes call ids (never trained); see fcdata.train.generate

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_LORA_FIELDS = {f.name for f in dataclasses.fields(LoraSettings)}


def _type_error(key: str, value: Any, expected: str) -> UsageError:
    return UsageError(f"config key {key!r}: expected {expected}, got {value!r}")


def _expected(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, dict):
        return "a mapping"
    return "a string"


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check/convert one value against the type of its default (strings from ``--set`` are parsed)."""
    if isinstance(value, str) and not isinstance(default, str) and default is not None:
        try:
            value = json.loads(value)
        except ValueError:
            if key not in ("bf16",):
                raise _type_error(key, value, _expected(default)) from None
    if key == "bf16":
        if value in (True, False, "auto"):
            return value
        raise _type_error(key, value, "true, false or 'auto'")
    if key in ("tokenizer", "eval_size", "max_new_tokens", "pack_length"):
        if isinstance(value, str) and key != "tokenizer":
            try:
                value = json.loads(value)
            except ValueError:
                raise _type_error(key, value, "a positive integer or null") from None
        if value is None:
            return None
        if key in ("eval_size", "max_new_tokens", "pack_length"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _type_error(key, value, "a positive integer or null")
            return value
        return str(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise _type_error(key, value, "true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(key, value, "an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(key, value, "a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise _type_error(key, value, "a string")
        return value
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise _type_error(key, value, "a mapping")
        return dict(value)
    return value


def merge_overrides(base: TrainConfig, overrides: Mapping[str, Any], *, source: str = "config") -> TrainConfig:
    """A copy of ``base`` with ``overrides`` applied. Keys are field names; ``lora`` may be a mapping or
    dotted (``lora.r``). Unknown keys are an error that lists the valid ones."""
    data = base.to_dict()
    for key, value in overrides.items():
        if key == "lora" and isinstance(value, Mapping):
            for sub, v in value.items():
                _set_lora(data, str(sub), v, source)
            continue
        if key.startswith("lora."):
            _set_lora(data, key[5:], value, source)
            continue
        if key.startswith("model_config."):
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            data["model_config"] = {**data["model_config"], key[len("model_config.") :]: value}
            continue
        if key not in _FIELDS or key == "lora":
            valid = ", ".join(sorted([*(k for k in _FIELDS if k != "lora"), *(f"lora.{k}" for k in sorted(_LORA_FIELDS))]))
            raise UsageError(f"{source}: unknown setting {key!r}; valid settings: {valid}")
        data[key] = _coerce(key, value, getattr(TrainConfig(), key))
    lora = data.pop("lora")
    cfg = TrainConfig(**data, lora=LoraSettings(**lora))
    check(cfg)
    return cfg


def _set_lora(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    if key not in _LORA_FIELDS:
        raise UsageError(f"{source}: unknown LoRA setting {key!r}; valid: {', '.join(sorted(_LORA_FIELDS))}")
    default = getattr(LoraSettings(), key)
    if key == "target_modules":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            raise _type_error("lora.target_modules", value, "a non-empty list of module names")
        data["lora"][key] = list(value)
        return
    data["lora"][key] = _coerce(f"lora.{key}", value, default)


def check(cfg: TrainConfig) -> None:
    """Refuse settings that cannot work, with the reason."""
    if cfg.full and cfg.qlora:
        raise UsageError("--full trains every weight and --qlora freezes a 4-bit base: choose one")
    if cfg.lora.r < 1 or cfg.lora.alpha <= 0 or not 0.0 <= cfg.lora.dropout < 1.0:
        raise UsageError(f"LoRA needs r >= 1, alpha > 0 and 0 <= dropout < 1; got r={cfg.lora.r}, alpha={cfg.lora.alpha}, dropout={cfg.lora.dropout}")
    if cfg.learning_rate <= 0:
        raise UsageError(f"learning_rate must be > 0, got {cfg.learning_rate}")
    if cfg.batch_size < 1 or cfg.gradient_accumulation_steps < 1:
        raise UsageError("batch_size and gradient_accumulation_steps must be at least 1")
    if cfg.max_length < 16:
        raise UsageError(f"max_length must be at least 16 tokens, got {cfg.max_length}")
    if cfg.epochs <= 0 and cfg.max_steps <= 0:
        raise UsageError("give epochs > 0 or max_steps > 0")
    if not 0.0 < cfg.eval_fraction < 1.0:
        raise UsageError(f"eval_fraction must be between 0 and 1, got {cfg.eval_fraction}")
    if cfg.render_mode not in ("exact", "single", "last"):
        raise UsageError(f"render_mode must be exact, single or last, got {cfg.render_mode!r}")
    if cfg.attn_implementation not in ("auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention"):
        raise UsageError(f"attn_implementation must be auto, sdpa, eager, flash_attention_2, flash_attention_3 or flex_attention, got {cfg.attn_implementation!r}")
    if (cfg.max_new_tokens is not None and cfg.max_new_tokens < 1) or cfg.eval_batch_size < 1:
        raise UsageError("max_new_tokens and eval_batch_size must be at least 1")
    if not 0.0 <= cfg.warmup_ratio < 1.0:
        raise UsageError(f"warmup_ratio must be in [0, 1), got {cfg.warmup_ratio}")


def parse_set_option(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["lora.r=16", "epochs=2"]`` -> ``{"lora.r": "16", "epochs": "2"}`` (values typed later)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--set takes KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


# ---------------------------------------------------------------------------------- files

# keys only a mistral-finetune config has (its "optim" is a mapping, its "lora" has "rank"/"scaling")
_MISTRAL_FINETUNE_KEYS = {"seq_len", "run_dir", "initial_model_path", "model_id_or_path", "num_microbatches", "data", "wandb_project", "n_replica"}


def from_mistral_finetune(obj: Mapping[str, Any], *, source: str = "config") -> tuple[dict[str, Any], list[str]]:
    """Translate a mistral-finetune / hackathon training YAML into fcdata settings.

    Returns the settings and notes on what was mapped or ignored. ``lora.scaling`` is alpha / rank in
    mistral-finetune, so alpha = scaling x rank; ``optim.pct_start`` is the warm-up share of its one-cycle
    schedule; ``num_microbatches`` is gradient accumulation; ``seq_len`` the packed length.
    """
    out: dict[str, Any] = {}
    notes: list[str] = []
    lora = obj.get("lora") or {}
    if isinstance(lora, Mapping):
        if lora.get("enable") is False:
            out["full"] = True
        if "rank" in lora:
            out["lora.r"] = lora["rank"]
        if "dropout" in lora:
            out["lora.dropout"] = lora["dropout"]
        if "scaling" in lora and "rank" in lora:
            out["lora.alpha"] = int(round(float(lora["scaling"]) * int(lora["rank"])))
        if lora.get("quantized"):
            out["qlora"] = True
    optim = obj.get("optim") or {}
    if isinstance(optim, Mapping):
        if "lr" in optim:
            out["learning_rate"] = optim["lr"]
        if "weight_decay" in optim:
            out["weight_decay"] = optim["weight_decay"]
        if "pct_start" in optim:
            out["warmup_ratio"] = optim["pct_start"]
    simple = {"seq_len": "max_length", "max_steps": "max_steps", "seed": "seed", "num_microbatches": "gradient_accumulation_steps", "max_norm": "max_grad_norm", "log_freq": "logging_steps"}
    for theirs, ours in simple.items():
        if theirs in obj and obj[theirs] is not None:
            out[ours] = obj[theirs]
    if "checkpoint" in obj:
        out["gradient_checkpointing"] = bool(obj["checkpoint"])
    model_path = obj.get("initial_model_path") or obj.get("model_id_or_path")
    if isinstance(model_path, str) and model_path.strip():
        out["model"] = model_path
    known = {"lora", "optim", *simple, "checkpoint", "initial_model_path", "model_id_or_path"}
    for key in obj:
        if key not in known:
            notes.append(f"{source}: mistral-finetune key {key!r} has no fcdata equivalent here and is ignored (data and run_dir are command-line arguments)")
    notes.append(f"{source}: read as a mistral-finetune config (lora.rank -> lora.r, lora.scaling x rank -> lora.alpha, optim.lr -> learning_rate, seq_len -> max_length, num_microbatches -> gradient_accumulation_steps)")
    return out, notes


def load_config_file(path: str) -> tuple[dict[str, Any], list[str]]:
    """Settings from a ``.yaml``/``.yml``/``.toml``/``.json`` file, and notes. A mistral-finetune YAML is
    translated (:func:`from_mistral_finetune`)."""
    if not os.path.isfile(path):
        raise InputError("no such config file", file=path)
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path) from exc
    try:
        if ext == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                try:
                    import tomli as tomllib  # type: ignore[no-redef]
                except ModuleNotFoundError:
                    raise InputError("reading TOML on Python 3.10 needs the tomli package (pip install tomli), or use YAML", file=path) from None
            obj: Any = tomllib.loads(raw.decode("utf-8"))
        elif ext == ".json":
            obj = json.loads(raw.decode("utf-8"))
        elif ext in (".yaml", ".yml"):
            import yaml

            obj = yaml.safe_load(raw.decode("utf-8"))
        else:
            raise InputError("config files are .yaml, .yml, .toml or .json", file=path)
    except InputError:
        raise
    except Exception as exc:  # yaml/toml/json parse errors have no common base
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(f"not a valid {ext[1:].upper()} file: {exc}", file=path, line=line + 1 if line is not None else getattr(exc, "lineno", None)) from exc
    if obj is None:
        return {}, []
    if not isinstance(obj, dict):
        raise InputError(f"a config file holds a mapping of settings, got {type(obj).__name__}", file=path)
    lora = obj.get("lora")
    looks_mistral = (
        bool(_MISTRAL_FINETUNE_KEYS & set(obj))
        or isinstance(obj.get("optim"), dict)
        or (isinstance(lora, dict) and bool({"rank", "scaling", "enable", "quantized"} & set(lora)))
    )
    if looks_mistral:
        return from_mistral_finetune(obj, source=path)
    # TOML/YAML tables: {"lora": {...}} is handled by merge_overrides; "training" sections are flattened
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("train", "training", "eval") and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat, []


# ---------------------------------------------------------------------------------- resolution


@dataclass
class Resolved:
    """The settings a run really uses on this machine, and why any differ from what was asked."""

    config: TrainConfig
    device: str  # "cuda" or "cpu"
    bf16: bool
    optim: str
    attn_implementation: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = self.config.to_dict()
        out["bf16"] = self.bf16
        out["optim"] = self.optim
        out["attn_implementation"] = self.attn_implementation
        out["device"] = self.device
        out["notes"] = list(self.notes)
        return out


def _flash_attn_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None


def resolve(cfg: TrainConfig, *, device: str | None = None) -> Resolved:
    """What ``cfg`` becomes on this machine (needs torch)."""
    import torch

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
            notes.append(f"optim: {optim} needs bitsandbytes on a CUDA GPU; using adamw_torch on this CPU")
            optim = "adamw_torch"
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
    return Resolved(config=cfg, device=device, bf16=bf16, optim=optim, attn_implementation=attn, notes=notes)
