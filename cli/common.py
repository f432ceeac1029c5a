"""What every command shares: help settings, the error type for exit code 2, progress bars on a terminal,
and plain-text tables for people (JSON reports are written by the library's objects themselves)."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Iterable, Iterator, NoReturn, Sequence, TypeVar

import click

from fcdata.errors import FcdataError
from fcdata.inputs import input_size
from fcdata.paths import check_paths, same_place

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


def report_written(write: Callable[[], None], outputs: Sequence[str | None]) -> None:
    """Write the JSON report with ``write()``; when that fails (a full disk), say which of the run's
    other ``outputs`` were already written, since the report is written last and they are complete."""
    try:
        write()
    except FcdataError as exc:
        done = [o for o in outputs if o not in (None, "-")]
        fail(f"{exc}; the run finished and wrote {', '.join(done)} in full: only the report is missing" if done else str(exc))


def check_outputs(
    *,
    inputs: Sequence[str] = (),
    files: dict[str, str | None] | None = None,
    folders: dict[str, str | None] | None = None,
    run_folders: dict[str, str | None] | None = None,
) -> None:
    """Refuse, before any work starts, outputs that are an input or another output (through links and
    spellings too), outputs that cannot be written, folders whose files a run would destroy, and several
    outputs sent to stdout (``-``) at once. Keys are the option names shown in the message. The rules are
    the library's (:func:`fcdata.paths.check_paths`)."""
    try:
        check_paths(inputs, files, folders, run_folders)
    except FcdataError as exc:
        fail(str(exc))


def nothing_read_or_written(empty_inputs: Iterable[str], written: int, *, what: str = "record", done: str = "written", why: str = "") -> bool:
    """The one rule for empty inputs: an input that holds no record, and a run that writes no record,
    are findings (exit 1) in convert, validate, prepare and score, with or without --strict (validate
    reports the first as its ``empty_file`` error). Says ``error:`` on stderr for each input that held no
    record and when nothing was ``written`` (``what``: the unit counted, ``done``: what was done to it,
    ``why``: what became of the records); True when there was anything to say."""
    found = False
    for name in empty_inputs:
        echo_err(f"error: {name}: holds no record (empty_file: a wrong path, or an export that failed)")
        found = True
    if written == 0:
        echo_err(f"error: no {what} was {done}" + (f": {why}" if why else ""))
        found = True
    return found


def cut_off(cut_inputs: Iterable[str]) -> bool:
    """The rule for inputs cut off mid-record (a download or a gzip stream that ended early): a finding
    (exit 1) with or without --strict, as an empty input is. The records after the cut are lost and no
    count can show them, so ``read == kept + rejected`` holds only for what came before the cut. Says
    ``error:`` on stderr for each; True when there was one."""
    found = False
    for name in dict.fromkeys(cut_inputs):
        echo_err(f"error: {name}: cut off in the middle of a record (truncated_file); the records after the cut are lost, fetch or unpack the file again")
        found = True
    return found


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def tqdm_bar(**kwargs: Any) -> Any:
    """A tqdm bar on standard error, without tqdm's monitor thread: a running thread would make every
    worker pool started under the bar spawn instead of fork (:mod:`fcdata.pool`), and the monitor only
    corrects bars that stall for ten seconds."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", False)
    return tqdm(**kwargs)


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "rec", enabled: bool | None = None) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when stderr is a terminal; otherwise pass it through."""
    if enabled is None:
        enabled = stderr_is_terminal()
    if not enabled:
        yield from iterable
        return
    with tqdm_bar(iterable=iterable, total=total, desc=desc, unit=unit) as bar:
        yield from bar


class ByteProgress:
    """A tqdm bar over bytes of input files (only on a terminal); ``update(n)`` advances it.

    Used where records are counted only after reading (streamed files): the bar shows how far through
    the input the run is, so a multi-GB file shows an honest ETA. The sizes come from the input layer
    (:func:`fcdata.inputs.input_size`): decompressed bytes for gzip files, and for Parquet files and
    ``datasets`` folders, whose rows carry no text, their size on disk, advanced row by row
    (:meth:`advance`) at the file's average bytes per row.
    """

    def __init__(self, paths: Sequence[str], desc: str = "", enabled: bool | None = None) -> None:
        self.enabled = stderr_is_terminal() if enabled is None else enabled
        self._bar: Any = None
        self._per_row: dict[str, float] = {}
        if self.enabled:
            total = sum(self._size(p) for p in paths)
            self._bar = tqdm_bar(total=total or None, desc=desc, unit="B", unit_scale=True)

    def _size(self, path: str) -> int:
        size, per_row = input_size(path)
        if per_row is not None:
            self._per_row[path] = per_row
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


def to_stdout(*paths: str | None) -> bool:
    """Whether any of these outputs is standard output (``-``, or a path to ``/dev/stdout``): then every
    table and message for people goes to stderr, so that stdout holds only the machine output."""
    for path in paths:
        if path == "-":
            return True
        if path and os.path.exists(path) and same_place(path, "/dev/stdout"):
            return True
    return False


def version_rules(tokenizer: str | None) -> Any:
    """The normaliser rules (:class:`fcdata.normalize.Rules`) of the version of ``--tokenizer``, or
    ``None`` (v3's) without one: what `validate` checks and `convert` converts by."""
    if tokenizer is None:
        return None
    from fcdata.render.encoders import encoder_for
    from fcdata.tokenizer import load_tokenizer

    return encoder_for(load_tokenizer(tokenizer)).rules
