"""JSON Schema files of the canonical record, generated from :mod:`fcdata.records` (installed as
``fcdata.schemas``).

The ``*.json`` files here are committed so that people and other tools can use them without Python; a
test regenerates them from the Pydantic models and fails when they differ. Regenerate on purpose with
``fcdata schema --write schemas/``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["NAMES", "load", "dumps", "generate", "write"]

NAMES = ("record", "message", "tool")


def load(name: str) -> dict[str, Any]:
    """The committed schema ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise ValueError(f"unknown schema {name!r}; choose one of {', '.join(NAMES)}")
    return json.loads(resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8"))


def dumps(schema: dict[str, Any]) -> str:
    """The exact text a schema file holds (2-space indent, trailing newline)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File text of every schema, freshly generated from the models."""
    from fcdata.records import json_schemas

    return {name: dumps(schema) for name, schema in json_schemas().items()}


def write(directory: str) -> list[str]:
    """Regenerate the schema files into ``directory``; returns the paths written."""
    import os

    from fcdata.write import atomic_open

    paths = []
    for name, text in generate().items():
        path = os.path.join(directory, f"{name}.json")
        with atomic_open(path) as fh:
            fh.write(text)
        paths.append(path)
    return paths

