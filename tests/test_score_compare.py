"""fcdata's own metrics (reference mode): one verdict per prediction, totals worked out by hand for
tests/fixtures/score, and the comparison rules on small cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fcdata
from fcdata.errors import UsageError
from fcdata.score import Call, ParsedReply, Reference, compare, score
from fcdata.score.parse import parse_reply
from fcdata.score.compare import SchemaChecker, json_equal

FIXTURES = Path(__file__).parent / "fixtures" / "score"
PREDICTIONS = FIXTURES / "predictions.jsonl"
REFERENCES = FIXTURES / "references.jsonl"

# id -> fcdata's verdict (None = correct), one per prediction of the fixture
EXPECTED: dict[str, str | None] = {
    "r1": None,
    "r2": "wrong_value",  # unit "c" where the reference has "f"
    "r3": None,  # parallel calls in the other order
    "r4": None,  # text where text is due (the words are not compared)
    "r5": "unexpected_argument",  # an extra "cc"
    "r6": "wrong_name",  # get_time instead of get_weather
    "r7": "missing_required",  # get_time without its required city
    "r8": "wrong_type",  # unit 1 instead of "c"
    "r9": "false_call",  # a call where the reference answers in text
    "r10": "wrong_number_of_calls",  # one call of two
    "11": "parse_failure",  # cut-off JSON; the record has no metadata.id, so its id is its position
    "r12": None,  # multi-turn record: the reference is its last assistant turn, text
    "r13": "missing_optional",  # the optional body left out
    "r14": "missed_call",  # text where a call is due
    "r15": "wrong_name",  # get_forecast, which is not even declared
}


@pytest.fixture(scope="module")
def report() -> Any:
    return score(str(PREDICTIONS), str(REFERENCES))


def test_verdict_per_prediction(report: Any) -> None:
    assert {i.id: i.error for i in report.items} == EXPECTED
    assert [i.id for i in report.items] == list(EXPECTED)  # prediction order is kept
    assert all(i.correct == (i.error is None) for i in report.items)
    assert [i.id for i in report.items if i.parse_failure] == ["11"]


def test_totals_worked_by_hand(report: Any) -> None:
    s = report.to_json()
    assert (s["n"], s["correct"], s["accuracy"]) == (15, 4, 4 / 15)
    # turns whose reference calls: the 10 single + 2 parallel; r1 and r3 right
    assert (s["call_accuracy"], s["call_items"]) == (2 / 12, 12)
    assert s["categories"] == {
        "no_call": {"n": 3, "correct": 2, "accuracy": 2 / 3},
        "single": {"n": 10, "correct": 1, "accuracy": 0.1},
        "parallel": {"n": 2, "correct": 1, "accuracy": 0.5},
    }
    assert s["errors"] == {
        "unfinished": 0,
        "parse_failure": 1,
        "false_call": 1,
        "missed_call": 1,
        "empty_reply": 0,
        "wrong_number_of_calls": 1,
        "wrong_name": 2,
        "missing_required": 1,
        "unexpected_argument": 1,
        "wrong_type": 1,
        "wrong_value": 1,
        "missing_optional": 1,
    }
    assert s["decision"] == {"accuracy": 13 / 15, "true_call": 11, "true_no_call": 2, "false_call": 1, "missed_call": 1}
    assert (s["name_accuracy"], s["name_items"]) == (7 / 12, 12)
    # predicted arguments 17, reference arguments 20, agreeing 11 (counted in the fixture's docstring order)
    assert s["arguments"] == {"precision": 11 / 17, "recall": 11 / 20, "f1": 2 * (11 / 17) * (11 / 20) / (11 / 17 + 11 / 20), "true_positive": 11, "predicted": 17, "reference": 20}
    assert (s["parse_failures"], s["parse_failure_rate"]) == (1, 1 / 15)
    assert (s["predicted_calls"], s["undeclared_tool_calls"]) == (12, 1)
    # jsonschema: r7 lacks the required city, r8's unit is not in the enum, r5's cc is not allowed
    assert (s["schema_checked_calls"], s["schema_failures"]) == (11, 3)


def test_nothing_is_lost(report: Any) -> None:
    s = report.to_json()
    assert s["missing_predictions"] == 1 and s["missing_ids"] == ["r16"]
    reasons = [(r["line"], r["reason"]) for r in s["rejected_lines"]]
    assert [line for line, _ in reasons] == [6, 7, 18, 19, 20]
    assert "no reference has id 'r99'" in reasons[0][1]
    assert "duplicate prediction id 'r1'" in reasons[1][1] and "predictions.jsonl:1" in reasons[1][1]
    assert "not JSON" in reasons[2][1]
    assert "missing \"id\"" in reasons[3][1]
    assert "give only one" in reasons[4][1]
    # lines in = scored + rejected
    assert len(PREDICTIONS.read_text().splitlines()) == s["n"] + s["rejected"]
    assert s["rejected_by_input"] == {"predictions": 5}


def test_fcdata_score_is_callable_both_ways() -> None:
    import fcdata.score as package

    assert fcdata.score(str(PREDICTIONS), str(REFERENCES)).to_json() == package.score(str(PREDICTIONS), str(REFERENCES)).to_json()


def test_json_report_is_deterministic(report: Any) -> None:
    import json

    again = score(str(PREDICTIONS), str(REFERENCES))
    assert json.dumps(report.to_json()) == json.dumps(again.to_json())


def ref(*calls: tuple[str, dict[str, Any]], tools: dict[str, Any] | None = None) -> Reference:
    reply = ParsedReply("calls", calls=tuple(Call(n, a) for n, a in calls)) if calls else ParsedReply("text", text="ok")
    return Reference(reply, tools)


def pred(*calls: tuple[str, dict[str, Any]]) -> ParsedReply:
    return ParsedReply("calls", calls=tuple(Call(n, a) for n, a in calls))


def test_arguments_compare_as_json_values() -> None:
    assert compare(pred(("f", {"x": 1.0, "y": {"b": 2, "a": [1, 2]}})), ref(("f", {"y": {"a": [1, 2], "b": 2}, "x": 1}))).correct
    assert compare(pred(("f", {"x": True})), ref(("f", {"x": 1}))).error == "wrong_type"
    assert compare(pred(("f", {"x": [2, 1]})), ref(("f", {"x": [1, 2]}))).error == "wrong_value"
    assert compare(pred(("f", {"x": "1"})), ref(("f", {"x": 1}))).error == "wrong_type"
    assert compare(pred(("f", {"x": None})), ref(("f", {"x": 0}))).error == "wrong_type"


def test_parallel_calls_are_a_multiset() -> None:
    reference = ref(("f", {"x": 1}), ("f", {"x": 2}), ("g", {}))
    assert compare(pred(("g", {}), ("f", {"x": 2}), ("f", {"x": 1})), reference).correct
    twice = compare(pred(("f", {"x": 1}), ("f", {"x": 1}), ("g", {})), reference)
    assert twice.error == "wrong_value" and twice.arg_true_positive == 1
    assert compare(pred(("f", {"x": 1}), ("f", {"x": 2})), reference).error == "wrong_number_of_calls"


def test_required_comes_from_the_schema_when_known() -> None:
    tools = {"f": {"type": "object", "properties": {"a": {}, "b": {}}, "required": ["a"]}}
    assert compare(pred(("f", {"b": 1})), ref(("f", {"a": 1, "b": 1}), tools=tools)).error == "missing_required"
    assert compare(pred(("f", {"a": 1})), ref(("f", {"a": 1, "b": 1}), tools=tools)).error == "missing_optional"
    # without a schema every reference argument counts as required
    assert compare(pred(("f", {"a": 1})), ref(("f", {"a": 1, "b": 1}))).error == "missing_required"


def test_parse_failure_is_never_an_abstention_or_a_wrong_call() -> None:
    failure = ParsedReply("parse_failure", error="not JSON")
    on_text = compare(failure, ref())
    on_call = compare(failure, ref(("f", {})))
    assert on_text.error == on_call.error == "parse_failure"
    assert on_text.issues == ("parse_failure",) and on_call.issues == ("parse_failure",)
    assert on_text.predicted_call and on_call.predicted_call


def test_undeclared_and_schema() -> None:
    tools = {"f": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}
    result = compare(pred(("f", {"n": "one"}), ("h", {})), ref(("f", {"n": 1}), tools=tools), SchemaChecker())
    assert (result.undeclared_calls, result.schema_checked, result.schema_failures) == (1, 1, 1)
    broken = {"f": {"type": "no-such-type"}}
    assert compare(pred(("f", {})), ref(("f", {}), tools=broken), SchemaChecker()).schema_checked == 0


JSONS = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(JSONS, JSONS)
def test_json_equal_is_an_equivalence_consistent_with_python_except_bools(a: Any, b: Any) -> None:
    assert json_equal(a, a)
    assert json_equal(a, b) == json_equal(b, a)
    if json_equal(a, b):
        assert a == b  # JSON-equal values are Python-equal (the converse fails only for bool vs number)


@given(st.lists(st.tuples(st.sampled_from("fgh"), st.dictionaries(st.sampled_from("xyz"), JSONS, max_size=2)), min_size=1, max_size=4), st.randoms())
def test_any_order_of_the_same_calls_is_correct(calls: list[tuple[str, dict[str, Any]]], rnd: Any) -> None:
    shuffled = list(calls)
    rnd.shuffle(shuffled)
    reference = ref(*calls)
    assert compare(pred(*shuffled), reference).correct


def test_an_empty_reply_is_never_a_right_text_reply() -> None:
    """`</s>` at once or `[TOOL_CALLS][]` where text is due says nothing: empty_reply, not a correct
    no-call turn (a model that stops at once would otherwise score every text turn)."""
    for output in ("", "</s>", "  \n</s>", "[TOOL_CALLS][]</s>"):
        verdict = compare(parse_reply(output), ref())
        assert (verdict.correct, verdict.error) == (False, "empty_reply"), output
    assert compare(parse_reply("Sure.</s>"), ref()).correct


def test_references_in_prediction_shapes_and_bad_references(tmp_path: Path) -> None:
    refs = [
        {"id": "a", "tool_calls": [{"name": "f", "arguments": {"x": 1}}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]},
        {"id": "b", "content": "hello"},
        {"id": "c", "output": "[TOOL_CALLS] [oops"},
        {"messages": [{"role": "user", "content": "hi"}]},
        {"text": "pretraining text"},
        {"messages": [{"role": "wizard", "content": "hi"}]},
        {"id": "a", "content": "again"},
    ]
    preds = [{"id": "a", "output": '[TOOL_CALLS] [{"name": "f", "arguments": {"x": 1}}, {"name": "g", "arguments": {}}]</s>'}, {"id": "b", "content": "hi"}]
    report = score(preds, refs)
    assert [(i.id, i.error) for i in report.items] == [("a", "wrong_number_of_calls"), ("b", None)]
    assert report.summary["undeclared_tool_calls"] == 1
    reasons = [r.reason for r in report.rejected]
    assert len(reasons) == 5
    assert "does not parse" in reasons[0]
    assert "no assistant turn" in reasons[1]
    assert "text record" in reasons[2]
    assert "not a canonical record: messages[0]: role must be one of" in reasons[3]
    assert "duplicate reference id 'a'" in reasons[4]
    assert all(r.input == "references" for r in report.rejected)


def test_usage_errors() -> None:
    with pytest.raises(UsageError):
        score([{"id": 1, "content": "x"}])
    with pytest.raises(UsageError):
        score([{"id": 1, "content": "x"}], [{"id": 1, "content": "x"}], bfcl=[])


def test_a_reply_that_never_ended_is_never_right() -> None:
    """`fcdata eval` marks replies that hit the token limit before </s> (`finished: false`): such a reply
    is wrong (`unfinished`) even where its text would be the right answer, so rambling scores nothing;
    the call/no-call decision still reads what it wrote."""
    refs = [{"id": "a", "content": "hello"}, {"id": "b", "tool_calls": [{"name": "f", "arguments": {}}]}, {"id": "c", "content": "hi"}]
    preds = [
        {"id": "a", "output": "blah blah blah", "finished": False},
        {"id": "b", "output": '[TOOL_CALLS] [{"name": "f", "arguments": {}}]', "finished": False},
        {"id": "c", "output": "hi</s>", "finished": True},
    ]
    report = score(preds, refs)
    assert [(i.id, i.correct, i.error) for i in report.items] == [("a", False, "unfinished"), ("b", False, "unfinished"), ("c", True, None)]
    summary = report.to_json()
    assert summary["errors"]["unfinished"] == 2 and summary["decision"]["accuracy"] == 1.0
