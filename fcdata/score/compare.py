"""fcdata's own metrics: one predicted reply against the reference assistant turn.

Calls are compared as parsed JSON values: names exactly, arguments as JSON (``5`` equals ``5.0``; ``true``
is not ``1``; object key order does not matter; array order does), and the calls of one turn as a
multiset (order-free, so parallel calls may come in any order).

Each item gets one verdict: correct, or the first error that applies in this order (the most basic
mistake names the item)::

    unfinished             the reply hit the generation limit before </s> (``"finished": false``)
    parse_failure          a call was claimed ([TOOL_CALLS]) but could not be read
    false_call             the reference answers in text; the prediction calls a tool
    missed_call            the reference calls a tool; the prediction answers in text
    wrong_number_of_calls  both call, but not the same number of calls
    wrong_name             a call names another function than its reference call
    missing_required       an argument the tool requires (or, with no schema, that the reference has) is absent
    unexpected_argument    an argument the reference call does not have
    wrong_type             an argument of another JSON type (string / number / boolean / null / array / object)
    wrong_value            an argument of the right type with another value
    missing_optional       an optional argument the reference call gives is absent

Predicted calls are paired with reference calls before they are compared: identical calls first, then
calls to the same function (in order), then the rest in order. ``issues`` lists every error found in the
pairs, not just the first.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from ..schema_check import schema_check
from .parse import Call, ParsedReply

__all__ = [
    "ERROR_TYPES",
    "Reference",
    "Comparison",
    "compare",
    "json_equal",
    "json_type",
    "SchemaChecker",
]

ERROR_TYPES: tuple[str, ...] = (
    "unfinished",
    "parse_failure",
    "false_call",
    "missed_call",
    "empty_reply",
    "wrong_number_of_calls",
    "wrong_name",
    "missing_required",
    "unexpected_argument",
    "wrong_type",
    "wrong_value",
    "missing_optional",
)
_RANK = {name: i for i, name in enumerate(ERROR_TYPES)}


@dataclass(frozen=True)
class Reference:
    """What the prediction is scored against.

    ``reply`` is the reference turn (calls or text). ``tools`` maps each declared function name to its
    ``parameters`` JSON Schema, or is ``None`` when the declared tools are unknown (then undeclared
    calls and schema failures are not counted). ``category`` names the report row the item counts in.
    """

    reply: ParsedReply
    tools: Mapping[str, Any] | None = None
    category: str = ""


@dataclass(frozen=True)
class Comparison:
    """The verdict on one item and the counts the report sums."""

    correct: bool
    error: str | None
    issues: tuple[str, ...]
    predicted_call: bool
    reference_call: bool
    names_match: bool
    arg_true_positive: int
    arg_predicted: int
    arg_reference: int
    predicted_calls: int
    undeclared_calls: int
    schema_checked: int
    schema_failures: int


def json_type(value: Any) -> str:
    """The JSON type of a decoded value; ``int`` and ``float`` are both ``number``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _canonical(value: Any) -> Any:
    """A hashable form in which JSON-equal values are equal (``1 == 1.0``, ``True != 1``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("num", value)
    if isinstance(value, float):
        return ("num", int(value) if value.is_integer() else value)
    if isinstance(value, (list, tuple)):
        return ("arr", tuple(_canonical(v) for v in value))
    if isinstance(value, dict):
        return ("obj", frozenset((k, _canonical(v)) for k, v in value.items()))
    return ("other", repr(value))


def json_equal(a: Any, b: Any) -> bool:
    """Equality of decoded JSON values (see :func:`_canonical`)."""
    return _canonical(a) == _canonical(b)


def _call_key(call: Call) -> Any:
    return (call.name, _canonical(call.arguments))


class SchemaChecker:
    """Checks arguments against tool ``parameters`` schemas with :mod:`fcdata.schema_check`, the same
    rules (and cache) as conversion and validation: the schema's own draft, else Draft 7 as in
    mistral-common. A schema that is itself invalid counts as unchecked rather than failing every call
    (``fcdata validate`` is where a broken schema is reported)."""

    def is_valid(self, schema: Any, arguments: Any) -> bool | None:
        """True/False, or None when the schema cannot be used."""
        if not isinstance(schema, dict):
            return None
        try:
            key = json.dumps(schema, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            return None
        return schema_check(key, schema).is_valid(arguments)


def _required_of(tools: Mapping[str, Any] | None, name: str) -> set[str] | None:
    if tools is None or name not in tools:
        return None
    schema = tools[name]
    required = schema.get("required") if isinstance(schema, dict) else None
    return {r for r in required if isinstance(r, str)} if isinstance(required, list) else set()


def _pair(predicted: list[Call], reference: list[Call]) -> list[tuple[int, int]]:
    """Pairs (predicted index, reference index): identical calls, then calls of the same name paired
    the way that agrees best (most arguments equal, then fewest differences), then by position; calls
    left over on the longer side stay unpaired. Agreement, not the order the model wrote its parallel
    calls in, decides, so a turn scores the same (F1, error types) in any order."""
    free_p = list(range(len(predicted)))
    free_r = list(range(len(reference)))
    pairs: list[tuple[int, int]] = []
    keys_p = [_call_key(c) for c in predicted]
    keys_r = [_call_key(c) for c in reference]
    for r in list(free_r):
        for p in free_p:
            if keys_p[p] == keys_r[r]:
                pairs.append((p, r))
                free_p.remove(p)
                free_r.remove(r)
                break
    for name in dict.fromkeys(reference[r].name for r in free_r):
        ps = [p for p in free_p if predicted[p].name == name]
        rs = [r for r in free_r if reference[r].name == name]
        for p, r in _best_pairs(ps, rs, predicted, reference):
            pairs.append((p, r))
            free_p.remove(p)
            free_r.remove(r)
    while free_p and free_r:
        pairs.append((free_p.pop(0), free_r.pop(0)))
    return pairs


def _agreement(pred: Call, ref: Call) -> tuple[int, int]:
    """(arguments equal, minus arguments that differ, are missing or are extra)."""
    agree = sum(1 for k, v in ref.arguments.items() if k in pred.arguments and json_equal(pred.arguments[k], v))
    differ = len(set(pred.arguments) | set(ref.arguments)) - agree
    return agree, -differ


def _best_pairs(ps: list[int], rs: list[int], predicted: list[Call], reference: list[Call]) -> list[tuple[int, int]]:
    """The pairing of same-name calls with the greatest total agreement: every assignment is tried
    while there are few (parallel turns hold a handful of calls), greedily by agreement beyond that."""
    import itertools
    import math

    if not ps or not rs:
        return []
    score = {(p, r): _agreement(predicted[p], reference[r]) for p in ps for r in rs}
    k = min(len(ps), len(rs))
    if math.perm(max(len(ps), len(rs)), k) <= 5040:
        best: list[tuple[int, int]] = []
        best_score: tuple[int, int] | None = None
        for chosen in itertools.permutations(ps if len(ps) >= len(rs) else rs, k):
            option = list(zip(chosen, rs)) if len(ps) >= len(rs) else list(zip(ps, chosen))
            total = (sum(score[o][0] for o in option), sum(score[o][1] for o in option))
            if best_score is None or total > best_score:
                best, best_score = option, total
        return best
    out: list[tuple[int, int]] = []
    used_p: set[int] = set()
    used_r: set[int] = set()
    for (p, r), _ in sorted(score.items(), key=lambda item: (item[1][0], item[1][1]), reverse=True):
        if p not in used_p and r not in used_r:
            out.append((p, r))
            used_p.add(p)
            used_r.add(r)
    return out


def _diff(pred: Call, ref: Call, required: set[str] | None) -> tuple[list[str], int]:
    """Issues of one pair and the number of arguments that agree."""
    if pred.name != ref.name:
        return ["wrong_name"], 0
    issues: list[str] = []
    agree = 0
    for key, ref_value in ref.arguments.items():
        if key not in pred.arguments:
            issues.append("missing_required" if required is None or key in required else "missing_optional")
            continue
        value = pred.arguments[key]
        if json_equal(value, ref_value):
            agree += 1
        elif json_type(value) != json_type(ref_value):
            issues.append("wrong_type")
        else:
            issues.append("wrong_value")
    for key in pred.arguments:
        if key not in ref.arguments:
            issues.append("unexpected_argument")
    return issues, agree


def compare(prediction: ParsedReply, reference: Reference, schemas: SchemaChecker | None = None) -> Comparison:
    """Score one prediction against its reference (see the module docstring for the rules)."""
    ref_calls = list(reference.reply.calls) if reference.reply.kind == "calls" else []
    pred_calls = list(prediction.calls) if prediction.kind == "calls" else []
    reference_call = len(ref_calls) > 0
    predicted_call = prediction.claims_call

    undeclared = checked = failures = 0
    if reference.tools is not None:
        for call in pred_calls:
            if call.name not in reference.tools:
                undeclared += 1
            elif schemas is not None:
                ok = schemas.is_valid(reference.tools[call.name], call.arguments)
                if ok is not None:
                    checked += 1
                    failures += 0 if ok else 1

    issues: list[str] = []
    agree = 0
    if not prediction.finished:
        # never right, even where its text would be (an untrained model rambling to the limit would
        # otherwise score every no-call turn); the call/no-call decision still reads what it wrote
        issues.append("unfinished")
    if prediction.kind == "parse_failure":
        issues.append("parse_failure")
    elif predicted_call and not reference_call:
        issues.append("false_call")
    elif reference_call and not predicted_call:
        issues.append("missed_call")
    elif not reference_call and not predicted_call and not prediction.text.strip():
        # no text and no call (`</s>` at once, or `[TOOL_CALLS][]`): not a reply, so never a right one
        issues.append("empty_reply")
    if pred_calls and ref_calls:
        if len(pred_calls) != len(ref_calls):
            issues.append("wrong_number_of_calls")
        for p, r in _pair(pred_calls, ref_calls):
            found, same = _diff(pred_calls[p], ref_calls[r], _required_of(reference.tools, ref_calls[r].name))
            issues.extend(found)
            agree += same

    ordered = tuple(sorted(dict.fromkeys(issues), key=_RANK.__getitem__))
    names_match = Counter(c.name for c in pred_calls) == Counter(c.name for c in ref_calls) and prediction.kind != "parse_failure"
    return Comparison(
        correct=not ordered,
        error=ordered[0] if ordered else None,
        issues=ordered,
        predicted_call=predicted_call,
        reference_call=reference_call,
        names_match=names_match,
        arg_true_positive=agree,
        arg_predicted=sum(len(c.arguments) for c in pred_calls),
        arg_reference=sum(len(c.arguments) for c in ref_calls),
        predicted_calls=len(pred_calls),
        undeclared_calls=undeclared,
        schema_checked=checked,
        schema_failures=failures,
    )
