"""ShareGPT as LLaMA-Factory writes it: ``{"conversations": [{"from", "value"}], "tools": "<JSON text>",
"system": "..."}``.

Roles: ``human``/``user`` -> user, ``gpt``/``assistant`` -> assistant, ``function_call`` -> an
assistant turn of calls (its value is the JSON text of one ``{"name", "arguments"}`` object, or of a list
of them for parallel calls), ``observation`` -> a tool result (linked to the calls by order), ``system``
-> system (also the top-level ``system`` key). ``tools`` is the JSON text of a list of function
declarations (a decoded list is accepted too). LLaMA-Factory's ``role``/``content`` tag names are read as
well as ``from``/``value``.

One ``observation`` answering several parallel calls is split when its value is a JSON list with one
element per call (``observation_list_split``); otherwise the mismatch is refused by the shared rules.
"""

from __future__ import annotations

import json
from typing import Any

from ..read import Item
from .arguments import loads_finite
from .assemble import Context, assemble
from .encoding import ENCODER, KEY_ENCODER
from .finish import chat_outcome
from .markup import calls_from_value
from .openai import tool_result_text
from .outcome import Converted, Reject
from .tools import EMPTY_TOOLSET, toolset_from_declarations
from .turns import Turn

__all__ = ["convert_sharegpt"]

_USER = frozenset({"human", "user"})
_ASSISTANT = frozenset({"gpt", "assistant", "model", "bot", "chatgpt"})
_CALL = frozenset({"function_call", "tool_call", "tool_calls"})
_RESULT = frozenset({"observation", "tool", "function", "ipython", "function_response"})
_KNOWN = frozenset({"conversations", "tools", "system"})


def _split_observations(turns: list[Turn], repairs: list[str]) -> list[Turn]:
    out: list[Turn] = []
    i = 0
    while i < len(turns):
        t = turns[i]
        out.append(t)
        i += 1
        if t.role == "assistant" and t.calls and len(t.calls) > 1 and i < len(turns) and turns[i].role == "tool" and (i + 1 >= len(turns) or turns[i + 1].role != "tool"):
            try:
                parts = json.loads(turns[i].content or "")
            except ValueError:
                continue
            if isinstance(parts, list) and len(parts) == len(t.calls):
                repairs.append("observation_list_split")
                out.extend(Turn("tool", p if isinstance(p, str) else ENCODER.encode(p)) for p in parts)
                i += 1
    return out


def convert_sharegpt(item: Item, value: dict[str, Any]) -> Converted:
    """Convert one LLaMA-Factory ShareGPT record; raises :class:`Reject`."""
    conv = value.get("conversations")
    if not isinstance(conv, list):
        raise Reject("wrong_type", f"conversations: expected a list, got {type(conv).__name__}")
    repairs: list[str] = []
    raw_tools = value.get("tools")
    if isinstance(raw_tools, str):
        if raw_tools.strip():
            try:
                raw_tools = loads_finite(raw_tools)
            except (ValueError, RecursionError) as exc:
                raise Reject("tool_declaration_not_json", f"tools: the JSON text of the tools does not decode ({exc})") from None
        else:
            raw_tools = None
    if isinstance(raw_tools, dict):
        raw_tools = [raw_tools]
    tools = EMPTY_TOOLSET if raw_tools in (None, []) else toolset_from_declarations(raw_tools)

    turns: list[Turn] = []
    system = value.get("system")
    if isinstance(system, str) and system.strip():
        turns.append(Turn("system", system))
    elif system is not None and not isinstance(system, str):
        raise Reject("wrong_type", f"system: expected a string, got {type(system).__name__}")
    for i, turn in enumerate(conv):
        where = f"conversations[{i}]"
        if not isinstance(turn, dict):
            raise Reject("wrong_type", f"{where}: a turn must be an object")
        role = turn.get("from", turn.get("role"))
        text = turn.get("value", turn.get("content"))
        if not isinstance(role, str):
            raise Reject("missing_field", f"{where}.from: each turn needs a `from` role")
        if not isinstance(text, str):
            if role in _CALL and isinstance(text, (dict, list)):
                pass
            else:
                raise Reject("wrong_type", f"{where}.value: expected a string, got {type(text).__name__}")
        if role in _USER:
            turns.append(Turn("user", text))
        elif role in _ASSISTANT:
            turns.append(Turn("assistant", text))
        elif role in _CALL:
            turns.append(Turn("assistant", None, calls_from_value(text, where + ".value", repairs)))
        elif role in _RESULT:
            turns.append(Turn("tool", tool_result_text(text, repairs)))
        elif role == "system":
            turns.append(Turn("system", text))
        else:
            raise Reject("bad_role", f"{where}.from: unknown role {role!r} (expected human, gpt, function_call, observation, system)")
    turns = _split_observations(turns, repairs)
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"))
    ctx.repairs.extend(repairs)
    messages = assemble(turns, tools, ctx)
    extra = {k: v for k, v in value.items() if k not in _KNOWN} or None
    return chat_outcome(item, "sharegpt", messages, tools, ctx, extra)
