"""The v7 encoder (Mistral Large 2411, Mistral Small 3 / 3.1, Pixtral Large): mistral-common's
``InstructTokenizerV7`` after ``InstructRequestNormalizerV7``.

Delta from v3 (:mod:`fcdata.render.v3`):

- system messages stay where they are, each as ``[SYSTEM_PROMPT] text [/SYSTEM_PROMPT]``; nothing is
  prepended to a user message, and no empty user turn is inserted in front of a conversation that
  starts otherwise;
- an assistant turn may hold text and calls: ``text [TOOL_CALLS] json </s>``;
- a tool result is ``[TOOL_RESULTS] call_id [TOOL_CONTENT] content [/TOOL_RESULTS]``, its content the
  message's text as is (no JSON round trip).

The tools block still sits before the last user turn, so it moves as the conversation grows; with no
tools nothing moves and ``exact`` mode makes one sample (:meth:`EncoderV7.context_moves`).
"""

from __future__ import annotations

from typing import Any

from ..errors import RecordError
from ..normalize import Conversation, Rules, Turn
from .segments import Control, Piece, Segment
from .spans import CALL_ID, SYSTEM, TOOL_RESULT
from .v3 import EncoderV3

__all__ = ["EncoderV7"]


class EncoderV7(EncoderV3):
    """v3 plus system prompts in place between ``[SYSTEM_PROMPT]`` tokens, text before calls, and tool
    results as ``call_id [TOOL_CONTENT] content``."""

    version = "v7"
    rules = Rules(systems_in_place=True, content_with_calls=True, version="v7")
    system_prompt_in_user = False
    instruct_tokens = ("[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]")
    tool_tokens = EncoderV3.tool_tokens + ("[TOOL_CONTENT]",)

    def context_moves(self, record: Any) -> bool:
        return bool(record.tools)

    def user_text(self, conv: Conversation, turn: Turn, nsys: int) -> Segment:
        return super().user_text(conv, turn, 0)

    def system(self, turn: Turn) -> list[Piece]:
        tok = self.tok
        seg = Segment(turn.content, None, turn.first, SYSTEM)
        return [Control(tok.system_id, turn.first, False), seg, Control(tok.system_end_id, turn.first, False)]  # type: ignore[arg-type]

    def tool(self, turn: Turn) -> list[Piece]:
        tok = self.tok
        if turn.call_id is None:
            raise RecordError(f"a tool result needs tool_call_id for a {self.version} tokenizer", path=f"messages[{turn.first}].tool_call_id", code="tool_result_no_id")
        return [
            Control(tok.results_id, turn.first, False),  # type: ignore[arg-type]
            *self.result_id(turn),
            Segment(turn.content, None, turn.first, TOOL_RESULT),
            Control(tok.results_end_id, turn.first, False),  # type: ignore[arg-type]
        ]

    def result_id(self, turn: Turn) -> list[Piece]:
        """What names the call a result answers: its id, then ``[TOOL_CONTENT]``."""
        return [Segment(turn.call_id or "", None, turn.first, CALL_ID), Control(self.tok.tool_content_id, turn.first, False)]  # type: ignore[arg-type]
