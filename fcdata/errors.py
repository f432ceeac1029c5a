"""The one error hierarchy of fcdata.

Every error the library raises on purpose derives from :class:`FcdataError`, so a caller (the CLI above
all) can catch one type and turn it into a clean message and exit code instead of a traceback. Errors
about data carry *where* (file, 1-based line or row, JSON path) so their text reads like a compiler's:

    data.jsonl:17: messages[3].tool_calls[0].id: must be 9 letters/digits for Mistral v0.3, got 'call_1'

Problems found inside records during validation are *findings* (:mod:`fcdata.findings`), collected in
one pass; these exceptions are for what stops an operation (an unreadable file, a bad option, a refused
tokenizer).
"""

from __future__ import annotations

import json
import re
from typing import Sequence

__all__ = [
    "FcdataError",
    "UsageError",
    "NoRecordsError",
    "InputError",
    "OutputError",
    "RecordError",
    "TokenizerError",
    "format_path",
    "format_location",
]


_PLAIN_KEY = re.compile(r"[\w$\-]+")


def format_path(parts: Sequence[object]) -> str:
    """Render a JSON path such as ``messages[3].tool_calls[0].id`` from its parts.

    Integer parts become ``[i]``, string parts ``.key``; every part goes through ``str()`` first so a
    list index never breaks the join (a classic crash in error paths).
    """
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            text = str(part)
            if not _PLAIN_KEY.fullmatch(text):
                # a key from the data with a dot, a bracket, a newline or an escape sequence: quoted as JSON,
                # so it can neither pass for two keys nor start a line of its own (a forged finding)
                text = "[" + json.dumps(text) + "]"
                out += text
                continue
            out += text if not out else f".{text}"
    return out or "$"


def format_location(file: str | None, line: int | None = None, path: str | None = None) -> str:
    """``file:line: path`` with the parts that are known, for the front of a message."""
    where = file or "<input>"
    if line is not None:
        where += f":{line}"
    if path:
        where += f": {path}"
    return where


class FcdataError(Exception):
    """Base class of every error fcdata raises on purpose."""

    exit_code = 2


class UsageError(FcdataError):
    """A bad option or combination of options (exit code 2)."""


class NoRecordsError(FcdataError):
    """The input holds nothing to train or evaluate on (empty, or every record rejected): a finding, exit
    code 1, as every command treats an input that holds no record or a run that writes none."""

    exit_code = 1


class InputError(FcdataError):
    """A file that cannot be opened or read at all (missing, a directory, unknown format): exit code 2.

    Problems with single lines or records are not raised: they become findings or rejections so that a
    batch run goes on to the end.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        prefix = format_location(file, line) + ": " if file is not None else ""
        super().__init__(prefix + message)


class OutputError(FcdataError):
    """An output that cannot be written: the disk is full, the folder is read-only, or the path is also
    an input or another output of the same run (exit code 2). Nothing partial is left under its name."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        self.file = file
        super().__init__((f"{file}: " if file is not None else "") + message)


class RecordError(FcdataError):
    """One record cannot be used by the operation asked for (e.g. rendering a record that fails
    validation). Carries the location so the message names file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
        code: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.path = path
        self.code = code
        self.reason = message
        where = format_location(file, line, path)
        super().__init__(f"{where}: {message}" if (file or line or path) else message)


class TokenizerError(FcdataError):
    """A tokenizer that cannot be loaded or cannot encode the data (e.g. a v1/v2 model for tool data)."""
