"""The v11 encoder (Mistral Small 3.2, Magistral Small/Medium 2506, Devstral Small 2505):
mistral-common's ``InstructTokenizerV11`` after ``InstructRequestNormalizerV13``.

Delta from v7 (:mod:`fcdata.render.v7`):

- each call is written on its own, with no JSON around it:
  ``[TOOL_CALLS] name [CALL_ID] id [ARGS] json(arguments)``, one after the other, then ``</s>``
  (``[CALL_ID] id`` left out for a call without an id, or with id ``"null"``);
- the results that follow an assistant turn are put in the order of its calls.

Masks: the name, ``[CALL_ID]``, ``[ARGS]`` and the arguments are trained; the id's tokens never.
"""

from __future__ import annotations

from ..normalize import Rules, Turn
from .segments import Control, Piece, Segment, call_arguments_json
from .spans import ARGUMENTS, CALL_ID, CALL_NAME
from .v7 import EncoderV7

__all__ = ["EncoderV11"]


class EncoderV11(EncoderV7):
    """v7 with calls as ``[TOOL_CALLS] name [CALL_ID] id [ARGS] arguments``, results sorted by call."""

    version = "v11"
    rules = Rules(systems_in_place=True, content_with_calls=True, sort_tool_results=True, version="v11")
    tool_tokens = EncoderV7.tool_tokens + ("[ARGS]", "[CALL_ID]")

    def calls(self, turn: Turn) -> tuple[list[Piece], tuple[str, ...]]:
        tok = self.tok
        pieces: list[Piece] = []
        names: list[str] = []
        for mi, call in turn.calls:
            fn = call.function
            names.append(fn.name)
            pieces += [Control(tok.tool_calls_id, mi, True), Segment(fn.name, None, mi, CALL_NAME)]  # type: ignore[arg-type]
            pieces += self.call_id(mi, call)
            pieces += [Control(tok.args_id, mi, True), Segment(call_arguments_json(fn.arguments), None, mi, ARGUMENTS)]  # type: ignore[arg-type]
        return pieces, tuple(names)

    def call_id(self, message_index: int, call: object) -> list[Piece]:
        cid = getattr(call, "id", None)
        if not cid or cid == "null":
            return []
        return [Control(self.tok.call_id_id, message_index, True), Segment(cid, None, message_index, CALL_ID, False)]  # type: ignore[arg-type]
