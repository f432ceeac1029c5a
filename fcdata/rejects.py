"""The one shape of a rejects-file line, whichever command refused the record.

``convert --rejects``, ``validate --rejects``, ``prepare --rejects`` and a training run's rejects files
all write::

    {"file", "line", "stage", "format", "reasons": [{"code", "message", ...}], "text"}

``stage`` says which step refused the record (``read``, ``convert``, ``validate``, ``render``);
``format`` is the input format it was read as (``null`` when unknown); a reason that comes from a
validation finding also carries its ``severity`` and JSON ``path``; ``text`` is the input exactly as it
was read (numbers, key order, duplicate keys and whitespace untouched; bytes that were not UTF-8 shown as
U+FFFD), the decoded value as JSON for rows of containers that have no text (Parquet, ``datasets``
folders), and ``null`` when nothing readable is left (a file cut off inside a value). One shape means one
reader: a rejects file of any command can be fixed and fed back to ``fcdata convert``.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from .read import Item

__all__ = ["Reason", "reject_obj", "STAGES"]

STAGES = ("read", "convert", "validate", "render")

Reason = Any
"""``(code, message)`` from the reader, a converter or the renderer, or a validation
:class:`~fcdata.findings.Finding` (anything with ``code``, ``message``, ``severity`` and ``path``: this
module sits below validate, so converters can use it)."""


def _reason(reason: Reason) -> dict[str, Any]:
    if isinstance(reason, tuple):
        code, message = reason
        return {"code": code, "message": message}
    return {"code": reason.code, "message": reason.message, "severity": reason.severity, "path": reason.path}


def reject_obj(item: Item, reasons: Iterable[Reason], *, stage: str, format: str | None = None) -> dict[str, Any]:
    """The rejects-file entry of ``item`` (see the module docstring); serialise it with
    :func:`fcdata.write.dumps_line`."""
    if item.text is not None:
        text: str | None = item.text
    elif item.ok:
        text = json.dumps(item.value, ensure_ascii=False)
    else:
        text = None
    return {"file": item.file, "line": item.line, "stage": stage, "format": format, "reasons": [_reason(r) for r in reasons], "text": text}
