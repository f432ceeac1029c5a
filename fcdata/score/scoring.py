"""The scoring runs: predictions matched by id to references (fcdata's metrics) or to BFCL questions
(BFCL's verdicts), every input line accounted for.

Ids
    A prediction carries ``"id"`` (a string or an integer; compared as text). A canonical record used as
    a reference has the id ``metadata.id`` when present, otherwise its 1-based position among the
    records of its file (``"1"``, ``"2"``, ...; blank lines are not records). A reference in a prediction
    shape carries its own ``"id"``. BFCL questions and answers are matched on their ``"id"``.

Nothing is dropped silently: a line that cannot be read, has no usable id, repeats an id, has no
reference, or is in no known shape becomes a :class:`~fcdata.score.report.Rejected` with its file, line
and reason; references that no prediction answers are listed in ``missing``. Input order is kept.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterator, Mapping, Sequence

from fcdata.errors import UsageError, format_path
from fcdata.read import Item, read_items
from fcdata.records import AssistantMessage, ChatRecord, TextRecord, ValidationError, arguments_as_object, id_text, parse_record

from .bfcl import UnsupportedQuestion, category_of, check_decoded, check_supported, fcdata_error, is_relevance_category, mapped_name
from .compare import Reference, SchemaChecker, compare
from .parse import Call, ParsedReply, PredictionShapeError, reply_from_prediction
from .report import BfclTally, ItemVerdict, ReferenceTally, Rejected, ScoreReport

__all__ = ["score", "score_bfcl", "Source"]

# a path, several paths, or the records themselves (decoded JSON values or Items)
Source = Any


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _items(source: Source, name: str) -> Iterator[Item]:
    """Every record of ``source`` as an :class:`Item` (paths are read with :func:`read_items`)."""
    if source is None:
        return
    if _is_path(source):
        yield from read_items(source)
        return
    if isinstance(source, Sequence) and source and all(_is_path(s) for s in source):
        for path in source:
            yield from read_items(path)
        return
    for index, value in enumerate(source, start=1):
        yield value if isinstance(value, Item) else Item(f"<{name}>", index, value)


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = list(first.get("loc", ()))
    if loc and loc[0] in ("chat", "text"):  # the tag of the record union, not a field
        loc = loc[1:]
    path = format_path(loc)
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"not a canonical record: {path}: {first.get('msg', 'invalid')}{more}"


def _reference_category(reply: ParsedReply, metadata: Mapping[str, Any] | None) -> str:
    category = metadata.get("category") if metadata else None
    if isinstance(category, str) and category:
        return category
    return "no_call" if not reply.has_calls else ("single" if len(reply.calls) == 1 else "parallel")


def _tools_map(tools: Any) -> dict[str, Any] | None:
    """name -> parameters schema, from canonical tools or bare function definitions."""
    if not isinstance(tools, list):
        return None
    out: dict[str, Any] = {}
    for tool in tools:
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            out.setdefault(function["name"], function.get("parameters", {}))
    return out


def _reference_from_record(record: ChatRecord) -> Reference | str:
    last = next((m for m in reversed(record.messages) if isinstance(m, AssistantMessage)), None)
    if last is None:
        return "the record has no assistant turn to score against"
    if last.tool_calls:
        calls = []
        for index, tool_call in enumerate(last.tool_calls):
            arguments = arguments_as_object(tool_call.function.arguments)
            if not isinstance(arguments, dict):
                return f"reference call {index} ({tool_call.function.name}): arguments are not a JSON object"
            calls.append(Call(tool_call.function.name, arguments, tool_call.id))
        reply = ParsedReply("calls", text=last.content or "", calls=tuple(calls))
    else:
        reply = ParsedReply("text", text=last.content or "")
    tools = {t.function.name: t.function.parameters for t in record.tools}
    return Reference(reply, tools, _reference_category(reply, record.metadata))


def _load_references(source: Source, rejected: list[Rejected], require_marker: bool, tokenizer: Any = None) -> dict[str, tuple[Reference, Item]]:
    references: dict[str, tuple[Reference, Item]] = {}
    positions: dict[str, int] = {}  # file -> records seen, for ids by position
    for item in _items(source, "references"):
        ordinal = positions[item.file] = positions.get(item.file, 0) + 1
        def reject(reason: str) -> None:
            rejected.append(Rejected("references", item.file, item.line, reason, item.text))

        if not item.ok:
            reject(item.error or "unreadable")
            continue
        value = item.value
        if not isinstance(value, dict):
            reject("a reference must be a JSON object")
            continue
        if "messages" in value or ("text" in value and "output" not in value):
            try:
                record = parse_record(value)
            except ValidationError as exc:
                reject(_validation_message(exc))
                continue
            if isinstance(record, TextRecord):
                reject("a text record has no assistant turn to score against")
                continue
            ref = _reference_from_record(record)
            given = (record.metadata or {}).get("id")
            metadata_id = id_text(given)
            if metadata_id is None and given is not None:
                # numbering it by position instead would pair it with another record's prediction
                reject(f"metadata.id must be a string or an integer, got {json.dumps(given)}")
                continue
            ref_id = metadata_id if metadata_id is not None else str(ordinal)
        else:
            ref_id = id_text(value.get("id"))
            if ref_id is None:
                reject("missing \"id\" (a string or an integer)")
                continue
            try:
                reply = reply_from_prediction(value, require_marker=require_marker, tokenizer=tokenizer)
            except PredictionShapeError as exc:
                reject(f"not a canonical record, and not a reference in a prediction shape: {exc}")
                continue
            if reply.kind == "parse_failure":
                reject(f"the reference itself does not parse: {reply.error}")
                continue
            ref = Reference(reply, _tools_map(value.get("tools")), _reference_category(reply, value.get("metadata") if isinstance(value.get("metadata"), dict) else None))
        if isinstance(ref, str):
            reject(ref)
            continue
        if ref_id in references:
            first = references[ref_id][1]
            reject(f"duplicate reference id {ref_id!r} (first at {first.file}:{first.line})")
            continue
        references[ref_id] = (ref, item)
    return references


def _predictions(source: Source, rejected: list[Rejected], require_marker: bool, claimed: set[str], tokenizer: Any = None) -> Iterator[tuple[str, ParsedReply, Item]]:
    """(id, reply, item) for each usable prediction; duplicates and bad lines are rejected. The id of a
    line rejected for its shape goes into ``claimed``: that reference had a prediction (a rejected one),
    so it is not also counted among those that no prediction answers."""
    seen: dict[str, Item] = {}
    for item in _items(source, "predictions"):
        def reject(reason: str) -> None:
            rejected.append(Rejected("predictions", item.file, item.line, reason, item.text))

        if not item.ok:
            reject(item.error or "unreadable")
            continue
        if not isinstance(item.value, dict):
            reject("a prediction must be a JSON object")
            continue
        pred_id = id_text(item.value.get("id"))
        if pred_id is None:
            reject("missing \"id\" (a string or an integer)")
            continue
        if pred_id in seen:
            first = seen[pred_id]
            reject(f"duplicate prediction id {pred_id!r} (first at {first.file}:{first.line})")
            continue
        try:
            reply = reply_from_prediction(item.value, require_marker=require_marker, tokenizer=tokenizer)
        except PredictionShapeError as exc:
            reject(str(exc))
            claimed.add(pred_id)
            continue
        seen[pred_id] = item
        yield pred_id, reply, item


def score(
    predictions: Source,
    references: Source = None,
    *,
    bfcl: Source = None,
    answers: Source = None,
    underscore_to_dot: bool = True,
    require_marker: bool = True,
    on_item: Callable[[ItemVerdict], None] | None = None,
    tokenizer: Any = None,
) -> ScoreReport:
    """Score predictions against references (fcdata's metrics) or, with ``bfcl=``, against BFCL
    questions and accepted answers (BFCL's verdicts; see :func:`score_bfcl`).

    ``tokenizer``: the model's (:func:`fcdata.tokenizer.load_tokenizer`); predictions given as token ids
    are decoded with it, and every raw ``output`` must be in its version's call syntax
    (:func:`fcdata.score.parse.reply_syntax`: a v11 model's JSON-list reply is a parse failure). Default:
    v3 SentencePiece ids, either syntax.

    Each source is a path (anything :func:`fcdata.read.read_items` reads), a list of paths, or an
    iterable of decoded JSON values or :class:`~fcdata.read.Item`. ``on_item`` sees each verdict as it
    is made (the CLI drives a progress bar with it).

    >>> report = score([{"id": "1", "output": '[TOOL_CALLS] [{"name": "f", "arguments": {"x": 1}}]</s>'}],
    ...                [{"id": "1", "tool_calls": [{"name": "f", "arguments": {"x": 1.0}}]}])
    >>> report.accuracy, report.items[0].correct
    (1.0, True)
    """
    if bfcl is not None:
        if references is not None:
            raise UsageError("give references or BFCL questions, not both")
        return score_bfcl(predictions, bfcl, answers, underscore_to_dot=underscore_to_dot, require_marker=require_marker, on_item=on_item)
    if references is None:
        raise UsageError("give references (canonical records or reference replies) or BFCL questions to score against")
    if answers is not None:
        raise UsageError("accepted answers go with BFCL questions (bfcl=...)")
    rejected: list[Rejected] = []
    refs = _load_references(references, rejected, require_marker, tokenizer)
    tally = ReferenceTally()
    schemas = SchemaChecker()
    items: list[ItemVerdict] = []
    answered: set[str] = set()
    claimed: set[str] = set()  # ids whose prediction was rejected: not "missing" (docs/scoring.md)
    for pred_id, reply, item in _predictions(predictions, rejected, require_marker, claimed, tokenizer):
        entry = refs.get(pred_id)
        if entry is None:
            rejected.append(Rejected("predictions", item.file, item.line, f"no reference has id {pred_id!r}", item.text))
            continue
        reference = entry[0]
        comparison = compare(reply, reference, schemas)
        verdict = ItemVerdict(pred_id, reference.category, comparison.correct, comparison.error, reply.kind == "parse_failure", issues=comparison.issues)
        tally.add(verdict, comparison)
        items.append(verdict)
        answered.add(pred_id)
        if on_item is not None:
            on_item(verdict)
    missing = [ref_id for ref_id in refs if ref_id not in answered and ref_id not in claimed]
    return ScoreReport("reference", tally.summary(), items, rejected, missing)


def _load_by_id(source: Source, name: str, rejected: list[Rejected]) -> dict[str, tuple[dict[str, Any], Item]]:
    out: dict[str, tuple[dict[str, Any], Item]] = {}
    for item in _items(source, name):
        if not item.ok:
            rejected.append(Rejected(name, item.file, item.line, item.error or "unreadable", item.text))
            continue
        value = item.value
        entry_id = id_text(value.get("id")) if isinstance(value, dict) else None
        if entry_id is None:
            rejected.append(Rejected(name, item.file, item.line, "expected a JSON object with a string \"id\"", item.text))
            continue
        if entry_id in out:
            first = out[entry_id][1]
            rejected.append(Rejected(name, item.file, item.line, f"duplicate id {entry_id!r} (first at {first.file}:{first.line})", item.text))
            continue
        out[entry_id] = (value, item)
    return out


def score_bfcl(
    predictions: Source,
    questions: Source,
    answers: Source = None,
    *,
    underscore_to_dot: bool = True,
    require_marker: bool = True,
    on_item: Callable[[ItemVerdict], None] | None = None,
) -> ScoreReport:
    """Score predictions with BFCL's AST checker (:mod:`fcdata.score.bfcl`).

    ``questions`` are BFCL question files (JSON Lines, named ``.json``), ``answers`` the matching
    ``possible_answer`` files (not needed for irrelevance questions). ``underscore_to_dot`` is BFCL's
    name mapping for models that cannot use ``.`` in function names (on for Mistral). A parse failure is
    reported as one in every category; on an irrelevance question BFCL counts it as an abstention, so
    it is also scored correct there.
    """
    rejected: list[Rejected] = []
    question_map = _load_by_id(questions, "questions", rejected)
    answer_map = _load_by_id(answers, "answers", rejected) if answers is not None else {}
    tally = BfclTally(underscore_to_dot=underscore_to_dot)
    items: list[ItemVerdict] = []
    answered: set[str] = set()
    claimed: set[str] = set()  # ids whose prediction was rejected: not "missing" (docs/scoring.md)
    for pred_id, reply, item in _predictions(predictions, rejected, require_marker, claimed):
        def reject(reason: str) -> None:
            rejected.append(Rejected("predictions", item.file, item.line, reason, item.text))

        entry = question_map.get(pred_id)
        if entry is None:
            reject(f"no BFCL question has id {pred_id!r}")
            continue
        question = entry[0]
        category = category_of(pred_id)
        answer = answer_map.get(pred_id, (None, None))[0]
        try:
            check_supported(category)
            if answer is None and not is_relevance_category(category):
                raise UnsupportedQuestion(f"no accepted answer for {pred_id!r}; give its possible_answer file")
            result = check_decoded(question, answer, reply, underscore_to_dot=underscore_to_dot)
        except UnsupportedQuestion as exc:
            reject(f"{pred_id}: {exc}")
            claimed.add(pred_id)
            continue
        verdict = ItemVerdict(pred_id, category, result.valid, fcdata_error(result, reply), reply.kind == "parse_failure", result.error_type, bfcl=True)
        functions = question.get("function") if isinstance(question.get("function"), list) else []
        declared = {mapped_name(f["name"], underscore_to_dot) for f in functions if isinstance(f, dict) and isinstance(f.get("name"), str)}
        calls = reply.calls if reply.kind == "calls" else ()
        tally.add(verdict, len(calls), sum(1 for c in calls if c.name not in declared))
        items.append(verdict)
        answered.add(pred_id)
        if on_item is not None:
            on_item(verdict)
    missing = [qid for qid in question_map if qid not in answered and qid not in claimed]
    return ScoreReport("bfcl", tally.summary(), items, rejected, missing)
