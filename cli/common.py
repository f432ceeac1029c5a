"""What every command shares: help settings, the error type for exit code 2, progress bars on a terminal,
and plain-text tables for people (JSON reports are written by the library's objects themselves)."""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, Iterator, NoReturn, Sequence, TypeVar

import click

T = TypeVar("T")

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class FcdataClickError(click.ClickException):
    """A library error shown as ``Error: <message>`` on stderr, exit code 2 (usage or I/O)."""

    exit_code = EXIT_USAGE


def fail(message: str) -> NoReturn:
    """Stop the command with a usage/I-O error (exit code 2)."""
    raise FcdataClickError(message)


def check_outputs(*, files: dict[str, str | None] | None = None, folders: dict[str, str | None] | None = None) -> None:
    """Refuse, before any work starts, output paths that cannot be written: a file output that is an
    existing folder, a folder output that is an existing file, or several outputs sent to stdout (``-``)
    at once. Keys are the option names shown in the message."""
    files = {k: v for k, v in (files or {}).items() if v is not None}
    folders = {k: v for k, v in (folders or {}).items() if v is not None}
    to_stdout = [k for k, v in files.items() if v == "-"]
    if len(to_stdout) > 1:
        fail(f"{' and '.join(to_stdout)} would all write to stdout (-); give all but one of them a file name")
    for opt, path in files.items():
        if path != "-" and os.path.isdir(path):
            fail(f"{opt} {path}: is a directory; give a file name")
    for opt, path in folders.items():
        if os.path.exists(path) and not os.path.isdir(path):
            fail(f"{opt} {path}: is a file; give a folder name")


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "rec", enabled: bool | None = None) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when stderr is a terminal; otherwise pass it through."""
    if enabled is None:
        enabled = stderr_is_terminal()
    if not enabled:
        yield from iterable
        return
    from tqdm import tqdm

    with tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False) as bar:
        yield from bar


class ByteProgress:
    """A tqdm bar over bytes of input files (only on a terminal); ``update(n)`` advances it.

    Used where records are counted only after reading (streamed files): the bar shows how far through
    the input the run is, so a multi-GB file shows an honest ETA. The total counts what the readers
    count: decompressed bytes for gzip files (from the gzip trailer, no decompression), and for Parquet
    files and ``datasets`` folders, whose rows carry no text, their size on disk, advanced row by row
    (:meth:`advance`) at the file's average bytes per row.
    """

    def __init__(self, paths: Sequence[str], desc: str = "", enabled: bool | None = None) -> None:
        self.enabled = stderr_is_terminal() if enabled is None else enabled
        self._bar: Any = None
        self._per_row: dict[str, float] = {}
        if self.enabled:
            from tqdm import tqdm

            total = 0
            for p in paths:
                try:
                    total += self._size(p)
                except (OSError, ValueError):
                    pass
            self._bar = tqdm(total=total or None, desc=desc, unit="B", unit_scale=True, file=sys.stderr, dynamic_ncols=True, leave=False)

    def _size(self, path: str) -> int:
        if path == "-":
            return 0
        if os.path.isdir(path):
            size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(".arrow"))
            rows = _dataset_rows(path)
            if rows:
                self._per_row[path] = size / rows
            return size
        if not os.path.isfile(path):
            return 0
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            magic = fh.read(4)
            if magic[:2] == b"\x1f\x8b" and size >= 18:
                fh.seek(-4, os.SEEK_END)
                isize = int.from_bytes(fh.read(4), "little")  # decompressed size modulo 2**32
                while isize < size:
                    isize += 1 << 32
                return isize
        if magic == b"PAR1":
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(path).metadata.num_rows
            if rows:
                self._per_row[path] = size / rows
        return size

    def write(self, message: str) -> None:
        """Print ``message`` on standard error above the bar (a plain ``echo`` would land on the
        bar's own line)."""
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            click.echo(message, err=True)

    def advance(self, item: Any) -> None:
        """Advance by one record just read: its text's bytes (and its newline), or for a row of a
        Parquet file or ``datasets`` folder, that file's average bytes per row."""
        if self._bar is None:
            return
        text = getattr(item, "text", None)
        if text is not None:
            self._bar.update(len(text.encode("utf-8", "replace")) + 1)
        else:
            self._bar.update(self._per_row.get(getattr(item, "file", ""), 0.0))

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "ByteProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _dataset_rows(path: str) -> int:
    """Rows of a ``datasets`` folder, from its metadata (0 when it has none)."""
    import json

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


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, align: str | None = None) -> str:
    """A plain monospace table (no colours) for people; numbers right-aligned by default.

    ``align`` is one character per column (``l`` or ``r``); by default a column is right-aligned when
    every value in it is a number.
    """
    data = [[_cell(v) for v in row] for row in rows]
    ncol = len(headers)
    widths = [len(h) for h in headers]
    for row in data:
        for i, cell in enumerate(row[:ncol]):
            widths[i] = max(widths[i], len(cell))
    if align is None:
        align = ""
        for i in range(ncol):
            numeric = bool(data) and all(_is_number(row[i]) for row in data if i < len(row))
            align += "r" if numeric else "l"

    def fmt(row: Sequence[str]) -> str:
        cells = []
        for i in range(ncol):
            cell = row[i] if i < len(row) else ""
            cells.append(cell.rjust(widths[i]) if align[i] == "r" else cell.ljust(widths[i]))
        return "  ".join(cells).rstrip()

    lines = [fmt(list(headers)), "  ".join("-" * w for w in widths)]
    lines.extend(fmt(row) for row in data)
    return "\n".join(lines)


def counts_table(title: str, counts: dict[str, int]) -> str:
    """A two-column table of code counts, most frequent first (repairs, rejection reasons...)."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return format_table([title, "records"], rows, align="lr")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _is_number(text: str) -> bool:
    t = text.replace(",", "").replace("%", "")
    try:
        float(t)
        return True
    except ValueError:
        return not t


def echo_err(message: str) -> None:
    """A line on stderr (progress notes, warnings); stdout stays for data."""
    click.echo(message, err=True)
