"""Converting files: read, convert (on one or several processes), write atomically, count everything.

The unit of work is a *batch* of up to ``batch_size`` records of one file. For JSON Lines files (plain or
gzip) the main process only cuts the file into raw lines; decoding, converting and serialising happen
in the batch, so ``num_proc`` workers share all the real work. Other containers (JSON documents,
Parquet, ``datasets`` folders, standard input) are read by :func:`fcdata.read.read_items` and their
items are batched. Batches run in a process pool and come back in input order, and a record's output
depends only on the record (ids come from its content), so the output is byte-identical for any
``num_proc``. The same batch function runs inline when ``num_proc`` is 1.

Conservation: every record read is either written or rejected; :class:`ConvertReport` counts both and
``read == kept + rejected`` holds by construction (each outcome is counted once, where it is
written).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import InputError, UsageError
from ..normalize import Rules
from ..read import NOT_PARSED, Item, items_of_raw_batch, open_jsonl_lines, raw_line_batches, read_items
from ..reports import RecordCounts
from ..paths import check_paths
from ..pool import ordered_map, worker_pool
from ..write import BackgroundWriter, JsonlWriter, atomic_open, write_parquet
from .encoding import ENCODER
from .detect import FORMATS, detect_format, is_turn_list
from .dispatch import convert_item, expand_items
from .outcome import Converted

__all__ = ["convert_files", "ConvertReport", "FileSummary", "run_batch"]

_BATCH = 1000


@dataclass
class FileSummary:
    """One input file: the format its records were read as, and how they fared."""

    file: str
    format: str | None
    detected: bool
    read: int = 0
    kept: int = 0
    rejected: int = 0
    cut: bool = False  # the file ends in the middle of a record (``truncated_file``): what followed is lost

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.file, "format": self.format, "detected": self.detected, "read": self.read, "kept": self.kept, "rejected": self.rejected, "cut": self.cut}


@dataclass
class ConvertReport(RecordCounts):
    """Totals of a conversion, in the vocabulary every stage report shares (docs/architecture.md,
    "Rejects and reports"): ``read == kept + rejected`` (kept: written to the output). ``formats`` counts
    records read per format (``unknown`` when none could be told), ``repairs`` and ``rejections`` count
    records per code (a record counts once per code)."""

    formats: dict[str, int] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)
    files: list[FileSummary] = field(default_factory=list)
    output: str | None = None
    rejects: str | None = None

    @property
    def empty_inputs(self) -> list[str]:
        """Inputs that held no record (each a finding)."""
        return [f.file for f in self.files if f.read == 0]

    @property
    def cut_inputs(self) -> list[str]:
        """Inputs cut off in the middle of a record (each a finding: the records after the cut are lost,
        and cannot even be counted)."""
        return [f.file for f in self.files if f.cut]

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: ``{"read", "kept", "rejected", "rejections", "formats", "repairs",
        "empty_inputs", "inputs", "per_input", "output", "rejects"}`` (count maps sorted by code, so
        reruns give the same bytes)."""
        return {
            **self.counts(),
            "formats": dict(sorted(self.formats.items())),
            "repairs": dict(sorted(self.repairs.items())),
            "empty_inputs": self.empty_inputs,
            "cut_inputs": self.cut_inputs,
            "inputs": [f.file for f in self.files],
            "per_input": [f.to_dict() for f in self.files],
            "output": self.output,
            "rejects": self.rejects,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


@dataclass
class BatchResult:
    """What one batch gives back to the main process (plain data, cheap to pickle)."""

    lines: list[str]
    records: list[dict[str, Any]]
    rejects: list[str]
    written: int
    rejected: int
    formats: Counter[str]
    repairs: Counter[str]
    rejections: Counter[str]
    nbytes: int


# ------------------------------------------------------------------------------------------ batches


def batch_items(shown: str, kind: str, payload: Any) -> list[Item]:
    """The records of one batch as :class:`Item`\\ s, exactly as :func:`fcdata.read.read_items` makes
    them. ``kind`` ``items``: ``payload`` is the items. ``raw``: ``payload`` is a
    :data:`fcdata.read.RawBatch` of a JSON Lines file, decoded here, in the worker, so the reading process
    only cuts the file into lines."""
    if kind != "raw":
        return payload  # type: ignore[no-any-return]
    return items_of_raw_batch(shown, payload)


def run_batch(task: tuple[str, str | None, bool, bool, str, list[Any], Rules | None]) -> BatchResult:
    """Convert one batch. ``task`` is ``(file, format, forced, want_records, kind, payload, rules)``,
    ``kind`` and ``payload`` as :func:`batch_items` reads them, ``rules`` as
    :func:`~.dispatch.convert_item` takes them. Runs in a worker process or inline."""
    shown, fmt, forced, want_records, kind, payload, rules = task
    # A batch allocates many short-lived, acyclic objects; the cyclic garbage collector would otherwise
    # rescan the long-lived caches again and again (about 15% of the time on Glaive). Switched off for
    # the batch only, and restored as it was.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_batch(shown, fmt, forced, want_records, kind, payload, rules)
    finally:
        if was_enabled:
            gc.enable()


def _run_batch(shown: str, fmt: str | None, forced: bool, want_records: bool, kind: str, payload: list[Any], rules: Rules | None) -> BatchResult:
    lines: list[str] = []
    records: list[dict[str, Any]] = []
    rejects: list[str] = []
    # formats and repair codes are collected per record and counted once per batch (Counter.update
    # counts an iterable in C; counting record by record in Python cost a tenth of a plain row)
    seen_formats: list[str] = []
    seen_repairs: list[list[str]] = []
    rejected_formats: list[str] = []
    rejections: Counter[str] = Counter()
    if kind == "raw":
        nbytes = sum(map(len, payload[1]))
    else:
        nbytes = sum(len(item.text) for item in payload if item.text is not None)
    convert = convert_item
    for item in expand_items(batch_items(shown, kind, payload), fmt):
        out = convert(item, fmt, forced=forced, rules=rules)
        if type(out) is Converted:
            seen_formats.append(out.format)
            if out.repairs:
                seen_repairs.append(out.repairs)
            if want_records:
                records.append(out.record)
            else:
                lines.append(out.line)
        else:
            rejected_formats.append(out.format or "unknown")
            rejections.update(out.codes)
            rejects.append(ENCODER.encode(out.to_obj()))
    formats = Counter(seen_formats)
    formats.update(rejected_formats)
    repairs = Counter(chain.from_iterable(seen_repairs))
    return BatchResult(lines, records, rejects, len(seen_formats), len(rejected_formats), formats, repairs, rejections, nbytes)


# ------------------------------------------------------------------------------------------- sources


@dataclass
class _Source:
    shown: str
    kind: str  # "raw" or "items"
    batches: Iterator[list[Any]]
    first_value: Any  # the first readable record's value (NOT_PARSED when none), for detection


def _chunk(entries: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for e in entries:
        batch.append(e)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _detectable(item: Item) -> bool:
    """A record the file's format can be told from: an object, or a conversation written as a bare list
    of turns (data-genie's Hermes files), which :func:`detect_format` reads as ShareGPT."""
    return item.ok and (isinstance(item.value, dict) or is_turn_list(item.value))


def _first_value_raw(shown: str, payload: Any) -> Any:
    for item in batch_items(shown, "raw", payload):
        if _detectable(item):
            return item.value
    return NOT_PARSED


def _open_source(path: str, batch_size: int) -> _Source:
    """Open one input: raw JSON Lines for plain or gzip JSONL files, items for everything else."""
    shown = "<stdin>" if path == "-" else path
    stream = open_jsonl_lines(path, shown)
    if stream is not None:
        batches = raw_line_batches(stream, batch_size)
        first = next(batches, None)
        pending = [] if first is None else [first]
        value = _first_value_raw(shown, first) if first else NOT_PARSED
        if value is NOT_PARSED and first is not None:
            # look further for a readable record to tell the format from (rare: bad first lines)
            for more in batches:
                pending.append(more)
                value = _first_value_raw(shown, more)
                if value is not NOT_PARSED:
                    break

        def gen() -> Iterator[list[Any]]:
            try:
                yield from pending
                yield from batches
            finally:
                stream.close()

        return _Source(shown, "raw", gen(), value)
    items = read_items(path)
    batches = _chunk(items, batch_size)
    pending = []
    value = NOT_PARSED
    for batch in batches:
        pending.append(batch)
        value = next((it.value for it in batch if _detectable(it)), NOT_PARSED)
        if value is not NOT_PARSED:
            break

    def gen_items() -> Iterator[list[Any]]:
        yield from pending
        yield from batches

    return _Source(shown, "items", gen_items(), value)


# ------------------------------------------------------------------------------------------ running


def _check_inputs(inputs: Sequence[str], output: str, source_format: str | None, num_proc: int, rejects: str | None) -> None:
    if not inputs:
        raise UsageError("no input files given")
    if source_format is not None and source_format not in FORMATS:
        raise UsageError(f"unknown format {source_format!r}; known formats: {', '.join(FORMATS)}")
    if num_proc < 1:
        raise UsageError(f"--num-proc must be at least 1, got {num_proc}")
    if list(inputs).count("-") > 1:
        raise UsageError("standard input ('-') can be read only once")
    for path in inputs:
        if path != "-" and not os.path.exists(path):
            raise InputError("no such file", file=path)
    # no output may be an input or the other output (through links and spellings), and both must be writable
    check_paths(inputs, {"output": output, "rejects": rejects})


def convert_files(
    inputs: Sequence[str],
    output: str,
    *,
    source_format: str | None = None,
    rejects: str | None = None,
    num_proc: int = 1,
    batch_size: int = _BATCH,
    on_file: Callable[[str, str | None, bool], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    rules: Rules | None = None,
) -> ConvertReport:
    """Convert every record of ``inputs`` into ``output`` (JSON Lines, or Parquet when the name ends in
    ``.parquet``; ``-`` = standard output) and, with ``rejects``, write each rejected input verbatim with
    its reasons. Both files are written atomically. Returns the :class:`ConvertReport`.

    ``source_format`` forces one format for every file; otherwise each file's format is told from its
    first readable record and announced through ``on_file(file, format, detected)``. ``on_progress(n)``
    is called with the bytes of input each batch consumed. ``rules``: the normaliser rules of the
    tokenizer version the data is for (default v3's; from v7 on, text before a call is kept). Raises
    :class:`~fcdata.errors.InputError` for an input that cannot be opened,
    :class:`~fcdata.errors.UsageError` for bad options.
    """
    _check_inputs(inputs, output, source_format, num_proc, rejects)
    parquet = output != "-" and output.lower().endswith(".parquet")
    report = ConvertReport(output=output, rejects=rejects)
    formats: Counter[str] = Counter()
    repairs: Counter[str] = Counter()
    rejections: Counter[str] = Counter()

    def results() -> Iterator[tuple[FileSummary, BatchResult]]:
        for path in inputs:
            source = _open_source(path, batch_size)
            fmt = source_format
            if fmt is None and source.first_value is not NOT_PARSED:
                fmt = detect_format(source.first_value)
            summary = FileSummary(source.shown, fmt, source_format is None)
            report.files.append(summary)
            if on_file is not None:
                on_file(source.shown, fmt, source_format is None)
            tasks = ((source.shown, fmt, source_format is not None, parquet, source.kind, batch, rules) for batch in source.batches)
            for br in ordered_map(pool, run_batch, tasks):
                yield summary, br

    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(worker_pool(num_proc))
        rej_out = stack.enter_context(JsonlWriter(rejects)) if rejects else None

        def account(summary: FileSummary, br: BatchResult) -> None:
            n = br.written + br.rejected
            summary.read += n
            summary.kept += br.written
            summary.rejected += br.rejected
            if br.rejections.get("truncated_file"):
                summary.cut = True
            report.read += n
            report.kept += br.written
            report.rejected += br.rejected
            formats.update(br.formats)
            repairs.update(br.repairs)
            rejections.update(br.rejections)
            if rej_out is not None:
                for line in br.rejects:
                    rej_out.write_text(line)
            if on_progress is not None:
                on_progress(br.nbytes)

        if parquet:

            def rows() -> Iterator[dict[str, Any]]:
                for summary, br in results():
                    account(summary, br)
                    yield from br.records

            def rows_then_rejects() -> Iterator[dict[str, Any]]:
                yield from rows()
                if rej_out is not None:
                    rej_out.flush()  # a rejects file that cannot be written stops the run before -o is replaced

            write_parquet(output, rows_then_rejects())
        else:
            with atomic_open(output, "w") as out:
                # on one process, written from a thread while the next batch converts (with a pool, the
                # workers do the converting)
                with BackgroundWriter(out) if pool is None else contextlib.nullcontext(out) as sink:
                    for summary, br in results():
                        account(summary, br)
                        if br.lines:
                            br.lines.append("")  # (the last line's newline, without copying the batch)
                            sink.write("\n".join(br.lines))
                if rej_out is not None:
                    rej_out.flush()  # a rejects file that cannot be written stops the run before -o is replaced
    report.formats = dict(formats)
    report.repairs = dict(repairs)
    report.rejections = dict(rejections)
    return report
