"""Glaive v2 raw -> canonical: every quirk of the full file (tests/fixtures/convert/glaive_quirks.jsonl),
the real sample rows, the turn splitter and call parser, the fast path against the general one, and a
round trip from generated conversations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcdata.convert import convert_records
from fcdata.convert import glaive as glaive_mod
from fcdata.convert.dispatch import convert_item
from fcdata.convert.glaive import parse_call, parse_system, split_turns
from fcdata.convert.outcome import Reject
from fcdata.read import Item, read_items
from fcdata.validate import check_record

FIXTURES = Path(__file__).parent / "fixtures" / "convert"
QUIRKS = [json.loads(line) for line in (FIXTURES / "glaive_quirks.jsonl").open(encoding="utf-8")]
ID_RE = re.compile(r"^[a-zA-Z0-9]{9}$")


def _errors(record: dict[str, Any]) -> list[str]:
    return [str(f) for f in check_record(record)[1] if f.severity == "error"]


def _convert_one(value: dict[str, Any]) -> Any:
    return convert_item(Item("t.jsonl", 1, value), "glaive")


@pytest.mark.parametrize("row", QUIRKS, ids=[q["_quirk"] for q in QUIRKS])
def test_each_quirk_is_repaired_or_rejected_as_documented(row: dict[str, Any]) -> None:
    out = _convert_one(row)
    expect = row["_expect"]
    if "rejected" in expect:
        assert not out.ok, f"{row['_quirk']} should be rejected"
        assert out.reasons[0][0] == expect["rejected"], out.reasons
        assert out.reasons[0][1]  # a message that says what was seen
    else:
        assert out.ok, out.reasons if not out.ok else None
        assert out.repairs == expect["repairs"]
        assert out.record["metadata"]["repairs"] == expect["repairs"]
        assert _errors(out.record) == []
        assert json.dumps(out.record, ensure_ascii=False) == out.line
        # the general path gives the same bytes (the fast path is only a shortcut)
        assert _general(row).line == out.line


def test_quirk_fixture_covers_every_listed_quirk() -> None:
    names = {q["_quirk"] for q in QUIRKS}
    for listed in (
        "single_quoted_arguments", "pretty_printed_arguments", "bare_object_arguments", "null_arguments", "json_array_arguments",
        "infinity_in_arguments", "invalid_apostrophe_escape", "non_json_arguments", "parameters_instead_of_arguments",
        "call_cut_off_at_the_end", "call_cut_off_mid_conversation", "one_brace_too_many_after_call", "text_before_functioncall",
        "stray_endoftext_marker_inside_user_turn", "stray_endoftext_marker_inside_assistant_turn", "stray_endoftext_in_function_response",
        "ends_mid_function_response", "duplicate_function_same_definition", "duplicate_function_different_definitions",
        "call_name_spelled_differently", "ends_on_user_turn", "text_turn_then_call_turn", "declares_no_function",
        "bare_object_cut_off_at_the_end", "bare_object_cut_off_mid_conversation",
    ):
        assert listed in names


def _by_quirk(name: str) -> dict[str, Any]:
    return next(q for q in QUIRKS if q["_quirk"] == name)


def test_apostrophes_are_kept_and_arguments_are_json_objects() -> None:
    for name in ("apostrophe_inside_arguments", "invalid_apostrophe_escape"):
        rec = _convert_one(_by_quirk(name)).record
        call = rec["messages"][2]["tool_calls"][0]
        assert call["function"]["arguments"] == {"title": "Mom's day"}
    rec = _convert_one(_by_quirk("python_dict_arguments")).record
    assert rec["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"location": "Paris"}
    assert "{'" not in json.dumps(rec)  # never a Python repr


def test_text_before_a_call_is_dropped_from_the_turn_and_kept_in_metadata() -> None:
    for name in ("text_before_functioncall", "text_turn_then_call_turn"):
        rec = _convert_one(_by_quirk(name)).record
        roles = [m["role"] for m in rec["messages"]]
        assert roles == ["system", "user", "assistant", "tool", "assistant"]
        assert "content" not in rec["messages"][2] and rec["messages"][2]["tool_calls"]
        assert rec["metadata"]["dropped_text"] == [{"message": 2, "text": "Sure, let me check that for you."}]


def test_cut_off_last_call_keeps_the_earlier_exchange() -> None:
    rec = _convert_one(_by_quirk("call_cut_off_at_the_end")).record
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant"]
    assert rec["messages"][-1]["content"] == "Hello! How can I help?"


def test_respelled_call_uses_the_declared_name() -> None:
    rec = _convert_one(_by_quirk("call_name_spelled_differently")).record
    assert rec["messages"][2]["tool_calls"][0]["function"]["name"] == "create_to-do_list"
    assert rec["messages"][3]["name"] == "create_to-do_list"


def test_results_link_to_calls_by_order_with_deterministic_ids() -> None:
    row = _by_quirk("two_calls_in_a_row")
    a, b = _convert_one(row), _convert_one(dict(row))
    assert a.line == b.line
    msgs = a.record["messages"]
    ids = [c["id"] for c in msgs[2]["tool_calls"]]
    assert all(ID_RE.match(i) for i in ids) and len(set(ids)) == 2
    assert [msgs[3]["tool_call_id"], msgs[4]["tool_call_id"]] == ids
    other = dict(row, chat=row["chat"].replace("Rome", "Milan"))
    assert [c["id"] for c in _convert_one(other).record["messages"][2]["tool_calls"]] != ids


def test_real_sample_rows_all_convert_and_validate(shared_data: Path) -> None:
    path = shared_data / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl"
    outs = list(convert_records(read_items(path)))
    assert len(outs) == 73 and all(o.ok for o in outs)
    for o in outs:
        assert _errors(o.record) == []
        assert o.record["messages"][0] == {"role": "system", "content": "You are a helpful assistant with access to the following functions. Use them if required -"}
        assert o.record["metadata"]["source_line"] == o.item.line and o.record["metadata"]["format"] == "glaive"
    calls = [o for o in outs if "trailing_tool_result_dropped" in o.repairs]
    assert len(calls) == 3  # the three rows cut off inside their function response end on the call
    assert all(o.record["messages"][-1]["tool_calls"] for o in calls)


def test_system_prompt_parsing() -> None:
    text, tools = parse_system("SYSTEM: You are a helpful assistant, with no access to external functions.")
    assert text == "You are a helpful assistant, with no access to external functions." and tools.tools == []
    text, tools = parse_system("SYSTEM: Use them -\n" + '{"name": "a", "parameters": {"type": "object", "properties": {}}}\n\n{\n  "name": "b"\n}\nMore rules.')
    assert [t["function"]["name"] for t in tools.tools] == ["a", "b"]
    assert tools.tools[1]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert text.endswith("More rules.")


def test_turn_splitting() -> None:
    chat = "USER: a\n\n\nASSISTANT: b <|endoftext|>\n\n\nFUNCTION RESPONSE: {}\n\nASSISTANT: c"
    assert [(lab, txt.strip()) for lab, txt in split_turns(chat)] == [("", ""), ("USER", "a"), ("ASSISTANT", "b <|endoftext|>"), ("FUNCTION RESPONSE", "{}"), ("ASSISTANT", "c")]
    # a label in the middle of a line is text; one right after <|endoftext|> is a turn
    assert [lab for lab, _ in split_turns("USER: the USER: field\n\n\nASSISTANT: ok")] == ["", "USER", "ASSISTANT"]
    assert [lab for lab, _ in split_turns("USER: hi <|endoftext|> ASSISTANT: ok")] == ["", "USER", "ASSISTANT"]


@pytest.mark.parametrize(
    "payload, name, args, tail, code",
    [
        ("""{"name": "f", "arguments": '{"a": "it's"}'}""", "f", {"a": "it's"}, "", None),
        ("""{"name": "f", "arguments": '{"a": 1}'} see you""", "f", {"a": 1}, "see you", None),
        ("""{"name": "f", "arguments": "{\\"a\\": 1}"}""", "f", {"a": 1}, "", None),
        ("""{"arguments": {"a": 1}, "name": "f"}""", "f", {"a": 1}, "", None),
        ("""{"name": "f", "arguments": '{"a": NaN}'}""", None, None, None, "arguments_non_finite"),
        ("""{"name": "f", "arguments": '{"a": 1e999}'}""", None, None, None, "arguments_non_finite"),
        ("""{"name": "f", "arguments": '{"a": "b""", None, None, None, "call_truncated"),
        ("""{"name": "f", "arguments": {"a": """, None, None, None, "call_truncated"),
        ("get_weather(Paris)", None, None, None, "call_unparseable"),
        # a key twice with two values: json kept the last one silently; the same value twice loses nothing
        ("""{"name": "f", "arguments": '{"city": "Paris", "city": "Rome"}'}""", None, None, None, "arguments_duplicate_key"),
        ("""{"name": "f", "arguments": {"city": "Paris", "city": "Rome"}}""", None, None, None, "arguments_duplicate_key"),
        ("""{"name": "f", "arguments": "{\\"city\\": \\"Paris\\", \\"city\\": \\"Rome\\"}"}""", None, None, None, "arguments_duplicate_key"),
        ("""{"name": "f", "arguments": '{"city": "Rome", "city": "Rome"}'}""", "f", {"city": "Rome"}, "", None),
        ("", None, None, None, "call_truncated"),
    ],
)
def test_call_parser(payload: str, name: str | None, args: Any, tail: str | None, code: str | None) -> None:
    repairs: list[str] = []
    if code is not None:
        with pytest.raises(Reject) as err:
            parse_call(payload, repairs)
        assert err.value.reasons[0][0] == code
        return
    call, rest = parse_call(payload, repairs)
    assert (call.name, call.arguments, rest) == (name, args, tail)


# ------------------------------------------------------------------------------ generated round trips

_WORD = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 ,.!?'\"-éü中"), min_size=1, max_size=30)
_TEXT = _WORD.map(str.strip).filter(lambda s: bool(s) and "USER:" not in s and "ASSISTANT:" not in s)


@st.composite
def _function(draw: Any, name: str) -> dict[str, Any]:
    props = draw(st.dictionaries(st.sampled_from(["city", "count", "flag", "tags", "note"]), st.just(None), max_size=4))
    kinds = {"city": {"type": "string"}, "count": {"type": "integer"}, "flag": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}}, "note": {"type": "string", "description": "free text"}}
    properties = {k: kinds[k] for k in props}
    required = [k for k in properties if draw(st.booleans())]
    return {"name": name, "description": draw(_TEXT), "parameters": {"type": "object", "properties": properties, "required": required}}


def _value(kind: dict[str, Any], draw: Any) -> Any:
    t = kind["type"]
    if t == "string":
        return draw(_TEXT)
    if t == "integer":
        return draw(st.integers(-1000, 1000))
    if t == "boolean":
        return draw(st.booleans())
    return draw(st.lists(_TEXT, max_size=3))


@st.composite
def _conversation(draw: Any) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    names = draw(st.lists(st.sampled_from(["get_weather", "find_book", "convert_units", "send-mail"]), min_size=0, max_size=3, unique=True))
    functions = [draw(_function(n)) for n in names]
    expected: list[dict[str, Any]] = []
    turns: list[str] = []
    rounds = draw(st.integers(1, 3))
    for k in range(rounds):
        question = draw(_TEXT)
        turns.append(f"USER: {question}")
        expected.append({"role": "user", "content": question})
        if functions and draw(st.booleans()):
            fn = draw(st.sampled_from(functions))
            props = fn["parameters"]["properties"]
            args = {k: _value(props[k], draw) for k in props if k in fn["parameters"]["required"] or draw(st.booleans())}
            style = draw(st.sampled_from(["quoted", "pretty", "bare"]))
            if style == "bare":
                rendered = json.dumps(args, ensure_ascii=False)
            else:
                rendered = "'" + json.dumps(args, ensure_ascii=False, indent=4 if style == "pretty" else None) + "'"
            turns.append(f'ASSISTANT: <functioncall> {{"name": "{fn["name"]}", "arguments": {rendered}}} <|endoftext|>')
            expected.append({"role": "assistant", "call": (fn["name"], args)})
            result = json.dumps({"result": draw(_TEXT)}, ensure_ascii=False)
            turns.append(f"FUNCTION RESPONSE: {result}")
            if k == rounds - 1 and draw(st.integers(0, 3)) == 0:
                break  # cut off after the result, as hundreds of real rows are: the result is dropped
            expected.append({"role": "tool", "content": result, "name": fn["name"]})
        answer = draw(_TEXT)
        turns.append(f"ASSISTANT: {answer} <|endoftext|>")
        expected.append({"role": "assistant", "content": answer})
    if functions:
        system = "SYSTEM: You are a helpful assistant with access to the following functions. Use them if required -\n" + "\n\n".join(json.dumps(f, indent=4, ensure_ascii=False) for f in functions) + "\n"
    else:
        system = "SYSTEM: You are a helpful assistant, with no access to external functions."
    return {"system": system, "chat": "\n\n\n".join(turns)}, expected, names


@settings(max_examples=150)
@given(_conversation())
def test_generated_glaive_chats_round_trip(case: tuple[dict[str, Any], list[dict[str, Any]], list[str]]) -> None:
    row, expected, names = case
    out = _convert_one(row)
    assert out.ok, out.reasons if not out.ok else None
    rec = out.record
    assert _errors(rec) == []
    assert [t["function"]["name"] for t in rec["tools"]] == names
    msgs = rec["messages"][1:]
    assert len(msgs) == len(expected)
    last_id = None
    for got, want in zip(msgs, expected):
        assert got["role"] == want["role"]
        if "call" in want:
            [call] = got["tool_calls"]
            assert (call["function"]["name"], call["function"]["arguments"]) == want["call"]
            assert ID_RE.match(call["id"])
            last_id = call["id"]
        elif want["role"] == "tool":
            assert (got["content"], got["name"], got["tool_call_id"]) == (want["content"], want["name"], last_id)
        else:
            assert got["content"] == want["content"]
    cut = row["chat"].rsplit("\n\n\n", 1)[-1].startswith("FUNCTION RESPONSE:")
    assert ("trailing_tool_result_dropped" in rec["metadata"]["repairs"]) == cut
    assert _general(row).line == out.line


def _general(row: dict[str, Any]) -> Any:
    """The row through the general path only (the fast path switched off)."""
    saved = glaive_mod._convert_plain
    glaive_mod._convert_plain = lambda *a: None
    try:
        return _convert_one(row)
    finally:
        glaive_mod._convert_plain = saved


_GLAIVE_ALPHABET = st.sampled_from(["USER: ", "ASSISTANT: ", "FUNCTION RESPONSE: ", "<|endoftext|>", "<functioncall> ", "\n\n\n", "\n", " ", "'", '"', "{", "}", "[", "]", ":", ",", "a", "name", "arguments", "get_weather", "location", "Paris", "null", "1", "\\'"])


_SYSTEM_WITH_WEATHER = (
    "SYSTEM: You are a helpful assistant with access to the following functions. Use them if required -\n"
    + json.dumps({"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}, indent=4)
    + "\n"
)


@settings(max_examples=300)
@given(st.lists(_GLAIVE_ALPHABET, max_size=40).map("".join), st.booleans())
def test_arbitrary_glaive_text_never_crashes_and_fast_equals_general(chat: str, with_tools: bool) -> None:
    row = {"system": _SYSTEM_WITH_WEATHER if with_tools else "SYSTEM: No functions.", "chat": chat}
    out = _convert_one(row)
    if out.ok:
        assert _errors(out.record) == [], (chat, out.line)
    else:
        assert out.reasons[0][0] != "internal_error", out.reasons
    general = _general(row)
    assert (general.line if general.ok else general.reasons) == (out.line if out.ok else out.reasons)


def test_a_label_after_a_single_line_break_is_refused_not_made_a_turn() -> None:
    chat = "USER: How do I greet?\n\n\nASSISTANT: Like this:\nUSER: hi\nASSISTANT: hello <|endoftext|>"
    (out,) = convert_records([{"system": "SYSTEM: You are helpful.", "chat": chat}])
    assert not out.ok and out.codes == ["ambiguous_turn_label"]
    assert "USER: hi" in out.reasons[0][1]
    with pytest.raises(Reject):
        split_turns(chat)
    # after a blank line, or right after <|endoftext|>, a label does start a turn
    assert [label for label, _ in split_turns("USER: a\n\nASSISTANT: b")][1:] == ["USER", "ASSISTANT"]
    assert [label for label, _ in split_turns("USER: a\n\n\nASSISTANT: b <|endoftext|>USER: c")][1:] == ["USER", "ASSISTANT", "USER"]



def test_a_call_object_that_gives_its_name_twice_is_named_as_such() -> None:
    """`<functioncall> {"arguments": {...}, "name": "f", "name": "g"}` was reported as arguments giving
    'name' twice (arguments_duplicate_key); it is the call object's own key."""
    from fcdata.convert import convert_records

    system = 'SYSTEM: You are a helpful assistant with access to the following functions. Use them if required -\n{\n    "name": "f",\n    "description": "d",\n    "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}\n}\n'
    chat = 'USER: hi\n\n\nASSISTANT: <functioncall> {"arguments": {"x": 1}, "name": "f", "name": "g"} <|endoftext|>\n\n\nFUNCTION RESPONSE: {"ok": 1}\n\n\nASSISTANT: done <|endoftext|>\n'
    [out] = convert_records([{"system": system, "chat": chat}])
    assert not out.ok and out.codes == ["json_duplicate_key"] and "the call gives 'name' twice" in out.reasons[0][1]
