"""The Berkeley Function Calling Leaderboard's AST checker, rule for rule.

Reference: ShishirPatil/gorilla ``berkeley-function-call-leaderboard/bfcl_eval/`` at commit cd9429cc
(data "BFCL v3"; the same code and data as the ``bfcl-eval`` 2025.6.30 - 2025.7.8 releases):
``eval_checker/ast_eval/ast_checker.py`` (the checker), ``eval_checker/eval_runner.py``
(``ast_file_runner`` and ``relevance_file_runner``: what a decoding failure is worth) and ``utils.py``
(``is_function_calling_format_output``, ``is_empty_output``). This module is a reimplementation from a
reading of that code, not a copy; every rule below is BFCL's, including the ones that look like bugs,
because a score that differs from the leaderboard's cannot be compared with it. docs/scoring.md lists the
rules and the oddities they cause on the v3 data.

The checker works on *decoded* output: a list of one-key objects ``[{function_name: {param: value}}]``.
For a Mistral model in function-calling mode (BFCL's ``MistralHandler``) that is the model's tool calls,
``[{call.name: json.loads(call.arguments)}]``; a reply without tool calls arrives as its text, which the
handler cannot decode (a decoding failure), except the empty string, which decodes to ``[]``.

Per category (the category is the question id without its trailing ``_<index>``):

- ``simple``: exactly one call, checked against the first declared function;
- ``multiple``: exactly as many calls as accepted calls (one), checked against the declared function
  named by the accepted answer;
- ``parallel`` / ``parallel_multiple``: as many calls as accepted calls, matched order-free, greedily:
  each accepted call in turn takes the first not-yet-taken model call that passes;
- ``irrelevance``: correct when nothing decodes to a call (a decoding failure counts as no call);
  ``relevance`` is the opposite.

One call is checked against one accepted call (``simple_function_checker``): the (mapped) name must be
the key; every declared-required parameter present; every given parameter declared *and* listed in the
accepted answer; each value of the declared Python type (``int`` is accepted for ``float``; ``bool`` is
not ``int``; ``tuple``/``array`` elements checked one level deep); strings, list elements and dict values
compared after :func:`standardize`; finally every accepted parameter whose list lacks ``""`` must be
present (``""`` in an accepted list means "may be omitted").

Function names: models that cannot use ``.`` in names (OpenAI, Mistral, Gemini: ``^[a-zA-Z0-9_-]{1,64}$``)
see ``math.factorial`` as ``math_factorial``; BFCL's ``convert_func_name`` maps the *expected* name the
same way before comparing (``underscore_to_dot=True``, the setting of every Mistral FC model in BFCL's
``model_config.py``). Only ``.`` is mapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from fcdata.schema_types import json_type

__all__ = [
    "PYTHON_TYPES",
    "BfclResult",
    "UnsupportedQuestion",
    "category_of",
    "is_relevance_category",
    "check_supported",
    "standardize",
    "mapped_name",
    "check_call",
    "check_ast",
    "check_relevance",
    "check_decoded",
    "decode_reply",
    "is_function_calling_format_output",
    "is_empty_output",
    "DecodeFailure",
    "FCDATA_ERROR_OF",
    "fcdata_error",
]

_PYTHON_OF_JSON: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list, "object": dict}
# declared parameter type -> the Python type a value must have (ast_checker.PYTHON_TYPE_MAPPING: BFCL's
# eight type names, read through fcdata's one type table as BFCL reads them: "any" is a string)
PYTHON_TYPES: dict[str, type] = {name: _PYTHON_OF_JSON[json_type(name, bfcl=True) or "string"] for name in ("string", "integer", "float", "boolean", "array", "tuple", "dict", "any")}
# types whose elements are type-checked too, one level deep (PYTHON_NESTED_TYPE_CHECK_LIST)
NESTED_CHECKED = ("array", "tuple")

# categories BFCL scores with other runners or other languages; their rules are not reproduced here
_UNSUPPORTED_MARKERS = ("java", "javascript", "multi_turn", "exec", "rest", "sql", "chatable", "web_search", "memory", "format_sensitivity")

# ast_checker.standardize_string: drop spaces and , . / - _ * ^ ; lowercase; ' -> "
_STANDARDIZE_RE = re.compile(r"[ \,\.\/\-\_\*\^]")


class UnsupportedQuestion(ValueError):
    """A question this checker cannot score the way BFCL does (another language or runner, or data on
    which BFCL's own checker would stop with an exception)."""


@dataclass(frozen=True)
class BfclResult:
    """The verdict on one question: ``valid`` and, when not, BFCL's ``error_type`` (e.g.
    ``simple_function_checker:wrong_func_name``) and message. ``sub_error_type`` is, for a failed
    parallel match, the error of the most telling candidate (see :func:`check_ast`)."""

    valid: bool
    error_type: str | None = None
    message: str = ""
    sub_error_type: str | None = None
    is_variable: bool = field(default=False, compare=False)


_VALID = BfclResult(True)


def _invalid(error_type: str, message: str, sub_error_type: str | None = None) -> BfclResult:
    return BfclResult(False, error_type, message, sub_error_type)


def category_of(test_id: str) -> str:
    """BFCL's category of a question id: everything before the last ``_`` (``parallel_multiple_12`` ->
    ``parallel_multiple``; ``live_simple_19-3-15`` -> ``live_simple``)."""
    return test_id.split(":")[0].rsplit("_", 1)[0]


def is_relevance_category(category: str) -> bool:
    """``relevance``/``irrelevance`` questions are judged on whether anything was called, nothing else."""
    return "relevance" in category


def check_supported(category: str) -> None:
    """Raise :class:`UnsupportedQuestion` for categories whose BFCL rules are not reproduced."""
    for marker in _UNSUPPORTED_MARKERS:
        if marker in category:
            raise UnsupportedQuestion(
                f"category {category!r} is not scored by the Python AST rules reproduced here "
                "(supported: simple, multiple, parallel, parallel_multiple, irrelevance and their live_ variants, live_relevance)"
            )


def standardize(text: str) -> str:
    """BFCL's string normalisation: remove spaces and ``,./-_*^``, lowercase, ``'`` -> ``"``, so that
    ``April 1, 2024`` and ``april 1 2024`` compare equal. Only the ASCII space is removed (tabs and
    newlines stay)."""
    return _STANDARDIZE_RE.sub("", text).lower().replace("'", '"')


def mapped_name(name: str, underscore_to_dot: bool = True) -> str:
    """The name a model that cannot use ``.`` sees and must call (``convert_func_name``)."""
    if underscore_to_dot and "." in name:
        return name.replace(".", "_")
    return name


def _answer_type(accepted: Sequence[Any]) -> type | None:
    """``get_possible_answer_type``: the type of the first accepted value that is not ``""``."""
    for value in accepted:
        if value != "":
            return type(value)
    return None


def _indexed(container: Any) -> list[Any]:
    """``[c[j] for j in range(len(c))]``: how BFCL walks an accepted list element by element. A ``""``
    (optional) walks as ``[]``, so an empty list matches an optional list parameter."""
    return [container[j] for j in range(len(container))]


def _std(value: Any) -> Any:
    return standardize(value) if type(value) is str else value


def _type_check(param: str, value: Any, accepted: Sequence[Any], type_name: str, expected: type, nested: type | None) -> BfclResult:
    """``type_checker``. A value whose type differs from the declared one is still accepted when it has
    the type of the accepted values (BFCL's "variable" case: an accepted value written as a string for
    an integer parameter). ``is_variable`` is set when the accepted values' type differs from the
    declared one; values of such parameters skip the string/list/dict normalisation later."""
    answer_type = _answer_type(accepted)
    is_variable = answer_type is not None and answer_type is not expected
    failed: BfclResult | None = None
    if type(value) is expected:
        if nested is None:
            return BfclResult(True, is_variable=is_variable)
        for candidate in accepted:
            ok = True
            # a candidate that is not a list (e.g. "" for optional) passes without looking at elements
            if type(candidate) is list:
                for element in value:
                    if not _type_check(param, element, candidate, str(nested), nested, None).valid:
                        ok = False
                        break
            if ok:
                return BfclResult(True, is_variable=is_variable)
        failed = _invalid(
            "type_error:nested",
            f"Nested type checking failed for parameter {param!r}. Expected outer type {type_name} with inner type {nested}. Parameter value: {value!r}.",
        )
    if answer_type is not None and type(value) is answer_type:
        # BFCL returns the (possibly failed) result marked as a variable
        return BfclResult(failed is None, failed.error_type if failed else None, failed.message if failed else "", is_variable=True)
    return _invalid(
        "type_error:simple",
        f"Incorrect type for parameter {param!r}. Expected type {type_name}, got {type(value).__name__}. Parameter value: {value!r}.",
    )


def _string_check(param: str, value: str, accepted: Sequence[Any]) -> BfclResult:
    if standardize(value) in [standardize(a) for a in accepted if type(a) is str]:
        return _VALID
    return _invalid("value_error:string", f"Invalid value for parameter {param!r}: {value!r}. Expected one of {list(accepted)}. Case insensitive.")


def _list_check(param: str, value: list[Any], accepted: Sequence[Any]) -> BfclResult:
    """Element-wise after standardising string elements (one level deep); order matters."""
    std_value = [_std(e) for e in value]
    candidates = []
    for candidate in accepted:
        try:
            candidates.append([_std(e) for e in _indexed(candidate)])
        except (TypeError, KeyError):
            continue  # not a sequence: BFCL would raise here; it can never match
    if std_value in candidates:
        return _VALID
    return _invalid("value_error:list/tuple", f"Invalid value for parameter {param!r}: {value!r}. Expected one of {list(accepted)}.")


def _dict_check(param: str, value: Any, accepted: Sequence[Any]) -> BfclResult:
    """``dict_checker``: the value must equal one accepted dict key by key (string values standardised,
    nested values compared as they are); a key missing from the value is fine only when its accepted
    list holds ``""``. Accepted entries that are ``""`` are skipped, so a dict given for a parameter
    whose only accepted value is ``""`` fails (``dict_checker:unclear``)."""
    result = _invalid("dict_checker:unclear", f"No accepted dictionary for parameter {param!r}.")
    if not isinstance(value, dict):
        return _invalid("value_error:dict_value", f"Invalid value for parameter {param!r}: {value!r} is not a dictionary.")
    for candidate in accepted:
        if candidate == "":
            continue
        if not isinstance(candidate, dict):
            continue  # BFCL would raise on a non-dict accepted value; it can never match
        result = _invalid("dict_checker:unclear", "")
        ok = True
        for key, item in value.items():
            if key not in candidate:
                result = _invalid("value_error:dict_key", f"Unexpected dict key parameter: {key!r}.")
                ok = False
                break
            if _std(item) not in [_std(a) for a in _indexed(candidate[key])]:
                result = _invalid("value_error:dict_value", f"Invalid value for parameter {key!r}: {item!r}. Expected one of {candidate[key]}.")
                ok = False
                break
        for key, options in candidate.items():
            if key not in value and "" not in options:
                # BFCL runs this loop even after a failed value and lets it overwrite the error type
                result = _invalid("value_error:dict_key", f"Missing dict key parameter: {key!r}.")
                ok = False
                break
        if ok:
            return _VALID
    return result


def _list_dict_check(param: str, value: list[Any], accepted: Sequence[Any]) -> BfclResult:
    """``list_dict_checker``: same length as an accepted list, each dict matching the one at its
    position. ``len("")`` is 0, so ``[]`` matches an optional (``""``) entry."""
    result = _invalid("list_dict_checker:unclear", f"No accepted list of dictionaries for parameter {param!r}.")
    for candidate in accepted:
        try:
            size = len(candidate)
        except TypeError:
            continue
        if len(value) != size:
            result = _invalid("value_error:list_dict_count", "Wrong number of dictionaries in the list.")
            continue
        ok = True
        for index in range(len(value)):
            result = _dict_check(param, value[index], [candidate[index]])
            if not result.valid:
                ok = False
                break
        if ok:
            return _VALID
    return result


def check_call(function: dict[str, Any], call: dict[str, Any], answer: dict[str, Any], *, underscore_to_dot: bool = True) -> BfclResult:
    """``simple_function_checker``: one decoded call ``{name: {param: value}}`` against one declared
    ``function`` (BFCL's schema: ``name``, ``parameters.properties``, ``parameters.required``) and one
    accepted answer ``{name: {param: [accepted values]}}``."""
    try:
        accepted_params: dict[str, Any] = next(iter(answer.values()))
        properties: dict[str, Any] = function["parameters"]["properties"]
        required: list[str] = function["parameters"]["required"]
        name = mapped_name(function["name"], underscore_to_dot)
    except (KeyError, TypeError, StopIteration, AttributeError) as exc:
        raise UnsupportedQuestion(f"function or accepted answer without the fields BFCL reads ({exc!r})") from exc

    if name not in call:
        return _invalid("simple_function_checker:wrong_func_name", f"Function name {name!r} not found in model output.")
    params = call[name]

    for param in required:
        if param not in params:
            return _invalid("simple_function_checker:missing_required", f"Missing required parameter: {param!r}.")

    for param, value in params.items():
        if param not in properties or param not in accepted_params:
            return _invalid("simple_function_checker:unexpected_param", f"Unexpected parameter: {param!r}.")
        details = properties[param]
        type_name = details.get("type")
        expected = PYTHON_TYPES.get(type_name)  # type: ignore[arg-type]
        if expected is None:
            raise UnsupportedQuestion(f"parameter {param!r} has type {type_name!r}, which BFCL's Python checker does not know")
        nested: type | None = None
        if type_name in NESTED_CHECKED:
            item_type = (details.get("items") or {}).get("type")
            nested = PYTHON_TYPES.get(item_type)  # type: ignore[arg-type]
            if nested is None:
                raise UnsupportedQuestion(f"parameter {param!r}: array items of type {item_type!r} are not checkable by BFCL")
        accepted = accepted_params[param]

        if type_name == "tuple" and type(value) is tuple:
            value = list(value)
        if type_name == "float" and type(value) is int:
            value = float(value)  # an int is accepted where a float is declared

        typed = _type_check(param, value, accepted, type_name, expected, nested)
        if not typed.valid:
            return typed

        if not typed.is_variable:
            if expected is dict:
                checked = _dict_check(param, value, accepted)
            elif expected is list and nested is dict:
                checked = _list_dict_check(param, value, accepted)
            elif expected is str:
                checked = _string_check(param, value, accepted)
            elif expected is list:
                checked = _list_check(param, value, accepted)
            else:
                checked = None
            if checked is not None:
                if not checked.valid:
                    return checked
                continue

        if value not in accepted:
            return _invalid("value_error:others", f"Invalid value for parameter {param!r}: {value!r}. Expected one of {accepted}.")

    for param, accepted in accepted_params.items():
        if param not in params and "" not in accepted:
            return _invalid("simple_function_checker:missing_optional", f"Optional parameter {param!r} not provided and not marked as optional.")
    return _VALID


def _find_function(functions: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for function in functions:
        if function.get("name") == name:
            return function
    raise UnsupportedQuestion(f"the accepted answer calls {name!r}, which the question does not declare (BFCL would stop here)")


def check_ast(functions: list[dict[str, Any]], calls: list[dict[str, Any]], ground_truth: list[dict[str, Any]], category: str, *, underscore_to_dot: bool = True) -> BfclResult:
    """``ast_checker``: decoded ``calls`` against the question's ``functions`` and ``ground_truth``."""
    if "parallel" in category:
        return _check_parallel(functions, calls, ground_truth, underscore_to_dot)
    if "multiple" in category:
        if len(calls) != len(ground_truth):
            return _invalid("multiple_function_checker:wrong_count", "Wrong number of functions.")
        expected = next(iter(ground_truth[0]))
        return check_call(_find_function(functions, expected), calls[0], ground_truth[0], underscore_to_dot=underscore_to_dot)
    if len(calls) != 1:
        return _invalid("simple_function_checker:wrong_count", "Wrong number of functions.")
    if not functions or not ground_truth:
        raise UnsupportedQuestion("a simple question needs one function and one accepted call")
    return check_call(functions[0], calls[0], ground_truth[0], underscore_to_dot=underscore_to_dot)


def _check_parallel(functions: list[dict[str, Any]], calls: list[dict[str, Any]], ground_truth: list[dict[str, Any]], underscore_to_dot: bool) -> BfclResult:
    """``parallel_function_checker_no_order``: accepted calls are taken in order; each claims the first
    model call (by position) not yet claimed that passes :func:`check_call`. No backtracking: a model
    call that passes for two accepted calls goes to the first, which can leave a later one unmatched."""
    if len(calls) != len(ground_truth):
        return _invalid("parallel_function_checker_no_order:wrong_count", "Wrong number of functions.")
    taken: set[int] = set()
    for answer_index, answer in enumerate(ground_truth):
        function = _find_function(functions, next(iter(answer)))
        tried: list[BfclResult] = []
        for index, call in enumerate(calls):
            if index in taken:
                continue
            result = check_call(function, call, answer, underscore_to_dot=underscore_to_dot)
            if result.valid:
                taken.add(index)
                break
            tried.append(result)
        else:
            remaining = [i for i in range(len(calls)) if i not in taken]
            # the most telling candidate: the first that at least had the right name
            telling = next((r for r in tried if r.error_type != "simple_function_checker:wrong_func_name"), tried[0] if tried else None)
            return _invalid(
                "parallel_function_checker_no_order:cannot_find_match",
                f"Could not find a matching function among index {remaining} of model output for index {answer_index} of possible answers."
                + (f" {telling.message}" if telling else ""),
                telling.error_type if telling else None,
            )
    return _VALID


class DecodeFailure(Exception):
    """The model output cannot be decoded into calls (BFCL: ``ast_decoder:decoder_failed``)."""


def is_function_calling_format_output(decoded: Any) -> bool:
    """``utils.is_function_calling_format_output``: a list of one-key dicts whose value is a dict
    (``[]`` included); exact types, as BFCL compares them with ``type(x) != ...``."""
    if type(decoded) is not list:
        return False
    for item in decoded:
        if type(item) is not dict or len(item) != 1:
            return False
        if type(list(item.values())[0]) is not dict:
            return False
    return True


def is_empty_output(decoded: Any) -> bool:
    """``utils.is_empty_output``: not in function-calling format, ``[]`` or ``[{}]``."""
    if not is_function_calling_format_output(decoded):
        return True
    return len(decoded) == 0 or (len(decoded) == 1 and len(decoded[0]) == 0)


def decode_reply(reply: Any) -> list[Any]:
    """What BFCL's Mistral FC handler decodes from a reply (a :class:`~fcdata.score.parse.ParsedReply`):
    for a BFCL result line (``{"result": ...}``), what ``decode_ast`` itself gave (``bfcl_decoded``,
    which may not be in function-calling format); otherwise the calls as ``[{name: arguments}]``; text
    cannot be decoded (:class:`DecodeFailure`) except the empty string, which is ``[]``; a parse failure
    cannot be decoded."""
    decoded = getattr(reply, "bfcl_decoded", None)
    if decoded is not None:
        return list(decoded)
    if reply.kind == "calls":
        return [{call.name: call.arguments} for call in reply.calls]
    if reply.kind == "text" and reply.text == "":
        return []
    raise DecodeFailure(reply.error or "the reply is text, not tool calls")


def check_relevance(decoded: list[Any] | None, category: str) -> BfclResult:
    """``relevance_file_runner``: ``decoded`` is ``None`` when decoding failed. A call is "contained"
    when decoding succeeded and the output is not empty (``is_empty_output``: not in function-calling
    format, ``[]``, ``[{}]``)."""
    contains_call = decoded is not None and not is_empty_output(decoded)
    if "irrelevance" in category:
        if contains_call:
            return _invalid("irrelevance_error:decoder_success", "Valid syntax. Successfully decode AST when it should not.")
        return _VALID
    if contains_call:
        return _VALID
    return _invalid("relevance_error:decoder_failed", "Invalid syntax. Failed to decode AST when it should have.")


def check_decoded(question: dict[str, Any], answer: dict[str, Any] | None, reply: Any, *, underscore_to_dot: bool = True) -> BfclResult:
    """The whole BFCL verdict for one reply: decode as the Mistral FC handler does, then run the runner
    of the question's category (``ast_file_runner`` or ``relevance_file_runner``)."""
    category = category_of(question["id"])
    check_supported(category)
    try:
        decoded: list[dict[str, Any]] | None = decode_reply(reply)
        failure = ""
    except DecodeFailure as exc:
        decoded, failure = None, str(exc)
    if is_relevance_category(category):
        return check_relevance(decoded, category)
    if answer is None:
        raise UnsupportedQuestion("no accepted answer for this question")
    if decoded is None:
        return _invalid("ast_decoder:decoder_failed", f"Invalid syntax. Failed to decode AST. {failure}")
    if not is_function_calling_format_output(decoded):
        return _invalid("ast_decoder:decoder_wrong_output_format", "Did not output in the specified format.")
    functions = question.get("function")
    ground_truth = answer.get("ground_truth")
    if not isinstance(functions, list) or not isinstance(ground_truth, list):
        raise UnsupportedQuestion("question without a 'function' list or answer without a 'ground_truth' list")
    return check_ast(functions, decoded, ground_truth, category, underscore_to_dot=underscore_to_dot)


# BFCL error_type -> fcdata's error type (the names used in every fcdata report)
FCDATA_ERROR_OF: dict[str, str] = {
    "simple_function_checker:wrong_func_name": "wrong_name",
    "simple_function_checker:missing_required": "missing_required",
    "simple_function_checker:unexpected_param": "unexpected_argument",
    "simple_function_checker:missing_optional": "missing_optional",
    "simple_function_checker:wrong_count": "wrong_number_of_calls",
    "multiple_function_checker:wrong_count": "wrong_number_of_calls",
    "parallel_function_checker_no_order:wrong_count": "wrong_number_of_calls",
    "type_error:simple": "wrong_type",
    "type_error:nested": "wrong_type",
    "value_error:string": "wrong_value",
    "value_error:list/tuple": "wrong_value",
    "value_error:dict_key": "wrong_value",
    "value_error:dict_value": "wrong_value",
    "value_error:list_dict_count": "wrong_value",
    "value_error:others": "wrong_value",
    "dict_checker:unclear": "wrong_value",
    "list_dict_checker:unclear": "wrong_value",
    "irrelevance_error:decoder_success": "false_call",
    "relevance_error:decoder_failed": "missed_call",
    "ast_decoder:decoder_failed": "missed_call",
    "ast_decoder:decoder_wrong_output_format": "parse_failure",
}


def fcdata_error(result: BfclResult, reply: Any) -> str | None:
    """fcdata's error type for a BFCL verdict: a reply that could not be parsed is ``parse_failure``
    whatever BFCL calls it; no call where one was due is ``missed_call``; a failed parallel match is
    named after its most telling candidate."""
    if result.valid:
        return None
    if reply.kind == "parse_failure":
        return "parse_failure"
    if not reply.has_calls and result.error_type != "irrelevance_error:decoder_success":
        return "missed_call"
    error_type = result.error_type or ""
    if error_type == "parallel_function_checker_no_order:cannot_find_match":
        error_type = result.sub_error_type or "simple_function_checker:wrong_func_name"
    return FCDATA_ERROR_OF.get(error_type, "wrong_value")
