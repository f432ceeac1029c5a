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

__all__ = ["CALL_MARKUP", "find_call_markup", "is_python_call_list", "REASONING_TAGS", "find_reasoning_markup", "split_reasoning"]

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


# ToolACE and Gorilla write calls as a Python list of calls, ``[Func Name(a=1, b="x"), other()]``: a
# whole reply of that shape is calls (read by ``--from toolace``), never text to train. The shape: a name
# (letters, digits, spaces, ``_ . - /``), then ``()`` or a keyword argument (``a=``), as ToolACE always
# writes them; ``[x * 2 for x in range(10)]`` or ``[See Figure 1 (left)]`` are not calls
_PY_CALL_LIST_RE = re.compile(r"\s*\[\s*[A-Za-z_][\w .\-/]*\((?=\s*\)|\s*[A-Za-z_]\w*\s*=(?!=)).*\)\s*\]\s*", re.S)


def is_python_call_list(text: str) -> bool:
    """Whether a whole reply has the shape of a Python call list, ``[name(...), ...]`` (ToolACE's calls).

        >>> is_python_call_list("[GetCompetitions()]"), is_python_call_list("[see the docs](https://x)")
        (True, False)
    """
    return text.lstrip()[:1] == "[" and _PY_CALL_LIST_RE.fullmatch(text) is not None


def find_call_markup(text: str) -> str | None:
    """The first call marker in ``text`` (as written there), or ``None``."""
    m = _MARKUP_RE.search(text)
    return m.group(0) if m is not None else None


# Reasoning written as text: DeepSeek-R1, Qwen3 and their distillations put the reasoning between
# ``<think>`` tags in the reply (and copies of such data keep stray closing tags); Magistral's templates
# write ``[THINK]``. Mistral v0.3 has no reasoning channel: such tags in trained text teach the model to
# print them. The converter drops a leading reasoning block and a stray tag at either end, and rejects
# anything else (``reasoning_markup_text``); ``fcdata validate`` warns about any left.
REASONING_TAGS = ("think", "thinking")
_REASONING_RE = re.compile(r"</?(?:think|thinking)>|\[/?THINK\]")
_BLOCK_END = re.compile(r"[ \t]*(?:\r?\n|\Z)")
_LEADING_BLOCK_RE = re.compile(r"\s*(?:<(think|thinking)>(.*?)</\1>|\[THINK\](.*?)\[/THINK\])", re.S)


def find_reasoning_markup(text: str) -> str | None:
    """The first reasoning tag (``<think>``, ``</think>``, ``<thinking>``, ``[THINK]``...) in ``text``."""
    if "`" in text:  # a tag in inline code is about the tag (``\`<think>\``), not reasoning
        text = _INLINE_CODE.sub("", text)
    m = _REASONING_RE.search(text)
    return m.group(0) if m is not None else None


_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")
_INLINE_CODE = re.compile(r"`[^`\n]+`")


def strip_leading_blank_lines(text: str) -> str:
    """``text`` without the blank lines it starts with (the first line's own indentation is kept)."""
    return _LEADING_BLANK_LINES.sub("", text, count=1)


def split_reasoning(text: str) -> tuple[str | None, str, bool]:
    """``(reasoning, reply, stray_removed)`` of a reply that opens with one reasoning block or has a lone
    tag at either end; the reply is what follows, leading whitespace (the block's separator) removed.

    Raises ``ValueError`` naming the tag when reasoning markup remains elsewhere (a block in the middle,
    two answers glued together): that text cannot be cut into reasoning and reply without guessing.

        >>> split_reasoning("<think>Sum it.</think>\\n\\nIt is 4.")
        ('Sum it.', 'It is 4.', False)
        >>> split_reasoning("It is 4.\\n</think>")
        (None, 'It is 4.', True)
    """
    reasoning = None
    m = _LEADING_BLOCK_RE.match(text)
    # a <think> block is a paragraph of its own: a line break after its opening tag or after its closing
    # one (or the text ends), else the tags are words of the reply ("<thinking> tags ... write
    # </thinking> to close them") and the reply is refused, not cut; [THINK] is never a word
    if m is not None and (m.group(3) is not None or text[m.start(2) : m.start(2) + 1] in ("\n", "\r") or _BLOCK_END.match(text, m.end())):
        reasoning = (m.group(2) if m.group(1) else m.group(3)).strip()
        text = strip_leading_blank_lines(text[m.end() :].lstrip(" \t"))
    stray = False
    for tag in ("</think>", "</thinking>", "[/THINK]"):
        body = text.rstrip()
        if body.endswith(tag) and find_reasoning_markup(body[: -len(tag)]) is None:
            text, stray = body[: -len(tag)].rstrip(), True
        body = text.lstrip()
        if body.startswith(tag) and find_reasoning_markup(body[len(tag) :]) is None:
            text, stray = body[len(tag) :].lstrip(), True
    left = find_reasoning_markup(text)
    if left is not None:
        raise ValueError(left)
    return reasoning, text, stray
