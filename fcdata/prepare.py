"""Records (canonical or raw) -> a tokenized training set: one row per sample, written atomically.

Each input record goes read -> convert (:func:`fcdata.convert.convert_item`, so raw Glaive, ShareGPT,
OpenAI or hackathon data is converted on the fly) -> validate (:func:`fcdata.validate.check_record`; any
*error* finding rejects the record) -> render (:func:`fcdata.render.render_records`). A canonical record
that validates skips the converter (which passes such records through unchanged); one that does not goes
through it, so its repairs apply before the record is judged. Nothing is lost silently: ``read == kept + rejected``,
every rejection is counted by code and, with ``rejects``, written out with its reasons and the input
verbatim. Records that give no sample (every turn has weight 0, or every sample was too long) are
counted too.

Output columns (the contract with collate and train; masks: 1 = trained):

- ``input_ids`` (list<int32>), ``assistant_masks`` (list<int8>), ``labels`` (list<int64>, ``-100`` where
  not trained, NOT shifted: Hugging Face models shift), ``length``, ``num_trained``;
- provenance: ``source_file``, ``source_line``, ``record_index`` (0-based, input order, rejected records
  included), ``sample_index`` (the sample's index in its record);
- ``turns_trimmed``/``tokens_trimmed`` (``max_length``), ``tool_names`` (functions the record declares),
  ``call_names`` (functions called in the sample's trained turns).

``output_format="dataset"``: a Hugging Face ``datasets`` folder (``datasets.load_from_disk``) whose
``info.description`` holds the preparation settings as JSON; ``"parquet"``: one Parquet file.

Determinism: records are cut into fixed chunks that are processed alone (inline, or by ``num_proc``
worker processes) and written back in input order, and the dataset fingerprint is a hash of the content,
so the output is byte-identical whatever ``num_proc`` is.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable, Iterator, Sequence

from .errors import InputError, RecordError, UsageError
from .read import Item, item_from_line, items_of_raw_batch, open_jsonl_lines, raw_line_batches, read_items
from .reports import RecordCounts
from .paths import check_paths
from .pool import ordered_map, worker_pool
from .render import MODES, render_records
from .render.encoders import encoder_for
from .tokenizer import MistralV3Tokenizer, load_tokenizer
from .rejects import Reason, reject_obj
from .write import JsonlWriter, atomic_path, dataset_folder_problem, dumps_line, scratch_file

__all__ = ["prepare", "PrepareReport", "OUTPUT_FORMATS", "COLUMNS"]

OUTPUT_FORMATS = ("dataset", "parquet")
COLUMNS = (
    "input_ids",
    "assistant_masks",
    "labels",
    "length",
    "num_trained",
    "source_file",
    "source_line",
    "record_index",
    "sample_index",
    "turns_trimmed",
    "tokens_trimmed",
    "tool_names",
    "call_names",
)
CHUNK = 256  # records per unit of work (also the determinism unit: independent of num_proc)


@dataclass
class PrepareReport(RecordCounts):
    """Totals of a preparation run (:meth:`to_obj` is the JSON report), in the vocabulary every stage
    report shares (docs/architecture.md, "Rejects and reports"): ``read == kept + rejected``."""

    # read, kept (records that passed conversion, validation and rendering), rejected: RecordCounts
    samples: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    dropped_for_length: int = 0  # samples
    trimmed_for_length: int = 0  # samples shortened by removing early turns
    tokens_trimmed: int = 0
    tokens_dropped: int = 0  # tokens of the dropped samples (each counted as rendered before trimming)
    trained_tokens_dropped: int = 0
    records_without_samples: int = 0  # rendered records that gave no sample (nothing to train, or all too long)
    rejections: Counter[str] = field(default_factory=Counter)  # type: ignore[assignment]  # a Counter, so chunks add up
    rejected_by_stage: Counter[str] = field(default_factory=Counter)  # read / convert / validate / render
    warnings: Counter[str] = field(default_factory=Counter)  # validation warnings of the kept records, by code
    formats: Counter[str] = field(default_factory=Counter)  # input format of each converted record
    repairs: Counter[str] = field(default_factory=Counter)  # repairs the converter made to kept records, by code
    empty_inputs: list[str] = field(default_factory=list)  # inputs that held no record (a finding)
    cut_inputs: list[str] = field(default_factory=list)  # inputs cut off mid-record (a finding: what followed is lost)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_obj(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "samples": self.samples,
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "dropped_for_length": self.dropped_for_length,
            "trimmed_for_length": self.trimmed_for_length,
            "tokens_lost_to_length": self.tokens_trimmed + self.tokens_dropped,
            "tokens_trimmed": self.tokens_trimmed,
            "tokens_dropped": self.tokens_dropped,
            "trained_tokens_dropped": self.trained_tokens_dropped,
            "records_without_samples": self.records_without_samples,
            "rejected_by_stage": dict(sorted(self.rejected_by_stage.items())),
            "warnings": dict(sorted(self.warnings.items())),
            "formats": dict(sorted(self.formats.items())),
            "repairs": dict(sorted(self.repairs.items())),
            "empty_inputs": list(self.empty_inputs),
            "cut_inputs": list(self.cut_inputs),
            **self.settings,
        }


# ------------------------------------------------------------------------------------------ one chunk


@dataclass
class _Chunk:
    """What one chunk of records gave: Arrow columns of its samples, reject lines, counters."""

    table: Any  # pyarrow.Table with COLUMNS
    rejects: list[str]
    report: PrepareReport
    nbytes: int


def _process(task: tuple[list[Any], str | None, str, int | None, str]) -> _Chunk:
    """Convert, validate and render one chunk of items (inline or in a worker process)."""
    was_enabled = gc.isenabled()
    gc.disable()  # many small objects and no reference cycles: the collector would only cost time
    try:
        return _process_chunk(task)
    finally:
        if was_enabled:
            gc.enable()


def _process_chunk(task: tuple[list[Any], str | None, str, int | None, str]) -> _Chunk:
    from .convert import convert_item, detect_format, expand_items
    from .validate import REPAIRED_BY_CONVERTER, check_record

    entries, source_format, mode, max_length, tokenizer_path = task
    # record indices are local to the chunk (a row may hold several records: expand_items); the main
    # process adds the number of records before the chunk (:func:`_placed`)
    items = list(expand_items((_item_of(e) for e in entries), source_format))
    tok = load_tokenizer(tokenizer_path)
    rules = encoder_for(tok).rules  # what this version encodes: v7+ keeps text before calls
    rep = PrepareReport()
    rejects: list[str] = []
    kept: list[tuple[int, Item, Any, str, int]] = []  # (record index, item, model, source file, source line)
    nbytes = 0
    for offset, item in enumerate(items):
        rep.read += 1
        nbytes += len(item.text) if item.text is not None else 0
        if not item.ok:
            _reject(rep, rejects, item, "read", [(item.code or "not_json", item.error or "unreadable")])
            continue
        record = item.value
        model, findings, fmt, out = None, None, "canonical", None
        if source_format in (None, "canonical") and detect_format(record) == "canonical":
            # canonical input that validates is what the converter would pass through unchanged: skip it
            model, findings = check_record(record, file=item.file, line=item.line, text=item.text, rules=rules)
            if model is None or any(f.severity == "error" or f.code in REPAIRED_BY_CONVERTER for f in findings):
                model = findings = None
        if model is None:
            out = convert_item(item, source_format, forced=source_format is not None, rules=rules)
            if not out.ok:
                _reject(rep, rejects, item, "convert", out.reasons, out.format)
                continue
            fmt = out.format
            record = out.record
            model, findings = check_record(record, file=item.file, line=item.line, text=out.line, rules=rules)
            errors = [f for f in findings if f.severity == "error"]
            if model is None or errors:
                _reject(rep, rejects, item, "validate", errors or [("invalid", "refused by the validator")], fmt)
                continue
        assert findings is not None
        rep.formats[fmt] += 1
        if out is not None:
            rep.repairs.update(out.repairs)
        for f in findings:
            rep.warnings[f.code] += 1
        meta = (record.get("metadata") if isinstance(record, dict) else None) or {}
        source_file = meta.get("source_file") if isinstance(meta.get("source_file"), str) else item.file
        source_line = meta.get("source_line") if isinstance(meta.get("source_line"), int) else item.line
        kept.append((offset, item, model, source_file, source_line))

    results = render_records([k[2] for k in kept], tok, mode=mode, max_length=max_length)
    rows: list[tuple[int, str, int, Any, tuple[str, ...]]] = []
    for (index, item, model, source_file, source_line), result in zip(kept, results):
        if isinstance(result, RecordError):
            _reject(rep, rejects, item, "render", [(result.code or "render", result.reason)])
            continue
        rep.kept += 1
        for d in result.dropped:
            rep.dropped_for_length += 1
            rep.tokens_dropped += d.full_length
            rep.trained_tokens_dropped += d.num_trained
        if not result.samples:
            rep.records_without_samples += 1
        for s in result.samples:
            rows.append((index, source_file, source_line, s, result.tool_names))
            rep.samples += 1
            rep.tokens += s.length
            rep.trained_tokens += s.num_trained
            if s.turns_trimmed:
                rep.trimmed_for_length += 1
                rep.tokens_trimmed += s.tokens_trimmed
    return _Chunk(_table(rows), rejects, rep, nbytes)


def _reject(rep: PrepareReport, rejects: list[str], item: Item, stage: str, reasons: Sequence[Reason], fmt: str | None = None) -> None:
    entry = reject_obj(item, reasons, stage=stage, format=fmt)
    if item.code == "truncated_file":
        rep.cut_inputs.append(item.file)
    rep.rejected += 1
    rep.rejected_by_stage[stage] += 1
    for code in dict.fromkeys(r["code"] for r in entry["reasons"]):
        rep.rejections[code] += 1
    rejects.append(dumps_line(entry))


def _schema(with_labels: bool = True) -> Any:
    import pyarrow as pa

    fields = [
        ("input_ids", pa.list_(pa.int32())),
        ("assistant_masks", pa.list_(pa.int8())),
        ("labels", pa.list_(pa.int64())),
        ("length", pa.int32()),
        ("num_trained", pa.int32()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("record_index", pa.int64()),
        ("sample_index", pa.int32()),
        ("turns_trimmed", pa.int32()),
        ("tokens_trimmed", pa.int32()),
        ("tool_names", pa.list_(pa.string())),
        ("call_names", pa.list_(pa.string())),
    ]
    return pa.schema([f for f in fields if with_labels or f[0] != "labels"])


def _table(rows: list[tuple[int, str, int, Any, tuple[str, ...]]]) -> Any:
    """The Arrow table of a chunk's samples, without ``labels`` (see :func:`_with_labels`); token
    columns are built in numpy from the span runs."""
    import numpy as np
    import pyarrow as pa

    ids: list[int] = []
    flags: list[bool] = []
    runs: list[int] = []
    lengths: list[int] = []
    for _, _, _, s, _ in rows:
        ids += s.input_ids
        lengths.append(len(s.input_ids))
        for span in s.spans:
            flags.append(span.trained)
            runs.append(span.end - span.start)
    values = np.array(ids, dtype=np.int32)
    masks = np.repeat(np.array(flags, dtype=np.int8), np.array(runs, dtype=np.int64))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    if lengths:
        offsets[1:] = np.cumsum(np.array(lengths, dtype=np.int64))
    schema = _schema(with_labels=False)
    columns = [
        pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)),
        pa.ListArray.from_arrays(pa.array(offsets), pa.array(masks)),
        pa.array(lengths, type=pa.int32()),
        pa.array([s.num_trained for _, _, _, s, _ in rows], type=pa.int32()),
        pa.array([r[1] for r in rows], type=pa.string()),
        pa.array([r[2] for r in rows], type=pa.int64()),
        pa.array([r[0] for r in rows], type=pa.int64()),
        pa.array([r[3].sample_index for r in rows], type=pa.int32()),
        pa.array([r[3].turns_trimmed for r in rows], type=pa.int32()),
        pa.array([r[3].tokens_trimmed for r in rows], type=pa.int32()),
        pa.array([list(r[4]) for r in rows], type=pa.list_(pa.string())),
        pa.array([list(r[3].call_names) for r in rows], type=pa.list_(pa.string())),
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _with_labels(table: Any) -> Any:
    """``table`` with its ``labels`` column, made from ``input_ids`` and ``assistant_masks``.

    Built here, in the main process, rather than in the workers: labels are int64 (what Hugging Face
    losses take), so shipping them from a worker would more than double the bytes pickled per token,
    while deriving them is one vectorised pass."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = table.column("input_ids").combine_chunks()
    values = ids.flatten().to_numpy(zero_copy_only=False)
    flags = table.column("assistant_masks").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    labels = np.where(flags == 1, values.astype(np.int64), np.int64(-100))
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(pc.list_value_length(ids).to_numpy(zero_copy_only=False), dtype=np.int64)
    column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(labels))
    return table.add_column(COLUMNS.index("labels"), pa.field("labels", pa.list_(pa.int64())), column)


# ------------------------------------------------------------------------------------------ driving


_Raw = tuple[str, int, bytes]  # (file, line, the line's bytes): a JSON Lines record not decoded yet


def _raw_lines(path: str) -> Iterator[Item | _Raw] | None:
    """The records of a JSON Lines file (plain or gzip) as raw lines, or None for any other input. Worker
    processes decode them (:func:`_item_of`), so the main process only reads bytes. A batch the file
    was cut off in is decoded here, by the one rule of :func:`fcdata.read.items_of_raw_batch`."""
    stream = open_jsonl_lines(path)
    if stream is None:
        return None

    def lines() -> Iterator[Item | _Raw]:
        try:
            for batch in raw_line_batches(stream, 1024):
                lineno, raws, problem = batch
                if problem is not None:
                    yield from items_of_raw_batch(path, batch)
                    continue
                for n, raw in enumerate(raws, lineno):
                    if raw.strip():
                        yield path, n, raw
        finally:
            stream.close()

    return lines()


def _item_of(entry: Item | _Raw) -> Item:
    """An :class:`Item` exactly as :func:`fcdata.read.read_items` makes it from a JSON Lines line."""
    if isinstance(entry, Item):
        return entry
    shown, lineno, raw = entry
    return item_from_line(shown, lineno, raw)


def _chunks(inputs: Sequence[str], size: int, raw: bool, empty: list[str]) -> Iterator[list[Item | _Raw]]:
    """Fixed-size chunks of input rows in input order (the unit of work); with ``raw``, plain JSON Lines
    files come as undecoded lines. Inputs that held no record are added to ``empty``."""
    batch: list[Item | _Raw] = []
    for path in inputs:
        source: Iterable[Item | _Raw] | None = _raw_lines(path) if raw else None
        seen = False
        for entry in source if source is not None else read_items(path):
            seen = True
            batch.append(entry)
            if len(batch) >= size:
                yield batch
                batch = []
        if not seen:
            empty.append("<stdin>" if path == "-" else path)
    if batch:
        yield batch


def _placed(table: Any, base: int) -> Any:
    """A chunk's rows with their ``record_index`` counted from the start of the run: ``base`` is the
    number of records of the chunks before it (the chunk numbers its records from 0)."""
    if base == 0 or table.num_rows == 0:
        return table
    import pyarrow.compute as pc

    i = table.schema.get_field_index("record_index")
    return table.set_column(i, table.schema.field(i), pc.add(table.column(i), base))


def _merge(total: PrepareReport, part: PrepareReport) -> None:
    """Add a chunk's counts to the totals, field by field of the dataclass (a new counter is merged
    without being listed here): numbers add up, counters and lists join; ``settings`` belong to the
    run, not to a chunk."""
    for f in fields(PrepareReport):
        mine, theirs = getattr(total, f.name), getattr(part, f.name)
        if isinstance(mine, int):
            setattr(total, f.name, mine + theirs)
        elif isinstance(mine, (Counter, list)):
            (mine.update if isinstance(mine, Counter) else mine.extend)(theirs)


class _Fingerprint:
    """A content hash of the prepared rows (the dataset fingerprint), the same however the rows were cut
    into chunks: every column feeds its own hashers (values, and lengths where a value has one), so the
    digest is that of the whole columns. Column-wise and in C (Arrow buffers, numpy), never row by row
    in Python: the main process does this for every chunk while the workers render."""

    def __init__(self, seed: str) -> None:
        self.seed = seed.encode()
        self.streams: dict[str, Any] = {}

    def _feed(self, name: str, data: bytes) -> None:
        h = self.streams.get(name)
        if h is None:
            h = self.streams[name] = hashlib.sha256(name.encode() + b"\0")
        h.update(data)

    def update(self, table: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        for name in table.column_names:
            if name == "labels":  # derived from input_ids and assistant_masks
                continue
            col = table.column(name).combine_chunks()
            if pa.types.is_list(col.type):
                self._feed(name + "#items", pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False).tobytes())
                col = col.flatten()
            if pa.types.is_string(col.type):
                self._feed(name + "#bytes", pc.binary_length(col).fill_null(0).to_numpy(zero_copy_only=False).tobytes())
                self._feed(name, "".join(col.to_pylist()).encode("utf-8", "surrogatepass"))
            else:
                # the column's own fixed width (the schema fixes it), so no widening copy is hashed
                self._feed(name, col.to_numpy(zero_copy_only=False).tobytes())

    def hexdigest(self) -> str:
        total = hashlib.sha256(self.seed)
        for name in sorted(self.streams):
            total.update(name.encode() + b"\0" + self.streams[name].digest())
        return total.hexdigest()


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    tokenizer: str | os.PathLike[str] | MistralV3Tokenizer | None = None,
    mode: str = "exact",
    max_length: int | None = None,
    output_format: str = "dataset",
    num_proc: int = 1,
    source_format: str | None = None,
    rejects: str | os.PathLike[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    chunk_size: int = CHUNK,
) -> PrepareReport:
    """Prepare ``inputs`` (files, ``-`` for stdin; canonical or raw records) into ``output``.

    ``tokenizer``: a path (see :func:`fcdata.tokenizer.load_tokenizer`) or a loaded tokenizer; ``mode`` and
    ``max_length``: see :mod:`fcdata.render`; ``source_format``: read every record as this
    format (default: tell from each file's records); ``rejects``: a JSON Lines file for rejected records;
    ``on_progress(records, bytes)``: called after each chunk. Raises :class:`~fcdata.errors.FcdataError`
    subclasses for bad options, unreadable inputs and tokenizers that cannot render the data."""
    paths = [os.fspath(inputs)] if isinstance(inputs, (str, os.PathLike)) else [os.fspath(p) for p in inputs]
    if not paths:
        raise UsageError("no input given")
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"unknown output format {output_format!r}; choose one of: {', '.join(OUTPUT_FORMATS)}")
    if max_length is not None and max_length < 2:
        raise UsageError(f"--max-length must be at least 2, got {max_length}")
    if num_proc < 1:
        raise UsageError(f"--num-proc must be at least 1, got {num_proc}")
    out = os.fspath(output)
    if out == "-":
        raise UsageError("the prepared data is a folder (or a Parquet file); give -o a path, not '-'")
    for p in paths:
        if p != "-" and not os.path.exists(p):
            raise InputError("no such file", file=p)
    # no output may be an input or the other output (through links and spellings), and both must be writable
    outputs = {"output": out} if output_format == "parquet" else {}
    check_paths(paths, {**outputs, "rejects": os.fspath(rejects) if rejects is not None else None}, {"output": out} if output_format == "dataset" else None)
    if source_format is not None:
        from .convert import FORMATS

        if source_format not in FORMATS:
            raise UsageError(f"unknown input format {source_format!r}; known formats: {', '.join(FORMATS)}")
    tok = tokenizer if isinstance(tokenizer, MistralV3Tokenizer) else load_tokenizer(tokenizer)
    tokenizer_path = tok.path
    report = PrepareReport()
    report.settings = {
        "mode": mode,
        "max_length": max_length,
        "tokenizer": os.path.basename(tokenizer_path),
        "tokenizer_sha256": _file_sha256(tokenizer_path),
        "format": f"mistral_{tok.version}",  # the layout: mistral_v3, mistral_v7, ... (the tokenizer version)
        "output_format": output_format,
        "inputs": paths,
        "output": out,
        "rejects": os.fspath(rejects) if rejects is not None else None,
    }
    description = json.dumps({k: report.settings[k] for k in ("format", "mode", "max_length", "tokenizer", "tokenizer_sha256")}, ensure_ascii=False)
    tasks = ((items, source_format, mode, max_length, tokenizer_path) for items in _chunks(paths, chunk_size, num_proc > 1, report.empty_inputs))
    digest = _Fingerprint(description)
    done = nbytes = 0

    # the rejects file is committed after the data set, never before: an interrupted run leaves both
    # outputs as the previous run left them, describing the same run
    reject_out = JsonlWriter(rejects) if rejects is not None else None

    def tables() -> Iterator[Any]:
        nonlocal done, nbytes
        for chunk in ordered_map(pool, _process, tasks):
            _merge(report, chunk.report)
            if reject_out is not None:
                for line in chunk.rejects:
                    reject_out.write_text(line)
            table = _placed(chunk.table, report.read - chunk.report.read)
            digest.update(table)
            done += chunk.report.read
            nbytes += chunk.nbytes
            if on_progress is not None:
                on_progress(done, nbytes)
            yield _with_labels(table)
        if reject_out is not None:
            reject_out.flush()  # a rejects file that cannot be written stops the run before the data set is replaced

    was_enabled = gc.isenabled()
    gc.disable()  # no reference cycles are made here; the collector only costs time on many small objects
    try:
        with worker_pool(num_proc) as pool:
            if output_format == "parquet":
                _write_parquet(out, tables())
            else:
                _write_dataset(out, tables(), description, digest)
    except BaseException as exc:
        if reject_out is not None:
            reject_out.close(exc)
        raise
    finally:
        if was_enabled:
            gc.enable()
    if reject_out is not None:
        reject_out.close()
    return report


def _write_parquet(out: str, tables: Iterator[Any]) -> None:
    import pyarrow.parquet as pq

    with atomic_path(out) as tmp:
        writer = pq.ParquetWriter(tmp, _schema(), compression="zstd")
        try:
            for table in tables:
                writer.write_table(table)
        finally:
            writer.close()


def _write_dataset(out: str, tables: Iterator[Any], description: str, digest: Any) -> None:
    """Stream the chunks to an Arrow file beside the output, then let ``datasets`` save it (memory-mapped,
    so memory stays flat) into a folder that replaces ``out`` atomically."""
    import datasets
    import pyarrow as pa
    from datasets.table import MemoryMappedTable

    with scratch_file(out, ".arrow") as work:
        schema = _schema()
        with pa.OSFile(work, "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for table in tables:
                writer.write_table(table)
        table = MemoryMappedTable.from_file(work)
        info = datasets.DatasetInfo(description=description)
        ds = datasets.Dataset(table, info=info, fingerprint=digest.hexdigest()[:16])
        quiet = datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # the library does not print; the CLI shows its own progress
        try:
            with atomic_path(out, directory=True, guard=dataset_folder_problem) as tmp:
                # an empty data set still needs one (empty) shard, or load_from_disk cannot open it
                ds.save_to_disk(tmp, num_shards=1 if len(ds) == 0 else None)
        finally:
            if not quiet:
                datasets.enable_progress_bars()
        del ds, table
