"""Records written by an attacker, for the probes of tests/test_hostile.py and tests/test_view_browser.py:
markup, event attributes, ``javascript:`` URLs and terminal escape sequences in every field a record
has (system prompt, user and assistant text, tool names, descriptions, property names, enums, call
arguments, tool results, metadata) and in the file name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Each piece would do something if it reached a page or a terminal unescaped.
PIECES = [
    '<script>alert("s1")</script>',
    "<img src=x onerror=alert(2)>",
    '"><svg onload=alert(3)>',
    "javascript:alert(4)",
    "' onmouseover='alert(5)' x='",
    '</i></span></div><iframe src="javascript:alert(6)"></iframe>',
    '<a href="javascript:alert(7)">click</a>',
    "<style>body{display:none}</style><base href=//x.invalid/>",
    "&lt;b&gt; &amp;",
]
ESCAPES = ["\x1b[2J", "\x1b]0;owned\x07", "\x9b31m", "\x1b]52;c;b3duZWQ=\x07", "\x7f"]
HOSTILE = " ".join(PIECES)
HOSTILE_TERMINAL = HOSTILE + " " + " ".join(ESCAPES)
FILE_NAME = "x<img src=y onerror=alert(9)>.jsonl"


def hostile_records() -> list[dict[str, Any]]:
    h = HOSTILE_TERMINAL
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": h,
            "parameters": {"type": "object", "properties": {"<img src=z onerror=alert(8)>": {"type": "string", "description": h, "enum": [h]}}},
        },
    }
    ok = {
        "messages": [
            {"role": "system", "content": h},
            {"role": "user", "content": h},
            {"role": "assistant", "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "lookup", "arguments": {"<img src=z onerror=alert(8)>": h}}}]},
            {"role": "tool", "tool_call_id": "abcDEF123", "content": h},
            {"role": "assistant", "content": h},
        ],
        "tools": [tool],
        "metadata": {"note": h},
    }
    # a call to a function whose name is an attack: refused by the converter, every finding listed
    bad = {
        "messages": [
            {"role": "user", "content": h},
            {"role": "assistant", "tool_calls": [{"id": "abcDEF124", "type": "function", "function": {"name": h, "arguments": {h: h}}}]},
            {"role": "tool", "tool_call_id": "abcDEF124", "content": h},
            {"role": "assistant", "content": h},
        ],
        "tools": [{"type": "function", "function": {"name": h, "description": h, "parameters": {"type": "object"}}}],
    }
    # valid but with warnings whose messages quote the text
    warned = {"messages": [{"role": "user", "content": "[INST] " + h}, {"role": "assistant", "content": h}, {"role": "assistant", "content": "<|endoftext|> " + h}]}
    return [ok, bad, warned]


def write_hostile_file(folder: Path) -> Path:
    path = folder / FILE_NAME
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in hostile_records()), encoding="utf-8")
    return path
