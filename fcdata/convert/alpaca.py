"""Alpaca rows ``{"instruction", "input", "output"}`` (LLaMA-Factory's alpaca format, and the many sets
published in it), with the tool-calling rows of Hammer (MadeAgents' Hammer SFT data) written in it.

A Hammer row keeps everything in ``instruction``, in named sections::

    [BEGIN OF TASK INSTRUCTION] You are a tool calling assistant... [END OF TASK INSTRUCTION]
    [BEGIN OF AVAILABLE TOOLS] [{"name", "description", "parameters": {xLAM-style}}] [END OF AVAILABLE TOOLS]
    [BEGIN OF FORMAT INSTRUCTION] The output MUST strictly adhere to ... JSON ... [END OF FORMAT INSTRUCTION]
    [BEGIN OF QUERY] the user's request [END OF QUERY]

and ``output`` is a fenced JSON list of calls (`````` ```\\n[{"name", "arguments"}]\\n``` ``````). fcdata makes
the task instruction the system prompt, the tools block the record's tools (``tools_from_instruction``;
xLAM-style parameters built into JSON Schema, as for xLAM), the query (and ``input``, when not empty) the
user turn, and the call list the assistant's calls (``call_list_fence_removed``). The format instructions
tell the model to print JSON, which it must not learn (it calls with ``[TOOL_CALLS]``): they are dropped
and kept in ``metadata.dropped_text`` (``format_instructions_dropped``). An empty call list is Hammer's
abstention, with no reply text to train: refused (``empty_call_list``, as for xLAM). Hammer masks function
and parameter names with random strings; names with characters Mistral refuses (dots) are sanitised in
the declaration and its calls alike (``function_name_sanitized``).

A plain alpaca row (no tools section) is an instruction-following chat: ``instruction`` and ``input`` as
the user turn, ``output`` as the reply (``system`` and ``history`` pairs, LLaMA-Factory's extensions,
included).
"""

from __future__ import annotations

import re
from typing import Any

from ..read import Item
from .assemble import Context, assemble
from .encoding import KEY_ENCODER
from .finish import chat_outcome
from .markup import calls_from_value
from .outcome import Converted, Reject
from .tools import EMPTY_TOOLSET, toolset_from_text
from .turns import Turn

__all__ = ["convert_alpaca", "is_alpaca"]

_KNOWN = frozenset({"instruction", "input", "output", "system", "history"})
_SECTION = re.compile(r"\[BEGIN OF ([A-Z ]+)\](.*?)\[END OF \1\]", re.S)
_FENCE = re.compile(r"^\s*```[a-z]*\s*\n?(.*?)\n?\s*```\s*$", re.S)


def is_alpaca(value: dict[str, Any]) -> bool:
    """An alpaca row: ``instruction`` and ``output`` text, and no key of a chat format."""
    return isinstance(value.get("instruction"), str) and "output" in value and not any(k in value for k in ("messages", "conversations"))


def _sections(text: str) -> dict[str, str]:
    return {m.group(1).strip(): m.group(2).strip() for m in _SECTION.finditer(text)}


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Reject("wrong_type", f"{field}: must be text, got {type(value).__name__}")
    return value


def convert_alpaca(item: Item, value: dict[str, Any], fmt: str = "alpaca") -> Converted:
    """Convert one alpaca row (Hammer's tool-calling rows included); raises :class:`Reject`."""
    instruction = _text(value.get("instruction"), "instruction")
    extra_input = _text(value.get("input"), "input")
    output = value.get("output")
    repairs: list[str] = []
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"))
    sections = _sections(instruction)
    turns: list[Turn] = []
    system = _text(value.get("system"), "system")
    if "AVAILABLE TOOLS" in sections:
        tools = toolset_from_text(sections["AVAILABLE TOOLS"], "instruction (available tools)", repairs)
        repairs.append("tools_from_instruction")
        if "FORMAT INSTRUCTION" in sections:
            ctx.note("dropped_text", {"message": None, "text": sections["FORMAT INSTRUCTION"]})
            repairs.append("format_instructions_dropped")
        query = sections.get("QUERY")
        if query is None:
            raise Reject("missing_field", "instruction: a tools block but no [BEGIN OF QUERY] section holding the request")
        system = "\n\n".join(p for p in (system, sections.get("TASK INSTRUCTION", "")) if p)
        user = "\n".join(p for p in (query, extra_input) if p)  # as LLaMA-Factory's alpaca reader joins them
        reply = _calls_turn(output, repairs)
    else:
        tools = EMPTY_TOOLSET
        user = "\n".join(p for p in (instruction, extra_input) if p)  # as LLaMA-Factory's alpaca reader joins them
        if not isinstance(output, str):
            raise Reject("wrong_type" if output is not None else "missing_field", "output: an alpaca row needs its reply as text")
        reply = Turn("assistant", output)
    if system:
        turns.append(Turn("system", system))
    turns.extend(_history(value.get("history")))
    turns.append(Turn("user", user))
    turns.append(reply)
    ctx.repairs.extend(repairs)
    messages = assemble(turns, tools, ctx)
    extra = {k: v for k, v in value.items() if k not in _KNOWN} or None
    return chat_outcome(item, fmt, messages, tools, ctx, extra)


def _calls_turn(output: Any, repairs: list[str]) -> Turn:
    """The assistant's calls from Hammer's output: a JSON list, fenced in a code block."""
    if isinstance(output, str):
        fenced = _FENCE.match(output)
        if fenced is not None:
            output = fenced.group(1)
            repairs.append("call_list_fence_removed")
        if output.strip() == "[]":
            raise Reject("empty_call_list", "output: an empty list of calls (the row abstains): there is no reply to train on")
    elif output == []:
        raise Reject("empty_call_list", "output: an empty list of calls (the row abstains): there is no reply to train on")
    elif output is None:
        raise Reject("missing_field", "output: the row needs its answer calls")
    return Turn("assistant", None, calls_from_value(output, "output", repairs))


def _history(history: Any) -> list[Turn]:
    """LLaMA-Factory's ``history``: earlier ``[instruction, response]`` pairs."""
    if history is None:
        return []
    if not isinstance(history, list) or not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in history):
        raise Reject("wrong_type", "history: must be a list of [instruction, response] text pairs")
    turns: list[Turn] = []
    for question, answer in history:
        turns.extend((Turn("user", question), Turn("assistant", answer)))
    return turns
