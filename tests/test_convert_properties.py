"""Properties of conversion as a whole: arbitrary input never raises and always converts or rejects
with a reason; what converts passes the validator; the file reader's fast JSON Lines path reads lines
exactly as fcdata.read does; library and file paths agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fcdata.convert import Converted, Rejected, convert_files, convert_records
from fcdata.convert.files import _open_source, batch_items
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


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=30) | st.sampled_from([b'{"text": "a"}', b"\xef\xbb\xbf{}", b'{"a": NaN}', b"[" * 3000, b" \t", b'{"text": "\\ud800"}']), max_size=6))
def test_fast_line_reader_matches_fcdata_read(tmp_path_factory: Any, lines: list[bytes]) -> None:
    path = tmp_path_factory.mktemp("lines") / "x.jsonl"
    data = b"\n".join(line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines) + b"\n"
    path.write_bytes(data)
    expected = [(it.line, it.ok, it.code, it.error, it.text, it.value if it.ok else None) for it in read_items(path)]
    source = _open_source(str(path), 3)
    got = []
    for batch in source.batches:
        for it in batch_items(str(path), source.kind, batch):
            got.append((it.line, it.ok, it.code, it.error, it.text, it.value if it.ok else None))
    assert got == expected


def test_file_path_and_library_path_agree(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "sharegpt" / "glaive_toolcall_en_demo.json"
    out = tmp_path / "o.jsonl"
    report = convert_files([str(src)], str(out))
    lib = [o.line for o in convert_records(read_items(src)) if isinstance(o, Converted)]
    assert out.read_text(encoding="utf-8").splitlines() == lib
    assert report.kept == len(lib) and report.read == report.kept + report.rejected
