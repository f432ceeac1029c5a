"""The validator: every finding code triggered by a minimal record, the real samples, agreement with
mistral-common about what it refuses, and no crash on arbitrary input."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcdata.findings import CODES, Finding
from fcdata.validate import check_record, validate_files, validate_records

from oracle import encode

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city"],
        },
    },
}


def good() -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "abcDEF123", "name": "get_weather", "content": '{"temp": 21}'},
            {"role": "assistant", "content": "21 degrees."},
        ],
        "tools": [copy.deepcopy(TOOL)],
    }


def codes(obj: Any) -> list[str]:
    return [f.code for f in check_record(obj, file="t.jsonl", line=1)[1]]


def test_good_record_has_no_findings() -> None:
    model, findings = check_record(good())
    assert findings == []
    assert model is not None


def mutate(fn: Any) -> dict[str, Any]:
    rec = good()
    fn(rec)
    return rec


CASES: list[tuple[str, Any]] = [
    ("not_object", [1, 2]),
    ("not_canonical", {"system": "SYSTEM: hi", "chat": "USER: hi"}),
    ("legacy_functions", {"functions": [], "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}),
    ("missing_field", {"messages": [{"role": "user"}, {"role": "assistant", "content": "y"}]}),
    ("unknown_field", mutate(lambda r: r.update(extra=1))),
    ("wrong_type", mutate(lambda r: r["messages"][1].update(content=5))),
    ("bad_role", mutate(lambda r: r["messages"][1].update(role="human"))),
    ("bad_value", mutate(lambda r: r["messages"][4].update(weight=2))),
    ("empty_conversation", {"messages": [], "tools": []}),
    ("single_message", {"messages": [{"role": "assistant", "content": "Hello"}]}),
    ("role_order", mutate(lambda r: r["messages"].insert(2, {"role": "tool", "tool_call_id": "zzzzzzzzz", "content": "x"}))),
    ("last_not_assistant", mutate(lambda r: r["messages"].append({"role": "user", "content": "thanks"}))),
    ("content_and_tool_calls", mutate(lambda r: r["messages"][2].update(content="Let me check."))),
    ("empty_assistant", mutate(lambda r: r["messages"][4].update(content=""))),
    ("merged_content_and_calls", mutate(lambda r: r["messages"].insert(2, {"role": "assistant", "content": "Let me check."}))),
    ("merged_assistant", mutate(lambda r: r["messages"].append({"role": "assistant", "content": "Anything else?"}))),
    ("merged_user", mutate(lambda r: r["messages"].insert(1, {"role": "user", "content": "Hi."}))),
    ("starts_with_assistant", {"messages": [{"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes?"}]}),
    # mistral-common refuses it (its call count skips messages[0]); prepare used to train on it
    ("opens_with_calls", {"messages": [{"role": "assistant", "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}, {"role": "tool", "tool_call_id": "abcDEF123", "content": "21"}, {"role": "assistant", "content": "It is 21."}], "tools": [TOOL]}),
    ("no_trainable_turn", mutate(lambda r: [m.update(weight=0) for m in r["messages"] if m["role"] == "assistant"])),
    ("empty_text", {"text": ""}),
    ("empty_user", mutate(lambda r: r["messages"][1].update(content=""))),
    ("call_id_missing", mutate(lambda r: r["messages"][2]["tool_calls"][0].pop("id"))),
    ("call_id_format", mutate(lambda r: (r["messages"][2]["tool_calls"][0].update(id="call_1"), r["messages"][3].update(tool_call_id="call_1")))),
    ("call_id_duplicate", mutate(lambda r: r["messages"][2]["tool_calls"].append(copy.deepcopy(r["messages"][2]["tool_calls"][0])))),
    ("function_name_format", mutate(lambda r: r["tools"][0]["function"].update(name="weather.get"))),
    ("undeclared_function", mutate(lambda r: r["messages"][2]["tool_calls"][0]["function"].update(name="get_time"))),
    ("arguments_not_json", mutate(lambda r: r["messages"][2]["tool_calls"][0]["function"].update(arguments="{'city': 'Paris'}"))),
    ("arguments_not_object", mutate(lambda r: r["messages"][2]["tool_calls"][0]["function"].update(arguments="[1, 2]"))),
    ("arguments_schema", mutate(lambda r: r["messages"][2]["tool_calls"][0]["function"].update(arguments={"city": "Paris", "days": 0}))),
    ("call_unanswered", mutate(lambda r: r["messages"].pop(3))),
    ("call_answered_late", mutate(lambda r: r["messages"].insert(5, r["messages"].pop(3)) or r["messages"].append({"role": "assistant", "content": "ok"}))),
    ("tool_result_no_id", mutate(lambda r: r["messages"][3].pop("tool_call_id"))),
    ("tool_result_unlinked", mutate(lambda r: r["messages"][3].update(tool_call_id="ZZZZZZZZZ"))),
    ("tool_result_duplicate", mutate(lambda r: r["messages"].insert(4, copy.deepcopy(r["messages"][3])))),
    ("tool_result_name_mismatch", mutate(lambda r: r["messages"][3].update(name="get_time"))),
    ("schema_invalid", mutate(lambda r: r["tools"][0]["function"]["parameters"].update(type="objekt"))),
    # valid against the metaschema, but its $ref leads nowhere: jsonschema cannot apply it to the call
    ("schema_unusable", mutate(lambda r: r["tools"][0]["function"].update(parameters={"$ref": "#/definitions/nowhere"}))),
    # a lookahead: ECMA-262, but RE2 (linear time) cannot run it, so the calls go unchecked
    ("pattern_unsupported", mutate(lambda r: r["tools"][0]["function"]["parameters"]["properties"]["city"].update(pattern="^(?=P)"))),
    ("parameters_missing", mutate(lambda r: r["tools"][0]["function"].pop("parameters"))),
    ("invalid_unicode", mutate(lambda r: r["messages"][1].update(content="Weather in Paris? \ud800"))),
    ("duplicate_tool_conflict", mutate(lambda r: r["tools"].append({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}))),
    ("duplicate_tool", mutate(lambda r: r["tools"].append(copy.deepcopy(r["tools"][0])))),
    ("parameters_not_object", mutate(lambda r: r["tools"].append({"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}))),
    ("call_markup_text", mutate(lambda r: r["messages"][4].update(content='<tool_call>{"name": "get_time", "arguments": {}}</tool_call>'))),
    ("reasoning_markup_text", mutate(lambda r: r["messages"][4].update(content="<think>They asked the time.</think>\n\nIt is noon."))),
    ("json_duplicate_key", mutate(lambda r: r["messages"][3].update(content='{"temp": 21, "temp": 12}'))),
    ("conversion_residue", mutate(lambda r: r["messages"][4].update(content="21 degrees. <|endoftext|>"))),
    ("control_token_text", mutate(lambda r: r["messages"][1].update(content="[INST] Weather in Paris? [/INST]"))),
]

READER_CODES = {"not_json", "not_utf8", "json_too_deep", "truncated_file", "empty_file", "non_finite_number"}  # reader codes: see tests/test_read.py, test_hostile_io.py


def test_every_code_has_a_case() -> None:
    assert {c for c, _ in CASES} | READER_CODES == set(CODES)


@pytest.mark.parametrize("code,record", CASES, ids=[c for c, _ in CASES])
def test_each_code_is_reported(code: str, record: Any) -> None:
    findings = check_record(record, file="t.jsonl", line=7)[1]
    assert code in [f.code for f in findings], [str(f) for f in findings]
    f = next(f for f in findings if f.code == code)
    assert f.severity == CODES[code][0]
    assert f.file == "t.jsonl" and f.line == 7
    assert f.message and str(f).startswith("t.jsonl:7: ")


def test_message_names_place_rule_and_value() -> None:
    rec = good()
    rec["messages"][2]["tool_calls"][0]["id"] = "call_1"
    rec["messages"][3]["tool_call_id"] = "call_1"
    f = next(f for f in check_record(rec, file="data.jsonl", line=17)[1] if f.path.endswith(".id"))
    assert str(f) == (
        "data.jsonl:17: messages[2].tool_calls[0].id: error[call_id_format]: must be 9 letters/digits for "
        "Mistral v0.3, got 'call_1'; remap ids consistently in calls and results (`fcdata convert` does)"
    )


def test_final_call_without_id_is_accepted_like_mistral_common() -> None:
    rec = {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]}], "tools": [TOOL]}
    assert codes(rec) == []
    encode(rec)  # mistral-common accepts it too


def test_shape_errors_and_meaning_errors_in_one_pass() -> None:
    rec = good()
    rec["messages"][1]["content"] = 5
    rec["messages"][2]["tool_calls"][0]["function"]["name"] = "nope"
    found = codes(rec)
    assert "wrong_type" in found and "undeclared_function" in found


def test_nan_in_argument_strings_is_not_json() -> None:
    rec = good()
    rec["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{"city": "Paris", "days": NaN}'
    assert codes(rec) == ["arguments_not_json"]


def test_arguments_schema_path_points_inside_the_arguments() -> None:
    rec = good()
    rec["messages"][2]["tool_calls"][0]["function"]["arguments"] = {"city": 3}
    f = next(f for f in check_record(rec)[1] if f.code == "arguments_schema")
    assert f.path == "messages[2].tool_calls[0].function.arguments.city"


def test_functionary_cases_report_missing_ids_and_legacy_form(shared_data: Any) -> None:
    base = shared_data / "messages" / "functionary_tests"
    v2 = validate_files([str(base / "test_case_v2.json")])
    assert v2.read == 1 and v2.rejected == 1
    counts = {**v2.errors, **v2.warnings}
    assert counts["call_id_missing"] == 5 and counts["tool_result_no_id"] == 5
    assert set(v2.rejections) == set(v2.errors)  # a rejected record counts once per error code
    assert any("fcdata convert" in f.message for f in v2.findings if f.code == "call_id_missing")
    assert counts["content_and_tool_calls"] == 3
    assert any(f.code == "bad_value" and f.path == "tools[2].type" and "code_interpreter" in f.message for f in v2.findings)
    v1 = validate_files([str(base / "test_case_v1.json")])
    assert set(v1.errors) | set(v1.warnings) == {"legacy_functions"} and {**v1.errors, **v1.warnings}["legacy_functions"] == 5
    assert all("fcdata convert" in f.message for f in v1.findings)


def test_shared_canonical_sample_is_clean(shared_data: Any) -> None:
    rep = validate_files([str(shared_data / "messages" / "mistral_finetune_readme_function_calling_example.jsonl")])
    assert (rep.read, rep.kept, rep.error_count, rep.warning_count) == (1, 1, 0, 0)


@pytest.mark.parametrize("rel,fmt", [
    ("glaive_raw/glaive_v2_first500_singleturn.jsonl", "Glaive"),
    ("sharegpt/glaive_toolcall_en_demo.json", "ShareGPT"),
    ("interactions/hackathon_readme_examples.jsonl", "hackathon"),
    ("messages/bellwether_glaive_v2_cases_excerpt.jsonl", "request"),
])
def test_raw_formats_are_named_with_the_fix(shared_data: Any, rel: str, fmt: str) -> None:
    rep = validate_files([str(shared_data / rel)])
    assert rep.read > 0 and rep.rejected == rep.read
    assert set(rep.errors) | set(rep.warnings) == {"not_canonical"} and rep.rejections == {"not_canonical": rep.read}
    assert all(fmt in f.message and "fcdata convert" in f.message for f in rep.findings)


def test_pretraining_records_are_valid(shared_data: Any) -> None:
    rep = validate_files([str(shared_data / "interactions" / "hackathon_readme_pretrain_examples.jsonl")])
    assert (rep.read, rep.kept, rep.error_count) == (2, 2, 0)


def test_strict_makes_warnings_fail() -> None:
    rec = good()
    rec["messages"][1]["content"] = ""
    assert validate_records([rec]).ok
    rep = validate_records([rec], strict=True)
    assert not rep.ok and rep.rejected == 1 and rep.rejections == {code: 1 for code in rep.warnings} != {}


def test_report_json_shape() -> None:
    rep = validate_records([good(), [1], mutate(lambda r: r["messages"].pop())], file="x.jsonl")
    obj = rep.to_json()
    # the vocabulary every stage report shares (convert, validate, prepare)
    assert list(obj)[:4] == ["read", "kept", "rejected", "rejections"]
    assert obj["read"] == 3 and obj["kept"] == 1 and obj["rejected"] == 2
    assert obj["rejections"] == obj["errors"] == {"not_object": 1, "last_not_assistant": 1}
    assert obj["inputs"] == ["x.jsonl"] and obj["empty_inputs"] == [] and obj["rejects"] is None
    assert {f["code"] for f in obj["findings"]} >= {"not_object"}
    assert all(set(f) == {"code", "severity", "file", "line", "path", "message"} for f in obj["findings"])
    json.dumps(obj)


# ------------------------------------------------------------------ agreement with mistral-common

# codes for problems mistral-common itself refuses (everything else is fcdata's stricter data hygiene)
MISTRAL_REFUSES = {
    "empty_conversation", "single_message", "role_order", "last_not_assistant", "content_and_tool_calls", "empty_assistant",
    "merged_content_and_calls", "call_id_missing", "call_id_format", "function_name_format",
    "call_unanswered", "tool_result_no_id", "schema_invalid", "bad_value", "missing_field", "wrong_type",
    "unknown_field", "bad_role", "tool_result_duplicate", "tool_result_unlinked", "call_answered_late",
}

ROLES = st.sampled_from(["system", "user", "assistant", "tool"])
IDS = st.sampled_from(["abcDEF123", "zzzzzzzz9", "call_1", "null"])


@st.composite
def messy_records(draw: Any) -> dict[str, Any]:
    """Records near the valid space: random role sequences, calls with good/bad ids, results linked or
    not, content and calls mixed, declared or undeclared names."""
    n = draw(st.integers(1, 7))
    msgs: list[dict[str, Any]] = []
    for _ in range(n):
        role = draw(ROLES)
        if role in ("system", "user"):
            msgs.append({"role": role, "content": draw(st.sampled_from(["hi", "", "Weather?"]))})
        elif role == "assistant":
            m: dict[str, Any] = {"role": "assistant"}
            kind = draw(st.sampled_from(["text", "calls", "both", "empty"]))
            if kind in ("text", "both"):
                m["content"] = draw(st.sampled_from(["ok", "", "sure "]))
            if kind in ("calls", "both"):
                calls = []
                for _ in range(draw(st.integers(1, 2))):
                    call: dict[str, Any] = {"type": "function", "function": {"name": draw(st.sampled_from(["get_weather", "bad.name"])), "arguments": '{"city": "x"}'}}
                    if draw(st.booleans()):
                        call["id"] = draw(IDS)
                    calls.append(call)
                m["tool_calls"] = calls
            if draw(st.booleans()):
                m["weight"] = draw(st.sampled_from([0, 1]))
            msgs.append(m)
        else:
            t: dict[str, Any] = {"role": "tool", "content": draw(st.sampled_from(['{"a": 1}', "plain"]))}
            if draw(st.booleans()):
                t["tool_call_id"] = draw(IDS)
            msgs.append(t)
    return {"messages": msgs, "tools": [TOOL]}


@given(messy_records())
@settings(max_examples=400)
def test_no_error_findings_means_mistral_common_encodes_it(rec: dict[str, Any]) -> None:
    findings = check_record(rec)[1]
    errors = {f.code for f in findings if f.severity == "error"}
    try:
        encode(rec)
        accepted = True
    except Exception:
        accepted = False
    if not errors:
        assert accepted, f"mistral-common refused a record fcdata finds clean: {rec}"
    if not accepted:
        assert errors & MISTRAL_REFUSES, f"mistral-common refused but fcdata found only {errors}: {rec}"


# ------------------------------------------------------------------ never crash

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["messages", "role", "content", "tool_calls", "id", "function", "name", "arguments", "tools", "type", "parameters", "tool_call_id", "weight", "text", "x"]), children, max_size=5),
    max_leaves=30,
)


@given(JSON)
def test_arbitrary_json_never_raises(value: Any) -> None:
    model, findings = check_record(value, file="f", line=1)
    assert all(isinstance(f, Finding) for f in findings)
    if findings and any(f.severity == "error" for f in findings):
        assert model is None


def test_deeply_nested_record_is_a_finding_not_a_crash() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = {"a": deep}
    rec = good()
    rec["metadata"] = deep
    model, findings = check_record(rec)
    assert isinstance(findings, list)


def test_every_code_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "validate.md").read_text()
    for code, (severity, _) in CODES.items():
        assert f"| `{code}` | {severity} |" in doc, f"docs/validate.md lacks {code}"


def test_lone_surrogate_is_an_error_because_mistral_common_refuses_it() -> None:
    rec = good()
    rec["messages"][1]["content"] = "Paris \udc80"
    findings = check_record(rec)[1]
    assert [(f.code, f.path) for f in findings] == [("invalid_unicode", "messages[1].content")]
    good_ids = encode(good())  # the oracle itself works on the record without the surrogate
    assert good_ids
    with pytest.raises(RuntimeError, match="cast Python instance of type <class 'str'>"):  # SentencePiece refuses it
        encode(rec)


@pytest.mark.parametrize(
    "schema_key, value, refused",
    [
        ("$schema", [], True),  # list, object, number: a traceback that stopped validate
        ("$schema", {"x": 1}, True),
        ("$schema", 5, True),
        ("$schema", "http://[bad", False),  # malformed URI: ValueError traceback; mistral-common encodes it
    ],
)
def test_a_tool_schemas_own_schema_key_never_crashes_and_is_judged_as_mistral_common_judges_it(schema_key: str, value: Any, refused: bool) -> None:
    rec = good()
    rec["tools"][0]["function"]["parameters"][schema_key] = value
    findings = check_record(rec)[1]
    errors = [f.code for f in findings if f.severity == "error"]
    assert errors == (["schema_invalid"] if refused else []), findings
    if refused:
        with pytest.raises(Exception):
            encode(rec)
    else:
        assert encode(rec)


def test_tool_schemas_are_draft_7_whatever_their_schema_key_says() -> None:
    """mistral-common checks every tool schema with Draft7Validator.check_schema: a draft-04 boolean
    exclusiveMinimum is refused, a draft 2020-12 array-form items is accepted. fcdata honoured $schema and
    got both the other way round."""
    draft4 = good()
    params = draft4["tools"][0]["function"]["parameters"]
    params["$schema"] = "http://json-schema.org/draft-04/schema#"
    params["properties"]["n"] = {"type": "integer", "minimum": 0, "exclusiveMinimum": True}
    assert [f.code for f in check_record(draft4)[1] if f.severity == "error"] == ["schema_invalid"]
    with pytest.raises(Exception):
        encode(draft4)
    d2020 = good()
    params = d2020["tools"][0]["function"]["parameters"]
    params["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    params["properties"]["xs"] = {"type": "array", "items": [{"type": "string"}]}
    assert [f for f in check_record(d2020)[1] if f.severity == "error"] == []
    assert encode(d2020)


def test_schema_too_deep_to_evaluate_is_reported_not_passed() -> None:
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(3000):
        deep = {"type": "object", "properties": {"a": deep}}
    rec = good()
    rec["tools"][0]["function"]["parameters"] = deep
    findings = check_record(rec)[1]
    codes = {f.code for f in findings}
    # either the schema check or the argument check says so; silence would let any arguments through
    assert codes & {"schema_invalid", "schema_unusable", "arguments_schema"}, [str(f) for f in findings]


def test_the_text_shortcut_only_skips_what_cannot_hold_a_lone_surrogate() -> None:
    rec = good()
    rec["messages"][1]["content"] = "Paris \udc80"
    text = json.dumps(rec)  # the escape "\udc80" is in the text
    assert "invalid_unicode" in [f.code for f in check_record(rec, text=text)[1]]
    assert "invalid_unicode" in [f.code for f in check_record(rec)[1]]


def test_a_conversation_opening_with_answered_calls_is_refused_as_mistral_common_refuses_it() -> None:
    record = dict(next(r for c, r in CASES if c == "opens_with_calls"))
    assert "opens_with_calls" in [f.code for f in check_record(record)[1] if f.severity == "error"]
    with pytest.raises(Exception, match="function calls and responses"):
        encode(record)
    text_first = {**record, "messages": [{"role": "assistant", "content": "Hello"}, *record["messages"][1:]][:1] + [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes?"}]}
    assert "opens_with_calls" not in [f.code for f in check_record(text_first)[1]]
    assert encode(text_first)  # an opening text turn is only the warning: mistral-common encodes it


_OLD_RESIDUE = r"<\|endoftext\|>|<functioncall>|(?:^|\n)\s*(?:USER|ASSISTANT|FUNCTION RESPONSE|SYSTEM):"


@given(st.lists(st.sampled_from(["\n", " ", "\r", "\t", "\u2028", "\x1c", "a", "USER:", "SYSTEM:", "ASSISTANT", ":", "<functioncall>"]), max_size=12).map("".join))
@settings(max_examples=500)
def test_the_residue_pattern_finds_what_the_quadratic_one_found(text: str) -> None:
    import re

    from fcdata.validate import _RESIDUE_RE

    assert bool(_RESIDUE_RE.search(text)) == bool(re.search(_OLD_RESIDUE, text))


def test_a_long_whitespace_run_before_a_marker_is_checked_in_linear_time() -> None:
    """120 kB of newlines and one `USER:` took 24 s (quadratic backtracking); 200k newlines would take
    minutes. The check must still find a marker at a line start after them."""
    rec = good()
    rec["messages"][4]["content"] = "a" + "\n" * 200_000 + "x USER: no"
    assert "conversion_residue" not in [f.code for f in check_record(rec)[1]]
    rec["messages"][4]["content"] = "a" + "\n" * 200_000 + "  USER: yes"
    assert "conversion_residue" in [f.code for f in check_record(rec)[1]]
