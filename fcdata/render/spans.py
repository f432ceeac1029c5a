"""Typed spans and the samples made of them: where each token came from and whether it is trained.

A sample's tokens are described by runs (:class:`Span`: tokens ``[start, end)`` of one message and one
kind, trained or not); the per-token lists (``assistant_masks``, ``message_index``, ``span_kinds``)
are derived from them on first use, so a mask is never written by hand and never disagrees with the
spans. Masks: 1 = this token is a training target; labels are NOT shifted (Hugging Face models shift).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

__all__ = ["KINDS", "MODES", "Span", "Run", "Sample", "Dropped", "Rendered", "ConversationCut"]

MODES = ("exact", "single", "last")

# span kinds, per token
CONTROL = "control"  # <s> </s> [INST] [/INST] [TOOL_CALLS] [AVAILABLE_TOOLS] [ARGS] ... (which one: the id)
SYSTEM = "system"  # system prompt text
USER = "user"
TOOLS = "tools"  # the JSON of the tools block
TEXT = "text"  # assistant text
CALL_JSON = "call_json"  # the JSON around calls: [{"name": ..., "arguments": ..., "id": ...}]
CALL_NAME = "call_name"
ARGUMENTS = "arguments"
CALL_ID = "call_id"  # never trained
TOOL_RESULT = "tool_result"
DOCUMENT = "document"  # the text of a {"text"} record
SETTINGS = "settings"  # v15: the model-settings JSON
KINDS = (CONTROL, SYSTEM, USER, TOOLS, TEXT, CALL_JSON, CALL_NAME, ARGUMENTS, CALL_ID, TOOL_RESULT, DOCUMENT, SETTINGS)


class Span(NamedTuple):
    """Tokens ``[start, end)`` of a sample that come from one message and are of one kind."""

    start: int
    end: int
    message_index: int  # -1: <s>, the tools block, an inserted empty user turn
    kind: str
    trained: bool


class Run(NamedTuple):
    """``length`` consecutive tokens of one message and kind inside an encoded turn; ``trainable``: the
    tokens are trained when their turn is (never for call ids, user text, results ...)."""

    length: int
    message_index: int
    kind: str
    trainable: bool


class ConversationCut(NamedTuple):
    """Which messages of a record a sample encodes, kept small (a sample of a long record would otherwise
    carry a tuple of every message index): ``messages[:cut]``, less the non-system messages before
    ``first_kept`` (removed to fit ``max_length``); ``systems``: the system messages among those."""

    cut: int
    first_kept: int = 0
    systems: tuple[int, ...] = ()

    def indexes(self) -> tuple[int, ...]:
        if self.first_kept <= 0:
            return tuple(range(self.cut))
        kept = [i for i in self.systems if i < self.first_kept]
        return (*kept, *range(self.first_kept, self.cut))


@dataclass(frozen=True, eq=False)
class Sample:
    """One training sequence: token ids and, per token, whether it is trained, which message it came
    from and what kind of span it is. The per-token lists are built from ``spans`` on first use.

    A worked example (``{"messages": [user "Hi", assistant "Hello!"]}``, v3)::

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
    cut: ConversationCut | None = field(default=None, repr=False)

    @cached_property
    def conversation(self) -> tuple[int, ...]:
        """Indexes of the record's messages this sample encodes (what mistral-common would be given)."""
        return self.cut.indexes() if self.cut is not None else ()

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
