"""Properties of conversion as a whole: arbitrary input never raises and always converts or rejects
with a reason; what converts passes the validator; the file reader's fast JSON Lines path reads lines
exactly as fcdata.read does; library and file paths agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcdata.convert import Converted, Rejected, convert_files, convert_records
from fcdata.convert.files import _open_source, batch_items
from fcdata.errors import InputError
from fcdata.read import read_items
from fcdata.validate import check_record

_SCALAR = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False, width=16) | st.sampled_from(["", "x", "user", "assistant", "tool", "function", "system", "human", "gpt", "function_call", "observation", "get_weather", "call_1", "abcDEF123", "{}", '{"a": 1}', "USER: hi\n\n\nASSISTANT: yo"])
_VALUE = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["role", "content", "name", "arguments", "function", "tool_calls", "id", "type", "tool_call_id", "parameters", "from", "value", "is_user", "text"]), inner, max_size=5), max_leaves=25)
_KEYS = st.sampled_from(["system", "chat", "messages", "tools", "functions", "conversations", "interactions", "text", "request", "message", "metadata", "x"])
_RECORD = st.dictionaries(_KEYS, _VALUE, max_size=4) | _VALUE


def _check(out: Converted | Rejected) -> None:
    if isinstance(out, Converted):
        errors = [str(f) for f in check_record(out.record)[1] if f.severity == "error"]
        assert errors == [], (out.item.value, out.line)
        assert json.loads(out.line) == out.record
    else:
        assert out.reasons and all(code and message for code, message in out.reasons)
        assert "internal_error" not in out.codes, out.reasons


@settings(max_examples=200)
@given(st.lists(_RECORD, min_size=1, max_size=5))
def test_arbitrary_values_convert_or_are_rejected_with_a_reason(values: list[Any]) -> None:
    outs = list(convert_records(values))
    assert len(outs) == len(values)
    for out in outs:
        _check(out)


_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "tool", "system", "function"])},
    optional={
        "content": st.none() | st.sampled_from(["", "hi", "there"]) | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.sampled_from(["a", "b"])}), max_size=2),
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {"function": st.fixed_dictionaries({"name": st.sampled_from(["get_weather", "other"]), "arguments": st.sampled_from(['{"location": "Paris"}', "{}", "not json", '{"location": 3}'])})},
                optional={"id": st.sampled_from(["call_0", "call_1", "abcDEF123", "bad id"]), "type": st.just("function")},
            ),
            max_size=2,
        ),
        "tool_call_id": st.sampled_from(["call_0", "call_1", "abcDEF123"]),
        "name": st.sampled_from(["get_weather", "other"]),
        "weight": st.sampled_from([0, 1]),
    },
)
_WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}


@settings(max_examples=300)
@given(st.lists(_MESSAGE, min_size=1, max_size=7), st.booleans())
def test_openai_like_conversations(messages: list[dict[str, Any]], with_tools: bool) -> None:
    record: dict[str, Any] = {"messages": messages}
    if with_tools:
        record["tools"] = [_WEATHER]
    [out] = convert_records([record])
    _check(out)


_ITEM = st.one_of(
    st.fixed_dictionaries({"type": st.just("message"), "role": st.sampled_from(["user", "assistant", "system", "developer", "tool", None])},
                          optional={"content": st.none() | st.sampled_from(["", "hi"]) | st.lists(st.fixed_dictionaries({"type": st.sampled_from(["input_text", "output_text", "refusal", "input_image"]) | _SCALAR | st.lists(_SCALAR, max_size=1)}, optional={"text": _SCALAR, "refusal": _SCALAR}), max_size=2)}),
    st.fixed_dictionaries({"type": st.just("function_call"), "name": st.sampled_from(["get_weather", "other", 3])},
                          optional={"arguments": st.sampled_from(['{"location": "Paris"}', "{}", "not json", '{"location": 3}']), "call_id": st.sampled_from(["fc_1", "fc_2", "None", ""])}),
    st.fixed_dictionaries({"type": st.just("function_call_output")}, optional={"call_id": st.sampled_from(["fc_1", "fc_2", 7]), "output": st.none() | st.sampled_from(["", "21", '{"t": 1}']) | st.lists(st.fixed_dictionaries({"type": st.just("input_text"), "text": st.just("x")}), max_size=1)}),
    st.fixed_dictionaries({"type": st.just("reasoning")}, optional={"summary": st.none() | st.sampled_from(["", "think", "None"]) | st.lists(st.fixed_dictionaries({"type": st.just("summary_text"), "text": st.sampled_from(["", "t"])}), max_size=2)}),
    st.fixed_dictionaries({"type": st.sampled_from(["web_search_call", "item_reference", None])}),
    _SCALAR,
)
_FLAT_WEATHER = {"type": "function", "name": "get_weather", "description": "", "parameters": _WEATHER["function"]["parameters"], "strict": True}


@settings(max_examples=300)
@given(st.lists(_ITEM, min_size=1, max_size=7), st.booleans(), st.booleans(), st.none() | _ITEM)
def test_responses_api_requests(items: list[Any], flat_tools: bool, nested: bool, expected: Any) -> None:
    """Any Responses API request converts (what converts validates, every call and result kept) or is
    rejected with a reason; never an internal error."""
    request: dict[str, Any] = {"input": items, "tools": [_FLAT_WEATHER if flat_tools else _WEATHER]}
    record: dict[str, Any] = {"responses_create_params": request} if nested else request
    if expected is not None:
        record["expected_action"] = expected
    [out] = convert_records([record], "responses")
    _check(out)
    if isinstance(out, Converted):
        given_items = [*items, *([expected] if expected is not None else [])]
        calls = [c for m in out.record["messages"] for c in m.get("tool_calls", [])]
        assert len(calls) == sum(1 for i in given_items if isinstance(i, dict) and i.get("type") == "function_call")


@st.composite
def _well_formed_request(draw: Any) -> tuple[list[dict[str, Any]], int]:
    """A Responses API conversation that must convert: user turns, rounds of (reasoning?) parallel calls
    and their outputs, assistant replies; returns the items and the number of calls."""
    items: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": draw(st.sampled_from(["Weather in Paris?", [{"type": "input_text", "text": "Weather?"}]]))}]
    calls = 0
    for round_ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            items.append({"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]})
        n = draw(st.integers(1, 3))
        ids = [f"fc_{round_}_{k}" for k in range(n)]
        items += [{"type": "function_call", "name": "get_weather", "arguments": draw(st.sampled_from(['{"location": "Paris"}', '{"location": "Rome"}'])), "call_id": i} for i in ids]
        items += [{"type": "function_call_output", "call_id": i, "output": draw(st.sampled_from(["21", '{"t": 1}', ""]))} for i in draw(st.permutations(ids))]
        calls += n
    items.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sunny."}]})
    return items, calls


@settings(max_examples=200)
@given(_well_formed_request(), st.booleans())
def test_well_formed_responses_requests_convert_keeping_every_call_and_result(request: tuple[list[dict[str, Any]], int], flat_tools: bool) -> None:
    items, n_calls = request
    [out] = convert_records([{"input": items, "tools": [_FLAT_WEATHER if flat_tools else _WEATHER]}])
    assert isinstance(out, Converted) and out.format == "responses", getattr(out, "reasons", None)
    _check(out)
    messages = out.record["messages"]
    calls = {c["id"]: c for m in messages for c in m.get("tool_calls", [])}
    results = [m for m in messages if m["role"] == "tool"]
    assert len(calls) == n_calls == len(results) and {m["tool_call_id"] for m in results} == set(calls)
    assert messages[-1] == {"role": "assistant", "content": "Sunny."}


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=30) | st.sampled_from([b'{"text": "a"}', b"\xef\xbb\xbf{}", b'{"a": NaN}', b"[" * 3000, b" \t", b'{"text": "\\ud800"}']), max_size=6))
def test_fast_line_reader_matches_fcdata_read(tmp_path_factory: Any, lines: list[bytes]) -> None:
    path = tmp_path_factory.mktemp("lines") / "x.jsonl"
    data = b"\n".join(line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines) + b"\n"
    path.write_bytes(data)

    def fast() -> list[Any]:
        source = _open_source(str(path), 3)
        got = []
        for batch in source.batches:
            for it in batch_items(str(path), source.kind, batch):
                got.append((it.line, it.ok, it.code, it.error, it.text, it.value if it.ok else None))
        return got

    try:
        expected = [(it.line, it.ok, it.code, it.error, it.text, it.value if it.ok else None) for it in read_items(path)]
    except InputError as exc:  # content refused whole (a UTF-16 byte-order mark...): the fast path says the same
        with pytest.raises(InputError, match=re.escape(str(exc).split(": ", 1)[1][:20])):
            fast()
        return
    assert fast() == expected


def test_file_path_and_library_path_agree(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "sharegpt" / "glaive_toolcall_en_demo.json"
    out = tmp_path / "o.jsonl"
    report = convert_files([str(src)], str(out))
    lib = [o.line for o in convert_records(read_items(src)) if isinstance(o, Converted)]
    assert out.read_text(encoding="utf-8").splitlines() == lib
    assert report.kept == len(lib) and report.read == report.kept + report.rejected
