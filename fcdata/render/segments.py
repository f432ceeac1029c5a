"""Text segments (each encoded on its own, as mistral-common encodes each piece) and how their tokens
divide among the messages and kinds they hold.

A :class:`Segment` is one text given to the tokenizer. Most hold one message's text of one kind; some
hold several: merged messages joined by ``"\\n\\n"``, a system prompt in front of a user text, a call
JSON with names, arguments and ids inside. Those list their :class:`Part`\\ s (where each ends, in the
tokenizer's :meth:`~fcdata.tokenizer.Tokenizer.text_units`), and :func:`split` maps the encoded tokens
back onto them from each token's piece length. A token belongs to the part holding its first unit,
except that a token touching an *exclusive* part (a call id) belongs to it, so that no token holding a
character of an id is ever trained.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import Any, Callable, NamedTuple, Sequence

from ..errors import TokenizerError
from ..tokenizer import Tokenizer
from .spans import CALL_ID, CALL_JSON, CALL_NAME, ARGUMENTS, Run

__all__ = ["Part", "Segment", "Control", "Piece", "dumps", "json_value", "text_segment", "calls_json_segment", "split"]

SEP = "\n\n"

dumps: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(value, ensure_ascii=False), without its per-call setup


def json_value(text: str) -> Any:
    """mistral-common's reading of call arguments and (v3) tool output: ``""`` is ``{}``, JSON is
    parsed, anything else stays a string."""
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class Part(NamedTuple):
    """Units ``[previous part's end, end)`` of a segment's text, from one message and of one kind."""

    end: int
    message_index: int
    kind: str
    trainable: bool
    exclusive: bool  # a call id: takes every token that touches it


class Segment(NamedTuple):
    """One text encoded on its own. ``parts`` is ``None`` when the whole text is one part (of
    ``message_index`` and ``kind``); otherwise consecutive parts, the last ending at the text's length."""

    text: str
    parts: tuple[Part, ...] | None
    message_index: int
    kind: str
    trainable: bool = True  # False: never trained, even in a trained turn (a call id written on its own)


class Control(NamedTuple):
    """One control token of a turn (``[INST]``, ``[TOOL_CALLS]``, ``</s>`` ...)."""

    token: int
    message_index: int
    trainable: bool


Piece = Segment | Control  # a turn's layout is a sequence of pieces


def text_segment(entries: Sequence[tuple[int, str, str]], units: Callable[[str], int], *, rstrip: bool = False) -> Segment:
    """Texts of several messages joined by ``"\\n\\n"`` (the separator counts with the text before it).

    ``entries``: (message index, kind, text); with ``rstrip`` the joined text loses trailing spaces
    (assistant text)."""
    if len(entries) == 1:
        mi, kind, text = entries[0]
        return Segment(text.rstrip(" ") if rstrip else text, None, mi, kind)
    text = SEP.join(e[2] for e in entries)
    if rstrip:
        text = text.rstrip(" ")
    parts: list[Part] = []
    pos = 0
    total = units(text)
    last = len(entries) - 1
    for k, (mi, kind, t) in enumerate(entries):
        pos = min(pos + units(t) + (2 if k < last else 0), total)
        if parts and parts[-1].message_index == mi and parts[-1].kind == kind:
            parts[-1] = Part(pos, mi, kind, True, False)
        else:
            parts.append(Part(pos, mi, kind, True, False))
    if parts[-1].end != total:
        parts[-1] = parts[-1]._replace(end=total)
    if len(parts) == 1:
        return Segment(text, None, parts[0].message_index, parts[0].kind)
    return Segment(text, tuple(parts), entries[0][0], entries[0][1])


def call_arguments_json(arguments: Any) -> str:
    """The JSON of a call's arguments as mistral-common writes it (a string argument is parsed first)."""
    return dumps(json_value(arguments) if isinstance(arguments, str) else arguments)


def calls_json_segment(calls: Sequence[Any], message_index: int, units: Callable[[str], int], *, with_ids: bool = True) -> tuple[Segment, tuple[str, ...]]:
    """``json.dumps([{"name", "arguments", "id"}, ...])`` of a turn's calls (v3/v7 ``[TOOL_CALLS]``
    payload), with the unit ranges of names, arguments and ids; and the names called.

    ``calls``: (message index, ToolCall) pairs; an id that is absent or ``"null"`` is left out."""
    pieces: list[str] = ["["]
    parts: list[Part] = []
    pos = 1
    names: list[str] = []
    for k, (mi, call) in enumerate(calls):
        fn = call.function
        names.append(fn.name)
        name_json = dumps(fn.name)
        args_json = call_arguments_json(fn.arguments)
        cid = call.id
        head = '{"name": ' if k == 0 else ', {"name": '
        seq: list[tuple[str, str, bool, bool]] = [
            (head + name_json[0], CALL_JSON, True, False),
            (name_json[1:-1], CALL_NAME, True, False),
            (name_json[-1] + ', "arguments": ', CALL_JSON, True, False),
            (args_json, ARGUMENTS, True, False),
        ]
        if with_ids and cid and cid != "null":
            id_json = dumps(cid)
            seq += [(', "id": ' + id_json[0], CALL_JSON, True, False), (id_json[1:-1], CALL_ID, False, True), (id_json[-1] + "}", CALL_JSON, True, False)]
        else:
            seq.append(("}", CALL_JSON, True, False))
        for text, kind, trainable, exclusive in seq:
            if not text:
                continue
            pieces.append(text)
            pos += units(text)
            if parts and parts[-1].message_index == mi and parts[-1].kind == kind:
                parts[-1] = Part(pos, mi, kind, trainable, exclusive)
            else:
                parts.append(Part(pos, mi, kind, trainable, exclusive))
    pieces.append("]")
    # "[" is in the first part, which starts at unit 0; "]" ends the last one
    parts[-1] = parts[-1]._replace(end=pos + 1)
    return Segment("".join(pieces), tuple(parts), message_index, CALL_JSON), tuple(names)


def split(ids: list[int], seg: Segment, tok: Tokenizer, trainable: bool) -> list[Run]:
    """Runs of an encoded segment.

    Offsets come from each token's piece length (:meth:`~fcdata.tokenizer.Tokenizer.text_units`;
    SentencePiece's leading "▁" stands for no input, ``prefix_units``). Cumulative sums and bisection
    keep this at C speed per token."""
    parts = seg.parts
    if parts is None:
        return [Run(len(ids), seg.message_index, seg.kind, trainable)] if ids else []
    if not ids:
        return []
    prefix = tok.prefix_units
    ends = list(accumulate(map(tok.piece_lengths.__getitem__, ids)))  # token ends, prefix included
    if ends[-1] - prefix != parts[-1].end:
        raise TokenizerError(
            f"{tok.path}: token lengths ({ends[-1] - prefix}) do not add up to the text ({parts[-1].end}); this "
            "tokenizer normalises text, so token spans cannot be located"
        )
    n = len(ids)
    # bounds[p]: first token of part p (a token starting at or after the part's first unit)
    bounds = [0]
    for p in range(1, len(parts)):
        bounds.append(min(bisect_left(ends, parts[p - 1].end + prefix) + 1, n))
    for p, part in enumerate(parts):
        if part.exclusive and p > 0:
            steal = bisect_right(ends, parts[p - 1].end + prefix)  # first token ending inside the part
            earlier = p
            while earlier > 0 and bounds[earlier] > steal:
                bounds[earlier] = steal
                earlier -= 1
    bounds.append(n)
    runs: list[Run] = []
    for p, part in enumerate(parts):
        count = bounds[p + 1] - bounds[p]
        if count <= 0:
            continue
        run_trainable = trainable and part.trainable
        if runs and runs[-1].message_index == part.message_index and runs[-1].kind == part.kind and runs[-1].trainable == run_trainable:
            runs[-1] = Run(runs[-1].length + count, part.message_index, part.kind, run_trainable)
        else:
            runs.append(Run(count, part.message_index, part.kind, run_trainable))
    return runs
