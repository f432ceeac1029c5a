"""The canonical record model and its committed JSON Schema files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

import fcdata.schemas as schemas
from fcdata.cli.main import cli
from fcdata.records import ChatRecord, TextRecord, arguments_as_object, parse_record, record_to_obj

ROOT = Path(__file__).resolve().parent.parent

RECORD = {
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": {"z": 1, "a": 2}}}]},
        {"role": "tool", "tool_call_id": "abcdefghi", "content": "ok"},
        {"role": "assistant", "content": "done", "weight": 0},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object", "properties": {"z": {}, "a": {}}}}}],
    "metadata": {"source_file": "x", "anything": [1, {"b": 2}]},
}


def test_round_trip_keeps_the_key_order_that_reaches_tokens() -> None:
    rec = parse_record(RECORD)
    assert isinstance(rec, ChatRecord)
    obj = record_to_obj(rec)
    assert obj == RECORD
    # arguments and parameters keep the input order (json.dumps of them is part of the prompt)
    assert list(obj["messages"][1]["tool_calls"][0]["function"]["arguments"]) == ["z", "a"]
    assert list(obj["tools"][0]["function"]["parameters"]["properties"]) == ["z", "a"]
    # message fields come out in the model's order, whatever the input order
    assert list(obj["messages"][2]) == ["role", "content", "tool_call_id"]


def test_text_record() -> None:
    assert isinstance(parse_record({"text": "abc"}), TextRecord)


@pytest.mark.parametrize("bad", [
    {"messages": [{"role": "user", "content": 1}]},
    {"messages": [{"role": "user", "content": "x", "name": "bob"}]},
    {"messages": [{"role": "assistant", "content": "x", "weight": 0.5}]},
    {"messages": [], "extra": 1},
    {"messages": [{"role": "tool", "content": "x", "tool_call_id": 5}]},
])
def test_strict_shape(bad: dict) -> None:
    with pytest.raises(ValidationError):
        parse_record(bad)


def test_arguments_as_object() -> None:
    assert arguments_as_object('{"a": 1}') == {"a": 1}
    assert arguments_as_object("not json") == "not json"
    assert arguments_as_object({"a": 1}) == {"a": 1}


def test_committed_schema_files_match_the_models() -> None:
    for name, text in schemas.generate().items():
        committed = (ROOT / "schemas" / f"{name}.json").read_text(encoding="utf-8")
        assert committed == text, f"schemas/{name}.json is stale: run `fcdata schema --write schemas/`"


def test_schemas_accept_valid_and_reject_invalid_records() -> None:
    schema = schemas.load("record")
    jsonschema.validate(RECORD, schema)
    jsonschema.validate({"text": "x"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"messages": [{"role": "human", "content": "x"}]}, schema)
    jsonschema.validate(RECORD["tools"][0], schemas.load("tool"))
    jsonschema.validate(RECORD["messages"][1], schemas.load("message"))


def test_schema_command_prints_the_shipped_files() -> None:
    r = CliRunner().invoke(cli, ["schema", "tool"])
    assert r.exit_code == 0
    assert json.loads(r.output) == schemas.load("tool")
    r = CliRunner().invoke(cli, ["schema"])
    assert set(json.loads(r.output)) == {"record", "message", "tool"}
    assert CliRunner().invoke(cli, ["schema", "nope"]).exit_code == 2


@pytest.mark.parametrize("weight", [0, 1, 0.0, 1.0, None, True, False, 2, 0.5, "1"])
def test_the_model_and_the_schema_file_agree_on_weight(weight: object) -> None:
    """`weight: true` was taken for 1 by the model (Pydantic's Literal accepts a bool as an int) but
    refused by schemas/record.json; both must give the same verdict on every value."""
    rec = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "weight": weight}]}
    try:
        jsonschema.validate(rec, schemas.load("record"))
        schema_ok = True
    except jsonschema.ValidationError:
        schema_ok = False
    try:
        parse_record(rec)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert model_ok == schema_ok
    assert model_ok == (weight in (0, 1, None) and not isinstance(weight, bool))
