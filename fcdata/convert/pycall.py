"""Calls written in Python call syntax, read with :mod:`ast` (literal evaluation only, never ``eval``).

ToolACE writes an assistant's calls as a Python list of calls, with the function names as declared,
spaces included: ``[Market Trends API(trend_type="INDEXES"), get_time(zone='UTC')]``; Gorilla
OpenFunctions and BFCL's Python categories write one call with a dotted name:
``coffee_shop.find_nearby(location="San Francisco", amenities=["Wi-Fi"])``.

A name is not always a Python expression (spaces, ``/``), so the text is first cut into calls with a
scanner that knows quotes and brackets; each call's argument list is then parsed as the arguments of a
placeholder call, ``_(a=1, b="x")``, with :func:`ast.parse`, and each keyword value read with
:func:`ast.literal_eval`. Python's ``True``/``False``/``None`` and JSON's ``true``/``false``/``null``
are read as the JSON values; tuples and sets become arrays. Positional arguments cannot be matched to
named parameters and are refused (``call_positional_arguments``); any value that is not a literal
(``x=some_variable``, ``f(x=g(1))``) is refused (``arguments_not_json``).

    >>> [(c.name, c.arguments) for c in read_python_calls('[Get Weather(city="Oslo", days=3), ping()]', "value", [])]
    [('Get Weather', {'city': 'Oslo', 'days': 3}), ('ping', {})]
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from .outcome import Reject
from .turns import Call

__all__ = ["read_python_calls", "looks_like_python_calls"]

_NAME = re.compile(r"^[^()\[\]{}'\",=:]+$")
_JSON_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def _split_calls(text: str) -> list[str] | None:
    """``text`` (without the list brackets) cut at top-level commas, or ``None`` when its quotes or
    brackets do not balance."""
    parts: list[str] = []
    depth = 0
    quote = ""
    escaped = False
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if quote or depth:
        return None
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _body(text: str) -> tuple[str, bool] | None:
    """The calls' text and whether it was a list, if ``text`` has the shape of calls at all."""
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        inner = t[1:-1].strip()
        return (inner, True) if re.match(r"^[^()\[\]{}'\",=:]+\(", inner) or not inner else None
    if re.match(r"^[A-Za-z_][A-Za-z0-9_.]*\(", t) and t.endswith(")"):
        return t, False
    return None


def looks_like_python_calls(text: str) -> bool:
    """Whether ``text`` has the shape of a call list (``[name(...), ...]``) or of one call (``a.b(...)``)."""
    return _body(text) is not None


def _value(node: ast.expr, source: str, where: str) -> Any:
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_value(e, source, where) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for k, v in zip(node.keys, node.values):
            key = _value(k, source, where) if k is not None else None
            if not isinstance(key, str):
                raise Reject("arguments_not_json", f"{where}: a dict key that is not a string ({ast.get_source_segment(source, k) if k is not None else '**'})")
            out[key] = _value(v, source, where)
        return out
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise Reject("arguments_not_json", f"{where}: {ast.get_source_segment(source, node)!r} is not a literal value") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise Reject("arguments_non_finite", f"{where}: {value} is not a JSON number")
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return _value(ast.parse(repr(value), mode="eval").body, repr(value), where)
    raise Reject("arguments_not_json", f"{where}: a {type(value).__name__} value has no JSON form")


def _call(segment: str, where: str) -> Call:
    cut = segment.find("(")
    name = segment[:cut].strip() if cut > 0 else ""
    if not name or not _NAME.match(name) or not segment.endswith(")"):
        raise Reject("call_unparseable", f"{where}: {segment[:60]!r} is not a call `name(arg=value, ...)`")
    source = "_(" + segment[cut + 1 : -1] + ")"
    try:
        tree = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise Reject("call_unparseable", f"{where}: the arguments of {name!r} are not Python syntax ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name) or tree.func.id != "_":
        raise Reject("call_unparseable", f"{where}: {segment[:60]!r} is not one call")
    if tree.args:
        raise Reject("call_positional_arguments", f"{where}: {name!r} is called with positional arguments, which name no parameter; write them as name=value")
    arguments: dict[str, Any] = {}
    for kw in tree.keywords:
        if kw.arg is None:
            raise Reject("call_unparseable", f"{where}: {name!r} is called with **kwargs")
        arguments[kw.arg] = _value(kw.value, source, f"{where}.{kw.arg}")
    return Call(name, arguments)


def read_python_calls(text: str, where: str, repairs: list[str]) -> list[Call] | None:
    """The calls of ``text`` in Python call syntax (a list of calls, or one call); ``None`` when the text
    does not have that shape (plain text); raises :class:`Reject` when it has it but cannot be read."""
    found = _body(text)
    if found is None:
        return None
    body, is_list = found
    if not body:
        return []
    segments = _split_calls(body) if is_list else [body]
    if segments is None:
        raise Reject("call_unparseable", f"{where}: the quotes or brackets of the calls do not balance: {text[:60]!r}")
    calls = [_call(seg, f"{where}[{k}]") for k, seg in enumerate(segments)]
    repairs.append("python_call_syntax_parsed")
    return calls
