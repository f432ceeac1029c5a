"""ToolACE, raw (Team-ACE/ToolACE ``data.json``): the tools as a JSON list inside the system text, turns
``user``/``assistant``/``tool``, calls in Python call syntax::

    {"system": "You are an expert in composing functions. ... Here is a list of functions in JSON format
                that you can invoke:\\n[{\\"name\\": \\"Market Trends API\\", \\"description\\": ...,
                \\"parameters\\": {\\"type\\": \\"dict\\", ...}}]\\nShould you decide to return the function
                call(s), Put it in the format of [func1(params_name=params_value, ...), func2(params)]\\n
                NO other text MUST be included.",
     "conversations": [{"from": "user", "value": "..."},
                       {"from": "assistant", "value": "[Market Trends API(trend_type=\\"INDEXES\\")]"},
                       {"from": "tool", "value": "[{\\"name\\": \\"Market Trends API\\", \\"results\\": {...}}]"},
                       {"from": "assistant", "value": "Here are the trends ..."}]}

Read here (the ShareGPT converter does the rest):

- the first JSON list of objects in the system text declares the tools (``tools_from_system_prompt``;
  BFCL-style ``dict`` types are read by :mod:`fcdata.schema_types`, names with spaces are sanitized
  in the declaration and its calls: ``function_name_sanitized``); the instructions after it on
  writing calls as ``[func(...)]`` are dropped (``format_instructions_dropped``, kept in
  ``metadata.dropped_text``), the prose before it kept;
- an assistant turn written as a call list is read with :mod:`.pycall` (``python_call_syntax_parsed``);
- a tool turn holding a JSON list of ``{"name", "results"}`` gives one result per element, linked by
  name (``tool_result_envelope_unwrapped``).
"""

from __future__ import annotations

import re
from typing import Any

from .arguments import DECODER
from .results import is_envelope, unwrap_envelope
from .outcome import Reject

__all__ = ["system_tools", "tool_results", "has_tool_list"]

_LIST_START = re.compile(r"\[\s*\{")


def has_tool_list(text: str) -> bool:
    """Whether a system text holds a JSON list of function declarations (ToolACE's layout)."""
    m = _LIST_START.search(text)
    return m is not None and '"name"' in text[m.start() : m.start() + 200]


def system_tools(text: str, repairs: list[str], dropped: list[str]) -> tuple[str, Any]:
    """The system prose and the declarations of its JSON list (``None`` without one); the call-format
    instructions after the list are appended to ``dropped``."""
    for m in _LIST_START.finditer(text):
        try:
            value, end = DECODER.raw_decode(text, m.start())
        except (ValueError, RecursionError):
            continue
        if not (isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value)):
            continue
        repairs.append("tools_from_system_prompt")
        before, after = text[: m.start()].rstrip(), text[end:].strip()
        if after:
            dropped.append(after)
            repairs.append("format_instructions_dropped")
        return before, value
    if has_tool_list(text):
        raise Reject("tool_declaration_not_json", "system: the list of functions in the system text is not valid JSON")
    return text, None


def tool_results(text: str, repairs: list[str]) -> list[tuple[str | None, str]] | None:
    """The results of a ToolACE tool turn (``[{"name", "results"}, ...]``), ``(name, result text)`` each;
    ``None`` when the turn is not such a list (its text is then the result)."""
    t = text.strip()
    if not t.startswith("["):
        return None
    try:
        value = DECODER.decode(t)
    except (ValueError, RecursionError):
        return None
    if not (isinstance(value, list) and value and all(is_envelope(v) for v in value)):
        return None
    return [unwrap_envelope(v, t, repairs) for v in value]
