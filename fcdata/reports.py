"""The counts every stage report shares, so that a key means the same thing in each.

convert, validate, prepare and a training run's input section all say how many records they read, kept
and refused, and why they refused them; reading any of their reports needs one vocabulary::

    {"read": 10, "kept": 8, "rejected": 2, "rejections": {"arguments_schema": 1, "not_json": 1}, ...}

``read == kept + rejected`` always (kept: written by convert, valid for validate, rendered by prepare).
``rejections`` counts rejected records by reason code, a record once per code (so the counts may add up
to more than ``rejected``). Each stage's own counts follow these keys (docs/architecture.md, "Rejects and
reports", lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RecordCounts"]


@dataclass
class RecordCounts:
    """Records read, kept and rejected, and the rejected ones by reason code."""

    read: int = 0
    kept: int = 0
    rejected: int = 0
    rejections: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        """The leading keys of every stage's JSON report (codes sorted, so reruns give the same bytes)."""
        return {"read": self.read, "kept": self.kept, "rejected": self.rejected, "rejections": dict(sorted(self.rejections.items()))}
