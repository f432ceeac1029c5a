"""Hermes function calling (NousResearch hermes-function-calling-v1 and its many copies): ShareGPT turns
``system``/``human``/``gpt``/``tool`` with the tools, the calls and the results written in markup::

    system: "You are a function calling AI model. ... <tools>\\n[{'type': 'function', 'function': {...}}]\\n</tools>\\n
             For each function call return a json object ... <tool_call>\\n{'arguments': <args-dict>, 'name': <function-name>}\\n</tool_call>"
    gpt:    "<tool_call>\\n{'arguments': {'city': 'Paris'}, 'name': 'get_weather'}\\n</tool_call>\\n"
    tool:   "<tool_response>\\n{\\"name\\": \\"get_weather\\", \\"content\\": {...}}\\n</tool_response>\\n"

Read here (the ShareGPT converter does the rest, and the calls in ``gpt`` turns are read by
:mod:`.markup` like any call markup):

- the ``<tools>`` block of the system text (JSON, or the Python repr the set mostly uses) declares the
  tools (``tools_from_system_prompt``; ``tools_python_literal``); the system text keeps its prose;
- the instructions after the block on writing calls as ``<tool_call>`` are dropped: the calls are
  Mistral's ``[TOOL_CALLS]`` now, and a system prompt telling the model to write XML would contradict
  what it is trained to do (``format_instructions_dropped``, the text kept in
  ``metadata.dropped_text``);
- a ``tool`` turn's ``<tool_response>`` tags are removed (``tool_response_tags_removed``); each
  response ``{"name": ..., "content": ...}`` becomes one result, its ``content`` the result and its
  ``name`` the call it answers (``tool_result_envelope_unwrapped``); several responses in one turn
  answer parallel calls.

The pre-release variant written by data-genie (the generator of the set) fences the same parts as
``````tools``, ``````tool_call`` and ``````tool_response`` blocks; they are read the same way.
"""

from __future__ import annotations

import re
from typing import Any

from .arguments import loads_finite, python_literal
from .results import unwrap_envelope
from .outcome import Reject

__all__ = ["system_tools", "tool_responses", "is_hermes_text"]

_TOOLS_BLOCK = re.compile(r"<tools>(.*?)</tools>|```tools\s*\n(.*?)```", re.S)
_RESPONSE = re.compile(r"<tool_response>(.*?)</tool_response>|```tool_response\s*\n(.*?)```", re.S)
_HERMES_MARKERS = ("<tools>", "```tools", "<tool_call>", "```tool_call", "<tool_response>", "```tool_response")


def is_hermes_text(text: str) -> bool:
    """Whether a turn's text holds Hermes markup (tools, calls or results)."""
    return any(m in text for m in _HERMES_MARKERS)


def system_tools(text: str, repairs: list[str], dropped: list[str]) -> tuple[str, Any]:
    """The system text without its tools block and call-format instructions, and the declarations the
    block holds (``None`` without one); the dropped instructions are appended to ``dropped``."""
    # the first block with something in it ("within <tools> </tools> XML tags" in the prose is empty)
    m = next((b for b in _TOOLS_BLOCK.finditer(text) if (b.group(1) if b.group(1) is not None else b.group(2)).strip()), None)
    if m is None:
        return text, None
    body = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
    declarations = _literal(body, repairs, "tools_python_literal")
    if declarations is None:
        raise Reject("tool_declaration_not_json", f"system: the <tools> block is neither JSON nor a Python literal: {body[:60]!r}")
    repairs.append("tools_from_system_prompt")
    before, after = text[: m.start()].rstrip(), text[m.end() :].strip()
    if after and ("<tool_call>" in after or "tool_call" in after):
        dropped.append(after)
        repairs.append("format_instructions_dropped")
        after = ""
    prose = "\n".join(p for p in (before, after) if p)
    return prose, declarations


def _literal(body: str, repairs: list[str], repair: str) -> Any:
    try:
        return loads_finite(body)
    except (ValueError, RecursionError):
        pass
    try:
        value = python_literal(body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    repairs.append(repair)
    return value


def tool_responses(text: str, repairs: list[str]) -> list[tuple[str | None, str]] | None:
    """The results in a Hermes ``tool`` turn, ``(function name or None, result text)`` each; ``None``
    when the turn holds no ``<tool_response>`` (its text is then the result, as in plain ShareGPT)."""
    blocks = [(m.group(1) if m.group(1) is not None else m.group(2)) for m in _RESPONSE.finditer(text)]
    if not blocks:
        return None
    repairs.append("tool_response_tags_removed")
    out: list[tuple[str | None, str]] = []
    for block in blocks:
        body = block.strip()
        literal: list[str] = []
        value = _literal(body, literal, "tool_result_python_literal")
        if value is not None:
            out.append(_unwrapped(value, body, bool(literal), repairs))
            continue
        # data-genie writes several responses in one block, one per line
        lines = [line.strip() for line in body.splitlines() if line.strip()]
        literals: list[list[str]] = [[] for _ in lines]
        values = [_literal(line, lit, "tool_result_python_literal") for line, lit in zip(lines, literals)]
        if len(lines) > 1 and all(v is not None for v in values):
            out.extend(_unwrapped(v, line, bool(lit), repairs) for v, line, lit in zip(values, lines, literals))
        else:
            out.append((None, body))
    return out


def _unwrapped(value: Any, source: str, from_literal: bool, repairs: list[str]) -> tuple[str | None, str]:
    """An envelope's content, as :func:`unwrap_envelope` gives it; content that came from a Python
    literal (``{'status': 'Success'}``) and is now written as JSON says so (``tool_result_python_literal``),
    as the OpenAI converter says it of a result written as a Python repr."""
    name, text = unwrap_envelope(value, source, repairs)
    if from_literal and name is not None and not isinstance(value.get("content", value.get("results")), str) and "tool_result_python_literal" not in repairs:
        repairs.append("tool_result_python_literal")
    return name, text
