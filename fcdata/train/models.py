"""Models to train and evaluate: built-in Mistral-architecture presets with random weights, or a local
Hugging Face model directory / hub id; optionally loaded in 4-bit (QLoRA).

Built-in presets (``--model NAME``), all with the Mistral v0.3 vocabulary (32768, the v3 tokenizer):

============================  =======  ======  ========  ===========================================
name                          hidden   layers  params    what for
============================  =======  ======  ========  ===========================================
``tiny-mistral``              64       2       4.3 M     offline smoke tests and CI on a CPU
``small-mistral``             512      8       59 M      from-scratch training on the synthetic task
``mistral-7b-random``         4096     32      7.25 B    Mistral-7B-v0.3's exact shape, random weights
============================  =======  ======  ========  ===========================================

Random weights come from ``seed`` and are the same on every machine for a given device kind. A preset
that must be quantised (``--qlora``) is first written once to a cache folder (``$FCDATA_CACHE`` or
``~/.cache/fcdata/models``) and loaded from there like any downloaded model: bitsandbytes quantises
weights as ``from_pretrained`` loads them, the same path a user's real model takes.

QLoRA loading follows the QLoRA paper's recipe: nf4, double quantisation, bf16 compute. What it does NOT
do is PEFT's ``prepare_model_for_kbit_training``, which casts every non-quantised weight (embeddings,
lm_head, norms) to fp32: for Mistral 7B that is +0.5 GB of weights and an fp32 lm_head matmul, for
nothing — the RMSNorms already compute in fp32 internally and the LoRA weights are created in fp32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError, UsageError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

__all__ = ["PRESETS", "V3_VOCAB_SIZE", "ModelInfo", "is_preset", "preset_config", "load_base_model", "count_parameters", "cache_dir"]

log = logging.getLogger(__name__)

V3_VOCAB_SIZE = 32768

_COMMON: dict[str, Any] = {
    "vocab_size": V3_VOCAB_SIZE,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": None,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-5,
    "rope_parameters": {"rope_theta": 1_000_000.0, "rope_type": "default"},
    "sliding_window": None,
    "tie_word_embeddings": False,
    "attention_dropout": 0.0,
    "initializer_range": 0.02,
}

PRESETS: dict[str, dict[str, Any]] = {
    # tiny-mistral learns the synthetic task from scratch on a CPU (docs/training.md, "Learning from scratch"):
    # heads of 32 dimensions with rope_theta 1e4 resolve nearby positions (at 1e6 and 16 dimensions only
    # two rotary frequencies turn within a 100-token prompt), and initialisation at 0.1 gives attention
    # sharp enough at the start that function names are copied after ~300 steps instead of ~900
    "tiny-mistral": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 32, "rope_parameters": {"rope_theta": 10_000.0, "rope_type": "default"}, "initializer_range": 0.1},
    "small-mistral": {"hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 64},
    "mistral-7b-random": {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128},
}


@dataclass
class ModelInfo:
    """Where a model came from, for the run's saved config and reports."""

    name: str  # as given: a preset name, a folder, a hub id
    kind: str  # "preset" | "local" | "hub"
    path: str | None  # folder the weights were loaded from (None: built in memory)
    parameters: int
    trainable_parameters: int
    quantized: bool
    dtype: str
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "parameters": self.parameters,
            "trainable_parameters": self.trainable_parameters,
            "quantized": self.quantized,
            "dtype": self.dtype,
        }


def is_preset(name: str) -> bool:
    return name in PRESETS


def bad_sizes(sizes: dict[str, Any]) -> list[str]:
    """``"key = value"`` for each of ``sizes`` that is not a positive integer (a model's widths, depths and
    head counts; ``plan`` reads them from a config.json, training from ``model_config``)."""
    return [f"{k} = {v!r}" for k, v in sizes.items() if not (isinstance(v, int) and not isinstance(v, bool) and v > 0)]


def preset_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The ``MistralConfig`` of a preset, with ``overrides`` (e.g. ``{"num_hidden_layers": 4}``)."""
    from transformers import MistralConfig

    if name not in PRESETS:
        raise UsageError(f"unknown built-in model {name!r}; built-in models: {', '.join(PRESETS)} (or give a model folder or hub id)")
    unknown = sorted(set(overrides or {}) - set(MistralConfig().to_dict()) - set(_COMMON))
    if unknown:
        raise UsageError(f"model_config: unknown key(s) {', '.join(map(repr, unknown))} for a Mistral model; e.g. hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim, rope_parameters, tie_word_embeddings")
    values = {**_COMMON, **PRESETS[name], **(overrides or {})}
    if values["vocab_size"] != V3_VOCAB_SIZE:
        raise UsageError(f"model_config.vocab_size must stay {V3_VOCAB_SIZE} (the Mistral v0.3 vocabulary), got {values['vocab_size']}")
    bad = bad_sizes({k: values.get(k) for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim") if values.get(k) is not None})
    if bad:
        raise UsageError(f"model_config: {', '.join(bad)}; the sizes of a model are positive integers")
    try:
        return MistralConfig(**values)
    except (TypeError, ValueError) as exc:  # transformers' own field validation (strict dataclass fields)
        raise UsageError(f"model_config: {exc}") from None


def check_model(name: str, overrides: dict[str, Any] | None = None) -> None:
    """Refuse, before any data is read, a model that cannot be loaded: a built-in one with settings a
    Mistral model does not have, or a name that is neither a built-in model, a folder nor a Hugging Face
    id (``owner/name``), which transformers would otherwise look up on the Hub, retrying for a minute,
    after the data had been converted and prepared."""
    if is_preset(name):
        preset_config(name, overrides)
        return
    if os.path.isdir(name):
        return
    if os.path.exists(name):
        raise UsageError(f"--model {name}: is a file; give a model folder (config.json and weights), a built-in model ({', '.join(PRESETS)}) or a Hugging Face id")
    owner, _, repo = name.partition("/")
    if not (owner and repo and "/" not in repo and not name.startswith((".", "~")) and all(part.replace("-", "").replace("_", "").replace(".", "").isalnum() for part in (owner, repo))):
        raise UsageError(f"--model {name}: no such folder, and not a built-in model ({', '.join(PRESETS)}) nor a Hugging Face id (owner/name)")


def count_parameters(model: Any) -> tuple[int, int]:
    """(all parameters, trainable parameters); a 4-bit weight counts its real number of values."""
    total = trainable = 0
    for p in model.parameters():
        n = p.numel()
        if p.__class__.__name__ == "Params4bit":
            n = int(getattr(p, "quant_state", None).shape.numel()) if getattr(p, "quant_state", None) is not None else n * 2
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable


def cache_dir() -> str:
    return os.environ.get("FCDATA_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "fcdata", "models")


def _dtype_kwarg(dtype: Any) -> dict[str, Any]:
    """``dtype=`` (transformers >= 4.56) or the older ``torch_dtype=``."""
    import transformers
    from packaging.version import Version

    return {"dtype": dtype} if Version(transformers.__version__) >= Version("4.56.0") else {"torch_dtype": dtype}


def _cuda_index() -> int:
    """This process's GPU: ``LOCAL_RANK`` under ``accelerate launch`` / ``torchrun`` (the model is loaded
    before the Trainer sets the device), else the current device."""
    import torch

    local = os.environ.get("LOCAL_RANK")
    return int(local) if local is not None else torch.cuda.current_device()


def _build_preset(name: str, overrides: dict[str, Any], seed: int, dtype: "torch.dtype", device: str, attn_implementation: str = "sdpa") -> "PreTrainedModel":
    import torch
    from transformers import MistralForCausalLM

    config = preset_config(name, overrides)
    target = torch.device("cuda", _cuda_index()) if device == "cuda" else torch.device(device)
    # random init from our own seed, without touching the caller's random state
    devices = [target.index] if target.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if target.type == "cuda":
            torch.cuda.manual_seed(seed)
        with target:
            model = MistralForCausalLM._from_config(config, attn_implementation=attn_implementation, **_dtype_kwarg(dtype))
    return model


def _materialise(name: str, overrides: dict[str, Any], seed: int) -> str:
    """Write a preset's random weights (bf16) to the cache once; return the folder."""
    import torch

    key = hashlib.sha256(json.dumps({"name": name, "overrides": overrides, "seed": seed}, sort_keys=True).encode()).hexdigest()[:12]
    folder = os.path.join(cache_dir(), f"{name}-seed{seed}-{key}")
    if os.path.isfile(os.path.join(folder, "config.json")):
        return folder
    from ..write import atomic_path

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = _build_preset(name, overrides, seed, torch.bfloat16, device)
    with atomic_path(folder, directory=True) as tmp:
        model.save_pretrained(tmp)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def _quantization_config() -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def _check_vocab(model: Any, name: str) -> None:
    """The model's vocabulary must be its tokenizer's: the one in its folder when it has one (Tekken
    models have 131,072 ids), else the v3 one (32,768) that fcdata renders by default."""
    from ..tokenizer import load_tokenizer, model_tokenizer

    vocab = int(getattr(model.config, "vocab_size", 0) or 0)
    own = model_tokenizer(name) if os.path.isdir(name) else None
    expected = load_tokenizer(own).vocab_size if own is not None else V3_VOCAB_SIZE
    if vocab != expected:
        which = f"its tokenizer ({own})" if own is not None else "Mistral v0.3 ids (the default tokenizer)"
        raise UsageError(
            f"{name}: the model's vocabulary has {vocab} tokens, but fcdata renders {which} with a vocabulary of {expected}; "
            "use the model's own tokenizer (a model folder with tekken.json or tokenizer.model.vN), a Mistral v0.3 model, or a built-in model"
        )


def load_base_model(
    name: str,
    *,
    qlora: bool = False,
    dtype: str = "float32",
    device: str = "cpu",
    attn_implementation: str = "sdpa",
    model_config: dict[str, Any] | None = None,
    seed: int = 0,
) -> tuple["PreTrainedModel", ModelInfo]:
    """Load the base model: a preset (random weights from ``seed``), a local folder, or a hub id.

    ``dtype`` is the dtype of the (non-quantised) weights: ``float32`` for full training (master weights
    in fp32, bf16 autocast), ``bfloat16`` for a frozen LoRA base on a GPU. With ``qlora`` the linear layers
    are nf4 with double quantisation and bf16 compute. The model is on ``device`` and in train mode.
    """
    import torch

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    overrides = dict(model_config or {})
    kwargs: dict[str, Any] = {"attn_implementation": attn_implementation}
    if qlora:
        kwargs["quantization_config"] = _quantization_config()
        kwargs["device_map"] = {"": _cuda_index()} if device == "cuda" else None
    if is_preset(name):
        if qlora:
            folder = _materialise(name, overrides, seed)
            model = _from_pretrained(folder, name, torch_dtype, kwargs)
            kind, path = "preset", folder
        else:
            model = _build_preset(name, overrides, seed, torch_dtype, device, attn_implementation)
            kind, path = "preset", None
    else:
        if overrides:
            raise UsageError("model_config overrides apply to built-in models only; a saved model keeps its own config")
        if os.path.isdir(name):
            kind, path = "local", os.path.abspath(name)
        elif os.path.exists(name):
            raise InputError("a model is a folder (with config.json and weights), a hub id or a built-in name", file=name)
        else:
            kind, path = "hub", name
        model = _from_pretrained(path, name, torch_dtype, kwargs)
        if not qlora:
            model.to(torch.device("cuda", _cuda_index()) if device == "cuda" else device)
    _check_vocab(model, name)
    model.config.use_cache = False
    total, trainable = count_parameters(model)
    info = ModelInfo(
        name=name,
        kind=kind,
        path=path,
        parameters=total,
        trainable_parameters=trainable,
        quantized=qlora,
        dtype="nf4" if qlora else dtype,
        config=model.config.to_dict(),
    )
    return model, info


def _from_pretrained(path: str, name: str, torch_dtype: Any, kwargs: dict[str, Any]) -> "PreTrainedModel":
    from transformers import AutoModelForCausalLM

    if kwargs.get("device_map") is None:
        kwargs = {k: v for k, v in kwargs.items() if k != "device_map"}
    try:
        return AutoModelForCausalLM.from_pretrained(path, **_dtype_kwarg(torch_dtype), **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load the model: {exc}", file=name) from exc
