"""Which samples a record gives (``exact`` / ``single`` / ``last``), ``max_length`` trimming, and the
assembly of samples from encoded turns.

Rendering a record is two steps, so that many records share one encoding batch: :class:`Plan` lists
the text segments to encode (``texts``); :meth:`Plan.finish` assembles the samples from their ids.

Every turn is encoded once, whatever the number of samples: a sample is ``<s>``, the blocks of its
turns, and, in place of its carrier user turn (the one the tools block and, for v3, the system prompt
go with), that turn's variant. The plain blocks are laid end to end once (``flat``) with their offsets,
so a sample's ids are two or three slices of it, its lengths come from prefix sums, and trimming for
``max_length`` is a bisection. The work per sample is proportional to the sample, never to the whole
conversation again: ``exact`` mode stays linear in the tokens it writes. With no context that moves
(v13; v7/v11 without tools) ``exact`` makes a single sample, which is then exactly every turn's
inference context.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, NamedTuple

from ..errors import RecordError
from ..normalize import Conversation, normalize
from ..records import ChatRecord, TextRecord
from ..tokenizer import Tokenizer
from .encoders import encoder_for
from .segments import Control, Piece, Segment, split
from .spans import CONTROL, DOCUMENT, ConversationCut, Dropped, Rendered, Run, Sample, Span

__all__ = ["SampleSpec", "Block", "Plan", "sample_specs"]


class SampleSpec(NamedTuple):
    """One sample to make: turns ``0..end``, ``trained`` among them, the ``carrier`` user turn (tools
    block, v3 system prompt; ``None``: no user turn), and the record's ``messages[:cut]``."""

    end: int
    trained: frozenset[int]
    carrier: int | None
    cut: int


class Block(NamedTuple):
    """A turn encoded: its ids and runs, and how many of its tokens are trainable."""

    ids: list[int]
    runs: list[Run]
    trainable_tokens: int


def _carrier(turns: list[Any], end: int, first_user: bool) -> int | None:
    users = [k for k in range(end + 1) if turns[k].role == "user"]
    if not users:
        return None
    return users[0] if first_user else users[-1]


def sample_specs(conv: Conversation, mode: str, *, context_moves: bool, tools_at_first_user: bool) -> list[SampleSpec]:
    """The samples of a conversation in ``mode`` (see the package doc for what each mode trains)."""
    turns = conv.turns
    assistants = [k for k, t in enumerate(turns) if t.role == "assistant"]
    if not assistants:
        return []
    out: list[SampleSpec] = []
    if mode == "exact" and context_moves:
        users = [k for k, t in enumerate(turns) if t.role == "user"]
        starts = users if users and users[0] == 0 else [0, *users]
        bounds = [*starts, len(turns)]
        for a, b in zip(bounds, bounds[1:]):
            trained = [k for k in range(a, b) if turns[k].trainable]
            if trained:
                end = trained[-1]
                carrier = a if turns[a].role == "user" else None
                out.append(SampleSpec(end, frozenset(trained), carrier, turns[end].last + 1))
        return out
    if mode == "exact":  # nothing moves: one sample is every trained turn's inference context
        trained = frozenset(k for k in assistants if turns[k].trainable)
        end = max(trained, default=assistants[-1])
    else:
        end = assistants[-1]
        if mode == "single":
            trained = frozenset(k for k in assistants if turns[k].trainable)
        else:  # last
            trained = frozenset([end]) if turns[end].trainable else frozenset()
    if trained:
        out.append(SampleSpec(end, trained, _carrier(turns, end, tools_at_first_user), turns[end].last + 1))
    return out


_BOS_RUN = Run(1, -1, CONTROL, False)


def _needs_tools(record: ChatRecord) -> bool:
    if record.tools:
        return True
    for m in record.messages:
        if m.role == "tool" or (m.role == "assistant" and m.tool_calls):
            return True
    return False


class Plan:
    """One record's rendering: construction lists the segments to encode (``texts``), :meth:`finish`
    assembles the samples from their encodings."""

    def __init__(self, record: ChatRecord | TextRecord, tok: Tokenizer, mode: str, max_length: int | None, *, prompt: bool = False) -> None:
        self.record = record
        self.tok = tok
        self.mode = mode
        self.max_length = max_length
        if isinstance(record, TextRecord):
            self.texts = [record.text]
            return
        encoder = self.encoder = encoder_for(tok)
        encoder.require_instruct("a chat record")
        if _needs_tools(record):
            encoder.require_tools("this record")
        conv = self.conv = normalize(record, encoder.rules)
        turns = conv.turns
        self.tools_first = encoder.tools_at_first_user
        if prompt:
            end = len(turns) - 1
            self.specs = [SampleSpec(end, frozenset(), _carrier(turns, end, self.tools_first), len(record.messages))]
        else:
            self.specs = sample_specs(conv, mode, context_moves=encoder.context_moves(record), tools_at_first_user=self.tools_first)
        self.tools = encoder.tools_segment(record) if self.specs else None
        self.system_messages = [i for i, m in enumerate(record.messages) if m.role == "system"]
        self.system_turns = [k for k, t in enumerate(turns) if t.role == "system"]
        self.system_starts = [mi for mi, _ in conv.systems]  # v3: where each system prompt part comes from
        self.call_names: dict[int, tuple[str, ...]] = {}
        texts: list[str] = []
        if self.tools is not None:
            texts.append(self.tools.text)
        if self.specs:
            texts.extend(encoder.extra_texts())
        upto = max((s.end for s in self.specs), default=-1) + 1
        self.layouts: list[list[Piece]] = [self._layout(k, None, 0) for k in range(upto)]
        for layout in self.layouts:
            texts.extend(p.text for p in layout if type(p) is Segment)
        # v3: the carrier's text with the system prompt in front (a text of its own)
        self.variant_layouts: dict[tuple[int, int], list[Piece]] = {}
        for spec in self.specs:
            if spec.carrier is None:
                continue
            key = (spec.carrier, self._nsys(spec.cut))
            if key not in self.variant_layouts and (key[1] or self.tools is not None or encoder.carrier_always):
                layout = self.variant_layouts[key] = self._layout(spec.carrier, self.tools, key[1], carrier=True)
                texts.extend(p.text for p in layout if type(p) is Segment and p is not self.tools)
        self.texts = texts

    def _nsys(self, cut: int) -> int:
        """How many system messages of ``messages[:cut]`` join the v3 system prompt."""
        if not self.encoder.system_prompt_in_user:
            return 0
        return bisect_left(self.system_starts, cut)

    def _layout(self, k: int, tools: Segment | None, nsys: int, *, carrier: bool = False) -> list[Piece]:
        turn = self.conv.turns[k]
        role = turn.role
        encoder = self.encoder
        if role == "user":
            return encoder.user(self.conv, turn, tools, nsys, carrier=carrier)
        if role == "assistant":
            pieces, names = encoder.assistant(turn)
            if names:
                self.call_names[k] = names
            return pieces
        if role == "tool":
            return encoder.tool(turn)
        return encoder.system(turn)

    # ------------------------------------------------------------------------------------ assembly

    def _block(self, k: int, layout: list[Piece], enc: dict[str, list[int]]) -> Block:
        tok = self.tok
        trainable_turn = self.conv.turns[k].trainable
        ids: list[int] = []
        runs: list[Run] = []
        for piece in layout:
            if type(piece) is Control:
                ids.append(piece.token)
                runs.append(Run(1, piece.message_index, CONTROL, trainable_turn and piece.trainable))
            else:
                body = enc[piece.text]  # type: ignore[union-attr]
                ids += body
                runs += split(body, piece, tok, trainable_turn and piece.trainable)  # type: ignore[arg-type]
        return Block(ids, runs, sum(r.length for r in runs if r.trainable))

    def finish(self, enc: dict[str, list[int]]) -> Rendered:
        record = self.record
        if isinstance(record, TextRecord):
            return self._finish_text(enc)
        tok = self.tok
        turns = self.conv.turns
        rendered = Rendered(tool_names=tuple(t.function.name for t in record.tools))
        blocks = [self._block(k, layout, enc) for k, layout in enumerate(self.layouts)]
        variants: dict[tuple[int, int], Block] = {}
        # the plain blocks end to end, with prefix sums of their lengths (all tokens / system turns')
        flat: list[int] = [tok.bos_id]
        offsets = [1]
        system_tokens = [0]
        for k, b in enumerate(blocks):
            flat += b.ids
            offsets.append(len(flat))
            system_tokens.append(system_tokens[-1] + (len(b.ids) if turns[k].role == "system" else 0))
        users = [k for k, t in enumerate(turns) if t.role == "user"]
        max_length = self.max_length
        for index, spec in enumerate(self.specs):
            nsys = self._nsys(spec.cut)
            carrier = spec.carrier
            key = (carrier, nsys) if carrier is not None else None
            variant = None
            if key is not None and key in self.variant_layouts:
                variant = variants.get(key)  # type: ignore[arg-type]
                if variant is None:
                    variant = variants[key] = self._block(carrier, self.variant_layouts[key], enc)  # type: ignore[arg-type, index]
            extra = len(variant.ids) - len(blocks[carrier].ids) if variant is not None else 0  # type: ignore[index]
            end = spec.end
            full_length = offsets[end + 1] + extra
            start, trimmed, length = 0, 0, full_length
            if max_length is not None and full_length > max_length:
                start, trimmed, length = self._trim(spec, users, offsets, system_tokens, full_length)
                if length > max_length:
                    num_trained = sum(blocks[k].trainable_tokens for k in spec.trained)
                    rendered.dropped.append(Dropped(index, length, full_length, num_trained))
                    continue
            if start and self.tools_first and variant is not None:
                carrier = next(u for u in users if u >= start)  # the first user turn kept carries the tools
                key = (carrier, 0)
                variant = variants.get(key)
                if variant is None:
                    layout = self.variant_layouts.get(key) or self._layout(carrier, self.tools, 0, carrier=True)
                    variant = variants[key] = self._block(carrier, layout, enc)
            rendered.samples.append(self._sample(index, spec, start, trimmed, full_length, carrier, variant, blocks, flat, offsets))
        return rendered

    def _trim(self, spec: SampleSpec, users: list[int], offsets: list[int], system_tokens: list[int], length: int) -> tuple[int, int, int]:
        """Drop the earliest user exchanges before the trained part (never the carrier user turn, nor a
        system turn) until the sample fits; returns (first turn kept, exchanges dropped, length).

        The length left after cutting at user turn ``u`` only falls as ``u`` grows, so the first cut that
        fits is found by bisection over the candidate user turns."""
        assert self.max_length is not None
        limit = min(spec.trained, default=spec.end)
        if spec.carrier is not None and not self.tools_first:
            limit = min(limit, spec.carrier)
        candidates = users[bisect_left(users, 1) : bisect_left(users, limit + 1)]
        if not candidates:
            return 0, 0, length

        def left(u: int) -> int:  # the length once turns [0, u) are gone, system turns kept
            return length - (offsets[u] - offsets[0]) + system_tokens[u]

        lo, hi = 0, len(candidates) - 1
        if left(candidates[hi]) > self.max_length:
            lo = hi
        else:
            while lo < hi:
                mid = (lo + hi) // 2
                if left(candidates[mid]) <= self.max_length:
                    hi = mid
                else:
                    lo = mid + 1
        first_kept = candidates[lo]
        return first_kept, lo + 1, left(first_kept)

    def _sample(self, index: int, spec: SampleSpec, start: int, trimmed: int, full_length: int, carrier: int | None, variant: Block | None, blocks: list[Block], flat: list[int], offsets: list[int]) -> Sample:
        turns = self.conv.turns
        end = spec.end
        trained_turns = spec.trained
        ids = [flat[0]]
        spans: list[Span] = []
        pos = 1
        spans.append(Span(0, 1, -1, CONTROL, False))

        def add(k: int, block: Block) -> None:
            nonlocal pos
            trained = k in trained_turns
            for r in block.runs:
                stop = pos + r.length
                spans.append(Span(pos, stop, r.message_index, r.kind, trained and r.trainable))
                pos = stop

        if start:  # system turns before the first kept turn stay (v7+)
            for k in self.system_turns[: bisect_left(self.system_turns, start)]:
                ids += blocks[k].ids
                add(k, blocks[k])
        if variant is not None and carrier is not None and start <= carrier <= end:
            ids += flat[offsets[start] : offsets[carrier]]
            ids += variant.ids
            ids += flat[offsets[carrier + 1] : offsets[end + 1]]
            for k in range(start, end + 1):
                add(k, variant if k == carrier else blocks[k])
        else:
            ids += flat[offsets[start] : offsets[end + 1]]
            for k in range(start, end + 1):
                add(k, blocks[k])
        names = tuple(name for k in sorted(trained_turns) for name in self.call_names.get(k, ()))
        first = turns[start].first if start else 0
        systems = tuple(self.system_messages[: bisect_left(self.system_messages, first)]) if first > 0 else ()
        cut = ConversationCut(spec.cut, first if first > 0 else 0, systems)
        return Sample(ids, tuple(spans), index, self.mode, trimmed, full_length - len(ids), names, cut)

    def _finish_text(self, enc: dict[str, list[int]]) -> Rendered:
        tok = self.tok
        assert isinstance(self.record, TextRecord)
        body = enc[self.record.text]
        ids = [tok.bos_id, *body, tok.eos_id]
        rendered = Rendered(kind="text")
        if self.max_length is not None and len(ids) > self.max_length:
            rendered.dropped.append(Dropped(0, len(ids), len(ids), len(ids) - 1))
            return rendered
        spans = [Span(0, 1, -1, CONTROL, False)]
        if body:
            spans.append(Span(1, 1 + len(body), 0, DOCUMENT, True))
        spans.append(Span(1 + len(body), len(ids), 0, CONTROL, True))
        rendered.samples.append(Sample(ids, tuple(spans), mode=self.mode))
        return rendered


def require_messages(record: Any) -> None:
    if not isinstance(record, ChatRecord) or not record.messages:
        raise RecordError("a prompt needs at least one message", path="messages")
