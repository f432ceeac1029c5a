"""Turning call arguments as they appear in the wild into one JSON object, or a clear reason why not.

Arguments arrive as a JSON string (OpenAI), a decoded object (ShareGPT, some Glaive rows), or the body of
Glaive's single-quoted string, which is JSON text written by a model and shows every defect such text
can have. Each defect that has one right reading is repaired and the repair is named; the others are
refused with a code (see docs/convert.md for the decisions):

- raw newlines or tabs inside strings: read as the escaped characters (``arguments_control_chars``);
- ``\\'``, an invalid JSON escape: read as an apostrophe, never dropped (``arguments_invalid_escape``);
- one ``}`` too many: dropped (``arguments_extra_brace``);
- a Python dict literal: ``ast.literal_eval``, then written as JSON, never as a repr
  (``arguments_python_literal``);
- a JSON string holding the object: decoded once more (``arguments_double_encoded``);
- ``null`` or nothing: ``{}``, then checked against the schema like any call (``arguments_null``);
- ``Infinity``, ``NaN``, ``1e999``: refused, JSON cannot carry them (``arguments_non_finite``);
- text that ends in the middle of a value: refused (``arguments_truncated``);
- an array, a number, a string: refused (``arguments_not_object``);
- anything else: refused (``arguments_not_json``).
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

from ..read import ConflictingKey, unique_pairs as _unique_pairs
from .outcome import Reject

__all__ = ["python_literal", "parse_arguments_text", "arguments_object", "arguments_field", "loads_finite", "NonFinite", "DECODER"]


class NonFinite(ValueError):
    """A JSON text holds ``NaN``, ``Infinity`` or a number too large for a float."""


def arguments_field(call: dict[str, Any], repairs: list[str]) -> Any:
    """The raw arguments of a call object: ``arguments``, else ``parameters`` (a spelling Glaive and
    some OpenAI-style dumps use; recorded as ``call_parameters_key``), else ``None``."""
    if "arguments" in call:
        return call["arguments"]
    if "parameters" in call:
        repairs.append("call_parameters_key")
        return call["parameters"]
    return None


def _constant(name: str) -> Any:
    raise NonFinite(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NonFinite(f"{text} is too large for a JSON number")
    return value


# strict JSON that refuses non-finite numbers and a key given twice with two values (shared by the
# converters: json keeps the last one without a word, so a tool's parameters or a tool result re-encoded
# from it would silently lose the first; the dispatcher rejects such a record, json_duplicate_key)
DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float, object_pairs_hook=_unique_pairs)


# call arguments: as DECODER, and a key given twice with two values is refused (json keeps the last one
# without a word, and which one the call meant is unknown); the same value twice loses nothing
ARGS_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float, object_pairs_hook=_unique_pairs)
_LAX_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float, strict=False, object_pairs_hook=_unique_pairs)


def loads_finite(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and numbers that overflow to infinity (they
    would be written back as ``Infinity``, which is not JSON)."""
    return DECODER.decode(text)


# a backslash escaping an apostrophe, preceded by an even number of backslashes (so not itself escaped)
_BAD_APOS = re.compile(r"(?<!\\)((?:\\\\)*)\\'")


def literal_tree(text: str) -> ast.Expression:
    """The parsed Python literal ``text``; raises :class:`ConflictingKey` for a dict that gives one key
    twice with two values (``literal_eval`` keeps the last one without a word, as ``json`` does)."""
    tree = ast.parse(text.strip(), mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            seen: dict[Any, ast.expr] = {}
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant):
                    first = seen.setdefault(k.value, v)
                    if first is not v and ast.dump(first) != ast.dump(v):
                        raise ConflictingKey(str(k.value), ast.unparse(first), ast.unparse(v))
    return tree


def python_literal(text: str) -> Any:
    """A Python literal made only of JSON types (dict, list, str, int, float, bool, None), else raise;
    a dict that gives one key twice with two values raises :class:`ConflictingKey` (``literal_eval`` keeps
    the last one without a word, as ``json`` does)."""
    value = ast.literal_eval(literal_tree(text))

    def check(v: Any) -> None:
        if v is None or isinstance(v, (str, bool, int)):
            return
        if isinstance(v, float):
            if not math.isfinite(v):
                raise NonFinite("not a finite number")
            return
        if isinstance(v, list):
            for x in v:
                check(x)
            return
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise ValueError("non-string key")
                check(x)
            return
        raise ValueError(f"{type(v).__name__} is not a JSON type")

    check(value)
    return value


def _cut_off(text: str, exc: json.JSONDecodeError) -> bool:
    """The text stops in the middle of a value (rather than containing a wrong character)."""
    return exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")


def parse_arguments_text(text: str, repairs: list[str]) -> Any:
    """Decode the JSON text of call arguments, repairing the defects listed in the module docstring.

    Returns the decoded value (the caller checks that it is an object); raises :class:`Reject`.
    """
    try:
        return _parse_arguments_text(text, repairs)
    except ConflictingKey as exc:
        raise conflicting_key_reject(exc) from None


def duplicate_key_reason(exc: ConflictingKey) -> tuple[str, str]:
    """The rejection reason of a record whose tools or tool results give one key twice with two values
    (the arguments' own case is ``arguments_duplicate_key``)."""
    first, second = (json.dumps(v, ensure_ascii=False) for v in (exc.first, exc.second))
    return ("json_duplicate_key", f"a JSON object in the record's tools or tool results gives {exc.key!r} twice, {_short(first)} and {_short(second)}: JSON readers keep one of them silently, so which one is meant is unknown")


def conflicting_key_reject(exc: ConflictingKey) -> Reject:
    """The rejection of arguments that give a key twice with two values."""
    first, second = (json.dumps(v, ensure_ascii=False) for v in (exc.first, exc.second))
    return Reject("arguments_duplicate_key", f"arguments give {exc.key!r} twice, {_short(first)} and {_short(second)}: which one the call meant is unknown")


def _parse_arguments_text(text: str, repairs: list[str]) -> Any:
    body = text.strip()
    if not body:
        repairs.append("arguments_null")
        return None
    try:
        return ARGS_DECODER.decode(body)
    except NonFinite as exc:
        raise Reject("arguments_non_finite", f"arguments hold a number JSON cannot represent ({exc}): {_short(body)}") from None
    except json.JSONDecodeError as exc:
        first_error = exc
    except RecursionError:
        raise Reject("arguments_not_json", "arguments nested too deeply to decode") from None

    # the repairs, tried cumulatively (each only where it changes the text), strict decoding first
    unescaped = _BAD_APOS.sub(lambda m: m.group(1) + "'", body)
    texts = [(body, [])] if unescaped == body else [(body, []), (unescaped, ["arguments_invalid_escape"])]
    for lax in (False, True):
        decoder = _LAX_DECODER if lax else ARGS_DECODER
        for text_, fixes in texts:
            # up to three closing braces too many, dropped one at a time
            candidate, extra = text_, []
            for _ in range(4):
                try:
                    value = decoder.decode(candidate)
                except NonFinite as exc:
                    raise Reject("arguments_non_finite", f"arguments hold a number JSON cannot represent ({exc}): {_short(body)}") from None
                except (json.JSONDecodeError, RecursionError):
                    if not candidate.endswith("}"):
                        break
                    candidate, extra = candidate[:-1].rstrip(), ["arguments_extra_brace"]
                    continue
                repairs.extend([*fixes, *extra, *(["arguments_control_chars"] if lax else [])])
                return value
    if body[:1] in "{[":
        try:
            value = python_literal(body)
        except NonFinite:
            raise Reject("arguments_non_finite", f"arguments hold a number JSON cannot represent: {_short(body)}") from None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
        else:
            repairs.append("arguments_python_literal")
            return value
    if _cut_off(body, first_error):
        raise Reject("arguments_truncated", f"arguments end in the middle of a JSON value: {_short(body)}")
    raise Reject("arguments_not_json", f"arguments are not JSON ({first_error.msg} at column {first_error.colno}): {_short(body)}")


def arguments_object(value: Any, repairs: list[str]) -> dict[str, Any]:
    """The arguments object from a decoded value (see the module table); raises :class:`Reject`."""
    if isinstance(value, dict):
        return value
    if value is None:
        if "arguments_null" not in repairs:
            repairs.append("arguments_null")
        return {}
    if isinstance(value, str):
        inner = value.strip()
        if inner.startswith("{"):
            try:
                decoded = loads_finite(inner)
            except (ValueError, RecursionError):
                decoded = None
            if isinstance(decoded, dict):
                repairs.append("arguments_double_encoded")
                return decoded
    raise Reject("arguments_not_object", f"arguments must be a JSON object, got {_kind(value)}: {_short(json.dumps(value, ensure_ascii=False))}")


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def _short(text: str, limit: int = 80) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
