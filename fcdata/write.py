"""Atomic, deterministic writers.

Every output fcdata produces goes through :func:`atomic_path` (or :func:`atomic_open`): the data is
written to a temporary name beside the target, flushed to disk, then renamed over the final name in one
step, so a crash or Ctrl-C never leaves a partial file under the name a user (or the next pipeline stage)
will read. ``-`` means standard output, which is written directly.

Temporary names hold the writing process's id (``.NAME.<pid>.<random>.tmp``, ``.arrow`` for scratch
files): an error or a SIGTERM removes them at once; a SIGKILL cannot, so the next write beside the same
target removes those whose process is gone (:func:`sweep_stale`) and leaves a live writer's alone.

A write that fails for lack of room (``ENOSPC``, a quota, a file size limit) or a read-only file system
becomes :class:`~fcdata.errors.OutputError` naming the output: one line for a person, exit code 2.

Determinism: JSON Lines use ``json.dumps(obj, ensure_ascii=False)`` without ``sort_keys`` (key order is
data: it reaches the tokens); Parquet is written with fixed settings and nested fields stored as JSON text
(one Arrow type per column cannot hold tool schemas that differ from record to record).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import queue
import re
import shutil
import stat
import sys
import tempfile
import threading
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

from .errors import InputError, OutputError

__all__ = ["atomic_path", "atomic_open", "dataset_folder_problem", "scratch_file", "sweep_stale", "write_error", "is_special_file", "dumps_line", "write_jsonl", "write_json", "write_parquet", "JsonlWriter", "BackgroundWriter", "RECORD_COLUMNS"]


def dumps_line(obj: Any) -> str:
    """One JSON Lines line (with its newline), in the one format fcdata writes everywhere.

    Text is written as UTF-8, not ``\\u`` escapes, except where a string holds a lone surrogate (valid
    JSON input can carry one as ``\\ud800``, and UTF-8 cannot): such a line is written with escapes, so
    writing a report or a rejects file can never fail on the data it reports."""
    line = json.dumps(obj, ensure_ascii=False)
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            line = json.dumps(obj)
    return line + "\n"


# the errors of a write that has no room or no right to write, worded once for the person
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def write_error(exc: BaseException, target: str) -> OutputError | None:
    """``exc`` as an :class:`OutputError` naming ``target`` when it is a failed write (disk full, quota,
    file too large, read-only file system; also as pyarrow words them), else ``None``."""
    if isinstance(exc, OutputError) or not isinstance(exc, OSError):
        return None
    code = exc.errno
    if code is None:  # pyarrow's IOError carries the errno only in its text
        text = str(exc)
        code = next((c for c in _WRITE_ERRNOS if f"errno {c}]" in text or os.strerror(c) in text), None)
    if code not in _WRITE_ERRNOS:
        return None
    return OutputError(f"cannot write: {os.strerror(code)} (nothing was written under this name)", file=target)


@contextlib.contextmanager
def _write_errors(target: str) -> Iterator[None]:
    """Raise a failed write inside the block as :func:`write_error` words it, naming ``target``."""
    try:
        yield
    except OSError as exc:
        failed = write_error(exc, target)
        if failed is not None:
            raise failed from exc
        raise


# what `datasets.Dataset.save_to_disk` (and `DatasetDict.save_to_disk`, one such folder per split) and
# `Dataset.map`'s cache put in a data set folder
_DATASET_ENTRY = re.compile(r"(state|dataset_info|dataset_dict)\.json|data-\d+-of-\d+\.arrow|cache-[0-9a-f]+\.arrow")


def _foreign_entries(folder: str) -> list[str]:
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    split_folders = "dataset_dict.json" in names
    foreign = []
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            if not split_folders or _foreign_entries(path):
                foreign.append(name + "/")
        elif not _DATASET_ENTRY.fullmatch(name):
            foreign.append(name)
    return foreign


def dataset_folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why the existing folder ``folder`` may not be replaced by a data set, or ``None``: replacing a
    folder removes everything in it, which is right for an earlier data set written there and data loss
    for anything else (``prepare data.jsonl -o ~/project`` must not empty the project)."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return None
    foreign = _foreign_entries(folder)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        return f"is a folder holding what a saved data set does not ({shown}); writing the data set there replaces the whole folder, so give a new or empty folder (or a data set written before)"
    if os.listdir(folder) and not _written_by_fcdata(folder):
        return "is a saved data set that fcdata did not write (its dataset_info.json has no fcdata preparation settings: the raw data, or another tool's); writing there would replace it, so give a new or empty folder (or one fcdata prepare wrote)"
    return None


def _written_by_fcdata(folder: str) -> bool:
    """Whether a saved data set is one ``fcdata prepare`` wrote: its ``dataset_info.json`` description
    holds fcdata's preparation settings (``format`` ``mistral_v*``, the tokenizer's sha256). A user's
    own data set (raw records saved with ``save_to_disk``, a ``DatasetDict`` of splits) is not."""
    try:
        with open(os.path.join(folder, "dataset_info.json"), encoding="utf-8") as fh:
            description = json.load(fh).get("description")
        settings = json.loads(description) if isinstance(description, str) else None
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(settings, dict) and str(settings.get("format", "")).startswith("mistral_") and "tokenizer_sha256" in settings


def _temp_prefix(base: str) -> str:
    return f".{base}.{os.getpid()}."


def sweep_stale(target: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files and folders fcdata left beside ``target`` in a run that was killed
    (``.NAME.<pid>.*.tmp``, ``.old``, ``.arrow`` whose process no longer runs); returns their paths.
    Temporaries of a process still running (a concurrent writer) are left alone."""
    target = os.fspath(target)
    parent = os.path.dirname(os.path.abspath(target)) or "."
    head = f".{os.path.basename(target.rstrip(os.sep)) or 'out'}."
    removed: list[str] = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(head) or not name.endswith((".tmp", ".old", ".arrow")):
            continue
        pid_text = name[len(head) :].split(".", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        path = os.path.join(parent, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)
        removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or a check not allowed here: assume it runs
        return True
    return True


def is_special_file(path: str) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder: a device (``/dev/null``,
    ``/dev/stdout`` through its link), a FIFO, a socket. Such an output is written in place: renaming a
    temporary file over it would replace the device node or the pipe with a plain file (as root,
    ``-o /dev/null`` would break the system's /dev/null) and the reader would get nothing."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _prepare_parent(target: str) -> str:
    parent = os.path.dirname(os.path.abspath(target)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder: {exc.strerror or exc}", file=target) from exc
    sweep_stale(target)
    return parent


def _through_links(target: str) -> str:
    """The path a write to ``target`` must replace: where its symbolic links lead.

    Renaming a temporary over a link would replace the link itself with a plain file or folder, so
    ``-o current.jsonl`` (a link to a file on a large disk) would quietly leave the data on the wrong
    disk and the link gone. Writing through the link, as ``>`` in a shell does, keeps it. A dangling link
    is written where it points."""
    if target != "-" and os.path.islink(target.rstrip(os.sep) or target):
        return os.path.realpath(target)
    return target


def _file_mode(target: str) -> int:
    """The mode a replaced file keeps (a script made executable, a file kept private stays so); a new
    file gets 0644 less the umask, as ``open`` would give it."""
    try:
        st = os.stat(target)
    except OSError:
        return 0o644 & ~_umask()
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else 0o644 & ~_umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, directory: bool = False, guard: Callable[[str], str | None] | None = None) -> Iterator[str]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one rename.

    With ``directory=True`` the temporary path is a fresh directory (for ``datasets.save_to_disk``); an
    existing target directory is replaced only after the new one is complete, and only if ``guard``
    (called before anything is written) finds no reason against it, such as files that replacing it would
    destroy (:func:`dataset_folder_problem`); its reason is raised as :class:`OutputError`. On any exception the
    temporary file or directory is removed and the target is left untouched; a failed write (disk full...)
    is raised as :class:`OutputError` naming ``target``.
    """
    target = os.fspath(target)
    if not directory and is_special_file(target):
        # a device or a pipe: written in place (nothing to rename; a reader sees the bytes as they come)
        with _write_errors(target):
            yield target
        return
    target = _through_links(target)
    if not directory and os.path.isdir(target):
        raise InputError("is a directory; give a file name for this output", file=target)
    if directory and os.path.exists(target) and not os.path.isdir(target):
        raise InputError("is a file; give a folder name for this output", file=target)
    if directory and guard is not None:
        problem = guard(target)
        if problem is not None:
            raise OutputError(problem, file=target)
    parent = _prepare_parent(target)
    base = os.path.basename(target.rstrip(os.sep)) or "out"
    try:
        if directory:
            tmp = tempfile.mkdtemp(prefix=_temp_prefix(base), suffix=".tmp", dir=parent)
        else:
            fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(base), suffix=".tmp", dir=parent)
            os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror or exc}", file=target) from exc
    try:
        yield tmp
        if directory:
            os.chmod(tmp, 0o777 & ~_umask())
            old = None
            if os.path.exists(target):
                old = tempfile.mkdtemp(prefix=_temp_prefix(base), suffix=".old", dir=parent)
                os.rmdir(old)
                os.replace(target, old)
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.chmod(tmp, _file_mode(target))
            os.replace(tmp, target)
    except BaseException as exc:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.unlink(tmp)
        failed = write_error(exc, target)
        if failed is not None:
            raise failed from exc
        raise


@contextlib.contextmanager
def scratch_file(target: str | os.PathLike[str], suffix: str = ".arrow") -> Iterator[str]:
    """A scratch file beside ``target`` (same file system, so a large intermediate never fills /tmp),
    named like the temporaries :func:`sweep_stale` knows, removed on leaving, whatever happens."""
    target = _through_links(os.fspath(target))
    parent = _prepare_parent(target)
    base = os.path.basename(target.rstrip(os.sep)) or "out"
    try:
        fd, path = tempfile.mkstemp(prefix=_temp_prefix(base), suffix=suffix, dir=parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror or exc}", file=target) from exc
    try:
        with _write_errors(target):
            yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open ``target`` for writing atomically (``-`` = standard output, written directly)."""
    if os.fspath(target) == "-":
        stream = sys.stdout.buffer if "b" in mode else sys.stdout
        yield stream
        stream.flush()
        return
    with atomic_path(target) as tmp:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            if _is_regular_file(fh):  # (a device or a pipe written in place has nothing to sync)
                os.fsync(fh.fileno())


class JsonlWriter:
    """Streaming JSON Lines writer that commits atomically on :meth:`close` (or leaving a ``with``)."""

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self._target = os.fspath(target)
        self._cm = atomic_open(target, "w")
        self._fh = self._cm.__enter__()
        self.count = 0

    def write(self, obj: Any) -> None:
        self.write_text(dumps_line(obj))

    def write_text(self, line: str) -> None:
        """Write an already-serialised line (a newline is added when missing). A failed write names
        this writer's file, not whichever other output is being written around it."""
        with _write_errors(self._target):
            self._fh.write(line if line.endswith("\n") else line + "\n")
        self.count += 1

    def flush(self) -> None:
        """Push what was written to the disk now (a full disk is found here, not at :meth:`close`):
        called before the run's main output is committed, so that a side output that cannot be written
        stops the run before anything replaces the main output."""
        with _write_errors(self._target):
            self._fh.flush()
            if _is_regular_file(self._fh):
                os.fsync(self._fh.fileno())

    def close(self, exc: BaseException | None = None) -> None:
        if exc is None:
            self._cm.__exit__(None, None, None)
        else:
            self._cm.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        self.close(ev)


class BackgroundWriter:
    """Writes text to ``stream`` from a second thread, in the order given, and, when ``stream`` is a
    regular file, flushes it to the disk (``fdatasync``) after every ``sync_every`` characters.

    Why: converting alternates Python work on a batch, which holds the interpreter lock, with writing
    the batch, and an atomic write ends with an ``fsync`` of everything written; the system calls of both
    release the lock, so from a thread they overlap the next batch's conversion, and the final ``fsync``
    (in :func:`atomic_open`) has only the last few megabytes left. On two cores this took 7% off
    a Glaive conversion's wall time (46.3 -> 43.2 µs per row on the 100,000-row corpus of
    ``benchmarks/bench_convert.py``, best of 4 runs each, interleaved with inline writing).

    At most ``depth`` writes wait in line (bounded memory). An error in the thread is raised in the
    caller at its next :meth:`write` or at :meth:`close`. Only the thread touches ``stream`` until
    :meth:`close` returns. Leaving a ``with`` block on an exception still writes what was handed over
    (a stream to standard output keeps every finished batch, as writing inline did); an interrupt
    while waiting for that stops the writing. Not for a process that forks while the thread runs (a
    fork copies the thread's locks).

    Why two :class:`queue.SimpleQueue` and no :class:`queue.Queue`: Ctrl-C raises ``KeyboardInterrupt``
    at whatever Python function the main thread enters next, and ``Queue.put`` runs Python-level
    ``Condition`` code while it holds the queue's lock. An interrupt landing there (in
    ``Condition.__exit__`` before it releases, in ``wait``'s re-acquire) left the lock held or broken,
    and the ``put`` of the end marker on the way out then waited for ever: ``fcdata convert`` hung on
    Ctrl-C in about one CI run in five (``tests/test_hostile_io.py``). ``SimpleQueue`` is written in C:
    an interrupt is raised before or after a ``put``/``get``, never inside one. Bounding uses the second
    queue as a pool of ``depth`` slips: :meth:`write` takes one, the thread hands it back once the text
    is written, and the thread says it has ended through a third.
    """

    def __init__(self, stream: IO[Any], *, sync_every: int = 4 << 20, depth: int = 4) -> None:
        self._stream = stream
        self._sync_every = sync_every if _is_regular_file(stream) else 0
        self._work: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._slips: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._ended: queue.SimpleQueue[bool] = queue.SimpleQueue()
        for _ in range(depth):
            self._slips.put(True)
        self._error: BaseException | None = None
        self._discard = False
        self._finished = False  # set by the thread as it ends (a flag no interrupt can leave half-set)
        self._thread = threading.Thread(target=self._run, name="fcdata-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        unsynced = 0
        try:
            while True:
                text = self._work.get()
                if text is None:
                    return
                if self._error is None and not self._discard:
                    try:
                        self._stream.write(text)
                        unsynced += len(text)
                        if self._sync_every and unsynced >= self._sync_every:
                            self._stream.flush()
                            _datasync(self._stream.fileno())
                            unsynced = 0
                    except BaseException as exc:  # handed to the caller
                        self._error = exc
                self._slips.put(True)  # (also when discarding: the caller never waits on a slip for ever)
        finally:
            self._finished = True
            self._ended.put(True)

    def write(self, text: str) -> None:
        if self._error is not None:
            raise self._error
        self._slips.get()
        self._work.put(text)

    def _wait_ended(self, timeout: float | None) -> bool:
        if self._finished:
            return True
        try:
            self._ended.get(timeout=timeout)
        except queue.Empty:
            return self._finished
        return True

    def close(self) -> None:
        """Wait until everything is written; raise the thread's error, if any."""
        try:
            self._work.put(None)
            self._wait_ended(None)
        except BaseException:
            # interrupted while waiting (Ctrl-C): stop writing, wait for the thread (a second Ctrl-C
            # stops waiting), go on failing
            self._discard = True
            while not self._wait_ended(0.05):
                pass
            raise
        if self._error is not None:
            raise self._error

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        if et is None:
            self.close()
            return
        with contextlib.suppress(Exception):  # already failing: keep the caller's error
            self.close()


# fdatasync is POSIX-only outside macOS; fsync does the same and a little more
_datasync = getattr(os, "fdatasync", os.fsync)


def _is_regular_file(stream: IO[Any]) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


def write_jsonl(target: str | os.PathLike[str], rows: Iterable[Any]) -> int:
    """Write ``rows`` as JSON Lines atomically; returns the number written."""
    with JsonlWriter(target) as out:
        for row in rows:
            out.write(row)
        return out.count


def write_json(target: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> None:
    """Write one JSON document (reports) atomically, with a trailing newline."""
    with atomic_open(target, "w") as fh:
        fh.write(json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


# the columns of canonical records in Parquet: nested fields as JSON text, `text` as plain text
RECORD_COLUMNS = ("messages", "tools", "text", "metadata")
_NESTED_KEYS = ("messages", "tools", "metadata")


def write_parquet(
    target: str | os.PathLike[str],
    rows: Iterable[dict[str, Any]],
    *,
    columns: Sequence[str] = RECORD_COLUMNS,
    json_columns: Iterable[str] = _NESTED_KEYS,
    row_group_size: int = 10_000,
) -> int:
    """Write rows to Parquet atomically, streaming row groups of ``row_group_size``.

    The schema is fixed up front: every column of ``columns`` is a string column (``json_columns`` hold
    JSON text, the others plain text; a key missing from a row is null), so rows of different kinds
    (chat and pretraining records) and columns that are null for the first ten thousand rows never
    break the file half way. Arrow needs one type per column while tool schemas differ record by
    record, hence JSON text for the nested fields; :func:`fcdata.read.read_items` decodes them back.
    A key outside ``columns`` is an error.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.fspath(target) == "-":
        raise InputError("Parquet cannot be written to standard output; give a file name", file="-")
    json_cols = set(json_columns)
    known = set(columns)
    schema = pa.schema([(c, pa.string()) for c in columns])
    count = 0

    def cell(col: str, value: Any) -> str | None:
        if value is None:
            return None
        if col in json_cols or not isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        return value

    with atomic_path(target) as tmp:
        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        try:
            batch: list[dict[str, Any]] = []

            def flush() -> None:
                if batch:
                    writer.write_table(pa.table({c: [cell(c, r.get(c)) for r in batch] for c in columns}, schema=schema))
                    batch.clear()

            for row in rows:
                extra = [k for k in row if k not in known]
                if extra:
                    raise InputError(f"row {count + 1} has keys {extra} outside the Parquet columns {list(columns)}", file=os.fspath(target))
                batch.append(row)
                count += 1
                if len(batch) >= row_group_size:
                    flush()
            flush()
        finally:
            writer.close()
    return count
