"""Output paths checked before any work: none may be an input or another output, and each must be
writable.

Why before the work: an output written over an input destroys it at the end of a run that "succeeded"
(``convert a.jsonl -o o.jsonl --rejects a.jsonl`` used to empty the input and exit 0), and an output
that cannot be written is better found before an hour of work than after. Two paths are the same file
when they name the same inode (hard links, symbolic links, ``./a`` against ``a``), or, for paths that do
not exist yet, when they resolve to the same place. A folder output that a run replaces whole (``prepare
-o folder``) or fills (a training run) also may not hold an input or another output.
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterable, Mapping

from .errors import OutputError, UsageError
from .write import is_special_file

__all__ = ["check_paths", "same_place"]


def _identity(path: str) -> tuple[object, ...]:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return ("path", os.path.normcase(real))
    return ("inode", st.st_dev, st.st_ino)


def same_place(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name one file or folder (through links and spellings)."""
    return _identity(a) == _identity(b)


def _inside(path: str, folder: str) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return real != top and os.path.commonpath([real, top]) == top


def _is_devnull(path: str) -> bool:
    return os.path.realpath(path) == os.devnull


def _writable(option: str, path: str, *, folder: bool) -> None:
    """Refuse ``path`` when it cannot be created: an existing folder for a file output (or a file for a
    folder output), a parent that is a file, or a parent this process may not write (found by creating
    and removing a file there: ``os.access`` says yes to root on a read-only file system)."""
    if not folder and os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    if not folder and path.endswith(("/", os.sep)):
        # `-o out/` where no folder `out` exists: writing a file named `out` is not what was asked
        raise UsageError(f"{option} {path}: ends with '/', which names a folder; give a file name")
    if folder and os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a file; give a folder name")
    if is_special_file(path):
        return  # a device or a pipe, written in place (fcdata.write): its folder need not be writable
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    if not os.path.isdir(parent):
        raise OutputError(f"cannot write {option} here: {parent} is not a folder", file=path)
    try:
        fd, probe = tempfile.mkstemp(prefix=".fcdata-probe.", dir=parent)
    except OSError as exc:
        raise OutputError(f"cannot write {option} here: {exc.strerror or exc}", file=path) from exc
    os.close(fd)
    os.unlink(probe)


def check_paths(
    inputs: Iterable[str] = (),
    files: Mapping[str, str | None] | None = None,
    folders: Mapping[str, str | None] | None = None,
) -> None:
    """Refuse (:class:`UsageError` or :class:`OutputError`, before any work) outputs that collide or
    cannot be written. ``files`` and ``folders`` map an option name (shown in the message) to its path;
    ``None`` is an option not given, ``-`` is standard input or output (never a collision, except that
    only one output can be standard output)."""
    files = {k: v for k, v in (files or {}).items() if v is not None}
    folders = {k: v for k, v in (folders or {}).items() if v is not None}
    to_stdout = [k for k, v in files.items() if v == "-"]
    if len(to_stdout) > 1:
        raise UsageError(f"{' and '.join(to_stdout)} would all write to stdout (-); give all but one of them a file name")
    sources = [p for p in inputs if p != "-"]
    outputs = [(k, v, False) for k, v in files.items() if v != "-"] + [(k, v, True) for k, v in folders.items()]
    for option, path, is_folder in outputs:
        if is_special_file(path):
            continue  # a device or a pipe is written in place, never replaced: no input can be lost
        for source in sources:
            if same_place(path, source):
                raise UsageError(f"{option} {path} is also an input ({source}): it would be overwritten; write somewhere else")
            if is_folder and _inside(source, path):
                raise UsageError(f"{option} {path} holds the input {source}, and the run writes that folder; keep inputs outside it")
    for i, (option, path, is_folder) in enumerate(outputs):
        for other_option, other, other_folder in outputs[i + 1 :]:
            if _is_devnull(path) and _is_devnull(other):
                continue  # every output may be thrown away
            if same_place(path, other):
                raise UsageError(f"{option} and {other_option} are the same path ({path}): one would overwrite the other")
            if is_folder and _inside(other, path) or other_folder and _inside(path, other):
                raise UsageError(f"{option} {path} and {other_option} {other}: one is inside the other folder, which the run replaces")
    for option, path, is_folder in outputs:
        _writable(option, path, folder=is_folder)
