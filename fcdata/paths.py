"""Output paths checked before any work: none may be an input or another output, and each must be
writable.

Why before the work: an output written over an input destroys it at the end of a run that "succeeded"
(``convert a.jsonl -o o.jsonl --rejects a.jsonl`` used to empty the input and exit 0), and an output
that cannot be written is better found before an hour of work than after. Two paths are the same file
when they name the same inode (hard links, symbolic links, ``./a`` against ``a``), or, for paths that do
not exist yet, when they resolve to the same place. A folder output that a run replaces whole (``prepare
-o folder``) or fills (a training run) also may not hold an input or another output.

Nor may a run destroy files it did not write: a folder that ``prepare`` replaces must be new, empty or
an earlier data set (:func:`fcdata.write.dataset_folder_problem`), and a run folder new, empty or an
earlier run (:func:`run_folder_problem`), since a run replaces its ``prepared/``, ``model/`` and
``adapter/`` inside it (``train-eval data.jsonl -o ~/project`` must not replace ``~/project/data``).
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterable, Mapping

from .errors import OutputError, UsageError
from .write import dataset_folder_problem, is_special_file

__all__ = ["check_paths", "same_place", "run_folder_problem", "refuse_foreign_run_folder", "RUN_FOLDER_ENTRIES"]

RUN_FOLDER_ENTRIES = frozenset({
    "config.yaml", "metrics.json", "log_history.json", "loss_curve.png", "tokenizer.json",
    "report.json", "report.md", "rejects.jsonl", "prepare_report.json", "prepare_rejects.jsonl",
    "predictions_before.jsonl", "predictions_after.jsonl", "references.jsonl",
    "data", "prepared", "model", "adapter", "base_model", "checkpoints", "eval",
})
"""What ``fcdata train`` / ``train-eval`` / ``eval`` write into a run folder (tests check a real run's)."""


def run_folder_problem(folder: str) -> str | None:
    """Why ``folder`` may not be used as a run folder, or ``None``. A run writes its files into the
    folder and replaces its sub-folders (``prepared/``, ``model/``...), so the folder must be new, empty,
    an earlier run (its ``config.yaml`` names a model), or a run cut off before its ``config.yaml``
    (nothing in it but what a run writes)."""
    if not os.path.isdir(folder):
        return None
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None  # unreadable: writing into it fails with its own message
    foreign = [n for n in names if n not in RUN_FOLDER_ENTRIES]
    if not foreign or _is_run_config(os.path.join(folder, "config.yaml")):
        return None
    shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
    return (
        f"is a folder that is not an fcdata run (no config.yaml of a run; it holds {shown}); a run writes its "
        "files into it and replaces data/, prepared/, model/ and adapter/ there, so give a new or empty folder"
    )


def refuse_foreign_run_folder(folder: str) -> None:
    """Raise :class:`OutputError` when ``folder`` may not be a run folder (:func:`run_folder_problem`):
    the library's own check, for callers that skip the CLI's."""
    problem = run_folder_problem(folder)
    if problem is not None:
        raise OutputError(problem, file=folder)


def _is_run_config(path: str) -> bool:
    if not os.path.isfile(path):
        return False
    try:
        import yaml
    except ImportError:  # the data-only install has no training: a run folder cannot be told from others
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            saved = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):  # a config.yaml that is not YAML is not a run's
        return False
    return isinstance(saved, dict) and "model" in saved and "full" in saved


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
    run_folders: Mapping[str, str | None] | None = None,
) -> None:
    """Refuse (:class:`UsageError` or :class:`OutputError`, before any work) outputs that collide, cannot
    be written, or would destroy files fcdata did not write. ``files``, ``folders`` (replaced whole by a
    data set) and ``run_folders`` (written into by a run) map an option name (shown in the message) to
    its path; ``None`` is an option not given, ``-`` is standard input or output (never a collision,
    except that only one output can be standard output)."""
    inputs = list(inputs)
    if inputs.count("-") > 1:
        raise UsageError("standard input ('-') can be read only once; give it once, or name the files")
    files = {k: v for k, v in (files or {}).items() if v is not None}
    runs = {k: v for k, v in (run_folders or {}).items() if v is not None}
    for option, path in runs.items():
        problem = run_folder_problem(path)
        if problem is not None:
            raise UsageError(f"{option} {path}: {problem}")
    datasets = {k: v for k, v in (folders or {}).items() if v is not None}
    for option, path in datasets.items():
        problem = dataset_folder_problem(path)
        if problem is not None:
            raise UsageError(f"{option} {path}: {problem}")
    folders = {**datasets, **runs}
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
