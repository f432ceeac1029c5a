"""BFCL's AST rules, one at a time, on minimal questions.

Every expected verdict is written from a reading of BFCL's source at ShishirPatil/gorilla cd9429cc,
``berkeley-function-call-leaderboard/bfcl_eval/``; the comment on each test names the function and the
lines of logic it follows (``ast_checker.py`` unless said otherwise).
"""

from __future__ import annotations

from typing import Any

import pytest

from fcdata.score.bfcl import (
    BfclResult,
    UnsupportedQuestion,
    category_of,
    check_ast,
    check_call,
    check_decoded,
    check_relevance,
    fcdata_error,
    mapped_name,
    standardize,
)
from fcdata.score.parse import Call, ParsedReply, bfcl_decode_result, parse_reply, reply_from_prediction
from fcdata.score.scoring import score_bfcl

FUNC = {
    "name": "geo.distance",
    "description": "Distance between two cities.",
    "parameters": {
        "type": "dict",
        "properties": {
            "origin": {"type": "string", "description": "From."},
            "destination": {"type": "string", "description": "To."},
            "km": {"type": "float", "description": "Scale."},
            "rounds": {"type": "integer", "description": "Repeats."},
            "exact": {"type": "boolean", "description": "Exact?"},
            "stops": {"type": "array", "items": {"type": "string"}, "description": "Stops."},
            "weights": {"type": "array", "items": {"type": "float"}, "description": "Weights."},
            "point": {"type": "tuple", "items": {"type": "integer"}, "description": "A point."},
            "options": {"type": "dict", "properties": {"mode": {"type": "string"}}, "description": "Options."},
            "legs": {"type": "array", "items": {"type": "dict"}, "description": "Legs."},
            "anything": {"type": "any", "description": "Any."},
        },
        "required": ["origin", "destination"],
    },
}


def answer(**params: list[Any]) -> dict[str, Any]:
    base: dict[str, list[Any]] = {"origin": ["Paris"], "destination": ["Berlin"]}
    base.update(params)
    return {"geo.distance": base}


def check(args: dict[str, Any], ans: dict[str, Any] | None = None, *, name: str = "geo_distance", underscore_to_dot: bool = True) -> BfclResult:
    return check_call(FUNC, {name: args}, ans or answer(), underscore_to_dot=underscore_to_dot)


BASE = {"origin": "Paris", "destination": "Berlin"}


def test_exact_answer_is_valid() -> None:
    assert check(dict(BASE)).valid


# convert_func_name: with underscore_to_dot (every Mistral FC model in model_config.py) the *expected*
# name has '.' replaced by '_' before `func_name not in model_output`.
def test_dotted_name_is_expected_with_underscores() -> None:
    assert check(dict(BASE), name="geo_distance").valid
    assert check(dict(BASE), name="geo.distance").error_type == "simple_function_checker:wrong_func_name"
    assert check(dict(BASE), name="geo.distance", underscore_to_dot=False).valid
    assert check(dict(BASE), name="geo_distance", underscore_to_dot=False).error_type == "simple_function_checker:wrong_func_name"
    assert mapped_name("a.b.c") == "a_b_c" and mapped_name("a.b", False) == "a.b" and mapped_name("a-b") == "a-b"


# simple_function_checker: `for param in required_params: if param not in model_params` -> missing_required
def test_missing_required() -> None:
    assert check({"origin": "Paris"}).error_type == "simple_function_checker:missing_required"


# simple_function_checker: `if param not in param_details or param not in possible_answer` -> unexpected_param;
# a declared parameter that the accepted answer does not list is unexpected too
def test_unexpected_parameter_undeclared_or_unlisted() -> None:
    assert check({**BASE, "zzz": 1}).error_type == "simple_function_checker:unexpected_param"
    assert check({**BASE, "rounds": 2}).error_type == "simple_function_checker:unexpected_param"
    assert check({**BASE, "rounds": 2}, answer(rounds=[2])).valid


# final loop of simple_function_checker: a listed parameter missing from the output is fine only when
# its accepted list holds "" -> otherwise missing_optional
def test_empty_string_means_may_be_omitted() -> None:
    assert check(dict(BASE), answer(rounds=[2, ""])).valid
    assert check(dict(BASE), answer(rounds=[2])).error_type == "simple_function_checker:missing_optional"
    assert check({**BASE, "rounds": 2}, answer(rounds=["", 2])).valid


# "Allow python auto conversion from int to float": an int for a float parameter becomes float(value)
def test_int_accepted_for_float_but_not_float_for_int() -> None:
    assert check({**BASE, "km": 3}, answer(km=[3.0])).valid
    assert check({**BASE, "km": 3.0}, answer(km=[3.0])).valid
    assert check({**BASE, "rounds": 3.0}, answer(rounds=[3])).error_type == "type_error:simple"


# type_checker compares `type(value) == expected_type_converted`: bool is not int and int is not bool
def test_bool_is_not_int() -> None:
    assert check({**BASE, "rounds": True}, answer(rounds=[1])).error_type == "type_error:simple"
    assert check({**BASE, "exact": 1}, answer(exact=[True])).error_type == "type_error:simple"
    assert check({**BASE, "exact": True}, answer(exact=[True])).valid


# the final `value not in possible_answer[param]` uses Python ==, so 3 == 3.0 (already converted)
def test_numbers_compare_with_python_equality() -> None:
    assert check({**BASE, "rounds": 3}, answer(rounds=[3])).valid
    assert check({**BASE, "rounds": 4}, answer(rounds=[3])).error_type == "value_error:others"


# standardize_string: re.sub(r"[ \,\.\/\-\_\*\^]", "", s).lower().replace("'", '"')
def test_string_normalisation() -> None:
    assert standardize("April 1, 2024") == standardize("april 1 2024") == "april12024"
    assert standardize("New-York_City*^./") == "newyorkcity"
    assert standardize("it's") == 'it"s'
    assert standardize("a\tb") == "a\tb"  # only the ASCII space is removed
    assert check({"origin": "PARIS", "destination": "ber-lin"}).valid
    assert check({"origin": "Pariss", "destination": "Berlin"}).error_type == "value_error:string"


# PYTHON_TYPE_MAPPING: "any" is checked as str
def test_any_is_a_string() -> None:
    assert check({**BASE, "anything": "x"}, answer(anything=["x"])).valid
    assert check({**BASE, "anything": 1}, answer(anything=["x"])).error_type == "type_error:simple"


# type_checker, "variable" case: an accepted value of another type than declared (a string for an
# integer) makes values of the accepted type pass the type check; they are then compared exactly
def test_variable_answers_accept_their_own_type() -> None:
    assert check({**BASE, "rounds": "n"}, answer(rounds=["n"])).valid
    assert check({**BASE, "rounds": "N"}, answer(rounds=["n"])).error_type == "value_error:others"  # no normalisation
    assert check({**BASE, "rounds": 3}, answer(rounds=["n"])).error_type == "value_error:others"


# list_checker: string elements standardised, order matters, compared with ==
def test_lists_element_by_element() -> None:
    assert check({**BASE, "stops": ["Lyon", "Bern"]}, answer(stops=[["lyon", "BERN"]])).valid
    assert check({**BASE, "stops": ["Bern", "Lyon"]}, answer(stops=[["Lyon", "Bern"]])).error_type == "value_error:list/tuple"


# type_checker nested branch: elements are type-checked one level deep, without the int->float conversion
def test_nested_element_types() -> None:
    assert check({**BASE, "stops": ["Lyon", 3]}, answer(stops=[["Lyon", "x"]])).error_type == "type_error:nested"
    # answer elements are floats: an int element fails (no conversion inside lists)
    assert check({**BASE, "weights": [1, 2.0]}, answer(weights=[[1.0, 2.0]])).error_type == "type_error:nested"
    # answer elements are ints: int elements are a "variable" of the accepted type and pass
    assert check({**BASE, "weights": [1, 2]}, answer(weights=[[1, 2]])).valid


# type_checker nested branch: an accepted entry that is not a list (the optional "") lets any element
# types through (`flag` stays True); and list_checker walks "" as [] so [] matches an optional list
def test_optional_list_oddities() -> None:
    assert check({**BASE, "stops": [1, 2]}, answer(stops=[["a"], ""])).error_type == "value_error:list/tuple"
    assert check({**BASE, "stops": []}, answer(stops=[["a"], ""])).valid


# tuple: PYTHON_TYPE_MAPPING maps it to list (JSON has no tuples)
def test_tuple_is_a_list() -> None:
    assert check({**BASE, "point": [1, 2]}, answer(point=[[1, 2]])).valid


# dict_checker: keys of the output must be accepted keys, values standardised and in the accepted
# list; accepted keys missing from the output must have "" in their list
def test_dict_checker() -> None:
    accepted = [{"mode": ["Fast", "quick"]}]
    assert check({**BASE, "options": {"mode": "FAST"}}, answer(options=accepted)).valid
    assert check({**BASE, "options": {"mode": "slow"}}, answer(options=accepted)).error_type == "value_error:dict_value"
    assert check({**BASE, "options": {"speed": 1}}, answer(options=accepted)).error_type == "value_error:dict_key"
    assert check({**BASE, "options": {}}, answer(options=accepted)).error_type == "value_error:dict_key"
    assert check({**BASE, "options": {}}, answer(options=[{"mode": ["fast", ""]}])).valid


# dict_checker skips accepted entries equal to "": a dict given where the only accepted value is ""
# ends with the initial result, dict_checker:unclear
def test_dict_for_omit_only_parameter() -> None:
    assert check({**BASE, "options": {"mode": "x"}}, answer(options=[""])).error_type == "dict_checker:unclear"


# list_dict_checker: same length as an accepted list, each dict checked by dict_checker at its position
def test_list_of_dicts() -> None:
    accepted = [[{"to": ["Lyon"]}, {"to": ["Bern"]}]]
    assert check({**BASE, "legs": [{"to": "lyon"}, {"to": "bern"}]}, answer(legs=accepted)).valid
    assert check({**BASE, "legs": [{"to": "bern"}, {"to": "lyon"}]}, answer(legs=accepted)).error_type == "value_error:dict_value"
    assert check({**BASE, "legs": [{"to": "lyon"}]}, answer(legs=accepted)).error_type == "value_error:list_dict_count"


SECOND = {
    "name": "geo.time",
    "description": "Time.",
    "parameters": {"type": "dict", "properties": {"city": {"type": "string", "description": "City."}}, "required": ["city"]},
}


# ast_checker dispatch: "parallel" in the category -> parallel_function_checker_no_order; "multiple" ->
# multiple_function_checker; else simple (one output call, against the FIRST declared function)
def test_category_dispatch_and_counts() -> None:
    gt = [answer()]
    one = [{"geo_distance": dict(BASE)}]
    assert check_ast([FUNC], one, gt, "simple").valid
    assert check_ast([FUNC], one * 2, gt, "simple").error_type == "simple_function_checker:wrong_count"
    assert check_ast([SECOND, FUNC], one, gt, "multiple").valid  # found by the accepted name
    assert check_ast([SECOND, FUNC], [], gt, "multiple").error_type == "multiple_function_checker:wrong_count"
    assert check_ast([FUNC], [], gt, "parallel").error_type == "parallel_function_checker_no_order:wrong_count"


# parallel_function_checker_no_order: accepted calls in order, each takes the first untaken output
# call that passes -- any order of the output is fine when accepted values do not overlap...
def test_parallel_is_order_free() -> None:
    gt = [answer(), {"geo.time": {"city": ["Rome"]}}]
    calls = [{"geo_distance": dict(BASE)}, {"geo_time": {"city": "rome"}}]
    assert check_ast([FUNC, SECOND], calls, gt, "parallel_multiple").valid
    assert check_ast([FUNC, SECOND], calls[::-1], gt, "parallel_multiple").valid
    bad = [{"geo_distance": dict(BASE)}, {"geo_time": {"city": "Oslo"}}]
    result = check_ast([FUNC, SECOND], bad, gt, "parallel_multiple")
    assert result.error_type == "parallel_function_checker_no_order:cannot_find_match"
    assert result.sub_error_type == "value_error:string"


# ...but greedy, without backtracking: when the first accepted call accepts two of the output calls,
# it takes whichever comes first, and a later accepted call can be left without a match
def test_parallel_greedy_matching_can_fail_on_order() -> None:
    gt = [{"geo.time": {"city": ["Rome", "Oslo"]}}, {"geo.time": {"city": ["Rome"]}}]
    assert check_ast([SECOND], [{"geo_time": {"city": "Oslo"}}, {"geo_time": {"city": "Rome"}}], gt, "parallel").valid
    swapped = check_ast([SECOND], [{"geo_time": {"city": "Rome"}}, {"geo_time": {"city": "Oslo"}}], gt, "parallel")
    assert swapped.error_type == "parallel_function_checker_no_order:cannot_find_match"


# eval_runner.relevance_file_runner: irrelevance is correct when decoding fails or the decoded output
# is empty (utils.is_empty_output: [] or [{}]); relevance is the opposite
def test_relevance_runner() -> None:
    assert check_relevance(None, "irrelevance").valid
    assert check_relevance([], "irrelevance").valid
    assert check_relevance([{}], "irrelevance").valid
    assert check_relevance([{"f": {}}], "irrelevance").error_type == "irrelevance_error:decoder_success"
    assert check_relevance([{"f": {}}], "live_relevance").valid
    assert check_relevance(None, "live_relevance").error_type == "relevance_error:decoder_failed"


QUESTION = {"id": "simple_7", "question": [[{"role": "user", "content": "?"}]], "function": [FUNC]}
IRRELEVANT = {"id": "irrelevance_3", "question": [[{"role": "user", "content": "?"}]], "function": [FUNC]}
GT = {"id": "simple_7", "ground_truth": [answer()]}


# ast_file_runner + MistralHandler.decode_ast (FC): the decoded output is [{name: json.loads(arguments)}];
# a text reply is a str, which decode_ast cannot iterate into calls -> ast_decoder:decoder_failed; an
# empty content "" decodes to [] -> the checker's wrong_count
def test_whole_verdicts_from_replies() -> None:
    good = parse_reply('[TOOL_CALLS] [{"name": "geo_distance", "arguments": {"origin": "Paris", "destination": "Berlin"}}]</s>')
    assert check_decoded(QUESTION, GT, good).valid
    text = check_decoded(QUESTION, GT, parse_reply("I think about 900 km.</s>"))
    assert text.error_type == "ast_decoder:decoder_failed" and fcdata_error(text, parse_reply("x")) == "missed_call"
    assert check_decoded(QUESTION, GT, ParsedReply("text", text="")).error_type == "simple_function_checker:wrong_count"
    broken = parse_reply('[TOOL_CALLS] [{"name": "geo_distance", "arguments": {"origin": ')
    result = check_decoded(QUESTION, GT, broken)
    assert result.error_type == "ast_decoder:decoder_failed"
    assert fcdata_error(result, broken) == "parse_failure"


# the issue's oddity: on irrelevance an unparseable reply is a decoding failure, i.e. no call: correct
def test_unparseable_reply_on_irrelevance_is_an_abstention() -> None:
    broken = parse_reply('[TOOL_CALLS] [{"name": "geo_distance", "argum')
    assert broken.kind == "parse_failure"
    assert check_decoded(IRRELEVANT, None, broken).valid
    call = ParsedReply("calls", calls=(Call("anything", {}),))
    result = check_decoded(IRRELEVANT, None, call)
    assert result.error_type == "irrelevance_error:decoder_success" and fcdata_error(result, call) == "false_call"


def test_category_from_id() -> None:
    assert category_of("parallel_multiple_12") == "parallel_multiple"
    assert category_of("simple_0") == "simple"
    assert category_of("live_simple_19-3-15") == "live_simple"


def test_unsupported_categories_and_broken_questions_are_refused() -> None:
    java = {"id": "java_3", "question": [[]], "function": [FUNC]}
    with pytest.raises(UnsupportedQuestion, match="java"):
        check_decoded(java, GT, ParsedReply("text"))
    undeclared = {"id": "multiple_1", "question": [[]], "function": [SECOND]}
    with pytest.raises(UnsupportedQuestion, match="does not declare"):
        check_decoded(undeclared, {"ground_truth": [answer()]}, ParsedReply("calls", calls=(Call("x", {}),)))


# Predictions in BFCL's own result-file shape, {"id", "result"}, are decoded as BFCL decodes them:
# MistralHandler.decode_ast (FC mode) turns each element into {name: json.loads(element[name])} with
# name = list(element.keys())[0], any exception being a decoding failure (ast_file_runner:
# ast_decoder:decoder_failed; relevance_file_runner: no call); then ast_file_runner's
# is_function_calling_format_output check (params not a dict: ast_decoder:decoder_wrong_output_format;
# relevance: is_empty_output, i.e. no call). Every row below was run through BFCL's own runners and
# Mistral handler (bfcl-eval 2025.6.30.4, unpacked; scripts/crosscheck_bfcl.py's BfclEval.verdict) on
# QUESTION/GT and IRRELEVANT: the BFCL error type on simple_7 (None = correct), the one on
# irrelevance_3, and the kind of reply fcdata reports.
_ARGS = '{"origin": "Paris", "destination": "Berlin"}'
RESULT_SHAPE_CASES: list[tuple[str, Any, str | None, str | None, str]] = [
    ("args as JSON string", [{"geo_distance": _ARGS}], None, "irrelevance_error:decoder_success", "calls"),
    ("args as an object", [{"geo_distance": {"origin": "Paris", "destination": "Berlin"}}], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("two keys, first scored", [{"geo_distance": _ARGS, "other": "{}"}], None, "irrelevance_error:decoder_success", "calls"),
    ("two keys, other first", [{"other": "{}", "geo_distance": _ARGS}], "simple_function_checker:wrong_func_name", "irrelevance_error:decoder_success", "calls"),
    ("second key never read", [{"geo_distance": _ARGS, "other": {"x": 1}}], None, "irrelevance_error:decoder_success", "calls"),
    ("args an array", [{"geo_distance": "[1, 2]"}], "ast_decoder:decoder_wrong_output_format", None, "parse_failure"),
    ("args null", [{"geo_distance": "null"}], "ast_decoder:decoder_wrong_output_format", None, "parse_failure"),
    ("args a string", [{"geo_distance": '"Paris"'}], "ast_decoder:decoder_wrong_output_format", None, "parse_failure"),
    ("args a number", [{"geo_distance": "1"}], "ast_decoder:decoder_wrong_output_format", None, "parse_failure"),
    ("args NaN", [{"geo_distance": "NaN"}], "ast_decoder:decoder_wrong_output_format", None, "parse_failure"),
    ("args not JSON", [{"geo_distance": '{"origin": '}], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("args empty string", [{"geo_distance": ""}], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("args JSON null", [{"geo_distance": None}], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("args a number value", [{"geo_distance": 5}], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("args padded", [{"geo_distance": " " + _ARGS + "\n"}], None, "irrelevance_error:decoder_success", "calls"),
    ("args empty object", [{"geo_distance": "{}"}], "simple_function_checker:missing_required", "irrelevance_error:decoder_success", "calls"),
    ("empty dict element", [{}], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("empty dict then call", [{}, {"geo_distance": _ARGS}], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("string element", ["geo_distance"], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("null element", [None], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("nested list", [[{"geo_distance": _ARGS}]], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("call then bad element", [{"geo_distance": _ARGS}, "x"], "ast_decoder:decoder_failed", None, "parse_failure"),
    ("call then non-object args", [{"geo_distance": _ARGS}, {"geo_distance": "[]"}], "ast_decoder:decoder_wrong_output_format", None, "parse_failure"),
    ("two calls", [{"geo_distance": _ARGS}, {"geo_distance": _ARGS}], "simple_function_checker:wrong_count", "irrelevance_error:decoder_success", "calls"),
    ("empty name", [{"": _ARGS}], "simple_function_checker:wrong_func_name", "irrelevance_error:decoder_success", "calls"),
    ("empty list", [], "simple_function_checker:wrong_count", None, "calls"),
    ("empty object", {}, "simple_function_checker:wrong_count", None, "calls"),
    ("object, not a list", {"geo_distance": _ARGS}, "ast_decoder:decoder_failed", None, "parse_failure"),
    ("null", None, "ast_decoder:decoder_failed", None, "parse_failure"),
    ("number", 3, "ast_decoder:decoder_failed", None, "parse_failure"),
    ("empty text", "", "simple_function_checker:wrong_count", None, "text"),
    ("text", "About 900 km.", "ast_decoder:decoder_failed", None, "text"),
    ("raw Mistral text", '[TOOL_CALLS] [{"name": "geo_distance", "arguments": ' + _ARGS + "}]", "ast_decoder:decoder_failed", None, "text"),
]


@pytest.mark.parametrize(("label", "result", "simple_error", "irrelevance_error", "kind"), RESULT_SHAPE_CASES, ids=[c[0] for c in RESULT_SHAPE_CASES])
def test_bfcl_result_shape_decodes_as_bfcl(label: str, result: Any, simple_error: str | None, irrelevance_error: str | None, kind: str) -> None:
    reply = reply_from_prediction({"id": "simple_7", "result": result})
    assert reply.kind == kind
    on_simple = check_decoded(QUESTION, GT, reply)
    assert (on_simple.valid, on_simple.error_type) == (simple_error is None, simple_error)
    on_irrelevance = check_decoded(IRRELEVANT, None, reply)
    assert (on_irrelevance.valid, on_irrelevance.error_type) == (irrelevance_error is None, irrelevance_error)
    # fcdata's own error type: a reply that claims calls but cannot be read is a parse failure everywhere
    if kind == "parse_failure":
        assert reply.error and fcdata_error(on_simple, reply) == "parse_failure"


def test_bfcl_result_shape_calls_and_decoded_output() -> None:
    two_keys = reply_from_prediction({"result": [{"geo_distance": _ARGS, "other": "{}"}]})
    assert two_keys.calls == (Call("geo_distance", BASE),)
    assert bfcl_decode_result([{"f": '{"a": 1}', "g": "{}"}]) == [{"f": {"a": 1}}]
    assert bfcl_decode_result("") == [] and bfcl_decode_result({}) == []
    wrong_format = reply_from_prediction({"result": [{"geo_distance": "[1, 2]"}]})
    assert wrong_format.bfcl_decoded == [{"geo_distance": [1, 2]}] and "not an object" in (wrong_format.error or "")
    as_object = reply_from_prediction({"result": [{"geo_distance": {"origin": "Paris"}}]})
    assert as_object.bfcl_decoded is None and "JSON" in (as_object.error or "")
    for bad in ("x", [{}], ["f"], None, 5, {"f": "{}"}):
        with pytest.raises(Exception):
            bfcl_decode_result(bad)
    # a text result is taken as written (BFCL iterates it: a decoding failure), never searched for calls
    raw = reply_from_prediction({"result": '[TOOL_CALLS] [{"name": "geo_distance", "arguments": ' + _ARGS + "}]"})
    assert raw.kind == "text" and not raw.calls


def test_bfcl_result_shape_end_to_end() -> None:
    predictions = [
        {"id": "simple_7", "result": [{"geo_distance": "null"}]},
        {"id": "irrelevance_3", "result": [{"geo_distance": {"origin": "Paris"}}]},
    ]
    report = score_bfcl(predictions, [QUESTION, IRRELEVANT], [GT])
    details = {d["id"]: d for d in report.details()}
    assert details["simple_7"]["correct"] is False
    assert details["simple_7"]["error"] == "parse_failure"
    assert details["simple_7"]["bfcl_error"] == "ast_decoder:decoder_wrong_output_format"
    assert details["irrelevance_3"]["correct"] is True and details["irrelevance_3"]["parse_failure"] is True
