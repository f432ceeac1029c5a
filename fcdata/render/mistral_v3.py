"""Mistral v0.3 (v3 tokenizer) rendering: canonical records -> token ids + loss masks (1 = trained).

Reference mirrored, token for token: mistral-common's ``MistralTokenizer.encode_chat_completion`` for a
v3 SentencePiece model in fine-tuning mode, i.e. ``InstructRequestNormalizer`` (protocol/instruct/
normalize.py) followed by ``InstructTokenizerV3`` (tokens/tokenizers/instruct.py). The rules it follows:

- start with ``<s>``; every text segment is encoded on its own and control ids are spliced between;
- consecutive messages of one role (and, for assistants, one ``weight``) merge into one turn, texts joined
  by ``"\\n\\n"`` (empty texts skipped); a system message between two user messages keeps them apart;
- every system message (non-empty) is joined by ``"\\n\\n"`` into one system prompt, prepended with
  ``"\\n\\n"`` to the LAST user message; the tools block ``[AVAILABLE_TOOLS] json [/AVAILABLE_TOOLS]`` sits
  right before that message's ``[INST]``;
- a conversation whose first turn is not a user turn gets an empty user turn in front;
- user: ``[INST] text [/INST]``; assistant text: ``text.rstrip(" ") </s>``; assistant calls:
  ``[TOOL_CALLS] json.dumps([{"name", "arguments", "id"}]) </s>`` (arguments parsed when they hold JSON,
  ``""`` -> ``{}``; ``"id"`` left out when absent or ``"null"``); tool result:
  ``[TOOL_RESULTS] json.dumps({"content": parsed-or-raw ("" -> {}), "call_id": id}) [/TOOL_RESULTS]``.

Loss mask (``assistant_masks``, 1 = this token is a training target; labels are NOT shifted here):

- trained: the text of trained assistant turns, their ``[TOOL_CALLS]``, the call JSON, and each turn's
  closing ``</s>``;
- never trained: ``<s>``, user and system text, ``[INST]``/``[/INST]``, the tools block, tool results,
  assistant turns with ``weight`` 0, and every token that holds a character of a tool-call id (the id
  stays in the context, where results refer to it). A token that straddles the id and the JSON around
  it (e.g. ``Zi"}``) is not trained either; the ``"id": "`` key before it is.
- ``{"text"}`` records: ``<s>`` text ``</s>``, every token trained except ``<s>`` (nothing precedes it, so
  it is never a prediction target).

Samples (``mode``): the tools block and system prompt move to whichever user message is last, so one
full-conversation sample gives early assistant turns a context they never see at inference.

- ``exact`` (default): one sample per user turn that is followed by trained assistant turns: the
  conversation cut after that turn's last trained assistant message, only that turn's assistant messages
  trained. Every trained token sees exactly what mistral-common encodes for that conversation prefix.
- ``single``: one sample, the whole conversation, every trained assistant turn trained (cheaper; turns
  before the last user message see a context that differs from inference).
- ``last``: one sample, the whole conversation, only the final assistant turn trained (the
  mistral-finetune way, minus its extra per-turn samples).

``max_length``: a sample is never cut inside a turn. One that is too long loses its earliest user
exchanges (user turn + replies) before the trained part, keeping system prompt and tools (they sit with
the last user message) - the result is exactly what mistral-common encodes for the shortened
conversation - or is dropped when that is not enough. Both are reported.
"""

from __future__ import annotations

import gc
import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate
from typing import Any, Iterable, NamedTuple, Sequence

from pydantic import ValidationError

from ..errors import RecordError, TokenizerError, UsageError, format_path
from ..records import NEXT_ROLES, ChatRecord, TextRecord, parse_record
from ..tokenizer import MistralV3Tokenizer, load_tokenizer

__all__ = [
    "KINDS",
    "MODES",
    "Span",
    "Sample",
    "Dropped",
    "Rendered",
    "render",
    "render_records",
    "render_prompt",
]

MODES = ("exact", "single", "last")

# span kinds, per token
CONTROL = "control"  # <s> </s> [INST] [/INST] [TOOL_CALLS] [AVAILABLE_TOOLS] ... (which one: the id)
SYSTEM = "system"  # system prompt text (inside the last user message)
USER = "user"
TOOLS = "tools"  # the JSON of the tools block
TEXT = "text"  # assistant text
CALL_JSON = "call_json"  # the JSON around calls: [{"name": ..., "arguments": ..., "id": ...}]
CALL_NAME = "call_name"
ARGUMENTS = "arguments"
CALL_ID = "call_id"  # never trained
TOOL_RESULT = "tool_result"
DOCUMENT = "document"  # the text of a {"text"} record
KINDS = (CONTROL, SYSTEM, USER, TOOLS, TEXT, CALL_JSON, CALL_NAME, ARGUMENTS, CALL_ID, TOOL_RESULT, DOCUMENT)

_SEP = "\n\n"
_DUMMY = 3  # the "▁" SentencePiece puts in front of every non-empty text (UTF-8: 3 bytes)


class Span(NamedTuple):
    """Tokens ``[start, end)`` of a sample that come from one message and are of one kind."""

    start: int
    end: int
    message_index: int  # -1: <s>, the tools block, an inserted empty user turn
    kind: str
    trained: bool


@dataclass(frozen=True, eq=False)
class Sample:
    """One training sequence: token ids and, per token, whether it is trained, which message it came
    from and what kind of span it is. The per-token lists are built from ``spans`` on first use.

    A worked example (``{"messages": [user "Hi", assistant "Hello!"]}``)::

        piece   <s>  [INST]  ▁Hi    [/INST]  ▁Hello  !      </s>
        id      1    3       16127  4        23325   29576  2
        mask    0    0       0      0        1       1      1
        message -1   0       0      0        1       1      1
        kind    ctl  ctl     user   ctl      text    text   ctl
    """

    input_ids: list[int]
    spans: tuple[Span, ...]
    sample_index: int = 0
    mode: str = "exact"
    turns_trimmed: int = 0  # user exchanges removed to fit max_length
    tokens_trimmed: int = 0
    call_names: tuple[str, ...] = ()  # functions called in the trained turns
    conversation: tuple[int, ...] = ()  # indexes of the record's messages this sample encodes

    @cached_property
    def assistant_masks(self) -> list[int]:
        out: list[int] = []
        for s in self.spans:
            out += [1 if s.trained else 0] * (s.end - s.start)
        return out

    @cached_property
    def message_index(self) -> list[int]:
        out: list[int] = []
        for s in self.spans:
            out += [s.message_index] * (s.end - s.start)
        return out

    @cached_property
    def span_kinds(self) -> list[str]:
        out: list[str] = []
        for s in self.spans:
            out += [s.kind] * (s.end - s.start)
        return out

    @property
    def labels(self) -> list[int]:
        """``input_ids`` with ``-100`` where not trained (not shifted: Hugging Face models shift)."""
        return [t if m else -100 for t, m in zip(self.input_ids, self.assistant_masks)]

    @property
    def length(self) -> int:
        return len(self.input_ids)

    @cached_property
    def num_trained(self) -> int:
        return sum(s.end - s.start for s in self.spans if s.trained)


@dataclass(frozen=True)
class Dropped:
    """A sample that did not fit ``max_length`` even without its earlier turns."""

    sample_index: int
    length: int  # its length with every removable turn removed
    full_length: int
    num_trained: int


@dataclass
class Rendered:
    """Everything one record gave: samples that fit, samples dropped for length, and facts for stats."""

    samples: list[Sample] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    tool_names: tuple[str, ...] = ()
    kind: str = "chat"  # or "text"


# ------------------------------------------------------------------------------------ normalisation


class _Turn:
    """One turn after mistral-common's merging: a user, assistant or tool turn made of one or more
    consecutive messages (``first``..``last`` are message indexes; -1 for the inserted empty user)."""

    __slots__ = ("role", "first", "last", "parts", "calls", "weight", "call_id", "trainable")

    def __init__(self, role: str, first: int, last: int, parts: list[tuple[int, str]]) -> None:
        self.role = role
        self.first = first
        self.last = last
        self.parts = parts  # (message index, text), empty texts left out
        self.calls: list[tuple[int, Any]] = []  # (message index, ToolCall)
        self.weight: int | None = None
        self.call_id: str | None = None
        self.trainable = False


def _normalize(record: ChatRecord) -> tuple[list[_Turn], list[tuple[int, str]]]:
    """The turns and the (index, content) of non-empty system messages, as InstructRequestNormalizer
    makes them: consecutive messages of one role (and one assistant weight) merge; system messages
    leave the list but still separate their neighbours; tool messages never merge."""
    msgs = record.messages
    for k in range(1, len(msgs)):
        prev, role = msgs[k - 1].role, msgs[k].role
        if role not in NEXT_ROLES[prev]:
            a, b = ("an" if role[0] in "aeiou" else "a"), ("an" if prev[0] in "aeiou" else "a")
            raise RecordError(f"{a} {role} message cannot follow {b} {prev} message (mistral-common refuses it)", path=f"messages[{k}].role", code="role_order")
    turns: list[_Turn] = []
    systems: list[tuple[int, str]] = []
    n = len(msgs)
    i = 0
    while i < n:
        m = msgs[i]
        role = m.role
        if role == "system":
            if m.content:
                systems.append((i, m.content))
            i += 1
            continue
        if role == "tool":
            t = _Turn("tool", i, i, [(i, m.content)])
            t.call_id = m.tool_call_id
            turns.append(t)
            i += 1
            continue
        j = i + 1
        if role == "user":
            while j < n and msgs[j].role == "user":
                j += 1
            turns.append(_Turn("user", i, j - 1, [(k, msgs[k].content) for k in range(i, j) if msgs[k].content]))
            i = j
            continue
        weight = m.weight
        while j < n and msgs[j].role == "assistant" and msgs[j].weight == weight:
            j += 1
        t = _Turn("assistant", i, j - 1, [])
        t.weight = weight
        t.trainable = weight != 0
        for k in range(i, j):
            mk = msgs[k]
            if mk.content:
                if mk.tool_calls:
                    raise RecordError(
                        "an assistant message has both text and tool calls, which Mistral v0.3 cannot encode",
                        path=f"messages[{k}]",
                        code="content_and_tool_calls",
                    )
                t.parts.append((k, mk.content))
            elif mk.tool_calls:
                t.calls.extend((k, call) for call in mk.tool_calls)
        if t.calls and t.parts:
            raise RecordError(
                "consecutive assistant messages merge into one turn holding text and tool calls, which mistral-common refuses to encode",
                path=f"messages[{i}:{j}]",
                code="merged_content_and_calls",
            )
        if not t.calls and not t.parts:
            raise RecordError("an assistant message needs text or tool calls", path=f"messages[{i}]", code="empty_assistant")
        turns.append(t)
        i = j
    if not turns or turns[0].role != "user":
        turns.insert(0, _Turn("user", -1, -1, []))
    return turns, systems


def _json_value(text: str) -> Any:
    """mistral-common's reading of call arguments and tool output: ``""`` is ``{}``, JSON is parsed,
    anything else stays a string."""
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


_dumps = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(value, ensure_ascii=False), without its per-call setup


def _blen(text: str) -> int:
    """Length of ``text`` as SentencePiece sees it: UTF-8 bytes with each space escaped as "▁" (3 bytes).

    Token offsets are measured in this unit, because a space and a literal "▁" in the text both become
    the same "▁" inside pieces."""
    n = len(text) if text.isascii() else len(text.encode("utf-8"))
    return n + 2 * text.count(" ")


# A segment is a text encoded as one piece: (text, parts, message_index, kind). ``parts`` is None when the
# whole text is one part (of ``message_index`` and ``kind``); otherwise it lists how its bytes divide:
# [(end, message_index, kind, trainable, exclusive)], consecutive, the last ending at the text's length
# (:func:`_blen` units). ``exclusive`` parts (call ids) take every token that touches them.
_Part = tuple[int, int, str, bool, bool]
_Segment = tuple[str, "tuple[_Part, ...] | None", int, str]


def _calls_segment(turn: _Turn) -> tuple[_Segment, tuple[str, ...]]:
    """The ``[TOOL_CALLS]`` JSON of a turn, with byte ranges of names, arguments and ids."""
    pieces: list[str] = ["["]
    parts: list[_Part] = []
    pos = 1
    names: list[str] = []
    for k, (mi, call) in enumerate(turn.calls):
        fn = call.function
        names.append(fn.name)
        args = fn.arguments
        name_json = _dumps(fn.name)
        args_json = _dumps(_json_value(args) if isinstance(args, str) else args)
        cid = call.id
        head = '{"name": ' if k == 0 else ', {"name": '
        seq: list[tuple[str, str, bool, bool]] = [
            (head + name_json[0], CALL_JSON, True, False),
            (name_json[1:-1], CALL_NAME, True, False),
            (name_json[-1] + ', "arguments": ', CALL_JSON, True, False),
            (args_json, ARGUMENTS, True, False),
        ]
        if cid and cid != "null":
            id_json = _dumps(cid)
            seq.append((', "id": ' + id_json[0], CALL_JSON, True, False))
            seq.append((id_json[1:-1], CALL_ID, False, True))
            seq.append((id_json[-1] + "}", CALL_JSON, True, False))
        else:
            seq.append(("}", CALL_JSON, True, False))
        for text, kind, trainable, exclusive in seq:
            if not text:
                continue
            pieces.append(text)
            pos += _blen(text)
            if parts and parts[-1][1] == mi and parts[-1][2] == kind:
                parts[-1] = (pos, mi, kind, trainable, exclusive)
            else:
                parts.append((pos, mi, kind, trainable, exclusive))
    pieces.append("]")
    # every call ends with "}" (kind call_json), so the closing "]" extends the last part; the leading
    # "[" is in the first part, which starts at byte 0
    parts[-1] = (pos + 1,) + parts[-1][1:]
    return ("".join(pieces), tuple(parts), turn.first, CALL_JSON), tuple(names)


def _text_segment(entries: Sequence[tuple[int, str, str]], *, rstrip: bool = False) -> _Segment:
    """Texts of several messages joined by "\n\n" (the separator counts with the text before it).

    ``entries``: (message index, kind, text); with ``rstrip`` the joined text loses trailing spaces
    (assistant text)."""
    if len(entries) == 1:
        mi, kind, text = entries[0]
        return (text.rstrip(" ") if rstrip else text, None, mi, kind)
    text = _SEP.join(e[2] for e in entries)
    if rstrip:
        text = text.rstrip(" ")
    parts: list[_Part] = []
    pos = 0
    total = _blen(text)
    last = len(entries) - 1
    for k, (mi, kind, t) in enumerate(entries):
        pos = min(pos + _blen(t) + (2 if k < last else 0), total)
        if parts and parts[-1][1] == mi and parts[-1][2] == kind:
            parts[-1] = (pos, mi, kind, True, False)
        else:
            parts.append((pos, mi, kind, True, False))
    if parts[-1][0] != total:
        parts[-1] = (total,) + parts[-1][1:]
    if len(parts) == 1:
        return (text, None, parts[0][1], parts[0][2])
    return (text, tuple(parts), entries[0][0], entries[0][1])


def _split(ids: list[int], seg: _Segment, tok: MistralV3Tokenizer, trainable: bool) -> list[tuple[int, int, str, bool]]:
    """Runs ``(n_tokens, message_index, kind, trainable)`` of an encoded segment.

    A token belongs to the part holding its first byte, except that a token touching an exclusive part
    (a call id) belongs to it. Offsets come from each token's piece length (:func:`_blen` units: the v3
    model does not normalise text beyond writing spaces as "▁"; SentencePiece adds one leading "▁", 3
    bytes, that stands for no input). Cumulative sums and bisection keep this at C speed per token."""
    parts = seg[1]
    if parts is None:
        return [(len(ids), seg[2], seg[3], trainable)] if ids else []
    if not ids:
        return []
    ends = list(accumulate(map(tok.piece_lengths.__getitem__, ids)))  # token ends, dummy "▁" included
    if ends[-1] - _DUMMY != parts[-1][0]:
        raise TokenizerError(
            f"{tok.path}: token lengths ({ends[-1] - _DUMMY}) do not add up to the text ({parts[-1][0]}); this "
            "tokenizer normalises text, so token spans cannot be located"
        )
    n = len(ids)
    # bounds[p]: first token of part p (a token starting at or after the part's first byte)
    bounds = [0]
    for p in range(1, len(parts)):
        bounds.append(min(bisect_left(ends, parts[p - 1][0] + _DUMMY) + 1, n))
    for p, part in enumerate(parts):
        if part[4] and p > 0:
            steal = bisect_right(ends, parts[p - 1][0] + _DUMMY)  # first token ending inside the part
            q = p
            while q > 0 and bounds[q] > steal:
                bounds[q] = steal
                q -= 1
    bounds.append(n)
    runs: list[tuple[int, int, str, bool]] = []
    for p, part in enumerate(parts):
        count = bounds[p + 1] - bounds[p]
        if count <= 0:
            continue
        tr = trainable and part[3]
        if runs and runs[-1][1] == part[1] and runs[-1][2] == part[2] and runs[-1][3] == tr:
            runs[-1] = (runs[-1][0] + count, part[1], part[2], tr)
        else:
            runs.append((count, part[1], part[2], tr))
    return runs


# ---------------------------------------------------------------------------------------- planning

_Run = tuple[int, int, str, bool]  # (n_tokens, message_index, kind, trainable)
_new_span = tuple.__new__


class _SampleSpec(NamedTuple):
    end: int  # index of the last turn included
    trained: frozenset[int]  # turns trained
    last_user: int  # the user turn that carries the tools block and the system prompt
    cut: int  # the sample's conversation is messages[:cut] (system messages before the cut count)


def _specs(turns: list[_Turn], mode: str) -> list[_SampleSpec]:
    users = [k for k, t in enumerate(turns) if t.role == "user"]
    assistants = [k for k, t in enumerate(turns) if t.role == "assistant"]
    if not assistants:
        return []
    out: list[_SampleSpec] = []
    if mode == "exact":
        bounds = users + [len(turns)]
        for a, b in zip(bounds, bounds[1:]):
            trained = [k for k in range(a, b) if turns[k].trainable]
            if trained:
                end = trained[-1]
                out.append(_SampleSpec(end, frozenset(trained), a, turns[end].last + 1))
        return out
    end = assistants[-1]
    if mode == "single":
        trained = frozenset(k for k in assistants if turns[k].trainable)
    else:  # last
        trained = frozenset([end]) if turns[end].trainable else frozenset()
    if trained:
        out.append(_SampleSpec(end, trained, max(u for u in users if u <= end), turns[end].last + 1))
    return out


def _tools_json(record: ChatRecord) -> str:
    """The tools block as mistral-common dumps it: ``Tool.model_dump`` without ``strict``."""
    return _dumps(
        [
            {"type": "function", "function": {"name": t.function.name, "description": t.function.description, "parameters": t.function.parameters}}
            for t in record.tools
        ]
    )


def _needs_tools(record: ChatRecord) -> bool:
    if record.tools:
        return True
    for m in record.messages:
        if m.role == "tool" or (m.role == "assistant" and m.tool_calls):
            return True
    return False


class _Plan:
    """One record's rendering in two steps, so that many records can share one encoding batch:
    construction lists the text segments to encode (``texts``); :meth:`finish` assembles the samples
    from their encodings."""

    def __init__(self, record: ChatRecord | TextRecord, tok: MistralV3Tokenizer, mode: str, max_length: int | None, *, prompt: bool = False) -> None:
        self.record = record
        self.tok = tok
        self.mode = mode
        self.max_length = max_length
        if isinstance(record, TextRecord):
            self.texts = [record.text]
            return
        tok.require(instruct=True, what="a chat record")
        if _needs_tools(record):
            tok.require(tools=True, what="this record")
        turns, systems = _normalize(record)
        self.turns = turns
        self.systems = systems
        if prompt:
            users = [k for k, t in enumerate(turns) if t.role == "user"]
            self.specs = [_SampleSpec(len(turns) - 1, frozenset(), users[-1], len(record.messages))]
        else:
            self.specs = _specs(turns, mode)
        self.call_names: dict[int, tuple[str, ...]] = {}
        self.variants: dict[tuple[int, int], _Segment] = {}  # (user turn, number of system messages) -> segment
        texts: list[str] = []
        self.tools_json = _tools_json(record) if record.tools and self.specs else None
        if self.tools_json is not None:
            texts.append(self.tools_json)
        upto = max((s.end for s in self.specs), default=-1) + 1
        self.plain: list[_Segment] = [self._segment(k, 0) for k in range(upto)]
        texts.extend(seg[0] for seg in self.plain)
        for spec in self.specs:
            nsys = self._nsys(spec.cut)
            if nsys:
                seg = self._segment(spec.last_user, nsys)
                self.variants[(spec.last_user, nsys)] = seg
                texts.append(seg[0])
        self.texts = texts

    def _nsys(self, cut: int) -> int:
        """How many (non-empty) system messages the conversation ``messages[:cut]`` holds."""
        count = 0
        for i, _ in self.systems:
            if i < cut:
                count += 1
        return count

    def _segment(self, k: int, nsys: int) -> _Segment:
        """The text segment of turn ``k``; for a user turn with ``nsys`` > 0, with the first ``nsys``
        system messages joined in front (the last user message of a sample)."""
        t = self.turns[k]
        role = t.role
        if role == "user":
            if not nsys:
                if len(t.parts) == 1:
                    mi, text = t.parts[0]
                    return (text, None, mi, USER)
                if not t.parts:
                    return ("", None, t.first, USER)
                return _text_segment([(mi, USER, text) for mi, text in t.parts])
            entries = [(mi, SYSTEM, c) for mi, c in self.systems[:nsys]]
            if t.parts:
                entries += [(mi, USER, text) for mi, text in t.parts]
            else:  # system prompt + "\n\n" + "": the separator goes with the system prompt
                mi, kind, c = entries[-1]
                entries[-1] = (mi, kind, c + _SEP)
            return _text_segment(entries)
        if role == "assistant":
            if t.calls:
                seg, self.call_names[k] = _calls_segment(t)
                return seg
            if len(t.parts) == 1:
                mi, text = t.parts[0]
                return (text.rstrip(" "), None, mi, TEXT)
            return _text_segment([(mi, TEXT, text) for mi, text in t.parts], rstrip=True)
        if t.call_id is None:
            raise RecordError("a tool result needs tool_call_id for Mistral v0.3", path=f"messages[{t.first}].tool_call_id", code="tool_result_no_id")
        return (_dumps({"content": _json_value(t.parts[0][1]), "call_id": t.call_id}), None, t.first, TOOL_RESULT)

    # ------------------------------------------------------------------------------------ assembly

    def _turn_tokens(self, k: int, seg: _Segment, with_tools: bool, enc: dict[str, list[int]]) -> tuple[list[int], list[_Run]]:
        tok = self.tok
        t = self.turns[k]
        body = enc[seg[0]]
        role = t.role
        if role == "assistant":
            runs = _split(body, seg, tok, True)
            if t.calls:
                return [tok.tool_calls_id, *body, tok.eos_id], [(1, t.first, CONTROL, True), *runs, (1, t.last, CONTROL, True)]
            return [*body, tok.eos_id], [*runs, (1, t.last, CONTROL, True)]
        runs = _split(body, seg, tok, False)
        if role == "user":
            ids = [tok.inst_id, *body, tok.inst_end_id]
            runs = [(1, t.first, CONTROL, False), *runs, (1, t.last, CONTROL, False)]
            if with_tools and self.tools_json is not None:
                tools_ids = enc[self.tools_json]
                ids = [tok.tools_id, *tools_ids, tok.tools_end_id, *ids]
                head: list[_Run] = [(1, -1, CONTROL, False), (len(tools_ids), -1, TOOLS, False), (1, -1, CONTROL, False)] if tools_ids else [(2, -1, CONTROL, False)]
                runs = head + runs
            return ids, runs
        return [tok.results_id, *body, tok.results_end_id], [(1, t.first, CONTROL, False), *runs, (1, t.first, CONTROL, False)]

    def finish(self, enc: dict[str, list[int]]) -> Rendered:
        record = self.record
        if isinstance(record, TextRecord):
            return self._finish_text(enc)
        tok = self.tok
        rendered = Rendered(tool_names=tuple(t.function.name for t in record.tools))
        plain: list[tuple[list[int], list[_Run]] | None] = [None] * len(self.plain)
        variants: dict[tuple[int, int], tuple[list[int], list[_Run]]] = {}
        max_length = self.max_length
        for index, spec in enumerate(self.specs):
            nsys = self._nsys(spec.cut)
            blocks: list[tuple[list[int], list[_Run]]] = []
            for k in range(spec.end + 1):
                if k == spec.last_user:
                    key = (k, nsys)
                    hit = variants.get(key)
                    if hit is None:
                        seg = self.variants[key] if nsys else self.plain[k]
                        hit = variants[key] = self._turn_tokens(k, seg, True, enc)
                else:
                    hit = plain[k]
                    if hit is None:
                        hit = plain[k] = self._turn_tokens(k, self.plain[k], False, enc)
                blocks.append(hit)
            full_length = 1
            for b in blocks:
                full_length += len(b[0])
            start, trimmed = 0, 0
            trained_turns = spec.trained
            if max_length is not None and full_length > max_length:
                start, trimmed, length = self._trim(spec, blocks, full_length)
                if length > max_length:
                    num_trained = sum(n for k, b in enumerate(blocks) if k in trained_turns for n, _, _, tr in b[1] if tr)
                    rendered.dropped.append(Dropped(index, length, full_length, num_trained))
                    continue
            ids = [tok.bos_id]
            spans = [_BOS_SPAN]
            append = spans.append
            pos = 1
            for k in range(start, len(blocks)):
                ids_k, runs_k = blocks[k]
                ids += ids_k
                trained = k in trained_turns
                for n, mi, kd, tr in runs_k:
                    end = pos + n
                    append(_new_span(Span, (pos, end, mi, kd, trained and tr)))
                    pos = end
            names = tuple(name for k in sorted(trained_turns) for name in self.call_names.get(k, ()))
            first = self.turns[start].first if start else 0
            if first > 0:
                conversation = tuple(i for i in range(spec.cut) if i >= first or record.messages[i].role == "system")
            else:
                conversation = tuple(range(spec.cut))
            rendered.samples.append(Sample(ids, tuple(spans), index, self.mode, trimmed, full_length - len(ids), names, conversation))
        return rendered

    def _trim(self, spec: _SampleSpec, blocks: list[tuple[list[int], list[_Run]]], length: int) -> tuple[int, int, int]:
        """Drop the earliest user exchanges before the trained part (never the last user turn, which
        holds tools and system prompt) until the sample fits; returns (first turn kept, exchanges
        dropped, length)."""
        assert self.max_length is not None
        limit = min(min(spec.trained, default=spec.end), spec.last_user)
        start, dropped = 0, 0
        for u in range(1, limit + 1):
            if self.turns[u].role != "user":
                continue
            length -= sum(len(b[0]) for b in blocks[start:u])
            start, dropped = u, dropped + 1
            if length <= self.max_length:
                break
        return start, dropped, length

    def _finish_text(self, enc: dict[str, list[int]]) -> Rendered:
        tok = self.tok
        assert isinstance(self.record, TextRecord)
        body = enc[self.record.text]
        ids = [tok.bos_id, *body, tok.eos_id]
        rendered = Rendered(kind="text")
        if self.max_length is not None and len(ids) > self.max_length:
            rendered.dropped.append(Dropped(0, len(ids), len(ids), len(ids) - 1))
            return rendered
        spans = [_BOS_SPAN]
        if body:
            spans.append(Span(1, 1 + len(body), 0, DOCUMENT, True))
        spans.append(Span(1 + len(body), len(ids), 0, CONTROL, True))
        rendered.samples.append(Sample(ids, tuple(spans), mode=self.mode))
        return rendered


_BOS_SPAN = Span(0, 1, -1, CONTROL, False)


# ---------------------------------------------------------------------------------------- public API


def _as_record(record: Any) -> ChatRecord | TextRecord:
    if isinstance(record, (ChatRecord, TextRecord)):
        return record
    try:
        return parse_record(record)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        path = format_path(list(first.get("loc", ())))
        raise RecordError(
            f"not a canonical record: {first.get('msg')} ({exc.error_count()} problem(s); `fcdata validate` lists them)",
            path=path,
            code="shape",
        ) from exc


def _check_args(mode: str, max_length: int | None) -> None:
    if mode not in MODES:
        raise UsageError(f"unknown rendering mode {mode!r}; choose one of: {', '.join(MODES)}")
    if max_length is not None and max_length < 2:
        raise UsageError(f"max_length must be at least 2 (<s> and one token), got {max_length}")


def _encode_plan(plan: _Plan, tok: MistralV3Tokenizer) -> dict[str, list[int]]:
    try:
        return dict(zip(plan.texts, tok.encode_batch(plan.texts)))
    except TokenizerError as exc:
        raise RecordError(f"text that cannot be encoded: {exc}", code="unencodable_text") from exc


def render_records(
    records: Iterable[Any],
    tokenizer: MistralV3Tokenizer | None = None,
    *,
    mode: str = "exact",
    max_length: int | None = None,
) -> list[Rendered | RecordError]:
    """Render many records at once, in order: their distinct text segments are encoded in one batch
    (through the tokenizer's segment cache). Per record: its :class:`Rendered`, or the
    :class:`~fcdata.errors.RecordError` that refused it. A :class:`~fcdata.errors.TokenizerError` (a
    tokenizer that cannot render this data at all) is raised."""
    _check_args(mode, max_length)
    tok = tokenizer or load_tokenizer()
    was_enabled = gc.isenabled()
    gc.disable()  # many small lists and tuples, no reference cycles: collections would only cost time
    try:
        return _render_records(records, tok, mode, max_length)
    finally:
        if was_enabled:
            gc.enable()


def _render_records(records: Iterable[Any], tok: MistralV3Tokenizer, mode: str, max_length: int | None) -> list[Rendered | RecordError]:
    plans: list[_Plan | RecordError] = []
    texts: list[str] = []
    for record in records:
        try:
            plan = _Plan(_as_record(record), tok, mode, max_length)
        except RecordError as exc:
            plans.append(exc)
            continue
        plans.append(plan)
        texts.extend(plan.texts)
    enc: dict[str, list[int]] | None
    try:
        enc = dict(zip(texts, tok.encode_batch(texts)))
    except TokenizerError:
        enc = None  # some text cannot be encoded: go record by record to refuse only its record
    out: list[Rendered | RecordError] = []
    for plan in plans:
        if isinstance(plan, RecordError):
            out.append(plan)
            continue
        try:
            out.append(plan.finish(enc if enc is not None else _encode_plan(plan, tok)))
        except RecordError as exc:
            out.append(exc)
    return out


def render(
    record: Any,
    tokenizer: MistralV3Tokenizer | None = None,
    *,
    mode: str = "exact",
    max_length: int | None = None,
) -> list[Sample]:
    """The training samples of one record (a ChatRecord/TextRecord or its dict); see the module doc.

    Raises :class:`~fcdata.errors.RecordError` for a record that cannot be encoded (e.g. an assistant
    turn with both text and calls) and :class:`~fcdata.errors.TokenizerError` for a tokenizer that cannot
    render it. Samples dropped for ``max_length`` are absent (:func:`render_records` reports them)."""
    result = render_records([record], tokenizer, mode=mode, max_length=max_length)[0]
    if isinstance(result, RecordError):
        raise result
    return result.samples


def render_prompt(messages: Sequence[Any], tools: Sequence[Any] | None = None, tokenizer: MistralV3Tokenizer | None = None) -> list[int]:
    """The ids mistral-common encodes at inference (a ``ChatCompletionRequest`` outside fine-tuning mode)
    for a conversation that ends before an assistant turn: its last message is a user or tool message.

    ``messages`` and ``tools`` are canonical dicts or models. Generation continues from these ids; the
    model then writes text or ``[TOOL_CALLS]`` + JSON, then ``</s>``."""
    tok = tokenizer or load_tokenizer()
    obj: dict[str, Any] = {"messages": [m if isinstance(m, dict) else m.model_dump(mode="json", exclude_none=True) for m in messages]}
    if tools:
        obj["tools"] = [t if isinstance(t, dict) else t.model_dump(mode="json", exclude_none=True) for t in tools]
    record = _as_record(obj)
    if not isinstance(record, ChatRecord) or not record.messages:
        raise RecordError("a prompt needs at least one message", path="messages")
    if record.messages[-1].role == "assistant":
        raise RecordError(
            "a prompt ends before an assistant turn, but the last message is an assistant message (drop it, or use render)",
            path=f"messages[{len(record.messages) - 1}]",
        )
    plan = _Plan(record, tok, "exact", None, prompt=True)
    rendered = plan.finish(_encode_plan(plan, tok))
    return rendered.samples[0].input_ids
