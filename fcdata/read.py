"""Streaming readers: one file in, one :class:`Item` per record out, never an exception per record.

Formats, chosen from the name and, where the name does not decide, from the first byte:

- JSON Lines (``.jsonl``, ``.ndjson``): one value per line; blank lines are not records; a bad line is
  reported and reading goes on with the next.
- a JSON document (``.json``): a top-level array, decoded element by element from a sliding buffer (a
  multi-GB array needs no more memory than its largest element), or pretty-printed JSON values one after
  another. A ``.json`` file whose first line is a complete value (BFCL ships JSON Lines under that
  name) is read as JSON Lines.
- gzip-compressed versions of both (``.gz``).
- Parquet (``.parquet``): read in row batches. Columns ``messages``, ``tools``, ``metadata`` and
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

import gzip
import io
import json
import os
import re
import sys
from typing import Any, BinaryIO, Iterator

from .errors import InputError

__all__ = ["Item", "read_items", "item_from_line", "detect_container", "NOT_PARSED", "loads_strict", "fast_loads"]


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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``/``Infinity`` (Python accepts them; JSON and most readers do not)."""
    return json.loads(text, parse_constant=_reject_constant)


_PARQUET_JSON_COLUMNS = ("messages", "tools", "metadata", "conversations")


def detect_container(name: str, head: bytes) -> str:
    """Which container a file is: ``jsonl``, ``json`` (a JSON document), or ``parquet``.

    ``head`` is the first bytes of the (decompressed) content. A name ending in ``.jsonl``/``.ndjson`` is
    JSON Lines whatever it holds. Otherwise the content decides: a first non-blank ``[`` means a JSON
    array; a first line that holds one complete JSON value means JSON Lines (so a bad line later is
    reported and skipped, not fatal); else a ``.json`` name, or a first line that is only ``{``, means a
    JSON document (pretty-printed values); anything else is read as JSON Lines.
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
    return "jsonl"


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
    stream, owned = _open_binary(name, shown)
    try:
        try:
            head = stream.peek(1 << 16)[: 1 << 16] if hasattr(stream, "peek") else b""
        except (OSError, EOFError) as exc:  # e.g. a gzip stream broken in its first block
            yield Item(shown, 1, NOT_PARSED, None, f"file cut off or unreadable: {exc}", "truncated_file")
            return
        kind = detect_container(name, head)
        if kind == "json":
            yield from _read_json_document(stream, shown)
        else:
            yield from _read_jsonl(stream, shown)
    finally:
        if owned:
            stream.close()


def _open_binary(name: str, shown: str) -> tuple[Any, bool]:
    """Open ``name`` for binary reading, gunzipping when the content starts with the gzip magic.

    Returns the stream and whether this reader owns it (standard input is never closed here).
    """
    if name == "-":
        raw: Any = sys.stdin.buffer
        if not hasattr(raw, "peek"):
            raw = io.BufferedReader(raw)
        owned = False
    else:
        owned = True
        try:
            raw = open(name, "rb", buffering=1 << 16)
        except FileNotFoundError as exc:
            raise InputError("no such file", file=shown) from exc
        except IsADirectoryError as exc:  # pragma: no cover - directories are handled before
            raise InputError("is a directory", file=shown) from exc
        except OSError as exc:
            raise InputError(f"cannot open: {exc.strerror or exc}", file=shown) from exc
    try:
        magic = raw.peek(2)[:2]
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", file=shown) from exc
    if magic == b"\x1f\x8b":
        return io.BufferedReader(gzip.GzipFile(fileobj=raw), buffer_size=1 << 16), True  # type: ignore[arg-type]
    return raw, owned


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
_SCAN = json.JSONDecoder(parse_constant=_reject_constant).scan_once


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
    except (StopIteration, ValueError, RecursionError):
        pass
    try:
        return Item(file, lineno, loads_strict(text), text)
    except RecursionError:
        return Item(file, lineno, NOT_PARSED, text, "JSON nested too deeply to decode", "json_too_deep")
    except ValueError as exc:
        msg = f"{exc.msg} (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else str(exc)
        if not raw.endswith(b"\n") and isinstance(exc, json.JSONDecodeError) and (exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated")):
            # the last line, without its newline, ends inside a value: the file was cut off
            return Item(file, lineno, NOT_PARSED, text, f"file cut off inside this record: {msg}", "truncated_file")
        return Item(file, lineno, NOT_PARSED, text, f"not JSON: {msg}", "not_json")


def _read_jsonl(stream: BinaryIO, shown: str) -> Iterator[Item]:
    lineno = 0
    try:
        for raw in stream:
            lineno += 1
            if raw.strip():
                yield item_from_line(shown, lineno, raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        yield Item(shown, lineno + 1, NOT_PARSED, None, f"file cut off or unreadable: {exc}", "truncated_file")


_WS = " \t\r\n"
# where the next value starts after a malformed one: in an array, an object or array after a comma;
# in a sequence of pretty-printed values, a '{' or '[' at the start of a line
_NEXT_ELEMENT = re.compile(r",\s*[\[{]")
_NEXT_DOCUMENT = re.compile(r"\n[\[{]")


def _read_json_document(stream: BinaryIO, shown: str, chunk_size: int = 1 << 20) -> Iterator[Item]:
    """Decode a JSON document value by value: a top-level array element by element, or a sequence of
    (pretty-printed) JSON values one after another (a single object is the common case).

    A sliding text buffer holds at least one whole value; ``raw_decode`` parses it and the buffer is cut
    after it. When a value cannot be decoded even with the rest of the file loaded, the document cannot
    be resynchronised reliably, so one error item is yielded and reading stops (a truncated file).
    """
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    data = b""
    buf = ""
    pos = 0
    line = 1  # line number at buf[pos]
    eof = False
    first_chunk = True

    def more() -> bool:
        nonlocal buf, data, eof, first_chunk, pos
        if eof:
            return False
        chunk = stream.read(chunk_size)
        if not chunk:
            eof = True
            if not data:
                return False
            cut = len(data)  # a sequence cut off by the end of the file: its bytes are bad bytes
        else:
            data += chunk
            cut = _complete_utf8(data)
        # bytes that are not UTF-8 become lone surrogates (surrogateescape), so decoding never stops
        # here; the value that holds them is reported as not_utf8 and reading goes on after it
        text = data[:cut].decode("utf-8-sig" if first_chunk else "utf-8", "surrogateescape")
        data = data[cut:]
        first_chunk = False
        buf = buf[pos:] + text
        pos = 0
        return True

    def skip_ws() -> None:
        nonlocal pos, line
        while True:
            while pos < len(buf) and buf[pos] in _WS:
                if buf[pos] == "\n":
                    line += 1
                pos += 1
            if pos < len(buf) or not more():
                return

    def decode_value() -> Item:
        """Decode the value at ``pos`` (an error item when it cannot be: the caller then resynchronises
        or stops). More of the file is read only while the value runs to the end of the buffer, so a
        malformed value early in a huge file does not pull the rest of it into memory."""
        nonlocal pos, line
        start_line = line
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
                # a number at the end of the buffer may continue in the next chunk
                if end >= len(buf) and not eof and more():
                    continue
                break
            except RecursionError:
                return Item(shown, start_line, NOT_PARSED, None, "JSON nested too deeply to decode", "json_too_deep")
            except ValueError as exc:
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                at = exc.pos if isinstance(exc, json.JSONDecodeError) else len(buf)
                runs_to_end = msg.startswith("Unterminated string") or at >= len(buf) - 1
                if runs_to_end and more():
                    continue
                if runs_to_end:
                    return Item(shown, start_line, NOT_PARSED, None, f"file cut off inside a value: {msg}", "truncated_file")
                return Item(shown, start_line, NOT_PARSED, None, f"not JSON: {msg} (line {start_line + buf.count(chr(10), pos, at)})", "not_json")
        text = buf[pos:end]
        line += text.count("\n")
        pos = end
        if not text.isascii():
            bad = _first_bad_byte(text)
            if bad is not None:
                shown_text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                at = start_line + text.count("\n", 0, bad)
                return Item(shown, start_line, NOT_PARSED, shown_text, f"not valid UTF-8 (line {at}, byte {text[bad].encode('utf-8', 'surrogateescape')!r})", "not_utf8")
        return Item(shown, start_line, value, text)

    def resync(pattern: re.Pattern[str]) -> bool:
        """After a malformed value, move to the start of the next one (``pattern`` marks where values
        begin); False when none follows. The skipped text is the bad value's, already reported."""
        nonlocal pos, line
        start = pos + 1
        while True:
            found = pattern.search(buf, start)
            if found is not None:
                target = found.end() - 1
                line += buf.count("\n", pos, target)
                pos = target
                return True
            kept = len(buf) - pos  # more() keeps buf[pos:] and moves pos to 0
            if not more():
                return False
            start = max(1, kept - 64)

    try:
        skip_ws()
        if pos < len(buf) and buf[pos] == "[":
            pos += 1
            expect_value = True
            first = True
            while True:
                skip_ws()
                if pos >= len(buf):
                    yield Item(shown, line, NOT_PARSED, None, "file cut off before the closing ']'", "truncated_file")
                    return
                ch = buf[pos]
                if ch == "]" and (first or not expect_value):
                    pos += 1
                    skip_ws()
                    if pos < len(buf):
                        yield Item(shown, line, NOT_PARSED, None, "text after the closing ']'", "not_json")
                    return
                if not expect_value:
                    if ch != ",":
                        yield Item(shown, line, NOT_PARSED, None, f"expected ',' or ']', found {ch!r}", "not_json")
                        if not resync(_NEXT_ELEMENT):
                            return
                        expect_value = True
                        continue
                    pos += 1
                    expect_value = True
                    continue
                item = decode_value()
                yield item
                if item.ok or item.code == "not_utf8":
                    expect_value = False  # the value was read whole (bad bytes inside a string)
                elif item.code == "not_json" and resync(_NEXT_ELEMENT):
                    expect_value = True
                else:
                    return
                first = False
        else:
            while True:
                skip_ws()
                if pos >= len(buf):
                    return
                item = decode_value()
                yield item
                if not item.ok and item.code != "not_utf8" and (item.code != "not_json" or not resync(_NEXT_DOCUMENT)):
                    return
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        yield Item(shown, line, NOT_PARSED, None, f"file cut off or unreadable: {exc}", "truncated_file")


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


def _decode_json_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A Parquet or datasets row as a record: JSON-text columns decoded, and top-level nulls dropped
    (a table has no "absent": a chat record's row holds ``text: null``, a pretraining record's
    ``messages: null``)."""
    for key in [k for k, v in row.items() if v is None]:
        del row[key]
    for key in _PARQUET_JSON_COLUMNS:
        value = row.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                row[key] = loads_strict(value)
            except (ValueError, RecursionError):
                pass  # left as text: the validator reports the wrong type with its location
    return row


def _read_parquet(name: str, shown: str) -> Iterator[Item]:
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


def _read_dataset_dir(name: str, shown: str) -> Iterator[Item]:
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
