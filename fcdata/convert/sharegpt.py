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

from typing import Any

from ..read import Item
from .assemble import Context, assemble
from .encoding import ENCODER, KEY_ENCODER
from .finish import chat_outcome
from . import hermes, toolace
from .markup import calls_from_value
from .pycall import read_python_calls
from .results import split_result_lists
from .openai import tool_result_text
from .outcome import Converted, Reject
from .tools import EMPTY_TOOLSET, read_declarations, toolset_from_declarations
from .turns import Turn

__all__ = ["convert_sharegpt"]

_USER = frozenset({"human", "user"})
_ASSISTANT = frozenset({"gpt", "assistant", "model", "bot", "chatgpt"})
_CALL = frozenset({"function_call", "tool_call", "tool_calls"})
_RESULT = frozenset({"observation", "tool", "function", "ipython", "function_response"})
_KNOWN = frozenset({"conversations", "tools", "system", "functions"})


def _system_turn(text: str, fmt: str, repairs: list[str], dropped: list[str]) -> tuple[str, Any]:
    """A system text and the declarations it holds (Hermes ``<tools>``, ToolACE's JSON list)."""
    if fmt == "hermes":
        return hermes.system_tools(text, repairs, dropped)
    if fmt == "toolace":
        return toolace.system_tools(text, repairs, dropped)
    if "<tools>" in text and "</tools>" in text:
        # forced --from sharegpt on a Hermes row: its tools would be left as system prose, and its calls
        # refused as calls to undeclared functions
        raise Reject("format_mismatch", "the system text declares the tools in a Hermes <tools>...</tools> block, which plain ShareGPT does not read: convert with --from hermes (or let the format be detected)")
    return text, None


def _results(text: Any, fmt: str, repairs: list[str], decoded: set[int]) -> list[Turn]:
    """The tool-result turns of one observation: Hermes ``<tool_response>`` blocks and ToolACE
    ``[{"name", "results"}]`` lists give one per result; a decoded value (ComplexFuncBench, APIGen-MT
    dumps) is written as JSON (a list of them split per call later)."""
    if not isinstance(text, str):
        repairs.append("observation_content_encoded")
        turn = Turn("tool", ENCODER.encode(text))
        if isinstance(text, list):
            decoded.add(id(turn))
        return [turn]
    found = hermes.tool_responses(text, repairs) if fmt == "hermes" else toolace.tool_results(text, repairs) if fmt == "toolace" else None
    if found is None:
        return [Turn("tool", tool_result_text(text, repairs))]
    return [Turn("tool", tool_result_text(content, repairs), name=name) for name, content in found]


def _assistant_turn(turn: dict[str, Any], text: Any, fmt: str, where: str, repairs: list[str]) -> Turn:
    calls = None
    if "function_call" in turn and turn["function_call"] not in (None, [], ""):
        # ComplexFuncBench: the assistant turn's calls as a list of {"name", "arguments"}
        calls = calls_from_value(turn["function_call"], where + ".function_call", repairs)
    if text is not None and not isinstance(text, str):
        raise Reject("wrong_type", f"{where}.value: expected a string, got {type(text).__name__}")
    if calls is None and fmt == "toolace" and isinstance(text, str):
        calls = read_python_calls(text, where + ".value", repairs)
        if calls == []:
            raise Reject("empty_call_list", f"{where}.value: an empty list of calls: there is no reply to train on")
        if calls is not None:
            text = None
    return Turn("assistant", text or None if calls else text, calls)


def convert_sharegpt(item: Item, value: dict[str, Any], fmt: str = "sharegpt", *, bare: bool = False) -> Converted:
    """Convert one ShareGPT-family record (``fmt``: ``sharegpt``, ``hermes`` or ``toolace``; ``bare``:
    the record was a bare list of turns, wrapped as ``conversations``); raises :class:`Reject`."""
    conv = value.get("conversations")
    if not isinstance(conv, list):
        raise Reject("wrong_type", f"conversations: expected a list, got {type(conv).__name__}")
    repairs: list[str] = ["bare_conversation_wrapped"] if bare else []
    dropped: list[str] = []
    decoded: set[int] = set()
    declarations = value.get("tools") if "tools" in value else value.get("functions")
    raw_tools = read_declarations(declarations, "tools" if "tools" in value else "functions", repairs, text_repair=None)

    turns: list[Turn] = []
    system = value.get("system")
    if isinstance(system, str) and system.strip():
        text, from_system = _system_turn(system, fmt, repairs, dropped)
        raw_tools = _joined(raw_tools, from_system)
        if text.strip():
            turns.append(Turn("system", text))
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
        if role in _ASSISTANT:
            turns.append(_assistant_turn(turn, text, fmt, where, repairs))
        elif role in _CALL:
            if not isinstance(text, (str, dict, list)):
                raise Reject("wrong_type", f"{where}.value: expected the JSON of a call, got {type(text).__name__}")
            turns.append(Turn("assistant", None, calls_from_value(text, where + ".value", repairs)))
        elif role in _RESULT:
            if text is None:
                raise Reject("wrong_type", f"{where}.value: expected a string, got NoneType")
            turns.extend(_results(text, fmt, repairs, decoded))
        elif not isinstance(text, str):
            raise Reject("wrong_type", f"{where}.value: expected a string, got {type(text).__name__}")
        elif role in _USER:
            turns.append(Turn("user", text))
        elif role == "system":
            text, from_system = _system_turn(text, fmt, repairs, dropped)
            raw_tools = _joined(raw_tools, from_system)
            if text.strip() or from_system is None:
                turns.append(Turn("system", text))
        else:
            raise Reject("bad_role", f"{where}.from: unknown role {role!r} (expected human, gpt, function_call, observation, system)")
    tools = EMPTY_TOOLSET if raw_tools in (None, []) else toolset_from_declarations(raw_tools)
    turns = split_result_lists(turns, repairs, decoded)
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"))
    ctx.repairs.extend(repairs)
    for text in dropped:
        ctx.note("dropped_text", {"message": 0 if turns and turns[0].role == "system" else None, "text": text})
    messages = assemble(turns, tools, ctx)
    extra = {k: v for k, v in value.items() if k not in _KNOWN} or None
    return chat_outcome(item, fmt, messages, tools, ctx, extra)


def _joined(first: Any, second: Any) -> Any:
    if second is None:
        return first
    if first is None:
        return second
    return [*first, *(second if isinstance(second, list) else [second])]
