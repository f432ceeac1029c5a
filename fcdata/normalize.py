"""The conversation as mistral-common's normaliser sees it: the role and merge rules, one copy.

mistral-common encodes a request in two steps: ``InstructRequestNormalizer`` (protocol/instruct/
normalize.py) merges and reorders messages, then a version's ``InstructTokenizerV*`` encodes the result.
This module is the first step for fcdata's canonical records, and the one place its rules live: the
validator (:mod:`fcdata.validate`) reports the same rules as findings, the converter refuses to break
them, and the renderer (:mod:`fcdata.render`) encodes the turns made here.

The rules (``InstructRequestNormalizer``, with the version differences of ``...V7`` and ``...V13``):

- role order (:data:`NEXT_ROLES`, ``MistralRequestValidator._validate_message_order``);
- consecutive messages of one role merge into one turn, their texts joined by ``"\\n\\n"`` (empty texts
  skipped); assistant messages only when their ``weight`` is the same (``None`` and ``1`` differ); tool
  messages never merge; a system message between two messages keeps them apart;
- v3 and older: system messages leave the turn list (their non-empty texts become one system prompt,
  placed by the encoder), a conversation whose first turn is not a user turn gets an empty user turn in
  front, and an assistant turn may hold text or calls, not both;
- v7 and later (``systems_in_place``): system messages stay turns where they are, no empty user turn
  is inserted, and text followed by calls in one turn is allowed;
- v11 and later (``sort_tool_results``): the results that follow an assistant turn are put in the order
  of its calls (``InstructRequestNormalizerV13._inplace_sort_tool_messages``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import RecordError

__all__ = ["NEXT_ROLES", "Part", "Call", "Turn", "Conversation", "Rules", "normalize", "merges_with", "role_order_error"]

# role -> the roles mistral-common accepts right after it (MistralRequestValidator._validate_message_order)
NEXT_ROLES: dict[str, frozenset[str]] = {
    "system": frozenset({"user", "assistant", "system"}),
    "user": frozenset({"assistant", "system", "user"}),
    "assistant": frozenset({"assistant", "user", "tool"}),
    "tool": frozenset({"assistant", "tool", "user"}),
}


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def role_order_error(prev: str, role: str) -> str | None:
    """Why ``role`` cannot follow ``prev`` (``None`` when it can)."""
    if role in NEXT_ROLES.get(prev, frozenset()):
        return None
    return f"{_article(role)} {role} message cannot follow {_article(prev)} {prev} message (mistral-common refuses it)"


def merges_with(prev_role: str, prev_weight: Any, role: str, weight: Any) -> bool:
    """Whether a message joins the turn of the message before it: same role, user or assistant (tool
    and system messages never merge), and for assistants the same ``weight``."""
    if role != prev_role:
        return False
    if role == "user":
        return True
    return role == "assistant" and weight == prev_weight


class Part(NamedTuple):
    """A non-empty text of one message inside a turn."""

    message_index: int
    text: str


class Call(NamedTuple):
    """A tool call of a turn and the message it came from."""

    message_index: int
    call: Any  # fcdata.records.ToolCall


@dataclass(eq=False)
class Turn:
    """One turn after merging: consecutive messages ``first``..``last`` of one role (-1: the empty user
    turn the normaliser inserts)."""

    role: str  # "user", "assistant", "tool" or "system" (v7+)
    first: int
    last: int
    parts: list[Part] = field(default_factory=list)  # empty texts left out
    calls: list[Call] = field(default_factory=list)
    weight: int | None = None  # assistant
    call_id: str | None = None  # tool
    content: str = ""  # tool and system: the message's text as is (possibly empty)

    @property
    def trainable(self) -> bool:
        return self.role == "assistant" and self.weight != 0


class Rules(NamedTuple):
    """What differs between mistral-common's normaliser versions."""

    systems_in_place: bool = False  # v7+: system messages are turns (else: one prompt, placed by the encoder)
    content_with_calls: bool = False  # v7+: an assistant turn may hold text then calls
    sort_tool_results: bool = False  # v11+: results in the order of the calls they answer
    version: str = "v3"  # named in refusals


@dataclass
class Conversation:
    """The turns of a record and, for v3-style encoders, its system prompt parts (non-empty system
    message texts, in order)."""

    turns: list[Turn]
    systems: list[Part]


def normalize(record: Any, rules: Rules = Rules()) -> Conversation:
    """The turns of a :class:`~fcdata.records.ChatRecord`, as mistral-common's normaliser makes them.

    Raises :class:`~fcdata.errors.RecordError` where mistral-common refuses: role order, an assistant
    message with neither text nor calls, and (v3) text and calls in one turn."""
    msgs = record.messages
    for k in range(1, len(msgs)):
        reason = role_order_error(msgs[k - 1].role, msgs[k].role)
        if reason is not None:
            raise RecordError(reason, path=f"messages[{k}].role", code="role_order")
    turns: list[Turn] = []
    systems: list[Part] = []
    n = len(msgs)
    i = 0
    while i < n:
        m = msgs[i]
        role = m.role
        if role == "system":
            if rules.systems_in_place:
                turns.append(Turn("system", i, i, [Part(i, m.content)] if m.content else [], content=m.content))
            elif m.content:
                systems.append(Part(i, m.content))
            i += 1
            continue
        if role == "tool":
            turns.append(Turn("tool", i, i, [Part(i, m.content)], call_id=m.tool_call_id, content=m.content))
            i += 1
            continue
        j = i + 1
        if role == "user":
            while j < n and msgs[j].role == "user":
                j += 1
            turns.append(Turn("user", i, j - 1, [Part(k, msgs[k].content) for k in range(i, j) if msgs[k].content]))
            i = j
            continue
        weight = m.weight
        while j < n and msgs[j].role == "assistant" and merges_with("assistant", weight, "assistant", msgs[j].weight):
            j += 1
        turns.append(_assistant_turn(msgs, i, j, weight, rules))
        i = j
    if not turns or (turns[0].role != "user" and not rules.systems_in_place):
        turns.insert(0, Turn("user", -1, -1))
    if rules.sort_tool_results:
        _sort_tool_results(turns)
    return Conversation(turns, systems)


def _assistant_turn(msgs: Any, i: int, j: int, weight: int | None, rules: Rules) -> Turn:
    turn = Turn("assistant", i, j - 1, weight=weight)
    for k in range(i, j):
        mk = msgs[k]
        if mk.content:
            if mk.tool_calls and not rules.content_with_calls:
                raise RecordError(
                    f"an assistant message has both text and tool calls, which a {rules.version} tokenizer cannot encode",
                    path=f"messages[{k}]",
                    code="content_and_tool_calls",
                )
            turn.parts.append(Part(k, mk.content))
        if mk.tool_calls:
            turn.calls.extend(Call(k, call) for call in mk.tool_calls)
    if turn.calls and turn.parts and not rules.content_with_calls:
        raise RecordError(
            "consecutive assistant messages merge into one turn holding text and tool calls, which mistral-common refuses to encode",
            path=f"messages[{i}:{j}]",
            code="merged_content_and_calls",
        )
    if not turn.calls and not turn.parts:
        raise RecordError("an assistant message needs text or tool calls", path=f"messages[{i}]", code="empty_assistant")
    return turn


def _sort_tool_results(turns: list[Turn]) -> None:
    """Each run of tool turns in the order of the calls made since the previous run (stable for
    results that answer none of them), as ``InstructRequestNormalizerV13`` orders them."""
    pending: list[str] = []
    k = 0
    while k < len(turns):
        t = turns[k]
        if t.role == "assistant":
            pending.extend(c.call.id for c in t.calls)
        if t.role != "tool":
            k += 1
            continue
        end = k
        while end < len(turns) and turns[end].role == "tool":
            end += 1
        order = {cid: pos for pos, cid in enumerate(pending)}
        run = turns[k:end]
        position = {r.call_id: pos for pos, r in enumerate(run)}  # a repeated id: its last position, as there
        turns[k:end] = sorted(run, key=lambda r: (order.get(r.call_id or "null", float("inf")), position[r.call_id]))
        pending = []
        k = end
