"""The v3 encoder (Mistral 7B Instruct v0.3; Mistral NeMo with its v3 Tekken file): the base of every
later version, mirroring mistral-common's ``InstructTokenizerV3`` after ``InstructRequestNormalizer``.

A turn's layout is a list of pieces (control tokens and text segments, each segment encoded on its
own); the planner (:mod:`fcdata.render.planner`) encodes the segments and assembles samples. Later
versions are small subclasses that override the hooks that differ (:mod:`~fcdata.render.v7`,
:mod:`~fcdata.render.v11`, :mod:`~fcdata.render.v13`).

v3 layout (``<s>`` first)::

    user       [INST] text [/INST]                 (the LAST user turn of a sample: system prompt, then
                                                     "\\n\\n", in front of its text)
    tools      [AVAILABLE_TOOLS] json [/AVAILABLE_TOOLS]   right before the LAST user turn's [INST]
    assistant  text.rstrip(" ") </s>   or   [TOOL_CALLS] json([{"name", "arguments", "id"}]) </s>
    tool       [TOOL_RESULTS] json({"content": parsed-or-raw, "call_id": id}) [/TOOL_RESULTS]

The system prompt is every non-empty system message of the sample's conversation, joined by "\\n\\n".
Because the tools block and system prompt sit with the last user turn, they move as the conversation
grows: ``exact`` mode makes one sample per user turn (:meth:`context_moves`).
"""

from __future__ import annotations

from typing import Any

from ..errors import RecordError, TokenizerError
from ..normalize import Conversation, Rules, Turn
from ..tokenizer import Tokenizer
from .segments import SEP, Control, Piece, Segment, calls_json_segment, dumps, json_value, text_segment
from .spans import SYSTEM, TEXT, TOOL_RESULT, TOOLS, USER

__all__ = ["EncoderV3", "EncoderV2", "EncoderV1"]


class EncoderV3:
    """mistral-common ``InstructTokenizerV3``: tool calls as one JSON list after ``[TOOL_CALLS]``, tool
    results as ``{"content", "call_id"}`` JSON, tools and system prompt with the last user message."""

    version = "v3"
    rules = Rules(version="v3")
    tools_at_first_user = False  # v13+: the tools block goes with the FIRST user turn
    carrier_always = False  # v15: the carrier user turn has a block of its own even without tools
    system_prompt_in_user = True  # v7+: system messages are turns of their own
    instruct_tokens: tuple[str, ...] = ("[INST]", "[/INST]")
    tool_tokens: tuple[str, ...] = ("[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]")

    def __init__(self, tok: Tokenizer) -> None:
        self.tok = tok
        self.units = tok.text_units

    # ---------------------------------------------------------------------------------- capability

    @classmethod
    def can_encode_tools(cls, tok: Tokenizer) -> bool:
        return all(tok.special(p) is not None for p in cls.tool_tokens)

    def _fix(self) -> str:
        return "use a tokenizer of a tool-calling model (tokenizer.model.v3, tekken.json, or its model folder), or leave --tokenizer out to use the v3 one shipped in mistral-common"

    def require_instruct(self, what: str) -> None:
        missing = [p for p in self.instruct_tokens if self.tok.special(p) is None]
        if missing:
            raise TokenizerError(f"{self.tok.path}: a {self.tok.version} tokenizer has no {'/'.join(missing)} control tokens and cannot render {what}; {self._fix()}")

    def require_tools(self, what: str) -> None:
        missing = [p for p in self.tool_tokens if self.tok.special(p) is None]
        if missing:
            raise TokenizerError(f"{self.tok.path}: a {self.tok.version} tokenizer has no {', '.join(missing)} control tokens and cannot render {what} (tools, tool calls or tool results); {self._fix()}")

    def context_moves(self, record: Any) -> bool:
        """Whether the context of an early assistant turn changes when the conversation grows (then
        ``exact`` mode needs one sample per user turn). v3: always taken to move (the system prompt
        and tools block go to the last user turn), as fcdata v3 output has always been cut."""
        return True

    # ---------------------------------------------------------------------------------- layouts

    def tools_segment(self, record: Any) -> Segment | None:
        """The tools block JSON as mistral-common dumps it: ``Tool.model_dump`` without ``strict``."""
        if not record.tools:
            return None
        text = dumps(
            [
                {"type": "function", "function": {"name": t.function.name, "description": t.function.description, "parameters": t.function.parameters}}
                for t in record.tools
            ]
        )
        return Segment(text, None, -1, TOOLS)

    def tools_pieces(self, tools: Segment) -> list[Piece]:
        tok = self.tok
        return [Control(tok.tools_id, -1, False), tools, Control(tok.tools_end_id, -1, False)]  # type: ignore[arg-type]

    def user_text(self, conv: Conversation, turn: Turn, nsys: int) -> Segment:
        """The text of a user turn; with ``nsys`` > 0, the first ``nsys`` system messages joined in
        front (the last user turn of a sample)."""
        if not nsys:
            if len(turn.parts) == 1:
                mi, text = turn.parts[0]
                return Segment(text, None, mi, USER)
            if not turn.parts:
                return Segment("", None, turn.first, USER)
            return text_segment([(mi, USER, text) for mi, text in turn.parts], self.units)
        entries = [(mi, SYSTEM, c) for mi, c in conv.systems[:nsys]]
        if turn.parts:
            entries += [(mi, USER, text) for mi, text in turn.parts]
        else:  # system prompt + "\n\n" + "": the separator goes with the system prompt
            mi, kind, c = entries[-1]
            entries[-1] = (mi, kind, c + SEP)
        return text_segment(entries, self.units)

    def extra_texts(self) -> list[str]:
        """Texts every record of this version encodes (v15: the model settings)."""
        return []

    def user(self, conv: Conversation, turn: Turn, tools: Segment | None, nsys: int, *, carrier: bool = False) -> list[Piece]:
        tok = self.tok
        pieces: list[Piece] = self.tools_pieces(tools) if tools is not None else []
        pieces += [Control(tok.inst_id, turn.first, False), self.user_text(conv, turn, nsys), Control(tok.inst_end_id, turn.last, False)]  # type: ignore[arg-type]
        return pieces

    def assistant_text(self, turn: Turn) -> Segment:
        if len(turn.parts) == 1:
            mi, text = turn.parts[0]
            return Segment(text.rstrip(" "), None, mi, TEXT)
        return text_segment([(mi, TEXT, text) for mi, text in turn.parts], self.units, rstrip=True)

    def calls(self, turn: Turn) -> tuple[list[Piece], tuple[str, ...]]:
        """``[TOOL_CALLS]`` and the JSON list of the turn's calls; the names called."""
        seg, names = calls_json_segment(turn.calls, turn.first, self.units)
        return [Control(self.tok.tool_calls_id, turn.first, True), seg], names  # type: ignore[arg-type]

    def assistant(self, turn: Turn) -> tuple[list[Piece], tuple[str, ...]]:
        """Text, or calls (v7+: text then calls), then ``</s>``; and the names called."""
        pieces: list[Piece] = []
        names: tuple[str, ...] = ()
        if turn.parts:
            pieces.append(self.assistant_text(turn))
        if turn.calls:
            call_pieces, names = self.calls(turn)
            pieces += call_pieces
        pieces.append(Control(self.tok.eos_id, turn.last, True))
        return pieces, names

    def tool(self, turn: Turn) -> list[Piece]:
        tok = self.tok
        if turn.call_id is None:
            raise RecordError(f"a tool result needs tool_call_id for a {self.version} tokenizer", path=f"messages[{turn.first}].tool_call_id", code="tool_result_no_id")
        seg = Segment(dumps({"content": json_value(turn.content), "call_id": turn.call_id}), None, turn.first, TOOL_RESULT)
        return [Control(tok.results_id, turn.first, False), seg, Control(tok.results_end_id, turn.first, False)]  # type: ignore[arg-type]

    def system(self, turn: Turn) -> list[Piece]:
        raise AssertionError("v3 keeps no system turns (the normaliser makes a system prompt of them)")


class EncoderV2(EncoderV3):
    """mistral-common ``InstructTokenizerV2`` differs from v3 in how it encodes tool history (results as a
    list, calls before the last user message dropped); fcdata renders v2 records only without tools,
    where the two agree."""

    version = "v2"
    rules = Rules(version="v2")

    @classmethod
    def can_encode_tools(cls, tok: Tokenizer) -> bool:
        return False

    def require_tools(self, what: str) -> None:
        raise TokenizerError(f"{self.tok.path}: a v2 tokenizer encodes tool history differently from v3 and fcdata does not render {what} (tools, tool calls or tool results) with it; {self._fix()}")


class EncoderV1(EncoderV2):
    """mistral-common ``InstructTokenizerV1`` writes ``[INST]`` as text; fcdata renders only ``{"text"}``
    records with it."""

    version = "v1"
    rules = Rules(version="v1")

    def require_instruct(self, what: str) -> None:
        raise TokenizerError(f"{self.tok.path}: a v1 tokenizer (no [INST]/[/INST] control tokens, Mistral 7B v0.1/v0.2) cannot render {what}; {self._fix()}")
