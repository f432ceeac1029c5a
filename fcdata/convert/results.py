"""Tool results as sources pack them: several results in one message, results wrapped with the name of
the function that gave them.

- One result message answering the parallel calls before it with a JSON list of one element per call
  (LLaMA-Factory's ShareGPT and v1 data, ComplexFuncBench's observation lists) becomes one result per
  call (``observation_list_split``); for a single call only when the list was given as a value
  (ComplexFuncBench) or its element is an envelope naming that call: a result that *is* a list stays
  one result.
- An envelope ``{"name": ..., "content": ...}`` (Hermes, LLaMA-Factory v1; ``"results"`` in ToolACE;
  with or without ``"tool_call_id"``) is unwrapped: its content is the result, its name says which call
  it answers (``tool_result_envelope_unwrapped``).
"""

from __future__ import annotations

import ast
import json
from typing import Any

from ..read import unique_pairs
from .arguments import literal_tree
from .encoding import ENCODER

# a result list decoded to be split and written back: a key given twice with two values is refused
# (ConflictingKey), since re-encoding would keep only the last one
_RESULTS = json.JSONDecoder(object_pairs_hook=unique_pairs)
from .turns import Turn

__all__ = ["split_result_lists", "unwrap_envelope", "is_envelope"]


def is_envelope(value: Any) -> bool:
    """``{"name", "content"|"results"}`` (and optionally ``"tool_call_id"``), nothing else."""
    if not (isinstance(value, dict) and isinstance(value.get("name"), str)):
        return False
    keys = set(value) - {"name", "tool_call_id"}
    return keys == {"content"} or keys == {"results"}


def tool_result_text(content: str, repairs: list[str]) -> str:
    """A tool result, with a Python repr (``{'price': 25}``) rewritten as the JSON it stands for
    (``tool_result_python_literal``); anything else is kept exactly."""
    if content[:1] in ("{", "["):
        try:
            _RESULTS.decode(content)  # a key given twice with two values: ConflictingKey, a rejection
            return content  # JSON: kept exactly (mistral-common parses it, and would keep one of the two)
        except ValueError:
            pass
        if "'" not in content:
            return content
        try:
            value = ast.literal_eval(literal_tree(content))
            if isinstance(value, (dict, list)):
                text = ENCODER.encode(value)
                repairs.append("tool_result_python_literal")
                return text
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    return content


def unwrap_envelope(value: Any, source: str, repairs: list[str]) -> tuple[str | None, str]:
    """An envelope as ``(function name, the content's text)``; anything else as ``(None, source)``."""
    if is_envelope(value):
        repairs.append("tool_result_envelope_unwrapped")
        inner = value["content"] if "content" in value else value["results"]
        # a Python repr inside the envelope is JSON'd as any tool result is (tool_result_python_literal)
        return value["name"], tool_result_text(inner, repairs) if isinstance(inner, str) else ENCODER.encode(inner)
    return None, source


def split_result_lists(turns: list[Turn], repairs: list[str], decoded: frozenset[int] | set[int] = frozenset()) -> list[Turn]:
    """``turns`` with list results split per call (see the module docstring); ``decoded`` holds the ids
    of the result turns whose content was given as a value, not as text."""
    out: list[Turn] = []
    i = 0
    n = len(turns)
    while i < n:
        t = turns[i]
        out.append(t)
        i += 1
        if not (t.role == "assistant" and t.calls and i < n and turns[i].role == "tool" and (i + 1 >= n or turns[i + 1].role != "tool")):
            continue
        result = turns[i]
        text = result.content or ""
        if not text.startswith("["):
            continue
        try:
            parts = json.loads(text)
        except ValueError:
            continue
        if not isinstance(parts, list) or len(parts) != len(t.calls):
            continue
        envelopes = all(is_envelope(p) for p in parts)
        if len(t.calls) == 1 and id(result) not in decoded and not (envelopes and parts[0]["name"] == t.calls[0].name):
            continue
        _RESULTS.decode(text)  # split and re-encoded: a key given twice with two values is a rejection
        if len(parts) > 1:
            repairs.append("observation_list_split")
        ids = {c.id for c in t.calls if c.id is not None}
        for p in parts:
            name, content = unwrap_envelope(p, p if isinstance(p, str) else ENCODER.encode(p), repairs)
            call_id = p.get("tool_call_id") if isinstance(p, dict) and p.get("tool_call_id") in ids else None
            out.append(Turn("tool", content, call_id=call_id, name=name))
        i += 1
    return out
