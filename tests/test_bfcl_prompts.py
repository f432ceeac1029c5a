"""BFCL questions as Mistral prompts: tools mapped as BFCL's Mistral FC handler maps them, canonical
records, and the prompt token ids against mistral-common's encoder."""

from __future__ import annotations

import copy
import json
import os
import re
from functools import lru_cache
from typing import Any

import jsonschema
import pytest

from fcdata.records import parse_record
from fcdata.score.bfcl import UnsupportedQuestion
from fcdata.score.bfcl_prompts import bfcl_record, bfcl_tools, iter_bfcl_prompts

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
HINT = " Note that the provided function is in Python 3 syntax."


@pytest.fixture(scope="module")
def all_questions(shared_data: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for category in CATEGORIES:
        with open(shared_data / "bfcl" / f"BFCL_v3_{category}.json", encoding="utf-8") as fh:
            for line in fh:
                q = json.loads(line)
                out[q["id"]] = q
    return out


# Expected tools written from bfcl_eval/model_handler/utils.py (cd9429cc): func_doc_language_specific_
# pre_processing appends the Python hint to each description; convert_to_tool(..., ModelStyle.Mistral)
# replaces "." in names; _cast_to_openai_type maps types through GORILLA_TO_OPENAPI, and for "float"
# adds "format": "float" (after the existing keys) and " This is a float type value." to the
# description -- top-level properties only; array items get only the type mapping.


def test_float_any_and_dotted_names(all_questions: dict[str, Any]) -> None:
    (tool,) = bfcl_tools(all_questions["simple_109"]["function"])
    assert tool == {
        "type": "function",
        "function": {
            "name": "random_forest_train",
            "description": "Train a Random Forest Model on given data" + HINT,
            "parameters": {
                "type": "object",
                "properties": {
                    "n_estimators": {"type": "integer", "description": "The number of trees in the forest."},
                    "max_depth": {"type": "integer", "description": "The maximum depth of the tree."},
                    "data": {"type": "string", "description": "The training data for the model."},
                },
                "required": ["n_estimators", "max_depth", "data"],
            },
        },
    }
    grocery = bfcl_tools(all_questions["multiple_39"]["function"])[0]["function"]["parameters"]["properties"]["max_delivery_cost"]
    assert json.dumps(grocery) == json.dumps({"type": "number", "description": "The maximum delivery cost. It is optional. Default 1000000 This is a float type value.", "format": "float"})


def test_tuple_items_and_nested_dicts(all_questions: dict[str, Any]) -> None:
    props = bfcl_tools(all_questions["simple_83"]["function"])[0]["function"]["parameters"]["properties"]
    assert props["coord1"] == {"type": "array", "description": "The first coordinate as (latitude, longitude).", "items": {"type": "number"}}
    nested = bfcl_tools(all_questions["simple_89"]["function"])[0]["function"]["parameters"]["properties"]["conditions"]
    assert nested["type"] == "object"
    assert nested["properties"]["department"] == {"type": "string", "description": "The name of the department of students."}


def test_input_is_not_modified_and_mapping_can_be_off(all_questions: dict[str, Any]) -> None:
    functions = all_questions["simple_109"]["function"]
    before = copy.deepcopy(functions)
    assert bfcl_tools(functions, underscore_to_dot=False)[0]["function"]["name"] == "random_forest.train"
    assert functions == before


def test_every_question_becomes_a_valid_canonical_record(all_questions: dict[str, Any]) -> None:
    meta = jsonschema.Draft7Validator(jsonschema.Draft7Validator.META_SCHEMA)  # built once: check_schema per call is slow
    names = set()
    for qid, q in all_questions.items():
        record = bfcl_record(q)
        parse_record(record)  # the canonical model accepts it
        assert record["metadata"] == {"id": qid, "category": qid.rsplit("_", 1)[0], "source": "bfcl"}
        assert record["messages"] == q["question"][0]
        for tool in record["tools"]:
            function = tool["function"]
            if function["name"] not in names:
                assert list(meta.iter_errors(function["parameters"])) == [], (qid, function["name"])
            names.add(function["name"])
            assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", function["name"]), (qid, function["name"])
            assert function["description"].endswith(HINT)
            types = re.findall(r'"type": "([^"]+)"', json.dumps(function["parameters"]))
            assert set(types) <= {"object", "string", "integer", "number", "boolean", "array"}, (qid, set(types))
    assert len(all_questions) == 1240 and len(names) == 978


def test_refusals() -> None:
    with pytest.raises(ValueError, match="turns"):
        bfcl_record({"id": "simple_1", "question": [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]], "function": []})
    with pytest.raises(UnsupportedQuestion, match="java"):
        bfcl_record({"id": "java_1", "question": [[{"role": "user", "content": "a"}]], "function": []})
    with pytest.raises(ValueError, match="role"):
        bfcl_record({"id": "simple_1", "question": [[{"role": "robot", "content": "a"}]], "function": []})


@lru_cache(maxsize=1)
def mistral_v3_test_mode() -> Any:
    import mistral_common
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    path = os.path.join(os.path.dirname(mistral_common.__file__), "data", "mistral_instruct_tokenizer_240323.model.v3")
    return MistralTokenizer.from_file(path, mode=ValidationMode.test)


def mistral_common_prompt_ids(record: dict[str, Any]) -> list[int]:
    """The ids mistral-common encodes at inference (non-finetuning mode: the request ends on a user turn)."""
    from mistral_common.protocol.instruct.request import ChatCompletionRequest

    request = ChatCompletionRequest(messages=record["messages"], tools=record["tools"])
    return list(mistral_v3_test_mode().encode_chat_completion(request).tokens)


def sample(all_questions: dict[str, Any]) -> list[dict[str, Any]]:
    return [bfcl_record(q) for i, q in enumerate(all_questions.values()) if i % 5 == 0]


def test_mistral_common_accepts_the_prompts(all_questions: dict[str, Any]) -> None:
    for record in sample(all_questions):
        ids = mistral_common_prompt_ids(record)
        assert ids[0] == 1 and ids[-1] == 4  # <s> ... [/INST]
        assert ids.count(6) == 1 and ids.count(7) == 1  # one [AVAILABLE_TOOLS] block


def test_render_prompt_matches_mistral_common(all_questions: dict[str, Any]) -> None:
    from fcdata.score.bfcl_prompts import bfcl_prompt_ids

    for record in sample(all_questions):
        assert bfcl_prompt_ids(record) == mistral_common_prompt_ids(record), record["metadata"]["id"]


def test_iter_prompts_reports_bad_lines(tmp_path: Any, shared_data: Any) -> None:
    path = tmp_path / "q.jsonl"
    with open(shared_data / "bfcl" / "BFCL_v3_simple.json", encoding="utf-8") as fh:
        first = fh.readline()
    path.write_text(first + "{not json\n" + json.dumps({"id": "java_2", "question": [[]], "function": []}) + "\n", encoding="utf-8")
    results = list(iter_bfcl_prompts([path]))
    assert [r.record is not None for r in results] == [True, False, False]
    assert [r.item.line for r in results] == [1, 2, 3]
    assert "not JSON" in (results[1].error or "") and "java" in (results[2].error or "")


@pytest.mark.parametrize("content", ["", "[]\n"])
def test_an_empty_question_file_is_a_finding(tmp_path, content) -> None:
    """The one rule for empty inputs (README): `bfcl-prompts` wrote 0 prompts and exited 0."""
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    questions = tmp_path / "q.json"
    questions.write_text(content)
    res = CliRunner().invoke(cli, ["bfcl-prompts", str(questions), "-o", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 1 and "no prompt was written" in res.output, res.output
