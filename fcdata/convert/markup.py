"""Calls written as markup in assistant text, read into calls; and the call objects every format shares.

Many published sets keep their calls in the assistant's text, in the markup of the template they were
made for (:mod:`fcdata.call_markup` lists the markers). Left as text it would be trained as text, and
the model would learn to print that markup instead of calling, so every converter passes assistant
text through :func:`read_markup` before the shared rules (:func:`.assemble.assemble` does it):

==========================================  ==========================================  ==========================
markup                                      body                                        repair
==========================================  ==========================================  ==========================
``<tool_call>...</tool_call>`` (Hermes,      one call object ``{"name", "arguments"}``   ``tool_call_tags_parsed``
Qwen), `````tool_call ...`````` (Hermes      (JSON, or a Python literal:                 (+ ``call_python_literal``)
pre-release)                                ``{'name': 'f', 'arguments': {...}}``)
``<TOOLCALL>[...]</TOOLCALL>`` (When2Call,   a JSON list of call objects                 ``toolcall_tags_parsed``
Nemotron)
``[TOOL_CALLS][...]`` written as text        a JSON list of call objects                 ``tool_calls_text_parsed``
``<functioncall> {...}`` (Glaive)            a Glaive call (quoted arguments)            ``functioncall_text_parsed``
==========================================  ==========================================  ==========================

Text before the markup stays the turn's text (the shared rules then drop it from the trained turn,
``text_before_call_dropped``); text after it is dropped and kept in ``metadata.dropped_text``
(``text_after_call_dropped``). Markup that cannot be read as calls, and the markers of other templates
(Llama's ``<|python_tag|>``, DeepSeek's, Qwen-Agent's), make the record rejected
(``call_markup_text``): there is no call to keep and the text must not be trained.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..call_markup import CALL_MARKUP, find_call_markup
from .arguments import ARGS_DECODER, ConflictingKey, NonFinite, arguments_field, arguments_object, conflicting_key_reject, parse_arguments_text, python_literal
from .turns import Call
from .outcome import Reject

__all__ = ["read_markup", "calls_from_value", "call_object"]

_TAGS: tuple[tuple[str, str, str], ...] = (
    # (opening, closing, repair)
    ("<tool_call>", "</tool_call>", "tool_call_tags_parsed"),
    ("```tool_call", "```", "tool_call_tags_parsed"),
    ("<TOOLCALL>", "</TOOLCALL>", "toolcall_tags_parsed"),
    ("<toolcall>", "</toolcall>", "toolcall_tags_parsed"),
)
_OPENINGS = re.compile("|".join(re.escape(o) for o, _, _ in _TAGS) + r"|\[TOOL_CALLS\]|<functioncall>")
_CLOSING = {o: c for o, c, _ in _TAGS}
_REPAIR = {o: r for o, _, r in _TAGS}
# Hermes rows written with the two characters \n (backslash, n) where a line break was meant
_LITERAL_NEWLINES = re.compile(r"^(?:\\n|\s)+|(?:\\n|\s)+$")


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def call_object(obj: Any, where: str, repairs: list[str]) -> Call:
    """One call from a decoded ``{"name", "arguments"}`` object (``parameters`` for ``arguments`` too;
    the arguments an object, JSON text or a Python literal); raises :class:`Reject`."""
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise Reject("call_unparseable", f"{where}: a call must be an object with a string name, got {_short(json.dumps(obj, ensure_ascii=False, default=str))}")
    args: Any = arguments_field(obj, repairs)
    try:
        if isinstance(args, str):
            args = parse_arguments_text(args, repairs)
        arguments = arguments_object(args, repairs)
    except Reject as rej:
        code, msg = rej.reasons[0]
        raise Reject(code, f"{where}.arguments: {msg}") from None
    cid = obj.get("id")
    return Call(obj["name"], arguments, cid if isinstance(cid, str) else None)


def calls_from_value(value: Any, where: str, repairs: list[str]) -> list[Call]:
    """The calls in a call value as formats write it: JSON text or a decoded value, of one call object or
    a list of them (ShareGPT ``function_call`` turns, ComplexFuncBench ``function_call`` lists, the
    bodies of call markup); raises :class:`Reject` (``call_unparseable`` for anything else)."""
    if isinstance(value, str):
        value = _decode_call_text(value, where, repairs)
    items = value if isinstance(value, list) else [value]
    if not items:
        raise Reject("call_unparseable", f"{where}: an empty list of calls")
    return [call_object(obj, f"{where}[{k}]" if isinstance(value, list) else where, repairs) for k, obj in enumerate(items)]


def _decode_call_text(text: str, where: str, repairs: list[str]) -> Any:
    body = text.strip()
    try:
        # a key given twice with two values (in the arguments or the call) is refused, never last-wins
        return ARGS_DECODER.decode(body)
    except ConflictingKey as exc:
        code, msg = conflicting_key_reject(exc).reasons[0]
        raise Reject(code, f"{where}: {msg}") from None
    except NonFinite as exc:
        raise Reject("arguments_non_finite", f"{where}: the call holds a number JSON cannot represent ({exc})") from None
    except (ValueError, RecursionError) as exc:
        error = exc
    if body[:1] in "{[":
        try:
            value = python_literal(body)
        except NonFinite:
            raise Reject("arguments_non_finite", f"{where}: the call holds a number JSON cannot represent") from None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
        else:
            repairs.append("call_python_literal")
            return value
    raise Reject("call_unparseable", f"{where}: the call is neither JSON nor a Python literal ({error}): {_short(body)}")


def read_markup(text: str, repairs: list[str], where: str) -> tuple[str, list[Call], str] | None:
    """``(text before, calls, text after)`` of assistant text holding call markup, ``None`` when it holds
    none; raises :class:`Reject` (``call_markup_text``) for markup that cannot be read as calls."""
    marker = find_call_markup(text)
    if marker is None:
        return None
    first = _OPENINGS.search(text)
    if first is None:
        raise Reject("call_markup_text", f"{where}: the text holds {marker!r} ({CALL_MARKUP.get(marker, 'tool-call markup')}), which fcdata cannot read as calls; trained as text it would teach the model to print it")
    before = text[: first.start()]
    calls: list[Call] = []
    rest: list[str] = []
    pos = first.start()
    local: list[str] = []
    while True:
        m = _OPENINGS.search(text, pos)
        if m is None:
            rest.append(text[pos:])
            break
        rest.append(text[pos : m.start()])
        opening = m.group(0)
        at = f"{where} ({opening} at character {m.start()})"
        try:
            if opening == "[TOOL_CALLS]":
                body_start = m.end()
                try:
                    value, end = ARGS_DECODER.raw_decode(text, _skip_space(text, body_start))
                except ConflictingKey as exc:
                    code, msg = conflicting_key_reject(exc).reasons[0]
                    raise Reject(code, f"{at}: {msg}") from None
                except (ValueError, RecursionError) as exc:
                    raise Reject("call_unparseable", f"{at}: [TOOL_CALLS] is not followed by a JSON list of calls ({exc})") from None
                local.append("tool_calls_text_parsed")
                calls.extend(calls_from_value(value, at, local))
                pos = end
            elif opening == "<functioncall>":
                from .glaive import parse_call  # Glaive's own reader (quoted arguments, extra braces)

                local.append("functioncall_text_parsed")
                call, tail = parse_call(text[m.end() :], local)
                calls.append(call)
                rest.append(tail)
                pos = len(text)
            else:
                closing = _CLOSING[opening]
                end = text.find(closing, m.end())
                if end < 0:
                    raise Reject("call_markup_text", f"{at}: {opening} is never closed by {closing}; the call may be cut off")
                body = text[m.end() : end]
                cleaned = _LITERAL_NEWLINES.sub("", body)
                if "\\n" in body and cleaned != body.strip():
                    local.append("literal_newlines_removed")
                local.append(_REPAIR[opening])
                calls.extend(calls_from_value(cleaned, at, local))
                pos = end + len(closing)
        except Reject as rej:
            code, msg = rej.reasons[0]
            # a call that cannot be read is no call, and the markup must not be trained either
            raise Reject("call_markup_text" if code == "call_unparseable" else code, msg) from None
    after = "".join(rest).strip()
    if find_call_markup(after) is not None:
        marker = find_call_markup(after)
        raise Reject("call_markup_text", f"{where}: {marker!r} outside a readable call ({_short(after)})")
    repairs.extend(local)
    return before, calls, after


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
