"""Telling a record's source format from its keys.

==============  ===========================================================================
format id       keys
==============  ===========================================================================
``glaive``      ``system`` + ``chat`` (Glaive function-calling v2 raw), or ``chat`` alone
``hackathon``   ``interactions`` (legacy Mistral hackathon instruct data)
``text``        ``text`` and no ``messages`` (continued-pretraining records)
``sharegpt``    ``conversations`` (LLaMA-Factory's ShareGPT)
``canonical``   ``messages`` and already canonical: every tool typed, every call typed with a
                valid 9-character id, every result carrying its call's id, no legacy keys
``openai``      ``messages`` otherwise (OpenAI chat, legacy ``functions``), or a request dump
                ``{"request": {"messages": ...}, "message": ...}``
==============  ===========================================================================

A file's format is told from its first readable record (the CLI says which, ``--from`` forces one);
:func:`fcdata.convert.convert_records` without a format tells each record's own.
"""

from __future__ import annotations

from typing import Any

from .ids import CALL_ID_RE

__all__ = ["FORMATS", "detect_format", "describe_keys"]

FORMATS: tuple[str, ...] = ("glaive", "hackathon", "text", "sharegpt", "openai", "canonical")


def _is_canonical(value: dict[str, Any]) -> bool:
    if any(k not in ("messages", "tools", "metadata") for k in value):
        return False
    tools = value.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict) for t in tools):
        return False
    messages = value.get("messages")
    if not isinstance(messages, list):
        return False
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
            return False
        if m["role"] == "assistant":
            for c in m.get("tool_calls") or []:
                if not isinstance(c, dict) or c.get("type") != "function" or not isinstance(c.get("id"), str) or not CALL_ID_RE.match(c["id"]):
                    return False
        elif m["role"] == "tool":
            tid = m.get("tool_call_id")
            if not isinstance(tid, str) or not CALL_ID_RE.match(tid):
                return False
        if not isinstance(m.get("content", ""), (str, type(None))):
            return False
    return True


def detect_format(value: Any) -> str | None:
    """The format id of one decoded record, or ``None`` when its keys match no known format."""
    if not isinstance(value, dict):
        return None
    if "chat" in value and ("system" in value or "messages" not in value):
        return "glaive"
    if "interactions" in value:
        return "hackathon"
    if "conversations" in value:
        return "sharegpt"
    if "messages" in value:
        return "canonical" if _is_canonical(value) else "openai"
    if isinstance(value.get("request"), dict) and "messages" in value["request"]:
        return "openai"
    if "text" in value:
        return "text"
    return None


def describe_keys(value: Any) -> str:
    """A short description of a value's shape, for messages about records of no known format."""
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:8])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
