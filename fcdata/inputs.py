"""The bytes under every reader: opening an input (gzip sniffed here, once), and its size for a
progress bar.

Every stage that reads files (``read_items``, convert's and prepare's raw-line batches, the CLI's
progress bars) opens them through :func:`open_binary` and sizes them through :func:`input_size`, so
a gzip file, a cut-off gzip file, a Parquet file or a ``datasets`` folder is treated alike everywhere.

Why a gzip reader of our own: the standard library's ``GzipFile`` raises ``EOFError`` for a stream cut
off before its end marker, and a buffered reader over it drops whatever the failing read had already
decompressed - up to 64 KiB of complete records lost before the error is even seen (half a 280-line
file held 136 complete lines; 92 came through). :class:`GunzipReader` hands over every byte it could
decompress and only then says, in :attr:`GunzipReader.problem`, that the stream ended early.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zlib
from typing import Any, BinaryIO

from .errors import InputError

__all__ = ["GunzipReader", "open_binary", "stream_problem", "input_size"]

GZIP_MAGIC = b"\x1f\x8b"
_IN_CHUNK = 1 << 16
_OUT_CHUNK = 1 << 20  # decompressed bytes per step: a gzip bomb is read a megabyte at a time


class GunzipReader(io.RawIOBase):
    """A raw, read-only stream of the decompressed content of a gzip file (several members too, and the
    zero padding some tools append), that never loses decompressed bytes to an error.

    When the compressed data ends before a member's end marker, or turns corrupt, reading returns every
    byte decompressed up to that point, then end of file; :attr:`problem` then says what went wrong
    (``None`` for a whole file)."""

    def __init__(self, fileobj: BinaryIO) -> None:
        super().__init__()
        self._fh = fileobj
        self._z: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._out = memoryview(b"")
        self._done = False
        self.problem: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._out:
            self._fill()
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _fill(self) -> None:
        while not self._out and not self._done:
            z = self._z
            if z.eof:  # a member ended: another may follow, after optional zero padding
                rest = z.unused_data.lstrip(b"\0")
                while not rest:
                    more = self._fh.read(_IN_CHUNK)
                    if not more:
                        self._done = True
                        return
                    rest = more.lstrip(b"\0")
                if not rest.startswith(GZIP_MAGIC[: len(rest)]):
                    return self._stop("the data after the end of the gzip stream is not gzip")
                self._z = z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = rest
            elif z.unconsumed_tail:
                data = z.unconsumed_tail
            else:
                data = self._fh.read(_IN_CHUNK)
                if not data:
                    return self._stop("the gzip stream ends early: the file was cut off")
            try:
                self._out = memoryview(z.decompress(data, _OUT_CHUNK))
            except zlib.error as exc:
                return self._stop(f"corrupt gzip data: {exc}")

    def _stop(self, problem: str) -> None:
        self.problem = problem
        self._done = True

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


def stream_problem(stream: Any) -> str | None:
    """What cut a stream opened by :func:`open_binary` short (``None``: nothing did). Ask after reading
    it to the end."""
    raw = getattr(stream, "raw", None)
    return getattr(raw, "problem", None)


def open_binary(name: str, shown: str | None = None) -> tuple[io.BufferedReader, bool]:
    """Open ``name`` (``-`` = standard input) for buffered binary reading, decompressing it when its
    content starts with the gzip magic bytes. Returns the stream (it has ``peek``) and whether the caller
    owns it (standard input is never closed by a reader). Raises :class:`InputError` naming ``shown``."""
    shown = shown or ("<stdin>" if name == "-" else name)
    raw: Any
    if name == "-":
        raw = sys.stdin.buffer
        if not hasattr(raw, "peek"):
            raw = io.BufferedReader(raw)
        owned = False
    else:
        owned = True
        try:
            raw = open(name, "rb", buffering=_IN_CHUNK)
        except FileNotFoundError as exc:
            raise InputError("no such file", file=shown) from exc
        except IsADirectoryError as exc:
            raise InputError("is a directory", file=shown) from exc
        except OSError as exc:
            raise InputError(f"cannot open: {exc.strerror or exc}", file=shown) from exc
    try:
        magic = raw.peek(2)[:2]
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=shown) from exc
    if magic == GZIP_MAGIC:
        return io.BufferedReader(GunzipReader(raw), buffer_size=_IN_CHUNK), True
    return raw, owned


def input_size(path: str) -> tuple[int, float | None]:
    """How many bytes the readers will go through for ``path``, and, for inputs whose rows carry no text
    (Parquet files, ``datasets`` folders), the average bytes per row (else ``None``).

    For a gzip file: its decompressed size, from the gzip trailer (modulo 2**32, widened to the smallest
    size not below the compressed one), without decompressing. Standard input and what cannot be sized
    count 0."""
    if path == "-":
        return 0, None
    try:
        if os.path.isdir(path):
            size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(".arrow"))
            rows = _dataset_rows(path)
            return size, (size / rows if rows else None)
        if not os.path.isfile(path):
            return 0, None
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            magic = fh.read(4)
            if magic[:2] == GZIP_MAGIC and size >= 18:
                fh.seek(-4, os.SEEK_END)
                isize = int.from_bytes(fh.read(4), "little")
                while isize < size:
                    isize += 1 << 32
                return isize, None
        if magic == b"PAR1":
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(path).metadata.num_rows
            return size, (size / rows if rows else None)
        return size, None
    except (OSError, ValueError):
        return 0, None


def _dataset_rows(path: str) -> int:
    """Rows of a ``datasets`` folder, from its metadata and Arrow stream headers (0 when unknown)."""
    total = 0
    try:
        with open(os.path.join(path, "state.json"), encoding="utf-8") as fh:
            files = [f["filename"] for f in json.load(fh).get("_data_files", [])]
        import pyarrow as pa

        for name in files:
            with pa.memory_map(os.path.join(path, name)) as source:
                total += pa.ipc.open_stream(source).read_all().num_rows
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    return total
