"""ShareGPT, OpenAI (with the legacy form and request dumps), hackathon, text and canonical records ->
canonical; format detection; the library API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fcdata.convert import FORMATS, Converted, Rejected, convert_records, detect_format
from fcdata.read import Item, read_items
from fcdata.validate import check_record

FIXTURES = Path(__file__).parent / "fixtures" / "convert"


def _clean(out: Converted) -> None:
    findings = check_record(out.record)[1]
    assert [str(f) for f in findings if f.severity == "error"] == []
    assert json.dumps(out.record, ensure_ascii=False) == out.line


def _all(path: Path, fmt: str | None = None) -> list[Converted | Rejected]:
    return list(convert_records(read_items(path), fmt))


@pytest.mark.parametrize("name", ["openai_cases.jsonl", "sharegpt_cases.jsonl"])
def test_format_cases(name: str) -> None:
    for out in _all(FIXTURES / name):
        value = out.item.value
        expect = value["_expect"]
        if "rejected" in expect:
            assert isinstance(out, Rejected) and out.reasons[0][0] == expect["rejected"], (value["_quirk"], out)
        else:
            assert isinstance(out, Converted), (value["_quirk"], out.reasons if isinstance(out, Rejected) else None)
            assert out.repairs == expect["repairs"], value["_quirk"]
            _clean(out)


def test_llama_factory_sharegpt_sample(shared_data: Path) -> None:
    outs = _all(shared_data / "sharegpt" / "glaive_toolcall_en_demo.json")
    assert len(outs) == 300
    rejected = [o for o in outs if isinstance(o, Rejected)]
    # one record calls track_calories with a list where its schema declares a number: refused, not guessed
    assert [(o.item.line, o.reasons[0][0]) for o in rejected] == [(8001, "arguments_schema")]
    assert "calories_per_item" in rejected[0].reasons[0][1]
    for out in outs:
        if isinstance(out, Converted):
            _clean(out)
            assert out.format == "sharegpt"
    first = outs[0].record
    assert [m["role"] for m in first["messages"]] == ["user", "assistant", "user", "assistant", "tool", "assistant", "user", "assistant"]
    call = first["messages"][3]["tool_calls"][0]
    assert call["function"] == {"name": "search_recipes", "arguments": {"ingredients": ["chicken", "bell peppers", "rice"]}}
    assert first["messages"][4]["tool_call_id"] == call["id"]
    assert first["tools"][0]["type"] == "function" and first["tools"][0]["function"]["name"] == "search_recipes"


def test_parallel_observation_split_links_each_result(tmp_path: Path) -> None:
    out = next(o for o in _all(FIXTURES / "sharegpt_cases.jsonl") if o.item.value["_quirk"] == "parallel_calls_as_list_and_split_observation")
    msgs = out.record["messages"]
    ids = [c["id"] for c in msgs[1]["tool_calls"]]
    assert [msgs[2]["tool_call_id"], msgs[3]["tool_call_id"]] == ids
    assert [json.loads(msgs[2]["content"]), json.loads(msgs[3]["content"])] == [{"temperature": 21}, {"temperature": 25}]


def test_functionary_cases(shared_data: Path) -> None:
    base = shared_data / "messages" / "functionary_tests"
    for name in ("test_case.json", "test_case_v2.json"):
        [out] = _all(base / name)
        assert isinstance(out, Converted)
        _clean(out)
        rec = out.record
        assert [t["function"]["name"] for t in rec["tools"]] == ["get_car_price", "get_weather", "python"]
        py_calls = [c for m in rec["messages"] if m.get("tool_calls") for c in m["tool_calls"] if c["function"]["name"] == "python"]
        assert len(py_calls) == 2 and all(set(c["function"]["arguments"]) == {"code"} for c in py_calls)
        # the "masked" turn of functionary keeps its place but is not trained
        assert any(m.get("weight") == 0 for m in rec["messages"])
        assert {"code_interpreter_declared", "code_arguments_wrapped", "text_before_call_dropped", "call_id_added", "tool_result_linked"} <= set(out.repairs)
        # parallel calls: two results linked in order
        m = rec["messages"]
        parallel = next(i for i, x in enumerate(m) if x.get("tool_calls") and len(x["tool_calls"]) == 2)
        assert [m[parallel + 1]["tool_call_id"], m[parallel + 2]["tool_call_id"]] == [c["id"] for c in m[parallel]["tool_calls"]]
        # a key no canonical message has leaves the message but not the record; the masked flag is read,
        # not dropped
        dropped = rec["metadata"].get("dropped_message_keys")
        if name == "test_case.json":
            assert dropped == [{"message": 7, "keys": {"metainfo": {"img_path": "IMG_PATH"}}}] and "unknown_keys_dropped" in out.repairs
        else:
            assert dropped is None and "unknown_keys_dropped" not in out.repairs
    [legacy] = _all(base / "test_case_v1.json")
    assert isinstance(legacy, Converted)
    _clean(legacy)
    rec = legacy.record
    assert rec["tools"][0]["function"]["parameters"]["required"] == []  # "get_car_price" named no property
    results = [m for m in rec["messages"] if m["role"] == "tool"]
    assert [json.loads(r["content"]) for r in results] == [{"price": {"price": "$25000"}}, {"price": {"price": "$20000"}}]
    assert "tool_result_python_literal" in legacy.repairs


def test_request_dumps_read_as_request_plus_reply(shared_data: Path) -> None:
    outs = _all(shared_data / "messages" / "bellwether_glaive_v2_cases_excerpt.jsonl")
    assert all(isinstance(o, Converted) for o in outs)
    for o in outs:
        _clean(o)  # type: ignore[arg-type]
    second = outs[1].record  # type: ignore[union-attr]
    assert second["messages"][-1] == {"role": "assistant", "content": "You're welcome! If you need anything else, feel free to ask."}
    calls = [c for m in second["messages"] if m.get("tool_calls") for c in m["tool_calls"]]
    results = [m["tool_call_id"] for m in second["messages"] if m["role"] == "tool"]
    assert [c["id"] for c in calls] == results and all(len(i) == 9 for i in results)
    assert second["metadata"]["remapped_ids"] == [["call_0", calls[0]["id"]], ["call_1", calls[1]["id"]]]
    assert second["metadata"]["source_extra"]["name"] == "glaive-v2-31-9"


def test_mistral_finetune_example_passes_through_with_its_ids(shared_data: Path) -> None:
    [out] = _all(shared_data / "messages" / "mistral_finetune_readme_function_calling_example.jsonl")
    assert isinstance(out, Converted) and out.format == "canonical" and out.repairs == []
    src = json.loads((shared_data / "messages" / "mistral_finetune_readme_function_calling_example.jsonl").read_text())
    assert [c["id"] for m in out.record["messages"] if m.get("tool_calls") for c in m["tool_calls"]] == ["TX92Jm8Zi", "3XhQnxLsT"]
    for got, want in zip(out.record["messages"], src["messages"]):
        if "tool_calls" in want:
            want = {**want, "tool_calls": [{**c, "function": {**c["function"], "arguments": json.loads(c["function"]["arguments"])}} for c in want["tool_calls"]]}
        assert got == want


def test_canonical_output_converts_to_itself(shared_data: Path) -> None:
    first = [o for o in _all(shared_data / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl") if isinstance(o, Converted)]
    again = list(convert_records([o.record for o in first]))
    for a, b in zip(first, again):
        assert isinstance(b, Converted) and b.format == "canonical" and b.repairs == []
        assert b.record["messages"] == a.record["messages"] and b.record["tools"] == a.record["tools"]
        assert b.record["metadata"]["previous"]["format"] == "glaive"


def test_hackathon_interactions_and_text(shared_data: Path) -> None:
    chats = _all(shared_data / "interactions" / "hackathon_readme_examples.jsonl")
    assert [o.format for o in chats] == ["hackathon", "hackathon"]
    for o in chats:
        _clean(o)  # type: ignore[arg-type]
    assert chats[0].record["messages"][:2] == [  # type: ignore[union-attr]
        {"role": "user", "content": "User interaction n°1 contained in document n°1"},
        {"role": "assistant", "content": "Bot interaction n°1 contained in document n°1"},
    ]
    texts = _all(shared_data / "interactions" / "hackathon_readme_pretrain_examples.jsonl")
    assert [o.format for o in texts] == ["text", "text"]
    rec = texts[0].record  # type: ignore[union-attr]
    assert rec["text"] == "Text contained in document n°1" and list(rec) == ["text", "metadata"]
    _clean(texts[0])  # type: ignore[arg-type]


def test_hackathon_edge_cases() -> None:
    outs = list(convert_records([
        {"interactions": [{"is_user": True, "text": "a"}, {"is_user": True, "text": "b"}, {"is_user": False, "text": "c"}, {"is_user": True, "text": "d"}]},
        {"interactions": [{"is_user": True, "text": "only a question"}]},
        {"interactions": [{"is_user": 1, "text": "x"}]},
        {"text": "   "},
    ]))
    assert outs[0].repairs == ["consecutive_user_merged", "trailing_user_dropped"]  # type: ignore[union-attr]
    assert outs[0].record["messages"][0]["content"] == "a\n\nb"  # type: ignore[union-attr]
    assert [o.reasons[0][0] for o in outs[1:]] == ["no_assistant_turn", "wrong_type", "empty_text"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value, fmt",
    [
        ({"system": "x", "chat": "y"}, "glaive"),
        ({"chat": "y"}, "glaive"),
        ({"interactions": []}, "hackathon"),
        ({"text": "t"}, "text"),
        ({"conversations": []}, "sharegpt"),
        ({"messages": [{"role": "user", "content": "a"}]}, "canonical"),
        ({"messages": [{"role": "user", "content": "a"}], "functions": []}, "openai"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}, "openai"),
        ({"request": {"messages": []}, "message": {}}, "openai"),
        ({"input": [{"type": "message", "role": "user", "content": "hi"}]}, "responses"),
        ({"responses_create_params": {"input": [{"type": "function_call_output", "call_id": "a", "output": ""}]}}, "responses"),
        ({"input": ["plain text, not Responses items"]}, None),
        ({"foo": 1}, None),
        ([1], None),
    ],
)
def test_detect_format(value: Any, fmt: str | None) -> None:
    assert detect_format(value) == fmt


def test_forced_format_rejects_records_of_another_format() -> None:
    outs = list(convert_records([{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}, {"text": "x"}], "glaive"))
    assert [o.reasons[0][0] for o in outs] == ["format_mismatch", "format_mismatch"]  # type: ignore[union-attr]
    assert "looks like sharegpt" in outs[0].reasons[0][1]  # type: ignore[union-attr]
    assert set(FORMATS) == {"glaive", "hackathon", "text", "sharegpt", "hermes", "toolace", "xlam", "alpaca", "gorilla", "when2call", "llamafactory", "responses", "toolalpaca", "trajectory", "openai", "canonical"}


def test_library_api_takes_values_or_items_and_keeps_order() -> None:
    values = [{"text": "one"}, "junk", Item("f.jsonl", 7, {"text": "two"})]
    outs = list(convert_records(values, file="mem.jsonl"))
    assert [o.ok for o in outs] == [True, False, True]
    assert outs[0].record["metadata"] == {"source_file": "mem.jsonl", "source_line": 1, "format": "text", "repairs": []}  # type: ignore[union-attr]
    assert outs[1].reasons[0][0] == "not_object"  # type: ignore[union-attr]
    assert outs[2].record["metadata"]["source_line"] == 7  # type: ignore[union-attr]
    # each record owns its objects: changing one never changes another converted from the same tools
    tools = {"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object", "properties": {}}}}
    a, b = convert_records([{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "tools": [tools]}] * 2)
    a.record["tools"].append("changed")  # type: ignore[union-attr]
    assert len(b.record["tools"]) == 1  # type: ignore[union-attr]


def test_reader_errors_become_rejections_with_the_readers_code(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b'{"text": "ok"}\nnot json\n\xff\xfe\n')
    outs = list(convert_records(read_items(p)))
    assert [o.ok for o in outs] == [True, False, False]
    assert [o.reasons[0][0] for o in outs[1:]] == ["not_json", "not_utf8"]  # type: ignore[union-attr]
    rej = outs[1].to_obj()  # type: ignore[union-attr]
    assert rej["text"] == "not json" and rej["line"] == 2 and rej["file"] == str(p)


def test_every_code_is_catalogued_and_documented() -> None:
    import re

    from fcdata.convert.codes import REJECTIONS, REPAIRS

    root = Path(__file__).resolve().parent.parent
    source = "\n".join(p.read_text(encoding="utf-8") for p in (root / "fcdata" / "convert").glob("*.py") if p.name != "codes.py")
    rejected = set(re.findall(r'Reject\(\s*"([a-z_0-9]+)"', source)) | set(re.findall(r'\[\("([a-z_0-9]+)", ', source))
    repaired = set(re.findall(r'\.append\("([a-z_0-9]+)"\)', source)) | set(re.findall(r'\("(arguments_[a-z_]+)", lambda', source))
    repaired |= {"arguments_single_quoted", "arguments_multiline", "arguments_control_chars"}
    assert rejected - set(REJECTIONS) == set()
    assert repaired - set(REPAIRS) == set()
    assert not set(REPAIRS) & set(REJECTIONS)
    doc = (root / "docs" / "convert.md").read_text(encoding="utf-8")
    for code in [*REPAIRS, *REJECTIONS]:
        assert f"`{code}`" in doc, code
    # every repair recorded on the fixtures is catalogued
    for name in ("glaive_quirks.jsonl", "openai_cases.jsonl", "sharegpt_cases.jsonl"):
        for out in _all(FIXTURES / name):
            codes = out.repairs if isinstance(out, Converted) else out.codes
            assert set(codes) <= set(REPAIRS) | set(REJECTIONS)


def test_library_num_proc_gives_the_same_records(shared_data: Path) -> None:
    items = list(read_items(shared_data / "sharegpt" / "glaive_toolcall_en_demo.json"))
    one = [(o.ok, o.line if isinstance(o, Converted) else o.reasons) for o in convert_records(items)]
    two = [(o.ok, o.line if isinstance(o, Converted) else o.reasons) for o in convert_records(items, num_proc=2, batch_size=64)]
    assert one == two


def test_a_schema_that_cannot_be_applied_is_rejected_not_written() -> None:
    """Convert and validate agree: the validator calls it schema_unusable (an error), so convert must not
    write a record whose calls it could not check."""
    rec = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "tool_call_id": "abcdefghi", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"$ref": "#/definitions/nowhere"}}}],
    }
    assert "schema_unusable" in [f.code for f in check_record(rec)[1]]
    (out,) = convert_records([rec])
    assert isinstance(out, Rejected) and "cannot be applied" in out.reasons[0][1]


def _alpaca(row: dict[str, Any]) -> Converted | Rejected:
    return next(convert_records([row]))


def test_alpaca_history_system_and_input_become_turns() -> None:
    out = _alpaca({"instruction": "And in French?", "input": "Good morning", "output": "Bonjour", "system": "You translate.", "history": [["Say hi in German", "Hallo"]]})
    assert isinstance(out, Converted) and out.format == "alpaca"
    assert [(m["role"], m["content"]) for m in out.record["messages"]] == [
        ("system", "You translate."),
        ("user", "Say hi in German"),
        ("assistant", "Hallo"),
        ("user", "And in French?\nGood morning"),
        ("assistant", "Bonjour"),
    ]
    _clean(out)


@pytest.mark.parametrize(
    "row,code",
    [
        ({"instruction": "hi", "output": 3}, "wrong_type"),
        ({"instruction": "hi", "output": "ok", "history": [["only one"]]}, "wrong_type"),
        ({"instruction": "[BEGIN OF AVAILABLE TOOLS][][END OF AVAILABLE TOOLS]", "output": "```\n[]\n```"}, "missing_field"),
        ({"instruction": "[BEGIN OF AVAILABLE TOOLS][{\"name\": \"f\", \"parameters\": {}}][END OF AVAILABLE TOOLS][BEGIN OF QUERY]go[END OF QUERY]", "output": "```\n[]\n```"}, "empty_call_list"),
    ],
)
def test_alpaca_rows_that_cannot_be_kept_say_why(row: dict[str, Any], code: str) -> None:
    out = _alpaca(row)
    assert isinstance(out, Rejected) and out.codes[0] == code, out


# --- OpenAI Responses API requests (the real rows: tests/test_convert_published.py, Nemotron RL / NeMo Gym)

_FLAT_TOOL = {"type": "function", "name": "get_weather", "description": "weather", "strict": True,
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}


def _responses(value: dict[str, Any]) -> Any:
    [out] = convert_records([value])
    return out


def test_responses_parallel_calls_results_instructions_and_reasoning() -> None:
    out = _responses({
        "instructions": "Be brief.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo and Rome?"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "two cities: two calls"}]},
            {"type": "function_call", "name": "get_weather", "arguments": '{"city": "Oslo"}', "call_id": "fc_1"},
            {"type": "function_call", "name": "get_weather", "arguments": '{"city": "Rome"}', "call_id": "fc_2"},
            {"type": "function_call_output", "call_id": "fc_2", "output": "sun"},
            {"type": "function_call_output", "call_id": "fc_1", "output": "rain"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Oslo: rain. Rome: sun."}]},
        ],
        "tools": [_FLAT_TOOL],
        "model": "gpt-x",
    })
    assert out.ok and out.format == "responses", out
    rec = out.record
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert rec["messages"][0]["content"] == "Be brief."
    calls = rec["messages"][2]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [{"city": "Oslo"}, {"city": "Rome"}]  # one turn of parallel calls
    # each result carries its own call's id (linked by call_id, in the order given)
    assert [(m["tool_call_id"], m["content"]) for m in rec["messages"][3:5]] == [(calls[1]["id"], "sun"), (calls[0]["id"], "rain")]
    assert rec["tools"][0]["function"]["name"] == "get_weather" and "strict" not in json.dumps(rec["tools"])
    assert rec["metadata"]["reasoning"] == [{"message": 2, "text": "two cities: two calls"}]
    assert {"instructions_as_system", "responses_tools_nested", "reasoning_dropped"} <= set(out.repairs)
    assert rec["metadata"]["source_extra"] == {"model": "gpt-x"}
    assert [f for f in check_record(rec)[1] if f.severity == "error"] == []


@pytest.mark.parametrize(
    "items,code",
    [
        ([{"type": "message", "role": "user", "content": "find it"}, {"type": "web_search_call", "id": "ws_1"}], "unsupported_content"),
        ([{"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "x"}]}], "unsupported_content"),
        ([{"type": "message", "role": "user", "content": "hi"}, {"type": "function_call", "arguments": "{}"}], "wrong_type"),
        ([{"type": "message", "role": "user", "content": "hi"}, {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]}], "bad_value"),
        ([{"type": "message", "role": "user", "content": "hi"}, {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]}, {"type": "message", "role": "user", "content": "?"}], "bad_value"),
        ([{"type": "message", "role": "user", "content": [{"type": ["input_text"], "text": "hi"}]}], "wrong_type"),
        ([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": 5}]}], "wrong_type"),
        ([{"type": "message", "role": "user", "content": "hi"}, {"type": "function_call", "name": "get_weather"}], "missing_field"),
    ],
)
def test_responses_items_that_cannot_be_trained_say_why(items: list[Any], code: str) -> None:
    out = _responses({"input": items, "tools": [_FLAT_TOOL]})
    assert not out.ok and out.codes[0] == code, out
