"""Training, generation and evaluation (the ``train`` extra: torch, transformers, peft, trl, accelerate,
bitsandbytes, pyyaml, matplotlib).

Modules, one job each:

- :mod:`~fcdata.train.config`: defaults, YAML/TOML config files, command-line overrides, resolution
  against the machine;
- :mod:`~fcdata.train.models`: built-in random-weight Mistral presets (``tiny-mistral`` ...), local or hub
  models, QLoRA loading;
- :mod:`~fcdata.train.plan`: peak-memory estimates (``fcdata plan``), no torch needed;
- :mod:`~fcdata.train.trainer`: the Trainer with fcdata's collators, packing and trained-token loss;
- :mod:`~fcdata.train.generate`: batched, left-padded greedy decoding that stops at ``</s>``;
- :mod:`~fcdata.train.evaluate`: one prediction per held-out assistant turn, scored (``fcdata eval``);
- :mod:`~fcdata.train.pipeline`: convert -> validate -> prepare -> split -> score base -> train -> score
  trained -> report (``fcdata train-eval``).

Importing this package imports none of the heavy libraries; each module imports them where it uses them.
It does silence one notice bitsandbytes prints on import (:mod:`~fcdata.train.quiet`), before any of
them can import it.
"""

from __future__ import annotations

import importlib
from typing import Any

from .quiet import silence_bitsandbytes_kernel_notice

silence_bitsandbytes_kernel_notice()

_EXPORTS: dict[str, str] = {
    "TrainConfig": "fcdata.train.config",
    "load_config_file": "fcdata.train.config",
    "resolve": "fcdata.train.config",
    "estimate_memory": "fcdata.train.plan",
    "train_model": "fcdata.train.trainer",
    "generate_replies": "fcdata.train.generate",
    "evaluate_model": "fcdata.train.evaluate",
    "train_eval": "fcdata.train.pipeline",
    "load_base_model": "fcdata.train.models",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fcdata.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
