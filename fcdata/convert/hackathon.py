"""The legacy Mistral hackathon formats: instruct records ``{"interactions": [{"is_user": bool, "text":
str}, ...]}`` become user/assistant chats (no tools); continued-pretraining records ``{"text": str}``
stay text records (rendered ``<s>`` text ``</s>``, every token trained).

The original hackathon code wrapped user text in literal ``[INST] ... [/INST]`` strings for v0.1; for
v0.3 the renderer uses the control ids instead, so nothing is added to the text here.
"""

from __future__ import annotations

import json
from typing import Any

from ..read import Item
from .assemble import Context, assemble
from .encoding import KEY_ENCODER
from .finish import chat_outcome, text_outcome
from .outcome import Converted, Reject
from .tools import EMPTY_TOOLSET
from .turns import Turn

__all__ = ["convert_interactions", "convert_text"]



def convert_interactions(item: Item, value: dict[str, Any]) -> Converted:
    """Convert one ``{"interactions": [...]}`` record; raises :class:`Reject`."""
    inter = value.get("interactions")
    if not isinstance(inter, list):
        raise Reject("wrong_type", f"interactions: expected a list, got {type(inter).__name__}")
    turns: list[Turn] = []
    for i, turn in enumerate(inter):
        where = f"interactions[{i}]"
        if not isinstance(turn, dict):
            raise Reject("wrong_type", f"{where}: expected an object with is_user and text")
        is_user, text = turn.get("is_user"), turn.get("text")
        if not isinstance(is_user, bool):
            raise Reject("wrong_type" if "is_user" in turn else "missing_field", f"{where}.is_user: expected true or false, got {json.dumps(is_user)}")
        if not isinstance(text, str):
            raise Reject("wrong_type" if "text" in turn else "missing_field", f"{where}.text: expected a string, got {json.dumps(text, ensure_ascii=False)[:40]}")
        turns.append(Turn("user" if is_user else "assistant", text))
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"))
    messages = assemble(turns, EMPTY_TOOLSET, ctx)
    extra = {k: v for k, v in value.items() if k != "interactions"} or None
    return chat_outcome(item, "hackathon", messages, EMPTY_TOOLSET, ctx, extra)


def convert_text(item: Item, value: dict[str, Any]) -> Converted:
    """Pass a ``{"text": ...}`` pretraining record on as a canonical text record; raises :class:`Reject`."""
    text = value.get("text")
    if not isinstance(text, str):
        raise Reject("wrong_type", f"text: expected a string, got {type(text).__name__}")
    if not text.strip():
        raise Reject("empty_text", "text: empty text trains nothing")
    extra = {k: v for k, v in value.items() if k not in ("text", "metadata")} or None
    return text_outcome(item, "text", text, [], extra, value.get("metadata"))
