"""Settings files: fcdata's own (``.yaml``, ``.toml``, ``.json``; ``examples/train.yaml`` lists every key)
and a mistral-finetune / hackathon training YAML (``7B_lora.yaml``), translated key by key.

Only reading and translating happens here; :class:`fcdata.train.config.TrainConfig` checks every value.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from ..errors import InputError

__all__ = ["load_config_file", "from_mistral_finetune"]

# keys only a mistral-finetune config has (its "optim" is a mapping, its "lora" has "rank"/"scaling")
_MISTRAL_FINETUNE_KEYS = {"seq_len", "run_dir", "initial_model_path", "model_id_or_path", "num_microbatches", "data", "wandb_project", "n_replica"}


# mistral-finetune's defaults (finetune/args.py TrainArgs and OptimArgs, model/args.py LoraArgs)
MISTRAL_FINETUNE_DEFAULTS: dict[str, Any] = {
    "lora": {"enable": True, "rank": 16, "dropout": 0.0, "scaling": 2.0},
    "optim": {"lr": 3e-4, "weight_decay": 0.1, "pct_start": 0.3},
    "seed": 0,
    "num_microbatches": 1,
    "seq_len": 2048,
    "batch_size": 1,
    "max_norm": 1.0,
    "max_steps": 100,
    "log_freq": 1,
    "checkpoint": True,
}


def from_mistral_finetune(obj: Mapping[str, Any], *, source: str = "config") -> tuple[dict[str, Any], list[str]]:
    """Translate a mistral-finetune / hackathon training YAML into fcdata settings.

    Returns the settings and notes on what was mapped or ignored. ``lora.scaling`` is alpha / rank in
    mistral-finetune, so alpha = scaling x rank; ``optim.pct_start`` is the warm-up share of its one-cycle
    schedule; ``num_microbatches`` is gradient accumulation; ``seq_len`` the packed length.
    """
    out: dict[str, Any] = {}
    notes: list[str] = []
    # what mistral-finetune itself assumes for a key the file leaves out (its TrainArgs, OptimArgs and
    # LoraArgs defaults), so that the file means what it means there: a YAML without lora.scaling trains at
    # scale 2 (alpha = 2 x rank), without lora.dropout with none, without batch_size one sequence a step
    lora_given = obj.get("lora")
    lora = {**MISTRAL_FINETUNE_DEFAULTS["lora"], **(lora_given if isinstance(lora_given, Mapping) else {})}
    optim_given = obj.get("optim")
    optim = {**MISTRAL_FINETUNE_DEFAULTS["optim"], **(optim_given if isinstance(optim_given, Mapping) else {})}
    obj = {**{k: v for k, v in MISTRAL_FINETUNE_DEFAULTS.items() if k not in ("lora", "optim")}, **obj}
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
    if isinstance(optim, Mapping):
        if "lr" in optim:
            out["learning_rate"] = optim["lr"]
        if "weight_decay" in optim:
            out["weight_decay"] = optim["weight_decay"]
        if "pct_start" in optim:
            out["warmup_ratio"] = optim["pct_start"]
    simple = {"seq_len": "max_length", "max_steps": "max_steps", "seed": "seed", "num_microbatches": "gradient_accumulation_steps", "batch_size": "batch_size", "max_norm": "max_grad_norm", "log_freq": "logging_steps"}
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
    notes.append(f"{source}: read as a mistral-finetune config, its defaults for the keys it leaves out (lora.rank -> lora.r, lora.scaling x rank -> lora.alpha, optim.lr -> learning_rate, seq_len -> max_length, batch_size -> batch_size, num_microbatches -> gradient_accumulation_steps)")
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

