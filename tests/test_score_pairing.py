"""Parallel calls are paired by agreement, not by the order the model wrote them; ids are never
silently replaced by positions."""

from __future__ import annotations

import itertools
import json
from typing import Any

from fcdata.score import score

TOOLS = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a"]}}}]


def _ref(calls: list[dict[str, Any]], rid: Any = "x") -> dict[str, Any]:
    tool_calls = [{"id": f"aaaaaaaa{i}", "type": "function", "function": {"name": "f", "arguments": a}} for i, a in enumerate(calls)]
    return {"messages": [{"role": "user", "content": "go"}, {"role": "assistant", "tool_calls": tool_calls}], "tools": TOOLS, "metadata": {"id": rid}}


def _out(calls: list[dict[str, Any]]) -> str:
    return "[TOOL_CALLS]" + json.dumps([{"name": "f", "arguments": a} for a in calls]) + "</s>"


def test_parallel_calls_score_the_same_in_any_order() -> None:
    ref = _ref([{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5}])
    seen = set()
    for order in itertools.permutations([{"a": 1}, {"a": 3}, {"a": 5, "b": 9}]):
        scored = score([{"id": "x", "output": _out(list(order))}], [ref])
        report, item = scored.to_json(), scored.items[0]
        seen.add((item.error, tuple(sorted(item.issues)), report["arguments"]["true_positive"]))
    # a = 1, 3, 5 agree (3 of 5 reference arguments); two b's left out, one b extra
    assert seen == {("unexpected_argument", ("missing_optional", "unexpected_argument"), 3)}, seen


def test_a_whole_number_float_id_is_its_integer_and_another_id_type_is_refused() -> None:
    refs = [_ref([{"a": 2}], 2.0), _ref([{"a": 1}], 1.0)]
    report = score([{"id": 2, "output": _out([{"a": 2}])}, {"id": 1, "output": _out([{"a": 1}])}], refs)
    assert report.to_json()["accuracy"] == 1.0
    report = score([{"id": "1", "output": _out([{"a": 1}])}], [_ref([{"a": 1}], 1.5)]).to_json()
    assert report["n"] == 0 and "metadata.id must be a string or an integer, got 1.5" in json.dumps(report)


def test_no_argument_written_is_f1_zero_not_undefined() -> None:
    ref = _ref([{"a": 1}])
    report = score([{"id": "x", "output": "I cannot.</s>"}], [ref]).to_json()
    assert (report["arguments"]["precision"], report["arguments"]["recall"], report["arguments"]["f1"]) == (None, 0.0, 0.0)
