"""The renderer's entry points: :func:`render`, :func:`render_records`, :func:`render_prompt`."""

from __future__ import annotations

import gc
from typing import Any, Iterable, Sequence

from pydantic import ValidationError

from ..errors import RecordError, TokenizerError, UsageError, format_path
from ..records import ChatRecord, TextRecord, parse_record
from ..tokenizer import Tokenizer, load_tokenizer
from .planner import Plan, require_messages
from .spans import MODES, Rendered, Sample

__all__ = ["render", "render_records", "render_prompt"]


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


def _encode_plan(plan: Plan, tok: Tokenizer) -> dict[str, list[int]]:
    try:
        return dict(zip(plan.texts, tok.encode_batch(plan.texts)))
    except TokenizerError as exc:
        raise RecordError(f"text that cannot be encoded: {exc}", code="unencodable_text") from exc


def render_records(
    records: Iterable[Any],
    tokenizer: Tokenizer | None = None,
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


def _render_records(records: Iterable[Any], tok: Tokenizer, mode: str, max_length: int | None) -> list[Rendered | RecordError]:
    plans: list[Plan | RecordError] = []
    texts: list[str] = []
    for record in records:
        try:
            plan = Plan(_as_record(record), tok, mode, max_length)
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
    tokenizer: Tokenizer | None = None,
    *,
    mode: str = "exact",
    max_length: int | None = None,
) -> list[Sample]:
    """The training samples of one record (a ChatRecord/TextRecord or its dict); see the package doc.

    Raises :class:`~fcdata.errors.RecordError` for a record that cannot be encoded (e.g. a v3 assistant
    turn with both text and calls) and :class:`~fcdata.errors.TokenizerError` for a tokenizer that
    cannot render it. Samples dropped for ``max_length`` are absent (:func:`render_records` reports them)."""
    result = render_records([record], tokenizer, mode=mode, max_length=max_length)[0]
    if isinstance(result, RecordError):
        raise result
    return result.samples


def render_prompt(messages: Sequence[Any], tools: Sequence[Any] | None = None, tokenizer: Tokenizer | None = None) -> list[int]:
    """The ids mistral-common encodes at inference (a ``ChatCompletionRequest`` outside fine-tuning mode)
    for a conversation that ends before an assistant turn: its last message is a user or tool message.

    ``messages`` and ``tools`` are canonical dicts or models. Generation continues from these ids; the
    model then writes its reply in its version's syntax, then ``</s>``."""
    tok = tokenizer or load_tokenizer()
    obj: dict[str, Any] = {"messages": [m if isinstance(m, dict) else m.model_dump(mode="json", exclude_none=True) for m in messages]}
    if tools:
        obj["tools"] = [t if isinstance(t, dict) else t.model_dump(mode="json", exclude_none=True) for t in tools]
    record = _as_record(obj)
    require_messages(record)
    assert isinstance(record, ChatRecord)
    if record.messages[-1].role == "assistant":
        raise RecordError(
            "a prompt ends before an assistant turn, but the last message is an assistant message (drop it, or use render)",
            path=f"messages[{len(record.messages) - 1}]",
        )
    plan = Plan(record, tok, "exact", None, prompt=True)
    rendered = plan.finish(_encode_plan(plan, tok))
    return rendered.samples[0].input_ids
