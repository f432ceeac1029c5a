"""What converting one input record gives: a :class:`Converted` canonical record or a :class:`Rejected`
input with its reasons; and :class:`Reject`, the exception converters raise to refuse a record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..read import Item
from ..rejects import reject_obj

__all__ = ["Converted", "Rejected", "Reject"]


class Reject(Exception):
    """Raised inside a converter: this record cannot be converted, for these ``(code, message)`` reasons.

    Not an :class:`~fcdata.errors.FcdataError`: it never leaves the converter, it becomes a
    :class:`Rejected` outcome and the batch goes on.
    """

    def __init__(self, code: str, message: str, *more: tuple[str, str]) -> None:
        super().__init__(f"{code}: {message}")
        self.reasons: list[tuple[str, str]] = [(code, message), *more]


class Converted:
    """A canonical record made from one input record.

    ``line`` is the record as fcdata writes it to JSON Lines (without the newline), made once by the
    converter; ``record`` is the canonical JSON object (``messages``/``tools``/``metadata``, or
    ``text``/``metadata`` for a pretraining record), decoded from ``line`` on first use (so each record
    owns its objects, and the file path, which only needs the line, never builds it). Provenance is in
    ``record["metadata"]``: ``source_file``, ``source_line``, ``format``, ``repairs`` (codes, in the
    order applied; also in ``repairs`` here).
    """

    __slots__ = ("item", "format", "repairs", "line", "_record")

    def __init__(self, item: Item, format: str, repairs: list[str], line: str, record: dict[str, Any] | None = None) -> None:
        self.item = item
        self.format = format
        self.repairs = repairs
        self.line = line
        self._record = record

    @property
    def record(self) -> dict[str, Any]:
        if self._record is None:
            self._record = json.loads(self.line)
        return self._record

    @property
    def ok(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"Converted({self.item.file}:{self.item.line}, format={self.format!r}, repairs={self.repairs!r})"

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.item, self.format, self.repairs, self.line, self._record)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.item, self.format, self.repairs, self.line, self._record = state


@dataclass
class Rejected:
    """An input record that could not be converted. ``reasons`` are ``(code, message)`` pairs; ``format``
    is the format it was read as (``None`` when none could be told)."""

    item: Item
    reasons: list[tuple[str, str]]
    format: str | None = None

    @property
    def ok(self) -> bool:
        return False

    @property
    def codes(self) -> list[str]:
        """The reason codes, each once, in order."""
        return list(dict.fromkeys(code for code, _ in self.reasons))

    def to_obj(self) -> dict[str, Any]:
        """The rejects-file entry, in the one shape of :mod:`fcdata.rejects`: stage ``read`` for a record
        that could not be decoded, else ``convert``."""
        return reject_obj(self.item, self.reasons, stage="convert" if self.item.ok else "read", format=self.format)
