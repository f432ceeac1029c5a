"""Each quirk of the published formats, reproduced on a small record written for the test (the real rows
are in tests/test_convert_published.py): the repair or rejection docs/convert.md names for it. Also the
type reader every format and the scorer share (fcdata.schema_types), and the Python call syntax reader
(fcdata.convert.pycall), with property tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcdata.convert import Converted, Rejected, convert_records
from fcdata.convert.pycall import read_python_calls
from fcdata.schema_check import schema_check
from fcdata.schema_types import GORILLA_TO_OPENAPI, NO_DEFAULT, json_type, normalise_schema, read_type
from fcdata.validate import check_record

WEATHER = {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
USER = {"role": "user", "content": "Weather in Paris?"}


def _one(record: Any, fmt: str | None = None) -> Converted | Rejected:
    [out] = convert_records([record], fmt)
    if isinstance(out, Converted):
        assert [str(f) for f in check_record(out.record)[1] if f.severity == "error"] == []
        assert json.dumps(out.record, ensure_ascii=False) == out.line
    return out


def _hermes(system: str, gpt: str, tool: str | None = None) -> dict[str, Any]:
    conv = [{"from": "system", "value": system}, {"from": "human", "value": "Weather in Paris?"}, {"from": "gpt", "value": gpt}]
    if tool is not None:
        conv += [{"from": "tool", "value": tool}, {"from": "gpt", "value": "It is sunny."}]
    return {"conversations": conv}


HERMES_SYSTEM = "You are a function calling AI model. <tools> </tools> XML tags.\n<tools>\n[{'type': 'function', 'function': " + repr(WEATHER) + "}]\n</tools>\nFor each function call return a json object within <tool_call> </tool_call> tags:\n<tool_call>\n{'arguments': <args-dict>, 'name': <function-name>}\n</tool_call>\n"
CALL_TEXT = "<tool_call>\n{'arguments': {'city': 'Paris'}, 'name': 'get_weather'}\n</tool_call>\n"
XLAM_TOOLS = [{"name": "get_weather", "description": "Weather.", "parameters": {"city": {"description": "City.", "type": "str", "default": ""}, "days": {"description": "Days.", "type": "int, optional", "default": 3}}}]



def _toolalpaca(steps: list[tuple[str, str]], parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A ToolAlpaca evaluation row with one instruction (so one record) and an OpenAPI document."""
    params = parameters if parameters is not None else [
        {"name": "city", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "unit", "in": "query", "required": False, "schema": {"type": "string", "enum": ["C", "F"]}},
    ]
    doc = {"openapi": "3.0.0", "paths": {"/weather": {"get": {"operationId": "getWeather", "description": "Weather.", "parameters": params}}}}
    return {"Name": "Weather", "Documentation": json.dumps(doc), "Instructions": ["Weather in Paris and Rome?"],
            "Golden_Answers": [[{"Action": a, "Action_Input": i} for a, i in steps]]}


# quirk -> (record, format or None, the repairs expected among the record's, or the rejection code)
QUIRKS: dict[str, tuple[Any, str | None, list[str] | str]] = {
    # Hermes
    "hermes_tools_block_python_repr": (_hermes(HERMES_SYSTEM, CALL_TEXT), None, ["tools_python_literal", "tools_from_system_prompt", "format_instructions_dropped", "tool_call_tags_parsed", "call_python_literal"]),
    "hermes_tool_response_envelope": (_hermes(HERMES_SYSTEM, CALL_TEXT, '<tool_response>\n{"name": "get_weather", "content": {"temp": 21}}\n</tool_response>\n'), None, ["tool_response_tags_removed", "tool_result_envelope_unwrapped"]),
    "hermes_tool_response_python_literal": (_hermes(HERMES_SYSTEM, CALL_TEXT, "<tool_response>\n{'name': 'get_weather', 'content': {'temp': 21, 'sunny': True}}\n</tool_response>\n"), None, ["tool_response_tags_removed", "tool_result_envelope_unwrapped", "tool_result_python_literal"]),
    "hermes_literal_backslash_n": (_hermes(HERMES_SYSTEM, '<tool_call>\\n{"name": "get_weather", "arguments": {"city": "Paris"}}\\n</tool_call>'), None, ["literal_newlines_removed", "tool_call_tags_parsed"]),
    "hermes_name_inside_arguments": (_hermes(HERMES_SYSTEM, '<tool_call>{"arguments": {"city": "Paris", "name": "get_weather"}}</tool_call>'), None, "call_markup_text"),
    "hermes_bare_turn_list": (_hermes(HERMES_SYSTEM, CALL_TEXT)["conversations"], None, ["bare_conversation_wrapped", "tool_call_tags_parsed"]),
    "hermes_tools_block_not_literal": (_hermes("<tools>\n[{not: python}]\n</tools>", CALL_TEXT), None, "tool_declaration_not_json"),
    # Hammer (alpaca rows with sections)
    "hammer_sections_and_fenced_calls": (
        {"instruction": "[BEGIN OF TASK INSTRUCTION]\nYou are a tool calling assistant.\n[END OF TASK INSTRUCTION]\n\n[BEGIN OF AVAILABLE TOOLS]\n" + json.dumps(XLAM_TOOLS) + "\n[END OF AVAILABLE TOOLS]\n\n[BEGIN OF FORMAT INSTRUCTION]\nThe output MUST strictly adhere to the following JSON format.\n[END OF FORMAT INSTRUCTION]\n\n[BEGIN OF QUERY]\nWeather in Paris?\n[END OF QUERY]\n",
         "input": "", "output": '```\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]\n```'},
        None,
        ["parameters_schema_built", "tools_from_instruction", "format_instructions_dropped", "call_list_fence_removed"],
    ),
    # ToolACE
    "toolace_tools_in_system_and_python_calls": (
        {"system": "You are an expert in composing functions. Here is a list of functions in JSON format that you can invoke:\n" + json.dumps([{**WEATHER, "name": "Get Weather", "parameters": {"type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]) + "\nShould you decide to return the function call(s), Put it in the format of [func1(params_name=params_value)]",
         "conversations": [{"from": "user", "value": "Weather in Paris?"}, {"from": "assistant", "value": '[Get Weather(city="Paris")]'}, {"from": "tool", "value": '[{"name": "Get Weather", "results": {"temp": 21}}]'}, {"from": "assistant", "value": "It is 21 degrees."}]},
        None,
        ["tools_from_system_prompt", "format_instructions_dropped", "python_call_syntax_parsed", "tool_result_envelope_unwrapped", "function_name_sanitized", "schema_types_normalised"],
    ),
    "toolace_positional_arguments": ({"system": "Functions:\n" + json.dumps([WEATHER]), "conversations": [{"from": "user", "value": "Weather?"}, {"from": "assistant", "value": '[get_weather("Paris")]'}]}, None, "call_positional_arguments"),
    "toolace_empty_call_list": ({"system": "Functions:\n" + json.dumps([WEATHER]), "conversations": [{"from": "user", "value": "Weather?"}, {"from": "assistant", "value": "[]"}]}, None, "empty_call_list"),
    # xLAM
    "xlam_flat_parameters": ({"query": "Weather in Paris?", "tools": json.dumps(XLAM_TOOLS), "answers": json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}}])}, None, ["parameters_schema_built"]),
    "xlam_irrelevance_row": ({"query": "Tell me a joke.", "tools": json.dumps(XLAM_TOOLS), "answers": "[]"}, None, "empty_call_list"),
    "xlam_default_as_text": ({"query": "q", "tools": [{"name": "f", "parameters": {"n": {"type": "int", "default": "250"}}}], "answers": [{"name": "f", "arguments": {}}]}, None, ["parameters_schema_built", "default_coerced"]),
    "xlam_default_of_wrong_type": ({"query": "q", "tools": [{"name": "f", "parameters": {"ids": {"type": "List[int]", "default": "static"}, "x": {"type": "str"}}}], "answers": [{"name": "f", "arguments": {"x": "a"}}]}, None, ["parameters_schema_built", "default_dropped"]),
    "xlam_empty_default": ({"query": "q", "tools": [{"name": "f", "parameters": {"q": {"type": "str", "default": ""}, "n": {"type": "int, optional", "default": None}}}], "answers": [{"name": "f", "arguments": {"q": "x"}}]}, None, ["parameters_schema_built", "empty_default_dropped"]),
    "xlam_int_with_fraction_default": ({"query": "q", "tools": [{"name": "f", "parameters": {"lat": {"type": "int", "default": 46.95828}}}], "answers": [{"name": "f", "arguments": {"lat": 40.7}}]}, None, ["parameters_schema_built", "integer_type_widened"]),
    "xlam_unknown_type": ({"query": "q", "tools": [{"name": "f", "parameters": {"cb": {"type": "Callable[[int], str]"}}}], "answers": [{"name": "f", "arguments": {}}]}, None, "schema_invalid"),
    # When2Call
    "when2call_sft_toolcall_tags": ({"tools": [{"name": "get_weather", "description": "W.", "parameters": {"type": "dict", "properties": {"city": {"type": "str"}}}, "required": ["city"]}], "messages": [USER, {"role": "assistant", "content": '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</TOOLCALL>'}]}, None, ["tool_wrapped", "schema_types_normalised", "required_moved_into_parameters", "toolcall_tags_parsed"]),
    "when2call_preference": ({"tools": [WEATHER], "messages": [USER], "chosen_response": {"role": "assistant", "content": "Which city?"}, "rejected_response": {"role": "assistant", "content": "<TOOLCALL>[]</TOOLCALL>"}}, None, ["preference_chosen_as_target"]),
    "when2call_mcq": ({"uuid": "u1", "question": "Weather in Paris?", "correct_answer": "tool_call", "answers": {"tool_call": json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}}), "cannot_answer": "I can't."}, "tools": [json.dumps(WEATHER)]}, None, ["mcq_answer_as_reference", "tool_declarations_decoded"]),
    "when2call_mcq_unknown_option": ({"question": "q", "correct_answer": "maybe", "answers": {"direct": "x"}, "tools": []}, None, "bad_value"),
    # LLaMA-Factory v1 and OpenAI variants
    "v1_typed_parts": ({"messages": [{"role": "user", "content": [{"type": "text", "value": "Weather in Paris?"}], "loss_weight": 0.0}, {"role": "assistant", "content": [{"type": "reasoning", "value": "Call it."}, {"type": "tool_call", "value": json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})}], "loss_weight": 1.0}], "tools": json.dumps([{"type": "function", "function": WEATHER}])}, None, ["tools_json_string", "content_parts_joined", "reasoning_dropped", "tool_call_parts_read"]),
    "v1_loss_weight_zero": ({"messages": [{"role": "user", "content": [{"type": "text", "value": "Hi"}]}, {"role": "assistant", "content": [{"type": "text", "value": "Hello"}], "loss_weight": 0.0}, {"role": "user", "content": [{"type": "text", "value": "Bye"}]}, {"role": "assistant", "content": [{"type": "text", "value": "Bye!"}]}]}, None, ["loss_weight_as_weight"]),
    "v1_user_loss_weight": ({"messages": [{"role": "user", "content": [{"type": "text", "value": "Hi"}], "loss_weight": 1.0}, {"role": "assistant", "content": [{"type": "text", "value": "Hello"}]}]}, None, ["loss_weight_dropped"]),
    "v1_fractional_loss_weight": ({"messages": [{"role": "user", "content": [{"type": "text", "value": "Hi"}]}, {"role": "assistant", "content": [{"type": "text", "value": "Hello"}], "loss_weight": 0.5}]}, None, "bad_value"),
    "openai_reasoning_content": ({"messages": [USER, {"role": "assistant", "content": "It is sunny.", "reasoning_content": "The user wants the weather."}]}, None, ["reasoning_dropped"]),
    "openai_reasoning_separator": ({"messages": [USER, {"role": "assistant", "content": "\n\nIt is sunny.", "reasoning_content": "The user wants the weather."}]}, None, ["reasoning_dropped", "reasoning_separator_stripped"]),
    "reasoning_stray_closing_tag": ({"messages": [USER, {"role": "assistant", "content": "It is sunny.\n</think>"}]}, None, ["stray_reasoning_tag_removed"]),
    "reasoning_block_in_reply_text": ({"messages": [USER, {"role": "assistant", "content": "<think>The user wants the weather.</think>\n\nIt is sunny."}]}, None, ["reasoning_dropped"]),
    "reasoning_tags_inside_reply": ({"messages": [USER, {"role": "assistant", "content": "It is sunny.\n<think>Or rainy?</think>\nIt is rainy."}]}, None, "reasoning_markup_text"),
    "tools_json_text_duplicate_key": ({"tools": '[{"type": "function", "function": {"name": "get_weather", "description": "Weather", "description": "Forecast", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]', "messages": [USER, {"role": "assistant", "content": "Sunny."}]}, None, "json_duplicate_key"),
    "tool_result_object_duplicate_key": ({"tools": [{"type": "function", "function": WEATHER}], "messages": [USER, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}, {"role": "tool", "content": '{"temp": 21, "temp": 12}'}, {"role": "assistant", "content": "21."}]}, None, "json_duplicate_key"),
    "python_literal_arguments_duplicate_key": ({"tools": [{"type": "function", "function": WEATHER}], "messages": [USER, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": "{'city': 'Paris', 'city': 'Rome'}"}}]}, {"role": "tool", "content": "21"}, {"role": "assistant", "content": "21."}]}, None, "arguments_duplicate_key"),
    "tool_result_list_duplicate_key": (
        {"tools": [{"type": "function", "function": WEATHER}], "messages": [USER, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}, {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]}, {"role": "tool", "content": '[{"name": "get_weather", "content": {"temp": 21, "temp": 12}}, {"name": "get_weather", "content": "25"}]'}, {"role": "assistant", "content": "21 and 25."}]},
        None,
        "json_duplicate_key",
    ),
    "openai_tools_as_json_text": ({"tools": json.dumps([{"type": "function", "function": WEATHER}]), "messages": [USER, {"role": "assistant", "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}]}, None, ["tools_json_string"]),
    "openai_list_results_for_parallel_calls": (
        {"tools": [{"type": "function", "function": WEATHER}], "messages": [USER, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}, {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]}, {"role": "tool", "content": json.dumps([{"name": "get_weather", "content": "21"}, {"name": "get_weather", "content": "25"}])}, {"role": "assistant", "content": "21 and 25."}]},
        None,
        ["observation_list_split", "tool_result_envelope_unwrapped"],
    ),
    # ComplexFuncBench / APIGen-MT shapes of ShareGPT
    "complexfuncbench_function_call_lists": (
        {"functions": [WEATHER], "conversations": [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "function_call": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}, {"role": "observation", "content": [{"temp": 21}]}, {"role": "assistant", "content": "21 degrees."}]},
        None,
        ["observation_content_encoded"],
    ),
    # trajectories
    "tau_bench_traj": ({"task_id": 3, "reward": 1.0, "info": {"task": {}}, "tools": [{"type": "function", "function": WEATHER}], "traj": [USER, {"role": "assistant", "content": "Sunny."}]}, None, []),
    "toolbench_search_steps": ({"answer_generation": {"function": [WEATHER], "train_messages": [[USER, {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}], [USER, {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}, {"role": "function", "name": "get_weather", "content": "21"}, {"role": "assistant", "content": "21."}]]}}, None, ["trajectory_last_path_kept", "legacy_functions", "legacy_function_call", "legacy_function_role"]),
    "toolbench_invalid_search": ({"answer_generation": {"valid_data": False, "function": [WEATHER]}}, None, "missing_field"),
    # OpenAI Responses API requests (Nemotron RL rows as NeMo Gym ships them)
    "responses_gym_expected_action": (
        {"responses_create_params": {"input": [{"type": "message", "role": "user", "content": "Weather in Paris?"}], "tools": [{"type": "function", "strict": True, **WEATHER}]},
         "expected_action": {"type": "function_call", "name": "get_weather", "arguments": '{"city": "Paris"}'}},
        None,
        ["responses_tools_nested", "expected_action_as_reply"],
    ),
    "responses_text_input_easy_items": ({"model": "m", "instructions": "Be brief.", "input": "Weather in Paris?", "tools": [{"type": "function", **WEATHER}], "expected_action": {"type": "function_call", "name": "get_weather", "arguments": '{"city": "Paris"}'}}, None, ["text_input_as_user", "instructions_as_system", "responses_tools_nested"]),
    "responses_easy_form_under_gym_params": ({"responses_create_params": {"input": [{"role": "user", "content": "Weather in Paris?"}], "tools": [{"type": "function", **WEATHER}]}, "expected_action": {"type": "function_call", "name": "get_weather", "arguments": '{"city": "Paris"}'}}, None, ["expected_action_as_reply"]),
    "responses_expected_action_after_a_reply": ({"responses_create_params": {"input": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}, "expected_action": {"type": "message", "content": "Hi again."}}, None, "bad_value"),
    "responses_instructions": ({"instructions": "Be brief.", "input": [{"type": "message", "role": "user", "content": "Hi"}, {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello."}]}]}, None, ["instructions_as_system", "content_parts_joined"]),
    # ToolAlpaca evaluation rows
    "toolalpaca_independent_steps_are_parallel_calls": (_toolalpaca([("getWeather", '{"city": "Paris", "unit": ""}'), ("getWeather", '{"city": "Rome"}')]), None, ["openapi_operations_as_tools", "empty_optional_argument_dropped"]),
    "toolalpaca_another_action_ends_the_turn": (_toolalpaca([("getWeather", '{"city": "Paris"}'), ("reportWeather", '{"city": "Paris"}')]), None, ["openapi_operations_as_tools", "later_steps_dropped"]),
    "toolalpaca_get_details_then_a_dependent_step": (_toolalpaca([("getDetails", '{"Question": "Which city?"}'), ("getWeather", '{"city": ${city from getDetails}}')]), None, ["get_details_as_question", "later_steps_dropped"]),
    "toolalpaca_placeholder_in_the_first_call": (_toolalpaca([("getWeather", '{"city": ${a city}}')]), None, "argument_placeholder"),
    "toolalpaca_ref_outside_the_document": (_toolalpaca([("getWeather", '{"city": "Paris"}')], [{"$ref": "other.json#/parameters/city"}]), None, "openapi_ref_unresolved"),
    # Gorilla
    "gorilla_api_call_name": ({"question": "Weather in Paris?", "function": {"name": "Weather Finder", "api_call": "weather.get", "description": "W.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}, "model_answer": 'weather.get(city="Paris")'}, None, ["api_call_as_name", "function_name_sanitized", "python_call_syntax_parsed"]),
    "gorilla_bare_word_value": ({"question": "q", "function": {"name": "T", "api_call": "t.order", "parameters": {"type": "object", "properties": {"loc": {"type": "string"}}}}, "model_answer": "t.order(loc=Berkeley)"}, None, "arguments_not_json"),
}


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_each_quirk_is_repaired_or_rejected_as_documented(quirk: str) -> None:
    record, fmt, expect = QUIRKS[quirk]
    out = _one(record, fmt)
    if isinstance(expect, str):
        assert isinstance(out, Rejected) and out.codes[0] == expect, (quirk, out)
    else:
        assert isinstance(out, Converted), (quirk, out.reasons if isinstance(out, Rejected) else None)
        assert set(expect) <= set(out.repairs), (quirk, out.repairs)


def test_every_new_code_has_a_quirk_case() -> None:
    from fcdata.convert.codes import REJECTIONS, REPAIRS

    seen: set[str] = set()
    for record, fmt, expect in QUIRKS.values():
        seen |= {expect} if isinstance(expect, str) else set(expect)
    new = set(list(REPAIRS)[list(REPAIRS).index("tool_call_tags_parsed") :]) - {"observation_list_split"}
    new |= {"empty_call_list", "call_positional_arguments"}
    assert new - seen - {"toolcall_tags_parsed", "tool_calls_text_parsed", "functioncall_text_parsed"} == set(), "covered in tests/test_call_markup.py"
    assert {"empty_call_list", "call_positional_arguments"} <= set(REJECTIONS)


def test_reasoning_is_kept_in_metadata_and_not_trained() -> None:
    record, _, _ = QUIRKS["openai_reasoning_content"]
    out = _one(record)
    assert isinstance(out, Converted)
    assert out.record["messages"][1] == {"role": "assistant", "content": "It is sunny."}
    assert out.record["metadata"]["reasoning"] == [{"message": 1, "text": "The user wants the weather."}]


def test_when2call_preference_keeps_the_pair_and_mcq_its_id() -> None:
    pref = _one(QUIRKS["when2call_preference"][0])
    assert isinstance(pref, Converted) and pref.record["messages"][-1] == {"role": "assistant", "content": "Which city?"}
    assert set(pref.record["metadata"]["preference"]) == {"chosen", "rejected"}
    mcq = _one(QUIRKS["when2call_mcq"][0])
    assert isinstance(mcq, Converted)
    assert (mcq.record["metadata"]["id"], mcq.record["metadata"]["category"]) == ("u1", "tool_call")
    assert mcq.record["messages"][-1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}


# ----------------------------------------------------------------------------------- schema_types


@pytest.mark.parametrize(
    ("text", "schema", "optional", "default"),
    [
        ("str", {"type": "string"}, False, NO_DEFAULT),
        ("str, optional", {"type": "string"}, True, NO_DEFAULT),
        ("List[int]", {"type": "array", "items": {"type": "integer"}}, False, NO_DEFAULT),
        ("Dict[str, Any]", {"type": "object"}, False, NO_DEFAULT),
        ("Dict[str, float]", {"type": "object", "additionalProperties": {"type": "number"}}, False, NO_DEFAULT),
        ("int, default 5", {"type": "integer"}, True, 5),
        ("int, optional, default=10", {"type": "integer"}, True, 10),
        ("str, default 'USD'", {"type": "string"}, True, "USD"),
        ("Optional[str]", {"type": "string"}, True, NO_DEFAULT),
        ("Union[int, str]", {"type": ["integer", "string"]}, False, NO_DEFAULT),
        ("str or int", {"type": ["string", "integer"]}, False, NO_DEFAULT),
        ("Tuple[float, float]", {"type": "array", "items": {"type": "number"}}, False, NO_DEFAULT),
        ("List[Dict[str, Union[str, int]]]", {"type": "array", "items": {"type": "object", "additionalProperties": {"type": ["string", "integer"]}}}, False, NO_DEFAULT),
        ("Literal['a', 'b']", {"enum": ["a", "b"]}, False, NO_DEFAULT),
        ("Any", {}, False, NO_DEFAULT),
        ("list", {"type": "array"}, False, NO_DEFAULT),
    ],
)
def test_read_type(text: str, schema: dict[str, Any], optional: bool, default: Any) -> None:
    expr = read_type(text)
    assert expr is not None and (expr.schema, expr.optional, expr.default) == (schema, optional, default)


@pytest.mark.parametrize("text", ["Callable[[int], str]", "foo", "str, maybe", "List[int", ""])
def test_read_type_refuses_what_it_cannot_read(text: str) -> None:
    assert read_type(text) is None


def test_bfcl_names_are_bfcls_own_table() -> None:
    from fcdata.score import bfcl, bfcl_prompts

    assert bfcl_prompts.GORILLA_TO_OPENAPI is GORILLA_TO_OPENAPI
    assert all(json_type(name, bfcl=True) == mapped for name, mapped in GORILLA_TO_OPENAPI.items())
    assert json_type("int", bfcl=True) is None and json_type("int") == "integer"
    # BFCL's prompt shows "any" as a string; in training data it means any value
    assert json_type("any", bfcl=True) == "string" and json_type("any") is None
    assert bfcl.PYTHON_TYPES == {"string": str, "integer": int, "float": float, "boolean": bool, "array": list, "tuple": list, "dict": dict, "any": str}


_TYPE_NAMES = st.sampled_from(["dict", "float", "tuple", "any", "str", "int", "List[int]", "Dict[str, Any]", "string", "object", "bool", "Optional[str]"])


def _schemas(depth: int = 2) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.builds(lambda t, d: {"type": t, **({"description": d} if d else {})}, _TYPE_NAMES, st.one_of(st.none(), st.text(max_size=5)))
    if depth == 0:
        return leaf
    inner = _schemas(depth - 1)
    return st.one_of(leaf, st.builds(lambda props: {"type": "dict", "properties": props}, st.dictionaries(st.text(min_size=1, max_size=4), inner, max_size=3)), st.builds(lambda item: {"type": "array", "items": item}, inner))


@given(_schemas())
def test_normalise_schema_gives_valid_json_schema_without_touching_its_input(schema: dict[str, Any]) -> None:
    before = json.dumps(schema)
    out, changed = normalise_schema(schema)
    assert json.dumps(schema) == before  # declarations are shared: never modified
    assert schema_check(json.dumps(out), out).problem is None
    again, changed_again = normalise_schema(out)
    assert again == out and not changed_again  # idempotent
    assert changed == (out != schema)


# ------------------------------------------------------------------------------------------ pycall

_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=8))
_JSON_VALUES = st.recursive(_JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)), max_leaves=6)
_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}( [A-Za-z0-9]{1,4})?(\.[a-z_]{1,4})?", fullmatch=True)
_KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(lambda k: k not in {"if", "in", "is", "or", "as", "def", "for", "and", "not", "del", "try", "with", "from", "else", "elif", "pass", "None", "True", "False", "while", "yield", "class", "raise", "break", "async", "await", "global", "import", "lambda", "return", "assert", "except", "finally", "continue", "nonlocal"})


@given(st.lists(st.tuples(_NAMES, st.dictionaries(_KEYS, _JSON_VALUES, max_size=3)), min_size=1, max_size=3))
def test_python_calls_round_trip(calls: list[tuple[str, dict[str, Any]]]) -> None:
    text = "[" + ", ".join(f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})" for name, args in calls) + "]"
    read = read_python_calls(text, "value", [])
    assert read is not None and [(c.name, c.arguments) for c in read] == calls


@pytest.mark.parametrize("text", ["plain text", "[Note] see below", "It costs f(x) dollars."])
def test_text_is_not_taken_for_calls(text: str) -> None:
    assert read_python_calls(text, "value", []) is None
