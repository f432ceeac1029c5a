"""Deterministic tool-call ids for Mistral v0.3: exactly 9 characters of ``[a-zA-Z0-9]``.

Glaive and ShareGPT have no call ids, OpenAI data has ``call_...`` ids that Mistral v0.3 refuses, and a
converted file must be byte-identical on every run and with any number of processes. So an id is not
random: it is a hash of the record's source content and the call's position in the record::

    id(k) = the 9 bytes of blake2b(source content + b"#" + str(k), 9 bytes), each mapped to one of
            the 62 characters [0-9a-zA-Z] (byte mod 62)

The same record gives the same ids wherever and whenever it is converted; two different records give
unrelated ids. About 53 bits per id, so two calls of one record colliding is practically impossible,
and :class:`CallIds` still checks: a clash (with another generated id or with a valid id kept from the
input) moves on to the next salt.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["CallIds", "CALL_ID_RE", "make_call_id"]

CALL_ID_RE = re.compile(r"^[a-zA-Z0-9]{9}$")

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# byte -> id character, for bytes.translate (one C call instead of nine divisions)
_TABLE = bytes(ord(_ALPHABET[b % 62]) for b in range(256))


def make_call_id(content: bytes | Any, position: int, salt: int = 0) -> str:
    """The id of the call at ``position`` (0-based, over the whole record) of a record whose source
    content is ``content`` (bytes, or a ``blake2b(content, digest_size=9)`` object already fed them)."""
    suffix = _SUFFIXES[position] if position < 16 and not salt else b"#" + str(position).encode() + (b"#" + str(salt).encode() if salt else b"")
    if type(content) is bytes:
        # one hash over the joined bytes: the same digest as feeding the two parts, and half the time
        return _blake2b(content + suffix, digest_size=9).digest().translate(_TABLE).decode("ascii")
    h = content.copy()
    h.update(suffix)
    return h.digest().translate(_TABLE).decode("ascii")


_blake2b = hashlib.blake2b
_SUFFIXES = [b"#" + str(k).encode() for k in range(16)]


class CallIds:
    """Hands out the ids of one record's calls: keeps a valid, not yet used input id, otherwise makes one
    from the content digest and the call's position.

    ``reserved`` are the valid ids present anywhere in the input record; generated ids avoid them so
    that a kept id later in the record never clashes with an earlier generated one.
    """

    __slots__ = ("_hash", "_used", "_reserved", "_position")

    def __init__(self, content_key: bytes, reserved: set[str] | None = None) -> None:
        self._hash = hashlib.blake2b(content_key, digest_size=9)
        self._used: set[str] = set()
        self._reserved = reserved or set()
        self._position = 0

    def next(self, given: str | None) -> tuple[str, bool]:
        """The id for the next call, and whether ``given`` was kept as it was."""
        position = self._position
        self._position += 1
        if given is not None and CALL_ID_RE.match(given) and given not in self._used:
            self._used.add(given)
            return given, True
        salt = 0
        while True:
            cid = make_call_id(self._hash, position, salt)
            if cid not in self._used and cid not in self._reserved:
                self._used.add(cid)
                return cid, False
            salt += 1
