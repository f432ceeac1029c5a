"""What a scoring run found: per-item verdicts, the totals people and machines read, and what was not
scored (rejected input lines, references without a prediction).

:meth:`ScoreReport.to_json` is the JSON report (a plain dict, deterministic: keys in a fixed order, every
error type listed even at 0). ``n`` counts the scored items; ``accuracy`` is ``correct / n`` (``null``
when nothing was scored); ``categories`` splits both by category.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal

from .compare import ERROR_TYPES, Comparison

__all__ = ["ItemVerdict", "Rejected", "ScoreReport", "ReferenceTally", "BfclTally", "BFCL_CATEGORY_ORDER"]

# the order BFCL lists its single-turn categories in; others follow, sorted
BFCL_CATEGORY_ORDER = (
    "simple",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
)
_REFERENCE_CATEGORY_ORDER = ("no_call", "single", "parallel")


@dataclass(frozen=True)
class ItemVerdict:
    """One scored prediction. ``error`` is fcdata's error type (``None`` when correct). A parse failure
    is flagged in ``parse_failure`` even where it is scored correct (a BFCL irrelevance question).
    ``bfcl_error`` is BFCL's own ``error_type`` in BFCL mode; ``issues`` every error found (reference
    mode)."""

    id: str
    category: str
    correct: bool
    error: str | None
    parse_failure: bool = False
    bfcl_error: str | None = None
    issues: tuple[str, ...] = ()
    bfcl: bool = False  # scored in BFCL mode: ``bfcl_error`` is then always in :meth:`to_obj` (null when correct)

    def to_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": self.id,
            "correct": self.correct,
            "error": self.error,
            "category": self.category,
            "parse_failure": self.parse_failure,
        }
        if self.bfcl or self.bfcl_error is not None:
            obj["bfcl_error"] = self.bfcl_error
        if self.issues:
            obj["issues"] = list(self.issues)
        return obj


@dataclass(frozen=True)
class Rejected:
    """An input line that was not scored, with where it was and why."""

    input: str  # "predictions", "references", "questions" or "answers"
    file: str
    line: int
    reason: str
    text: str | None = None

    def message(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"

    def to_obj(self) -> dict[str, Any]:
        return {"input": self.input, "file": self.file, "line": self.line, "reason": self.reason}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _ordered_categories(counts: dict[str, list[int]], preferred: Iterable[str]) -> list[str]:
    first = [c for c in preferred if c in counts]
    return first + sorted(c for c in counts if c not in first)


class _Tally:
    """Counts shared by both modes."""

    category_order: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.n = 0
        self.correct = 0
        self.by_category: dict[str, list[int]] = {}
        self.errors: Counter[str] = Counter()
        self.parse_failures = 0
        self.predicted_calls = 0
        self.undeclared_calls = 0

    def _add(self, category: str, correct: bool, error: str | None, parse_failure: bool) -> None:
        self.n += 1
        self.correct += int(correct)
        row = self.by_category.setdefault(category, [0, 0])
        row[0] += 1
        row[1] += int(correct)
        if error is not None and not correct:
            self.errors[error] += 1
        self.parse_failures += int(parse_failure)

    def categories(self) -> dict[str, dict[str, Any]]:
        return {
            c: {"n": self.by_category[c][0], "correct": self.by_category[c][1], "accuracy": _ratio(self.by_category[c][1], self.by_category[c][0])}
            for c in _ordered_categories(self.by_category, self.category_order)
        }

    def error_counts(self) -> dict[str, int]:
        return {e: self.errors.get(e, 0) for e in ERROR_TYPES}


class ReferenceTally(_Tally):
    """Totals of fcdata's own metrics (reference mode)."""

    category_order = _REFERENCE_CATEGORY_ORDER

    def __init__(self) -> None:
        super().__init__()
        self.issues: Counter[str] = Counter()
        self.decision = Counter[str]()
        self.name_items = 0
        self.name_correct = 0
        self.call_correct = 0
        self.arg_tp = self.arg_pred = self.arg_ref = 0
        self.schema_checked = self.schema_failures = 0

    def add(self, item: ItemVerdict, comparison: Comparison) -> None:
        self._add(item.category, item.correct, item.error, item.parse_failure)
        self.issues.update(comparison.issues)
        key = ("call" if comparison.reference_call else "no_call", "call" if comparison.predicted_call else "no_call")
        self.decision[{("call", "call"): "true_call", ("no_call", "no_call"): "true_no_call", ("no_call", "call"): "false_call", ("call", "no_call"): "missed_call"}[key]] += 1
        if comparison.reference_call:
            self.name_items += 1
            self.name_correct += int(comparison.names_match)
            self.call_correct += int(item.correct)
        self.arg_tp += comparison.arg_true_positive
        self.arg_pred += comparison.arg_predicted
        self.arg_ref += comparison.arg_reference
        self.predicted_calls += comparison.predicted_calls
        self.undeclared_calls += comparison.undeclared_calls
        self.schema_checked += comparison.schema_checked
        self.schema_failures += comparison.schema_failures

    def summary(self) -> dict[str, Any]:
        precision = _ratio(self.arg_tp, self.arg_pred)
        recall = _ratio(self.arg_tp, self.arg_ref)
        # no argument right is F1 0, also when the model wrote no argument at all (precision undefined):
        # only without reference arguments is there nothing to measure
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if recall is not None else None)
        agree = self.decision["true_call"] + self.decision["true_no_call"]
        return {
            "mode": "reference",
            "n": self.n,
            "correct": self.correct,
            "accuracy": _ratio(self.correct, self.n),
            # exact accuracy on the turns whose reference calls a tool: a model that never calls scores 0
            # here, however many no-call turns it gets right by answering in text
            "call_accuracy": _ratio(self.call_correct, self.name_items),
            "call_items": self.name_items,
            "categories": self.categories(),
            "errors": self.error_counts(),
            "issues": {e: self.issues.get(e, 0) for e in ERROR_TYPES},
            "parse_failures": self.parse_failures,
            "parse_failure_rate": _ratio(self.parse_failures, self.n),
            "decision": {
                "accuracy": _ratio(agree, self.n),
                "true_call": self.decision["true_call"],
                "true_no_call": self.decision["true_no_call"],
                "false_call": self.decision["false_call"],
                "missed_call": self.decision["missed_call"],
            },
            "name_accuracy": _ratio(self.name_correct, self.name_items),
            "name_items": self.name_items,
            "arguments": {
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "true_positive": self.arg_tp,
                "predicted": self.arg_pred,
                "reference": self.arg_ref,
            },
            "predicted_calls": self.predicted_calls,
            "undeclared_tool_calls": self.undeclared_calls,
            "schema_checked_calls": self.schema_checked,
            "schema_failures": self.schema_failures,
        }


class BfclTally(_Tally):
    """Totals of a BFCL run."""

    category_order = BFCL_CATEGORY_ORDER

    def __init__(self, *, underscore_to_dot: bool) -> None:
        super().__init__()
        self.underscore_to_dot = underscore_to_dot
        self.bfcl_errors: Counter[str] = Counter()
        self.parse_failures_correct = 0

    def add(self, item: ItemVerdict, predicted_calls: int, undeclared_calls: int) -> None:
        self._add(item.category, item.correct, item.error, item.parse_failure)
        if item.bfcl_error is not None and not item.correct:
            self.bfcl_errors[item.bfcl_error] += 1
        self.parse_failures_correct += int(item.parse_failure and item.correct)
        self.predicted_calls += predicted_calls
        self.undeclared_calls += undeclared_calls

    def summary(self) -> dict[str, Any]:
        categories = self.categories()
        accuracies = [row["accuracy"] for row in categories.values() if row["accuracy"] is not None]
        return {
            "mode": "bfcl",
            "checker": "BFCL AST checker as in ShishirPatil/gorilla bfcl_eval @ cd9429cc (BFCL v3 data)",
            "underscore_to_dot": self.underscore_to_dot,
            "n": self.n,
            "correct": self.correct,
            "accuracy": _ratio(self.correct, self.n),
            "unweighted_accuracy": sum(accuracies) / len(accuracies) if accuracies else None,
            "categories": categories,
            "errors": self.error_counts(),
            "bfcl_errors": dict(sorted(self.bfcl_errors.items())),
            "parse_failures": self.parse_failures,
            "parse_failures_scored_correct": self.parse_failures_correct,
            "predicted_calls": self.predicted_calls,
            "undeclared_tool_calls": self.undeclared_calls,
        }


@dataclass
class ScoreReport:
    """The result of :func:`fcdata.score.score`.

    ``items`` are the verdicts in prediction order; ``rejected`` the input lines not scored;
    ``missing`` the ids of references (or BFCL questions) no prediction answered. ``summary`` holds
    the totals (see :meth:`to_json`).
    """

    mode: Literal["reference", "bfcl"]
    summary: dict[str, Any]
    items: list[ItemVerdict] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.summary["n"])

    @property
    def accuracy(self) -> float | None:
        value = self.summary["accuracy"]
        return None if value is None else float(value)

    def rejected_by_input(self) -> dict[str, int]:
        counts = Counter(r.input for r in self.rejected)
        return {k: counts[k] for k in ("predictions", "references", "questions", "answers") if counts.get(k)}

    def to_json(self) -> dict[str, Any]:
        """The JSON report: the totals, then what was not scored."""
        return {
            **self.summary,
            "missing_predictions": len(self.missing),
            "missing_ids": list(self.missing),
            "rejected": len(self.rejected),
            "rejected_by_input": self.rejected_by_input(),
            "rejected_lines": [r.to_obj() for r in self.rejected],
        }

    def details(self) -> Iterator[dict[str, Any]]:
        """One JSON object per scored prediction, in prediction order (``--details``)."""
        for item in self.items:
            yield item.to_obj()
