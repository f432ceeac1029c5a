"""fcdata: tool-calling fine-tuning data for Mistral v0.3, from raw dumps to scored fine-tunes.

The pipeline, one module (or package) per stage, data flowing one way::

    read -> convert -> validate -> render -> collate -> train -> generate -> score

``import fcdata`` is light: the names below load their modules on first use, and nothing here imports
torch, transformers or TRL.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (loaded on first attribute access, PEP 562)
_EXPORTS: dict[str, str] = {
    # record model
    "ChatRecord": "fcdata.records",
    "TextRecord": "fcdata.records",
    "Tool": "fcdata.records",
    "parse_record": "fcdata.records",
    "record_to_obj": "fcdata.records",
    # errors
    "FcdataError": "fcdata.errors",
    "InputError": "fcdata.errors",
    "RecordError": "fcdata.errors",
    "TokenizerError": "fcdata.errors",
    "UsageError": "fcdata.errors",
    # stages
    "read_items": "fcdata.read",
    "convert_records": "fcdata.convert",
    "validate_records": "fcdata.validate",
    "render": "fcdata.render",
    "load_tokenizer": "fcdata.tokenizer",
    "score": "fcdata.score",
    "PaddingCollator": "fcdata.collate",
    "PackingCollator": "fcdata.collate",
    "pack_dataset": "fcdata.pack",
    "PackingReport": "fcdata.pack",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fcdata' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    # `fcdata.score` and `fcdata.render` are callable packages: the attribute is the package itself, as
    # it is once `import fcdata.score` has run, so `fcdata.score(...)` and `fcdata.score.score_bfcl(...)`
    # both work whatever was imported first
    value = loaded if module == f"fcdata.{name}" else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
