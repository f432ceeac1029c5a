"""Tool-call markup of chat formats, as it appears in text.

Every chat template that can call tools writes its calls in its own markup: Hermes and Qwen
``<tool_call>{...}</tool_call>``, Glaive ``<functioncall> {...}``, NVIDIA's When2Call and Nemotron
``<TOOLCALL>[...]</TOOLCALL>``, Mistral ``[TOOL_CALLS][...]``, Llama 3.1 ``<|python_tag|>`` and
``<function=name>{...}</function>``, DeepSeek ``<｜tool▁calls▁begin｜>``, Qwen-Agent ``✿FUNCTION✿``.
In Mistral v0.3 training data a call is a ``tool_calls`` entry, rendered with the ``[TOOL_CALLS]``
control token; the same markup left in an assistant's *text* is encoded as ordinary tokens, and a
model trained on it learns to print that markup instead of calling. So ``fcdata convert`` reads such
markup into calls (or rejects the record) and ``fcdata validate`` reports any left in assistant text
(``call_markup_text``).

This module only finds the markup (both stages use it); reading it into calls is the converter's job
(:mod:`fcdata.convert.markup`).

    >>> find_call_markup('<tool_call>\\n{"name": "f", "arguments": {}}\\n</tool_call>')
    '<tool_call>'
    >>> find_call_markup("I'll look that up.") is None
    True
"""

from __future__ import annotations

import re

__all__ = ["CALL_MARKUP", "find_call_markup"]

# marker -> the formats that write it (docs and messages)
CALL_MARKUP: dict[str, str] = {
    "<tool_call>": "Hermes, Qwen 2.5/3 and other ChatML templates",
    "</tool_call>": "Hermes, Qwen 2.5/3 and other ChatML templates",
    "```tool_call": "Hermes pre-release (data-genie)",
    "<functioncall>": "Glaive function-calling v2",
    "<TOOLCALL>": "NVIDIA When2Call, Nemotron",
    "</TOOLCALL>": "NVIDIA When2Call, Nemotron",
    "<toolcall>": "Nemotron-4 templates",
    "[TOOL_CALLS]": "Mistral, written as text instead of the control token",
    "<|python_tag|>": "Llama 3.1",
    "<function=": "Llama 3.1 custom tool calls",
    "<｜tool▁calls▁begin｜>": "DeepSeek V3 / R1",
    "<｜tool▁call▁begin｜>": "DeepSeek V3 / R1",
    "✿FUNCTION✿": "Qwen-Agent",
}

# one search for all of them (a literal alternation: the C engine scans the text once)
_MARKUP_RE = re.compile("|".join(re.escape(m) for m in sorted(CALL_MARKUP, key=len, reverse=True)))


def find_call_markup(text: str) -> str | None:
    """The first call marker in ``text`` (as written there), or ``None``."""
    m = _MARKUP_RE.search(text)
    return m.group(0) if m is not None else None
