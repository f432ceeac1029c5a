"""Call markup left in assistant text is never trained as text: the converter reads it into calls or
rejects the record, and the validator reports it in canonical data (``call_markup_text``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fcdata.call_markup import CALL_MARKUP, find_call_markup
from fcdata.convert import Converted, Rejected, convert_records
from fcdata.read import read_items
from fcdata.validate import check_record

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _record(reply: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": reply}], "tools": [TOOL]}


def _codes(rec: dict[str, Any]) -> list[str]:
    return [f.code for f in check_record(rec)[1] if f.severity == "error"]


@pytest.mark.parametrize("marker", sorted(CALL_MARKUP))
def test_validate_reports_every_marker_in_assistant_text(marker: str) -> None:
    assert find_call_markup(f"ok {marker} x") == marker
    assert _codes(_record(f"Sure. {marker}{{\"name\": \"get_weather\"}}")) == ["call_markup_text"]


def test_validate_leaves_user_text_and_plain_replies_alone() -> None:
    rec = _record("It is sunny.")
    rec["messages"][0]["content"] = "What does <tool_call> mean in Hermes data?"
    assert _codes(rec) == []


@pytest.mark.parametrize(
    ("reply", "repair"),
    [
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>', "tool_call_tags_parsed"),
        ("<tool_call>\n{'arguments': {'city': 'Paris'}, 'name': 'get_weather'}\n</tool_call>\n", "tool_call_tags_parsed"),
        ('<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</TOOLCALL>', "toolcall_tags_parsed"),
        ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]', "tool_calls_text_parsed"),
        ("<functioncall> {\"name\": \"get_weather\", \"arguments\": '{\"city\": \"Paris\"}'}", "functioncall_text_parsed"),
    ],
)
def test_convert_reads_markup_into_calls(reply: str, repair: str) -> None:
    [out] = convert_records([_record(reply)])
    assert isinstance(out, Converted), out
    assert repair in out.repairs
    msg = out.record["messages"][1]
    assert "content" not in msg and msg["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert _codes(out.record) == []


@pytest.mark.parametrize(
    "reply",
    [
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}",  # never closed
        "<tool_call>get the weather</tool_call>",  # no call inside
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',  # a template fcdata does not read
        "Here: </tool_call>",  # a closing tag alone
    ],
)
def test_convert_rejects_markup_it_cannot_read(reply: str) -> None:
    [out] = convert_records([_record(reply)])
    assert isinstance(out, Rejected) and out.codes == ["call_markup_text"], out


def test_text_around_markup_is_not_trained() -> None:
    reply = 'Let me check. <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call> One moment.'
    [out] = convert_records([_record(reply)])
    assert isinstance(out, Converted)
    assert out.repairs == ["tool_call_tags_parsed", "text_after_call_dropped", "text_before_call_dropped", "call_id_added"]
    assert [d["text"] for d in out.record["metadata"]["dropped_text"]] == ["One moment.", "Let me check."]


def test_hermes_rows_are_never_written_with_markup_in_text(published_data: Path) -> None:
    """The data-poisoning defect: a Hermes row whose calls sit in <tool_call> tags was written as plain
    assistant text, and validate passed it."""
    for out in convert_records(read_items(published_data / "formats" / "hermes_rows.jsonl")):
        if isinstance(out, Converted):
            for m in out.record["messages"]:
                if m["role"] == "assistant" and "content" in m:
                    assert find_call_markup(m["content"]) is None, m["content"][:80]
            assert _codes(out.record) == []


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "city": "Rome"}}\n</tool_call>',
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "city": "Rome"}}]',
    ],
)
def test_a_key_given_twice_with_two_values_in_call_markup_is_refused(text: str) -> None:
    """json keeps the last of two values without a word; which one the call meant is unknown."""
    from fcdata.convert.markup import read_markup
    from fcdata.convert.outcome import Reject

    with pytest.raises(Reject) as err:
        read_markup(text, [], "messages[1]")
    assert err.value.reasons[0][0] == "arguments_duplicate_key"


# ---------------------------------------------------------------------------------- reasoning as text

from hypothesis import given, strategies as st  # noqa: E402

from fcdata.call_markup import find_reasoning_markup, is_python_call_list, split_reasoning  # noqa: E402


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>Sum them.</think>\n\nIt is 4.", ("Sum them.", "It is 4.", False)),
        ("[THINK]Sum them.[/THINK]It is 4.", ("Sum them.", "It is 4.", False)),
        ("It is 4.\n</think>", (None, "It is 4.", True)),  # LLaMA-Factory's reason_tool_use_demo line 7
        ("</think>\n\nIt is 4.", (None, "It is 4.", True)),
        ("No tags here.", (None, "No tags here.", False)),
    ],
)
def test_split_reasoning(text, expected):
    assert split_reasoning(text) == expected


@pytest.mark.parametrize("text", ["a <think>x</think> b", "x</think>y", "<think>a</think> b </think> c", "```python\n<thread>x</thread>\n</think>\n\nI'm sorry```"])
def test_reasoning_tags_inside_a_reply_are_refused(text):
    with pytest.raises(ValueError):
        split_reasoning(text)


@given(st.lists(st.sampled_from(list("ab <>/[]\n") + ["<think>", "</think>", "[THINK]", "[/THINK]", "<thinking>", "</thinking>"]), max_size=20).map("".join))
def test_split_reasoning_never_leaves_a_tag_in_the_reply(text):
    try:
        _, reply, _ = split_reasoning(text)
    except ValueError:
        return
    assert find_reasoning_markup(reply) is None


def test_converter_drops_reasoning_written_as_text_and_validate_warns():
    from fcdata.convert import convert_records
    from fcdata.validate import check_record

    rec = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>Add.</think>\n\n4."}]}
    [out] = convert_records([{"messages": rec["messages"], "tools": []}], "openai")
    assert out.ok and out.record["messages"][1]["content"] == "4." and out.record["metadata"]["reasoning"] == [{"message": None, "text": "Add."}]
    [bad] = convert_records([{"messages": [rec["messages"][0], {"role": "assistant", "content": "4. <think>no</think> 5."}]}], "openai")
    assert not bad.ok and bad.codes == ["reasoning_markup_text"]
    _, findings = check_record(rec)
    assert [f.code for f in findings] == ["reasoning_markup_text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("[GetCompetitions()]", True), (' [Func Name(a=1, b="x"), other(c=[1,2])] ', True), ("[1, 2]", False), ("[see the docs](https://x)", False), ("The list [a(b)] is here", False), ("[a(b)] and more", False), ("[]", False), ("print(x)", False),
     # ordinary replies a review found taken for calls: a comprehension, captions, expressions
     ("[x * 2 for x in range(10)]", False), ("[Image of a cat (generated by DALL-E)]", False), ("[See Figure 1 (left)]", False), ("[math.sqrt(2), math.pi / (2)]", False)],
)
def test_is_python_call_list(text, expected):
    assert is_python_call_list(text) is expected


def test_toolace_calls_are_never_trained_as_text_under_another_format():
    """A ToolACE row forced through `--from sharegpt` (or hermes) was written with its call
    `[GetCompetitions()]` as the assistant's text, and validate passed it; it is refused now, naming the
    converter that reads it, and validate reports such text in canonical data."""
    row = {
        "system": 'You are an expert in composing functions.\nHere is a list of functions in JSON format that you can invoke:\n[{"name": "GetCompetitions", "description": "List competitions", "parameters": {"type": "dict", "properties": {}, "required": []}}].',
        "conversations": [{"from": "user", "value": "Which competitions are on?"}, {"from": "assistant", "value": "[GetCompetitions()]"}],
    }
    for fmt in ("sharegpt", "hermes"):
        [out] = convert_records([row], fmt)
        assert isinstance(out, Rejected) and out.codes == ["call_markup_text"] and "--from toolace" in out.reasons[0][1], (fmt, out)
    [out] = convert_records([row], "toolace")
    assert isinstance(out, Converted) and out.record["messages"][-1]["tool_calls"][0]["function"]["name"] == "GetCompetitions"
    _, findings = check_record({"messages": [{"role": "user", "content": "Which?"}, {"role": "assistant", "content": "[GetCompetitions()]"}]})
    assert [f.code for f in findings] == ["call_markup_text"]
