"""The v13 encoder (Devstral 2507, Magistral 2507+, Mistral Medium 3.1 ...): mistral-common's
``InstructTokenizerV13`` after ``InstructRequestNormalizerV13``. Tekken only.

Delta from v11 (:mod:`fcdata.render.v11`):

- the tools block sits before the FIRST user turn, so no part of the context moves as the conversation
  grows: ``exact`` mode makes one sample (:meth:`EncoderV13.context_moves`);
- call ids are no longer written: ``[TOOL_CALLS] name [ARGS] json(arguments)``, and a result is
  ``[TOOL_RESULTS] content [/TOOL_RESULTS]``; every call still needs an id (it links its result).
"""

from __future__ import annotations

from typing import Any

from ..errors import RecordError
from ..normalize import Rules, Turn
from .segments import Piece
from .v11 import EncoderV11

__all__ = ["EncoderV13"]


class EncoderV13(EncoderV11):
    """v11 with tools at the first user turn and no call ids in calls or results."""

    version = "v13"
    rules = Rules(systems_in_place=True, content_with_calls=True, sort_tool_results=True, version="v13")
    tools_at_first_user = True
    tool_tokens = ("[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[ARGS]")

    def context_moves(self, record: Any) -> bool:
        return False

    def call_id(self, message_index: int, call: object) -> list[Piece]:
        cid = getattr(call, "id", None)
        if not cid or cid == "null":
            raise RecordError(f"a tool call needs an id for a {self.version} tokenizer (it links the call to its result)", path=f"messages[{message_index}].tool_calls", code="call_id_missing")
        return []

    def result_id(self, turn: Turn) -> list[Piece]:
        return []
