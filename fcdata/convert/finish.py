"""The last step of every converter: the record's ``metadata`` (provenance) and its JSON Lines text.

``metadata`` keys, in this order: ``source_file`` (when known), ``source_line``, ``format``, ``repairs``
(codes, each once, in the order applied), then what a converter noted (``dropped_text``,
``remapped_ids``, ``renamed_results``...), ``source_extra`` (top-level keys of the input that are not
part of its format, e.g. Glaive dumps' ``_source``), and the input's own ``metadata`` keys after them
(a value that provenance replaces is kept under ``previous``).

The line is byte-identical to ``json.dumps(record, ensure_ascii=False)`` but written by hand: the
messages have a fixed shape, and joining pre-escaped strings is several times faster than the C
encoder's walk over small dicts (which costs about as much as decoding the whole input line); the
tools, shared by every record of the same source, were serialised once in their
:class:`~.tools.ToolSet`. A test checks the identity on every fixture and on generated records.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..read import Item
from .assemble import Context
from .encoding import ENCODER
from .outcome import Converted, Reject
from .tools import ToolSet

__all__ = ["chat_outcome", "text_outcome", "messages_json", "fast_metadata_json", "metadata_head", "metadata_tail", "checked_line", "PROVENANCE_KEYS"]

PROVENANCE_KEYS = ("source_file", "source_line", "format", "repairs")

_S = ENCODER.string  # a str as a JSON string literal, exactly as json.dumps(ensure_ascii=False) writes it


def _message_json(m: dict[str, Any]) -> str:
    role = m["role"]
    if role == "assistant":
        calls = m.get("tool_calls")
        if calls is not None:
            parts = []
            for c in calls:
                fn = c["function"]
                parts.append('{"id": ' + _S(c["id"]) + ', "type": "function", "function": {"name": ' + _S(fn["name"]) + ', "arguments": ' + ENCODER.encode(fn["arguments"]) + "}}")
            # (v7+ conversions keep text before the calls: content first, as assemble builds it)
            text = ('"content": ' + _S(m["content"]) + ", ") if "content" in m else ""
            head = '{"role": "assistant", ' + text + '"tool_calls": [' + ", ".join(parts) + "]"
        else:
            head = '{"role": "assistant", "content": ' + _S(m["content"])
        if "weight" in m:
            head += ', "weight": ' + ("1" if m["weight"] else "0")
        return head + "}"
    if role == "tool":
        head = '{"role": "tool", "content": ' + _S(m["content"]) + ', "tool_call_id": ' + _S(m["tool_call_id"])
        return head + (', "name": ' + _S(m["name"]) + "}" if "name" in m else "}")
    return '{"role": ' + _S(role) + ', "content": ' + _S(m["content"]) + "}"


def messages_json(messages: list[dict[str, Any]]) -> str:
    """``json.dumps(messages, ensure_ascii=False)`` for messages built by :func:`~.assemble.assemble`."""
    return "[" + ", ".join([_message_json(m) for m in messages]) + "]"


def _metadata(item: Item, fmt: str, repairs: list[str], notes: dict[str, Any], extra: dict[str, Any] | None, own: Any) -> dict[str, Any]:
    head: dict[str, Any] = {}
    if item.file:
        head["source_file"] = item.file
    head["source_line"] = item.line
    head["format"] = fmt
    head["repairs"] = repairs
    if notes:
        head.update(notes)
    if extra:
        head["source_extra"] = extra
    if own is not None and not isinstance(own, dict):
        # validate calls it wrong_type too: metadata that is not an object is refused, never dropped
        raise Reject("wrong_type", f"metadata must be a JSON object, got {type(own).__name__ if not isinstance(own, list) else 'an array'}")
    if isinstance(own, dict) and own:
        previous = {k: own[k] for k in PROVENANCE_KEYS if k in own}
        for k, v in own.items():
            if k not in head and k not in PROVENANCE_KEYS:
                head[k] = v
        if previous and "previous" not in head:
            head["previous"] = previous
    return head


def _metadata_json(meta: dict[str, Any]) -> str:
    parts = []
    for k, v in meta.items():
        if k == "repairs":
            parts.append('"repairs": [' + ", ".join([_S(r) for r in v]) + "]")
        elif k == "source_line" and type(v) is int:
            parts.append('"source_line": ' + str(v))
        elif type(v) is str:
            parts.append(_S(k) + ": " + _S(v))
        else:
            parts.append(_S(k) + ": " + ENCODER.encode(v))
    return "{" + ", ".join(parts) + "}"


def checked_line(line: str) -> str:
    """``line``, or :class:`Reject` when it cannot be written as UTF-8."""
    # a lone surrogate (JSON "\ud800") decodes into a str that cannot be written as UTF-8
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Reject("invalid_unicode", f"the record holds text that is not valid Unicode (a lone surrogate at character {exc.start}); UTF-8 cannot write it") from None
    return line


def chat_outcome(item: Item, fmt: str, messages: list[dict[str, Any]], tools: ToolSet, ctx: Context, extra: dict[str, Any] | None = None, own_metadata: Any = None) -> Converted:
    repairs = list(dict.fromkeys((*tools.repairs, *ctx.repairs))) if (tools.repairs or ctx.repairs) else []
    meta = _metadata(item, fmt, repairs, ctx.notes, extra, own_metadata)
    try:
        line = '{"messages": ' + messages_json(messages) + ', "tools": ' + tools.json + ', "metadata": ' + _metadata_json(meta) + "}"
    except ValueError:
        raise Reject("non_finite_number", "the record holds a number JSON cannot represent (NaN or infinity)") from None
    except (TypeError, RecursionError) as exc:
        raise Reject("wrong_type", f"the record cannot be written as JSON: {exc}") from None
    return Converted(item, fmt, repairs, checked_line(line))


def fast_metadata_json(item: Item, fmt: str, repairs: list[str], extra: dict[str, Any] | None) -> str:
    """``metadata`` JSON for a record with no notes and no metadata of its own (the hot path of the
    Glaive converter): same bytes as :func:`_metadata_json` of :func:`_metadata`."""
    text = metadata_head(item.file) + str(item.line) + metadata_tail(fmt, tuple(repairs))
    if extra:
        return text + ', "source_extra": ' + ENCODER.encode(extra) + "}"
    return text + "}"


@lru_cache(maxsize=256)
def metadata_head(file: str) -> str:
    """The start of ``metadata`` JSON, up to the line number's value (by file: the same in every row)."""
    return ('{"source_file": ' + _S(file) + ', "source_line": ') if file else '{"source_line": '


@lru_cache(maxsize=1024)
def metadata_tail(fmt: str, repairs: tuple[str, ...]) -> str:
    """``metadata`` JSON after the line number, without the closing brace (``source_extra`` may follow)."""
    return ', "format": ' + _S(fmt) + ', "repairs": [' + ", ".join([_S(r) for r in repairs]) + "]"


def text_outcome(item: Item, fmt: str, text: str, repairs: list[str], extra: dict[str, Any] | None = None, own_metadata: Any = None) -> Converted:
    meta = _metadata(item, fmt, repairs, {}, extra, own_metadata)
    try:
        line = '{"text": ' + _S(text) + ', "metadata": ' + _metadata_json(meta) + "}"
    except ValueError:
        raise Reject("non_finite_number", "the record holds a number JSON cannot represent (NaN or infinity)") from None
    except (TypeError, RecursionError) as exc:
        raise Reject("wrong_type", f"the record cannot be written as JSON: {exc}") from None
    return Converted(item, fmt, repairs, checked_line(line))
