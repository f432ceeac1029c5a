"""Streaming readers: one file in, one :class:`Item` per record out, never an exception per record.

Formats, chosen from the name and, where the name does not decide, from the first byte:

- JSON Lines (``.jsonl``, ``.ndjson``): one value per line; blank lines are not records; a bad line is
  reported and reading goes on with the next.
- a JSON document (``.json``): a top-level array, decoded element by element from a sliding buffer (a
  multi-GB array needs no more memory than its largest element), or pretty-printed JSON values one after
  another. An array whose every element is a conversation turn (``from``/``role``) is one conversation
  (data-genie writes Hermes conversations so) and becomes one item holding the list of turns. A ``.json`` file whose first line is a complete value (BFCL ships JSON Lines under that
  name) is read as JSON Lines.
- gzip-compressed versions of both (``.gz``).
- Parquet (``.parquet``, or content starting with ``PAR1``: piped in, saved under another name,
  gzipped; those are spooled to a temporary file first, as Parquet's index is at its end): read in row batches. Columns ``messages``, ``tools``, ``metadata`` and
  ``conversations`` holding JSON text are decoded (fcdata writes nested fields that way because Arrow
  needs one type per column while tool schemas differ from record to record).
- a Hugging Face ``datasets`` directory saved with ``save_to_disk``.
- ``-`` (standard input) and other names: a JSON document when the content starts with ``[`` or a line
  holding only ``{``, JSON Lines otherwise.

A line that cannot be decoded (not UTF-8, not JSON, nested too deep) becomes an :class:`Item` with
``error`` set, so validators and converters report it with its file and line and go on. Only a file that
cannot be opened at all raises :class:`~fcdata.errors.InputError`.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, BinaryIO, Iterator

from .errors import InputError
from .inputs import open_binary, stream_problem

__all__ = [
    "Item",
    "read_items",
    "item_from_line",
    "detect_container",
    "NOT_PARSED",
    "loads_strict",
    "fast_loads",
    "RawBatch",
    "raw_line_batches",
    "items_of_raw_batch",
    "open_jsonl_lines",
    "is_turn",
]


class _NotParsed:
    """Sentinel for an item whose text could not be decoded into a JSON value."""

    _instance: "_NotParsed | None" = None

    def __new__(cls) -> "_NotParsed":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_PARSED"

    def __bool__(self) -> bool:
        return False


NOT_PARSED = _NotParsed()


class Item:
    """One record as read from a file (treat it as read-only).

    ``line`` is the 1-based line where the record starts (for Parquet and datasets: the 1-based row).
    ``text`` is the record's raw text when the container has one (JSON Lines, JSON documents), kept so that
    rejects can be written out verbatim. ``value`` is the decoded JSON value, or :data:`NOT_PARSED` with
    ``error`` saying why not.

    A plain class rather than a frozen dataclass, and ``text`` may be kept as the line's bytes and
    decoded on first use: one item is made per record, and a frozen dataclass's ``__init__`` plus the
    decoding cost about a tenth of a plain Glaive row's conversion (3 of ~30 µs), for a text that only rejects need.
    """

    __slots__ = ("file", "line", "value", "_text", "error", "code")

    def __init__(self, file: str, line: int, value: Any, text: str | None = None, error: str | None = None, code: str | None = None) -> None:
        self.file = file
        self.line = line
        self.value = value
        self._text: str | bytes | None = text
        self.error = error
        self.code = code

    @classmethod
    def _from_valid_line(cls, file: str, line: int, value: Any, raw: bytes) -> "Item":
        """An item whose text is ``raw``, a line known to be valid UTF-8 with no byte-order mark (it
        decoded as JSON), decoded only when asked for."""
        item = cls(file, line, value)
        item._text = raw
        return item

    @property
    def text(self) -> str | None:
        text = self._text
        if type(text) is bytes:
            # (errors="replace" only as a guard: the line already decoded as JSON, so it is UTF-8)
            text = self._text = text.decode("utf-8", "replace").rstrip("\r\n")
        return text  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return (self.file, self.line, self.value, self.text, self.error, self.code) == (other.file, other.line, other.value, other.text, other.error, other.code)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Item(file={self.file!r}, line={self.line!r}, value={self.value!r}, text={self.text!r}, error={self.error!r}, code={self.code!r})"

    @property
    def ok(self) -> bool:
        return self.error is None

    def verbatim(self) -> str:
        """The record as it was in the input, for reject files: the raw text if kept (undecodable bytes
        shown as U+FFFD), else the value as JSON, else an empty string."""
        if self.text is not None:
            return self.text
        if self.value is NOT_PARSED:
            return ""
        return json.dumps(self.value, ensure_ascii=False)


class ConflictingKey(Exception):
    """A JSON object gives one key twice with different values (not a ValueError: no repair may take
    it for text that is merely not JSON). ``json`` keeps the last one without a word; the converters
    (arguments, tools, tool results) and the validator (tool results) refuse it instead."""

    def __init__(self, key: str, first: Any, second: Any) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that raises :class:`ConflictingKey` (the same value twice loses nothing)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise ConflictingKey(key, out[key], value)
        out[key] = value
    return out


class NonJsonConstant(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's JSON reads them, JSON has no such values."""


def _reject_constant(name: str) -> Any:
    raise NonJsonConstant(f"{name} is not valid JSON")


class NonFiniteNumber(ValueError):
    """A JSON number beyond what a double holds (``1e999``)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        # Python reads it as infinity, which no JSON writer can write back (and orjson, most readers
        # and mistral-common's JSON refuse): one rule for every command, refused where it is read
        raise NonFiniteNumber(f"the number {text[:40]} is beyond what a double holds (it reads as infinity)")
    return value



def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``/``Infinity`` (Python accepts them; JSON and most readers do
    not) and numbers too large for a double, which Python would read as infinity
    (:class:`NonFiniteNumber`)."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


_PARQUET_JSON_COLUMNS = ("messages", "tools", "metadata", "conversations")


_PARQUET_MAGIC = b"PAR1"


def detect_container(name: str, head: bytes) -> str:
    """Which container a file is: ``jsonl``, ``json`` (a JSON document), or ``parquet``.

    ``head`` is the first bytes of the (decompressed) content. A name ending in ``.parquet`` is Parquet, one
    ending in ``.jsonl``/``.ndjson`` is JSON Lines whatever it holds. Otherwise the content decides: a first non-blank ``[`` means a JSON
    array; a first line that holds one complete JSON value means JSON Lines (so a bad line later is
    reported and skipped, not fatal); else a ``.json`` name, or a first line that is only ``{``, means a
    JSON document (pretty-printed values); content that starts with Parquet's magic ``PAR1`` is Parquet;
    anything else is read as JSON Lines.
    """
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    if lower.endswith(".parquet"):
        return "parquet"
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    first, newline, _ = stripped.partition(b"\n")
    if newline and _is_json_line(first):
        return "jsonl"  # one complete value per line, whatever the name says (BFCL's .json files)
    if lower.endswith(".json") or first.strip() == b"{":
        return "json"
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"  # a Parquet file on standard input, or under a name that does not say so
    return "jsonl"


_ARROW_MAGIC = b"ARROW1"


def _text_encoding_problem(head: bytes) -> str | None:
    """Why content that is not UTF-8 JSON text cannot be read as such (``None`` when it may be): a
    UTF-16 or UTF-32 byte-order mark, or an Arrow IPC file. Read as UTF-8, each would turn one record
    into several unreadable ones and the counts would say nothing true."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "is UTF-32 text (it starts with a UTF-32 byte-order mark); fcdata reads UTF-8: convert it first (iconv -f UTF-32 -t UTF-8)"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "is UTF-16 text (it starts with a UTF-16 byte-order mark); fcdata reads UTF-8: convert it first (iconv -f UTF-16 -t UTF-8)"
    if head.startswith(_ARROW_MAGIC) or (head[:4] == b"\xff\xff\xff\xff" and len(head) >= 8):  # file / stream format
        return "is an Arrow IPC file (a data set's shard): give the datasets folder that holds it (saved with save_to_disk), or the data as Parquet"
    return None


def _content_problem(kind: str, head: bytes) -> str | None:
    """Why a file's content cannot be read as the text ``kind`` says (:func:`_text_encoding_problem`,
    or lone CR line endings in JSON Lines, which would make the whole file one line)."""
    if kind == "parquet":
        return None
    problem = _text_encoding_problem(head)
    if problem is None and kind == "jsonl" and b"\r" in head and b"\n" not in head and head.count(b"\r") > 1 and _is_json_line(head.split(b"\r", 1)[0]):
        # (a first line longer than the head with CRs as JSON whitespace inside it is not one)
        problem = "has lone CR line endings (classic Mac OS), which JSON Lines does not use: every line would be read as one; convert them first (tr '\\r' '\\n')"
    return problem


def _is_json_line(line: bytes) -> bool:
    try:
        loads_strict(line.decode("utf-8"))
        return True
    except (ValueError, RecursionError):
        return False


def read_items(path: str | os.PathLike[str], *, display_name: str | None = None) -> Iterator[Item]:
    """Yield every record of ``path`` (``-`` = standard input) as an :class:`Item`, in file order.

    Raises :class:`InputError` only when the file cannot be opened or its container is unreadable as a
    whole (e.g. not Parquet at all); per-record problems arrive as items with ``error`` set.
    """
    name = str(path)
    shown = display_name or ("<stdin>" if name == "-" else name)
    if name != "-" and os.path.isdir(name):
        yield from _read_dataset_dir(name, shown)
        return
    if name != "-" and name.lower().endswith(".parquet"):
        yield from _read_parquet(name, shown)
        return
    stream, owned = open_binary(name, shown)
    try:
        try:
            head = stream.peek(1 << 16)[: 1 << 16] if hasattr(stream, "peek") else b""
        except (OSError, EOFError) as exc:  # e.g. a gzip stream broken in its first block
            yield Item(shown, 1, NOT_PARSED, None, f"file cut off or unreadable: {exc}", "truncated_file")
            return
        kind = detect_container(name, head)
        problem = _content_problem(kind, head)
        if problem is not None:
            raise InputError(problem, file=shown)
        if kind == "parquet":
            # Parquet keeps its index at the end, so it cannot be read as it streams: a plain file is
            # opened by name, standard input or a compressed file is spooled to a temporary file first
            yield from _read_parquet_stream(name, shown, stream)
            return
        if kind == "json":
            last: Item | None = None
            for last in _read_json_document(stream, shown):
                yield last
            problem = stream_problem(stream)
            if problem is not None and (last is None or last.code != "truncated_file"):
                # the cut fell between two values: it is reported after the last one read
                at = 1 if last is None else last.line + (last.text or "").count("\n")
                yield Item(shown, at, NOT_PARSED, None, f"file cut off or unreadable: {problem}", "truncated_file")
        else:
            for batch in raw_line_batches(stream, 256):
                yield from items_of_raw_batch(shown, batch)
    finally:
        if owned:
            stream.close()


try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - a dependency; the standard library does the same, slower
    _orjson = None
# bytes.translate table: ASCII digits -> "0", every other byte -> " "
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGIT_RUN = b"0" * 19
# orjson decodes nesting up to 1,024 levels, json fails (RecursionError) before its recursion limit of
# 1,000 minus the caller's stack; a line with at most this many brackets is nested less deep than that
_MAX_BRACKETS = 500


def fast_loads(raw: bytes) -> Any:
    """The value of one JSON line when ``orjson`` decodes it to exactly what :func:`loads_strict` gives,
    else :data:`NOT_PARSED` (the caller then decodes with the standard library, which also words the
    error).

    Why: decoding is the floor of every pass over a JSON Lines file, and ``orjson`` decodes a Glaive line
    about seven times faster than ``json.loads`` (2.7 against 19.7 µs per line here). Where the two
    could differ, this gives way: ``orjson`` refuses what ``json`` accepts or words differently
    (``NaN``, lone surrogates, numbers beyond double range) - those raise here and go the standard way;
    it reads an integer beyond 64 bits as a float where ``json`` keeps it exact, so any run of 19 or more
    digits (the shortest integer that can leave the 64-bit range) sends the line the standard way too,
    unless the value is an object of strings only (every Glaive row), which holds no number at all; and
    it decodes nesting deeper than ``json`` can, so a line with more than 500 brackets goes the standard
    way. Property tests compare both on generated JSON.
    """
    if _orjson is None:
        return NOT_PARSED
    try:
        value = _orjson.loads(raw)
    except _orjson.JSONDecodeError:
        return NOT_PARSED
    if type(value) is dict:
        for v in value.values():
            if type(v) is not str:
                break
        else:
            return value
    if _LONG_DIGIT_RUN in raw.translate(_DIGITS):
        return NOT_PARSED
    if raw.count(b"[") + raw.count(b"{") > _MAX_BRACKETS:
        return NOT_PARSED  # nested deeper than json's recursion limit allows, perhaps: json decides
    return value


# the C scanner of loads_strict's decoder, for the common case (a line that is exactly one JSON value);
# anything else goes through loads_strict itself, so values and messages stay the same
_SCAN = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float).scan_once
# only to find where a value that holds a number beyond a double ends
_LENIENT = json.JSONDecoder()


def item_from_line(file: str, lineno: int, raw: bytes) -> Item:
    """One JSON Lines line (bytes, with or without its newline) as an :class:`Item`.

    The one definition of how a line becomes a record: :func:`read_items` uses it, and so do worker
    processes that are handed raw lines (convert, prepare), so every path decodes alike. Line 1 may
    start with a UTF-8 byte-order mark.
    """
    value = fast_loads(raw)
    if value is not NOT_PARSED:
        return Item._from_valid_line(file, lineno, value, raw)
    try:
        text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        # kept with U+FFFD for the bad bytes, so rejects files can still show the line
        shown_text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        return Item(file, lineno, NOT_PARSED, shown_text, f"not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 4]!r})", "not_utf8")
    text = text.rstrip("\r\n")
    try:
        value, end = _SCAN(text, 0)
        if end == len(text):
            return Item(file, lineno, value, text)
    except NonFiniteNumber as exc:
        return Item(file, lineno, NOT_PARSED, text, str(exc), "non_finite_number")
    except (StopIteration, ValueError, RecursionError):
        pass
    try:
        return Item(file, lineno, loads_strict(text), text)
    except NonFiniteNumber as exc:
        return Item(file, lineno, NOT_PARSED, text, str(exc), "non_finite_number")
    except RecursionError:
        return Item(file, lineno, NOT_PARSED, text, "JSON nested too deeply to decode", "json_too_deep")
    except ValueError as exc:
        msg = f"{exc.msg} (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else str(exc)
        if not raw.endswith(b"\n") and isinstance(exc, json.JSONDecodeError) and (exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated")):
            # the last line, without its newline, ends inside a value: the file was cut off
            return Item(file, lineno, NOT_PARSED, text, f"file cut off inside this record: {msg}", "truncated_file")
        return Item(file, lineno, NOT_PARSED, text, f"not JSON: {msg}", "not_json")


RawBatch = tuple[int, list[bytes], "str | None"]
"""Consecutive lines of a JSON Lines stream, undecoded: ``(number of the first line, the lines as bytes
with their newlines, blank ones included, what stopped the reading after them or None)``."""


def raw_line_batches(stream: BinaryIO, size: int) -> Iterator[RawBatch]:
    """The lines of a JSON Lines stream (from :func:`fcdata.inputs.open_binary`) in batches of ``size``.

    Only bytes are cut here; :func:`items_of_raw_batch` decodes, so a reading process can hand batches to
    workers. A stream that ends early (a cut-off gzip file) or fails to read ends its last batch with the
    problem, after every complete line it held."""
    lineno = 1
    lines: list[bytes] = []
    append = lines.append
    try:
        for raw in stream:
            append(raw)
            if len(lines) >= size:
                yield lineno, lines, None
                lineno += len(lines)
                lines = []
                append = lines.append
    except (OSError, EOFError) as exc:
        yield lineno, lines, f"{exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
        return
    problem = stream_problem(stream)
    if lines or problem is not None:
        yield lineno, lines, problem


def items_of_raw_batch(shown: str, batch: RawBatch) -> list[Item]:
    """The records of one :data:`RawBatch` as :class:`Item`\\ s (blank lines are no record).

    When the stream was cut short after the batch: a last line without its newline that does not decode
    is the record the cut went through (``truncated_file`` on its line); otherwise the cut came after the
    last complete line, and a ``truncated_file`` item on the next line says so. Either way every complete
    record before it is kept."""
    lineno, lines, problem = batch
    # (most lines start with "{"; a blank line is no record)
    items = [item_from_line(shown, n, raw) for n, raw in enumerate(lines, lineno) if raw[:1] == b"{" or raw.strip()]
    if problem is not None:
        last = lines[-1] if lines else b"\n"
        if not last.endswith(b"\n") and last.strip() and not items[-1].ok:
            cut = items.pop()
            items.append(Item(shown, cut.line, NOT_PARSED, cut.text, f"file cut off inside this record: {problem}", "truncated_file"))
        else:
            items.append(Item(shown, lineno + len(lines), NOT_PARSED, None, f"file cut off or unreadable: {problem}", "truncated_file"))
    return items


def open_jsonl_lines(path: str, shown: str | None = None) -> BinaryIO | None:
    """``path`` opened for :func:`raw_line_batches` when it is a JSON Lines file (plain or gzip; by its
    name, or by its content as :func:`detect_container` tells), else ``None`` (JSON documents, Parquet,
    ``datasets`` folders, standard input and unreadable files go through :func:`read_items`). The caller
    closes the stream."""
    if path == "-" or not os.path.isfile(path) or path.lower().endswith(".parquet"):
        return None
    try:
        stream, _ = open_binary(path, shown)
    except InputError:
        return None
    try:
        head = stream.peek(1 << 16)[: 1 << 16]
    except OSError:
        head = None
    if head is None or detect_container(path, head) != "jsonl" or _content_problem("jsonl", head) is not None:
        stream.close()  # read_items says what is wrong
        return None
    return stream


_WS = " \t\r\n"
# where the next value starts after a malformed one: in an array, an object or array after a comma;
# in a sequence of pretty-printed values, a '{' or '[' at the start of a line
_NEXT_DOCUMENT = re.compile(r"\n[\[{]")
_NEXT_ELEMENT = re.compile(r",\s*[\[{]")
# a record's opening: its bracket and first key, ``{"messages"`` (what the next record of the array shares)
_ELEMENT_OPENING = re.compile(r'\{\s*("(?:[^"\\\n]|\\.){1,64}")\s*:')
# how far a bad element's bracket scan may read before giving up on its brackets
_SKIP_LIMIT = 1 << 20
# a JSON error this close to the end of the buffer may be the chunk's end cutting a token (``tr|ue``,
# ``\u00|e9``, ``1.5e-|7``): read more before calling the value malformed
_TAIL = 64


def _read_json_document(stream: BinaryIO, shown: str, chunk_size: int = 1 << 20) -> Iterator[Item]:
    """Decode a JSON document value by value: a top-level array element by element, or a sequence of
    (pretty-printed) JSON values one after another (a single object is the common case). See
    :class:`_DocumentReader`."""
    reader = _DocumentReader(stream, shown, chunk_size)
    try:
        yield from reader.documents()
    except OSError as exc:
        yield Item(shown, reader.line, NOT_PARSED, None, f"file cut off or unreadable: {exc.strerror or exc}", "truncated_file")


def is_turn(value: Any) -> bool:
    """One turn of a conversation (``{"from"/"role", ...}``): never a record on its own."""
    return isinstance(value, dict) and ("from" in value or "role" in value)


def _one_conversation(items: Iterator[Item]) -> Iterator[Item]:
    """A top-level array whose every element is a turn is one conversation written as a JSON document
    (interstellarninja/data-genie's ``sharegpt_new_format.json``), so it is one record, a list of turns,
    as a JSON Lines line holding that array would be. Anything else streams element by element: the
    turns held so far are given back one by one the moment an element that is not a turn arrives (so a
    multi-GB array of records is never held), and they are then refused by the converter as what they
    are."""
    held: list[Item] | None = []
    for item in items:
        if held is not None:
            if item.ok and is_turn(item.value):
                held.append(item)
                continue
            yield from held
            held = None
        yield item
    if held:
        yield Item(held[0].file, held[0].line, [i.value for i in held])





class _DocumentReader:
    """A sliding text buffer over a JSON document that holds at least one whole value: ``raw_decode``
    parses the value at :attr:`pos` and the buffer moves past it, so a multi-GB array needs no more
    memory than its largest element. When a value cannot be decoded even with the rest of the file
    loaded, the document cannot be resynchronised reliably: one error item, and reading stops (a
    truncated file)."""

    def __init__(self, stream: BinaryIO, shown: str, chunk_size: int) -> None:
        self.stream = stream
        self.shown = shown
        self.chunk_size = chunk_size
        self.decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
        self.data = b""  # bytes read but not decoded yet (a UTF-8 sequence split by the chunk)
        self.buf = ""
        self.pos = 0
        self.line = 1  # line number at buf[pos]
        self.eof = False
        self.first_chunk = True
        self.closed = False  # the last array read reached its closing ']'
        self.consumed = False  # the last decode_value moved past its value

    def at(self, char: str) -> bool:
        return self.pos < len(self.buf) and self.buf[self.pos] == char

    def more(self) -> bool:
        """Read the next chunk into the buffer (keeping ``buf[pos:]``, moving ``pos`` to 0); False at the
        end of the file."""
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk_size)
        if not chunk:
            self.eof = True
            if not self.data:
                return False
            cut = len(self.data)  # a sequence cut off by the end of the file: its bytes are bad bytes
        else:
            self.data += chunk
            cut = _complete_utf8(self.data)
        # bytes that are not UTF-8 become lone surrogates (surrogateescape), so decoding never stops
        # here; the value that holds them is reported as not_utf8 and reading goes on after it
        text = self.data[:cut].decode("utf-8-sig" if self.first_chunk else "utf-8", "surrogateescape")
        self.data = self.data[cut:]
        self.first_chunk = False
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        return True

    def skip_ws(self) -> None:
        while True:
            buf = self.buf
            while self.pos < len(buf) and buf[self.pos] in _WS:
                if buf[self.pos] == "\n":
                    self.line += 1
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return

    def _error(self, line: int, message: str, code: str, text: str | None = None) -> Item:
        return Item(self.shown, line, NOT_PARSED, text, message, code)

    def decode_value(self) -> Item:
        """Decode the value at ``pos`` (an error item when it cannot be: the caller then resynchronises
        or stops). More of the file is read only while the value runs to the end of the buffer, so a
        malformed value early in a huge file does not pull the rest of it into memory. :attr:`consumed`
        says whether ``pos`` moved past the value (always for a good one; for an unusable one read whole)."""
        start_line = self.line
        self.consumed = False
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
                # a value that ends near the end of the buffer may continue in the next chunk (a number
                # cut before its exponent, ``1.5|e-7``, decodes as ``1.5``)
                if end > len(self.buf) - _TAIL and not self.eof and self.more():
                    continue
                break
            except RecursionError:
                return self._error(start_line, "JSON nested too deeply to decode", "json_too_deep")
            except NonFiniteNumber as exc:
                return self._skip_value(start_line, str(exc))
            except NonJsonConstant as exc:
                return self._skip_value(start_line, f"not JSON: {exc}", "not_json")
            except ValueError as exc:
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                at = exc.pos if isinstance(exc, json.JSONDecodeError) else len(self.buf)
                runs_to_end = msg.startswith("Unterminated string") or at >= len(self.buf) - 1
                if (runs_to_end or at >= len(self.buf) - _TAIL) and self.more():
                    continue
                if runs_to_end:
                    return self._error(start_line, f"file cut off inside a value: {msg}", "truncated_file")
                return self._error(start_line, f"not JSON: {msg} (line {start_line + self.buf.count(chr(10), self.pos, at)})", "not_json")
        text = self._take(end)
        self.consumed = True
        if not text.isascii():
            bad = _first_bad_byte(text)
            if bad is not None:
                shown_text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                at = start_line + text.count("\n", 0, bad)
                return self._error(start_line, f"not valid UTF-8 (line {at}, byte {text[bad].encode('utf-8', 'surrogateescape')!r})", "not_utf8", shown_text)
        return Item(self.shown, start_line, value, text)

    def _take(self, end: int) -> str:
        """The text from ``pos`` to ``end``, moving past it."""
        text = self.buf[self.pos : end]
        self.line += text.count("\n")
        self.pos = end
        return text

    def _skip_value(self, start_line: int, message: str, code: str = "non_finite_number") -> Item:
        """A value that is valid JSON but unusable (a number beyond a double), or JSON but for a ``NaN``
        in it: read past it whole, so that reading goes on with the next value, and report it."""
        while True:
            try:
                _, end = _LENIENT.raw_decode(self.buf, self.pos)
                break
            except ValueError as exc:
                at = exc.pos if isinstance(exc, json.JSONDecodeError) else len(self.buf)
                runs_to_end = at >= len(self.buf) - 1 or (isinstance(exc, json.JSONDecodeError) and exc.msg.startswith("Unterminated string"))
                if (runs_to_end or at >= len(self.buf) - _TAIL) and self.more():
                    continue
                if runs_to_end:
                    return self._error(start_line, "file cut off inside a value", "truncated_file")
                # malformed besides: not read whole (pos unmoved), the caller skips it as any bad value
                return self._error(start_line, f"{message}; and not JSON besides: {exc}", "not_json")
        self.consumed = True
        return self._error(start_line, message, code, self._take(end))

    def resync(self, pattern: re.Pattern[str]) -> bool:
        """After a malformed value, move to the start of the next one (``pattern`` marks where values
        begin); False when none follows. The skipped text is the bad value's, already reported."""
        start = self.pos + 1
        while True:
            found = pattern.search(self.buf, start)
            if found is not None:
                target = found.start("at") if "at" in pattern.groupindex else found.end() - 1
                self.line += self.buf.count("\n", self.pos, target)
                self.pos = target
                return True
            kept = len(self.buf) - self.pos  # more() keeps buf[pos:] and moves pos to 0
            if not self.more():
                return False
            start = max(1, kept - 256)  # a match may straddle the chunks

    def skip_element(self) -> tuple[str | None, str]:
        """After a malformed array element, move past it: scan from its start, outside strings, matching
        brackets, to the ``,`` or ``]`` that closes it at the array's depth. Returns that character (``pos``
        is then after a ``,``, or at the ``]``; ``None`` when the file ends first) and the element's text,
        for the rejects file. A regular expression for "a comma then an object" alone would stop inside
        the bad element's own nested lists and give its inner objects as records; brackets alone fail on
        an element that lacks one (``{"a": 1, {"b": 2}``), which would swallow the rest of the file. So
        when the brackets do not balance (a closer that matches no opener, or no end within
        :data:`_SKIP_LIMIT` characters) the next element is where a comma is followed by ``{`` or ``[``."""
        stack: list[str] = []
        quote = escaped = False
        i = self.pos
        while True:
            buf = self.buf
            while i < len(buf):
                ch = buf[i]
                if quote:
                    if escaped:
                        escaped = False
                    elif ch == "\\":
                        escaped = True
                    elif ch == '"':
                        quote = False
                elif ch == '"':
                    quote = True
                elif ch in "[{":
                    stack.append("]" if ch == "[" else "}")
                elif ch in "]}":
                    if not stack and ch == "]":
                        return self._skipped_to(i, "]")
                    if not stack or stack[-1] != ch:
                        return self._skip_by_pattern()  # a bracket missing somewhere in the element
                    stack.pop()
                elif ch == "," and not stack:
                    return self._skipped_to(i, ",")
                i += 1
            if i - self.pos > _SKIP_LIMIT:
                return self._skip_by_pattern()
            kept = len(self.buf) - self.pos  # more() keeps buf[pos:] and moves pos to 0
            if not self.more():
                return self._skip_by_pattern()
            i = kept

    def _skipped_to(self, i: int, ch: str) -> tuple[str, str]:
        text = self.buf[self.pos : i].rstrip()
        end = i + 1 if ch == "," else i
        self.line += self.buf.count("\n", self.pos, end)
        self.pos = end
        return ch, text

    def _skip_by_pattern(self) -> tuple[str | None, str]:
        """The next element after a bad one whose brackets do not balance. Records of one array start
        alike (``{"messages":``, ``{"conversations":``...), and their inner objects do not: the next
        element is after the first ``,`` followed by the bad element's own opening (its bracket and first
        key, whatever the whitespace); failing that (no key to go by, or records that differ), after a
        ``,`` and ``{`` or ``[``.
        ``pos`` is then at that bracket."""
        start, line = self.pos, self.line
        opening = _ELEMENT_OPENING.match(self.buf, start)
        same_key = re.compile(r",\s*(?P<at>\{)\s*" + re.escape(opening.group(1)) + r"\s*:") if opening else None
        if same_key is None or not self.resync(same_key):
            self.pos, self.line = start, line  # (resync reads on but keeps buf[start:])
            if not self.resync(_NEXT_ELEMENT):
                return None, self.buf[start:]
        text = self.buf[start : self.pos]
        return ",", text[: text.rfind(",")].rstrip()

    def array_elements(self) -> Iterator[Item]:
        """The elements of the array whose ``[`` was just read, up to its ``]`` (then :attr:`closed`)."""
        self.closed = False
        expect_value = True
        first = True
        while True:
            self.skip_ws()
            if self.pos >= len(self.buf):
                yield self._error(self.line, "file cut off before the closing ']'", "truncated_file")
                return
            ch = self.buf[self.pos]
            if ch == "]" and (first or not expect_value):
                self.pos += 1
                self.closed = True
                return
            if not expect_value:
                if ch != ",":
                    line = self.line
                    found, text = self.skip_element()
                    yield self._error(line, f"expected ',' or ']', found {ch!r}", "not_json", text or None)
                    if found is None:
                        return
                    expect_value = found == ","
                else:
                    self.pos += 1
                    expect_value = True
                continue
            item = self.decode_value()
            first = False
            if item.ok or self.consumed:
                yield item
                expect_value = False
            elif item.code in ("not_json", "json_too_deep"):
                found, text = self.skip_element()
                yield self._error(item.line, item.error or "not JSON", item.code or "not_json", text or None)
                if found is None:
                    return
                expect_value = found == ","
            else:
                yield item
                return

    def documents(self) -> Iterator[Item]:
        """Every top-level value to the end of the file: an array element by element (several arrays one
        after another too, as ``cat a.json b.json`` makes them), any other value whole (pretty-printed
        objects one after another, or a single one)."""
        while True:
            self.skip_ws()
            if self.pos >= len(self.buf):
                return
            if self.at("["):
                self.pos += 1
                yield from _one_conversation(self.array_elements())
                if not self.closed:
                    return
                continue
            item = self.decode_value()
            yield item
            if not item.ok and not self.consumed and (item.code not in ("not_json", "json_too_deep") or not self.resync(_NEXT_DOCUMENT)):
                return


def _complete_utf8(data: bytes) -> int:
    """Where ``data`` can be cut so that no UTF-8 sequence is split: before a trailing lead byte whose
    continuation bytes have not been read yet (they come with the next chunk)."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        b = data[n - back]
        if b < 0x80:
            return n
        if b >= 0xC0:  # a lead byte: how long is its sequence?
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return n - back if need > back else n
    return n


def _first_bad_byte(text: str) -> int | None:
    """Index of the first undecodable byte (a surrogateescape character) in ``text``, else ``None``.
    Text read from a file holds no other lone surrogates: escapes like ``\\ud800`` are still ASCII."""
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError as exc:
        return exc.start


def _drop_struct_nulls(value: Any) -> Any:
    """``value`` with every null field of every object removed, at any depth (list elements kept).

    An Arrow struct has a fixed set of fields: a column of nested objects holds, in every row, the union
    of the keys of all rows, the missing ones as nulls (``{"city": "Paris"}`` next to ``{"page": 2}``
    comes back as ``{"city": "Paris", "page": null}``). Kept, those nulls would be trained as arguments
    nobody gave, and make tool schemas invalid; a table cannot tell them from a real ``null``, so a
    struct's null field is read as absent. JSON-text columns are exact and untouched."""
    if isinstance(value, dict):
        return {k: _drop_struct_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_struct_nulls(v) for v in value]
    return value


def _decode_json_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A Parquet or datasets row as a record: JSON-text columns decoded, and nulls dropped: top-level
    ones (a table has no "absent": a chat record's row holds ``text: null``, a pretraining record's
    ``messages: null``) and those of nested objects (:func:`_drop_struct_nulls`)."""
    for key in [k for k, v in row.items() if v is None]:
        del row[key]
    for key, v in row.items():
        if isinstance(v, (dict, list)):
            row[key] = _drop_struct_nulls(v)
    for key in _PARQUET_JSON_COLUMNS:
        value = row.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                row[key] = loads_strict(value)
            except (ValueError, RecursionError):
                pass  # left as text: the validator reports the wrong type with its location
    return row


def _read_parquet(name: str | BinaryIO, shown: str) -> Iterator[Item]:
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(name)
    except FileNotFoundError as exc:
        raise InputError("no such file", file=shown) from exc
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(f"not a readable Parquet file: {exc}", file=shown) from exc
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=1024):
            for obj in batch.to_pylist():
                row += 1
                yield Item(shown, row, _decode_json_columns(obj))
    except Exception as exc:
        yield Item(shown, row + 1, NOT_PARSED, None, f"Parquet data unreadable: {exc}", "truncated_file")


def _read_parquet_stream(name: str, shown: str, stream: BinaryIO) -> Iterator[Item]:
    if name != "-" and not name.lower().endswith(".gz"):
        yield from _read_parquet(name, shown)
        return
    import shutil
    import tempfile

    with tempfile.TemporaryFile() as spool:
        try:
            shutil.copyfileobj(stream, spool, 1 << 20)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot read the Parquet data: {exc}", file=shown) from exc
        spool.seek(0)
        yield from _read_parquet(spool, shown)


def _read_dataset_dir(name: str, shown: str) -> Iterator[Item]:
    splits_file = os.path.join(name, "dataset_dict.json")
    if os.path.isfile(splits_file):
        try:
            with open(splits_file, encoding="utf-8") as fh:
                splits = [str(s) for s in json.load(fh).get("splits", [])]
        except (OSError, ValueError, AttributeError):
            splits = []
        first = os.path.join(shown, splits[0]) if splits else os.path.join(shown, "train")
        raise InputError(f"is a DatasetDict holding several splits ({', '.join(splits) or 'unknown'}); pass one split's folder (e.g. {first})", file=shown)
    if not (os.path.exists(os.path.join(name, "dataset_info.json")) or os.path.exists(os.path.join(name, "state.json"))):
        raise InputError("is a directory, not a Hugging Face dataset saved with save_to_disk", file=shown)
    try:
        import datasets

        ds = datasets.load_from_disk(name)
    except Exception as exc:
        raise InputError(f"cannot load the dataset: {exc}", file=shown) from exc
    if isinstance(ds, datasets.DatasetDict):
        raise InputError(
            f"holds several splits ({', '.join(ds.keys())}); pass one split's directory", file=shown
        )
    for row, obj in enumerate(ds, start=1):
        yield Item(shown, row, _decode_json_columns(dict(obj)))
