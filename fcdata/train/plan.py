"""Peak GPU memory of a fine-tuning run, estimated from the model's shape (``fcdata plan``).

No torch needed: the estimate is arithmetic on the architecture, counted the way the training code
allocates (bf16 compute, nf4 weights, fp32 LoRA weights, cross-entropy in fp32). Components:

``weights``
    Linear layers of the decoder: nf4 is 4 bits a weight plus its quantisation constants (one absmax per
    block of 64; with double quantisation that absmax is 8-bit with one fp32 constant per 256 blocks:
    4.127 bits a weight, 4.5 without); int8 is 1 byte; bf16 2; fp32 4. The embeddings, ``lm_head`` and
    norms are never quantised by bitsandbytes: bf16 (fp32 when training every weight).
``trainable state``
    LoRA: ``r x (in + out)`` weights per adapted layer, fp32, their fp32 gradients, and the optimizer's
    state (AdamW 8-bit: 2 bytes a weight; AdamW: 8). Full training: fp32 master weights are the weights
    above; gradients 4 bytes a weight; optimizer state as above.
``activations``
    What the backward pass keeps, per token: with checkpointing, each decoder layer's input (the residual
    stream) plus the working set of the one layer being recomputed; without, every layer's working set.
    The working set of a layer, in bytes per token (bf16; H hidden, Hq = heads x head_dim, Hkv = kv heads
    x head_dim, I intermediate)::

        2 RMSNorms (fp32 input + bf16 output)       12 H
        q, k, v, rotary copies, attention output    6 Hq + 6 Hkv
        MLP: gate, up, silu(gate), product          8 I
        LoRA dropout (a copy + mask of each input)  3 x (3 H + Hq + 2 H + I)   (only with dropout > 0)
        gradients flowing back through the layer    4 I + 4 H                  (once, not per layer)

    plus the attention mask a packed/padded row needs with sdpa (rows x length^2 bytes; none with
    flash-attention varlen) and, for 4-bit weights, the bf16 copy of the largest weight dequantised for
    one matmul (x2: forward and backward).
``logits``
    ``lm_head`` output and the cross-entropy: bf16 logits, their fp32 copy, the saved log-softmax and its
    gradient: 14 bytes per (position, vocabulary entry). fcdata computes them only at trained positions
    (``trained_share`` of the tokens); the plain recipe at every position.
``CUDA context``
    What the driver and kernels take outside PyTorch's allocator (not in ``max_memory_allocated``),
    listed apart and added to the total to compare with ``nvidia-smi``.

Model shapes: built-in presets, known Mistral sizes, or a folder with a ``config.json``. The known sizes
cover the models of every tokenizer version fcdata renders (the shape is what memory depends on; the
tokenizer version only changes the data)::

    7b     Mistral 7B Instruct v0.3                                    v3 SentencePiece, vocabulary 32,768
    12b    Mistral NeMo 12B (2407)                                     v3 Tekken, 131,072
    22b    Mistral Small 22B (2409), Codestral 22B                     v3 SentencePiece, 32,768
    24b    Mistral Small 3 / 3.1 (2501, 2503)                          v7 Tekken, 131,072
           Mistral Small 3.2 (2506), Magistral Small, Devstral Small   v11 / v13 Tekken (same shape)
    123b   Mistral Large 2 (2411)                                      v7 SentencePiece, 32,768

The user's recipe table for Mistral Small 3 (24B; QLoRA nf4, LoRA r 16, 2048 tokens, batch 1, gradient
checkpointing, paged AdamW 8-bit, the plain loss over every position) reads 12 GB of weights and about
21-22 GB in all; this estimate gives 11.5 GB of nf4 decoder weights and 21.8 GB allocated
(``tests/test_plan.py`` holds it within 15%).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError, UsageError
from .models import bad_sizes

__all__ = ["ModelShape", "PlanSettings", "MemoryEstimate", "KNOWN_SHAPES", "model_shape", "estimate_memory"]

GB = 1e9
GIB = 2**30


@dataclass(frozen=True)
class ModelShape:
    """The numbers memory depends on."""

    name: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool = False

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head_dim

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection of one decoder layer."""
        h, q, kv, i = self.hidden_size, self.q_dim, self.kv_dim, self.intermediate_size
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h), "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    @property
    def linear_parameters(self) -> int:
        return self.num_hidden_layers * sum(a * b for a, b in self.linear_shapes().values())

    @property
    def embedding_parameters(self) -> int:
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def norm_parameters(self) -> int:
        return (2 * self.num_hidden_layers + 1) * self.hidden_size

    @property
    def parameters(self) -> int:
        return self.linear_parameters + self.embedding_parameters + self.norm_parameters


KNOWN_SHAPES: dict[str, ModelShape] = {
    # Mistral-7B-v0.3
    "7b": ModelShape("Mistral-7B-v0.3", 4096, 14336, 32, 32, 8, 128, 32768),
    # Mistral-Nemo-Base-2407
    "12b": ModelShape("Mistral-Nemo-12B", 5120, 14336, 40, 32, 8, 128, 131072),
    # Mistral-Small-Instruct-2409 / Codestral-22B
    "22b": ModelShape("Mistral-Small-22B", 6144, 16384, 56, 48, 8, 128, 32768),
    # Mistral-Small-24B-Base-2501 (and 3.1 / 3.2, Magistral Small, Devstral Small: the same decoder)
    "24b": ModelShape("Mistral-Small-24B", 5120, 32768, 40, 32, 8, 128, 131072),
    # Mistral-Large-Instruct-2411
    "123b": ModelShape("Mistral-Large-123B", 12288, 28672, 88, 96, 8, 128, 32768),
}


def _shape_from_config(name: str, cfg: dict[str, Any]) -> ModelShape:
    try:
        heads = int(cfg["num_attention_heads"])
        hidden = int(cfg["hidden_size"])
        bad = bad_sizes({k: cfg.get(k) for k in ("num_attention_heads", "hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size")})
        if bad:
            raise InputError(f"config.json: {', '.join(bad)}; a decoder's sizes are positive integers", file=name)
        return ModelShape(
            name=name,
            hidden_size=hidden,
            intermediate_size=int(cfg["intermediate_size"]),
            num_hidden_layers=int(cfg["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or hidden // heads),  # heads checked > 0 above
            vocab_size=int(cfg["vocab_size"]),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"config.json lacks a decoder shape field ({exc})", file=name) from exc


def model_shape(model: str) -> ModelShape:
    """The shape of ``model``: a known size (``7b``, ``24b`` ...), a built-in preset, or a folder with
    ``config.json`` (a Hugging Face model)."""
    key = model.lower()
    if key in KNOWN_SHAPES:
        return KNOWN_SHAPES[key]
    from .models import PRESETS, _COMMON

    if model in PRESETS:
        return _shape_from_config(model, {**_COMMON, **PRESETS[model]})
    path = os.path.join(model, "config.json") if os.path.isdir(model) else model
    if os.path.isfile(path) and path.endswith(".json"):
        try:
            with open(path, encoding="utf-8") as fh:
                cfg = json.load(fh)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the model config: {exc}", file=path) from exc
        cfg = cfg.get("text_config", cfg) if isinstance(cfg, dict) else cfg
        if not isinstance(cfg, dict):
            raise InputError("config.json is not an object", file=path)
        return _shape_from_config(model, cfg)
    raise UsageError(f"unknown model {model!r}: give one of {', '.join(KNOWN_SHAPES)}, a built-in model ({', '.join(PRESETS)}) or a folder with config.json")


_WEIGHT_BITS = {"nf4": 4.0 + 8 / 64 + 32 / (64 * 256), "nf4-single": 4.0 + 32 / 64, "int8": 8.0 + 32 / 4096, "bf16": 16.0, "fp32": 32.0}
# optimizers whose state has the dtype of the weights (two moments: 8 bytes a parameter in fp32, 4 in bf16)
_OPTIM_IN_WEIGHT_DTYPE = frozenset({"adamw_torch", "adamw_torch_fused", "adamw", "adafactor"})
_OPTIM_BYTES = {"paged_adamw_8bit": 2.0, "adamw_8bit": 2.0, "adamw_torch": 8.0, "adamw_torch_fused": 8.0, "adamw": 8.0, "sgd": 0.0, "adafactor": 0.1}


@dataclass(frozen=True)
class PlanSettings:
    """The run to estimate. ``batch`` rows of ``seq_len`` tokens per micro-step (packs when packing)."""

    quant: str = "nf4"  # nf4 | nf4-single | int8 | bf16 | fp32
    full: bool = False
    lora_r: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    seq_len: int = 4096
    batch: int = 1
    gradient_checkpointing: bool = True
    optim: str = "paged_adamw_8bit"
    logits: str = "trained"  # trained (fcdata) | full (every position)
    trained_share: float = 0.3
    attention: str = "sdpa"  # sdpa (dense mask per row) | flash (varlen, no mask)
    cuda_context_gb: float = 0.5
    fp32_non_quantized: bool = False  # PEFT's prepare_model_for_kbit_training casts embeddings/lm_head/norms to fp32

    def check(self) -> None:
        if self.quant not in _WEIGHT_BITS:
            raise UsageError(f"unknown quantisation {self.quant!r}; choose one of {', '.join(_WEIGHT_BITS)}")
        if self.optim not in _OPTIM_BYTES:
            raise UsageError(f"unknown optimizer {self.optim!r}; choose one of {', '.join(_OPTIM_BYTES)}")
        if self.full and self.quant in ("nf4", "nf4-single", "int8"):
            raise UsageError("full training needs unquantised weights (quant bf16 or fp32)")
        if self.logits not in ("trained", "full"):
            raise UsageError(f"logits must be 'trained' or 'full', got {self.logits!r}")
        if self.attention not in ("sdpa", "flash"):
            raise UsageError(f"attention must be 'sdpa' or 'flash', got {self.attention!r}")
        if self.seq_len < 1 or self.batch < 1 or self.lora_r < 1:
            raise UsageError("seq_len, batch and lora_r must be at least 1")
        if not 0.0 < self.trained_share <= 1.0:
            raise UsageError(f"trained_share must be in (0, 1], got {self.trained_share}")


@dataclass
class MemoryEstimate:
    """Bytes per component, and the totals (see the module docstring)."""

    model: ModelShape
    settings: PlanSettings
    components: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_allocated(self) -> float:
        """What ``torch.cuda.max_memory_allocated`` should show."""
        return sum(v for k, v in self.components.items() if k != "cuda_context")

    @property
    def total(self) -> float:
        """Allocated plus the CUDA context (closer to ``nvidia-smi``)."""
        return sum(self.components.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": asdict(self.model) | {"parameters": self.model.parameters},
            "settings": asdict(self.settings),
            "components_bytes": {k: int(v) for k, v in self.components.items()},
            "components_gb": {k: round(v / GB, 3) for k, v in self.components.items()},
            "peak_allocated_gb": round(self.peak_allocated / GB, 3),
            "peak_allocated_gib": round(self.peak_allocated / GIB, 3),
            "total_gb": round(self.total / GB, 3),
            "total_gib": round(self.total / GIB, 3),
            "details": self.details,
        }


def estimate_memory(model: ModelShape | str, settings: PlanSettings | None = None, **overrides: Any) -> MemoryEstimate:
    """Estimate the peak memory of training ``model`` with ``settings`` (keyword overrides allowed)."""
    shape = model if isinstance(model, ModelShape) else model_shape(model)
    s = settings or PlanSettings()
    if overrides:
        s = PlanSettings(**{**asdict(s), **overrides})
    s.check()
    h, q, kv, inter, layers, vocab = shape.hidden_size, shape.q_dim, shape.kv_dim, shape.intermediate_size, shape.num_hidden_layers, shape.vocab_size
    tokens = s.batch * s.seq_len

    # ---- weights
    linear_bytes = shape.linear_parameters * _WEIGHT_BITS[s.quant] / 8
    other_bytes_per = 4.0 if ((s.full and s.quant == "fp32") or s.fp32_non_quantized) else 2.0
    other_bytes = (shape.embedding_parameters + shape.norm_parameters) * other_bytes_per

    # ---- trainable state
    optim_bytes = _OPTIM_BYTES[s.optim]
    shapes = shape.linear_shapes()
    unknown = [m for m in s.target_modules if m not in shapes]
    if unknown:
        raise UsageError(f"unknown target modules {', '.join(unknown)}; known: {', '.join(shapes)}")
    if s.full:
        trainable = shape.parameters
        lora_weights = 0.0
        # PyTorch keeps gradients, and AdamW's moments, in the dtype of the weights: pure bf16 weights
        # (--quant bf16) have bf16 gradients and bf16 moments; 8-bit optimizer state is 8-bit either way
        weight_bytes = 2.0 if s.quant == "bf16" else 4.0
        grads = trainable * weight_bytes
        optim_state = trainable * (optim_bytes * weight_bytes / 4.0 if s.optim in _OPTIM_IN_WEIGHT_DTYPE else optim_bytes)
        # autocast keeps a bf16 copy of each weight it casts during the forward
        autocast_copies = shape.linear_parameters * 2.0 if s.quant == "fp32" else 0.0
    else:
        trainable = layers * sum(s.lora_r * (shapes[m][0] + shapes[m][1]) for m in s.target_modules)
        lora_weights = trainable * 4.0
        grads = trainable * 4.0
        optim_state = trainable * optim_bytes
        autocast_copies = 0.0

    # ---- activations
    residual_bytes = 4.0 if (s.full and s.quant == "fp32") else 2.0
    per_layer = 12 * h + 6 * q + 6 * kv + 8 * inter
    if not s.full and s.lora_dropout > 0:
        dropout_inputs = {"q_proj": h, "k_proj": h, "v_proj": h, "o_proj": q, "gate_proj": h, "up_proj": h, "down_proj": inter}
        per_layer += 3 * sum(dropout_inputs[m] for m in s.target_modules)
    # gradients flowing back through the layer being recomputed (MLP and hidden-size grads, bf16)
    backward = 4 * inter + 4 * h
    if s.gradient_checkpointing:
        saved = layers * tokens * h * residual_bytes
        working = tokens * (per_layer + backward)
    else:
        saved = layers * tokens * (per_layer + h * residual_bytes)
        working = tokens * backward
    mask = 0.0 if s.attention == "flash" else s.batch * s.seq_len * s.seq_len * 1.0
    dequant = 0.0
    if s.quant in ("nf4", "nf4-single", "int8"):
        dequant = 2 * max(a * b for a, b in shapes.values()) * 2.0

    # ---- logits and loss
    positions = tokens * (s.trained_share if s.logits == "trained" else 1.0)
    logits = positions * vocab * 14.0

    components = {
        "weights_linear": linear_bytes,
        "weights_embeddings_norms": other_bytes,
        "trainable_weights": lora_weights + autocast_copies,
        "gradients": grads,
        "optimizer_state": optim_state,
        "activations_checkpoints": saved,
        "activations_layer_recompute": working + dequant + mask,
        "logits_and_loss": logits,
        "cuda_context": s.cuda_context_gb * GB,
    }
    details = {
        "parameters": shape.parameters,
        "trainable_parameters": trainable,
        "tokens_per_micro_step": tokens,
        "activation_bytes_per_token_per_layer": per_layer,
        "logit_positions": positions,
        "weight_bits_linear": round(_WEIGHT_BITS[s.quant], 4),
        "activations_without_checkpointing": layers * tokens * (per_layer + h * residual_bytes) + tokens * backward,
        "activations_with_checkpointing": layers * tokens * h * residual_bytes + tokens * (per_layer + backward),
        "logits_full_vocab_all_positions": tokens * vocab * 14.0,
        "logits_trained_positions_only": tokens * s.trained_share * vocab * 14.0,
    }
    return MemoryEstimate(shape, s, components, details)


_LABELS = {
    "weights_linear": "base weights: decoder linear layers",
    "weights_embeddings_norms": "base weights: embeddings, lm_head, norms",
    "trainable_weights": "trainable weights (LoRA fp32 / autocast copies)",
    "gradients": "gradients",
    "optimizer_state": "optimizer state",
    "activations_checkpoints": "activations: saved layer inputs",
    "activations_layer_recompute": "activations: one layer's working set + buffers",
    "logits_and_loss": "logits and cross-entropy",
    "cuda_context": "CUDA context (outside the allocator)",
}


def component_label(key: str) -> str:
    return _LABELS.get(key, key)
