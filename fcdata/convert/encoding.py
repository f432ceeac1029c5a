"""The JSON encoders every converter writes with: the same bytes as ``json.dumps(obj, ensure_ascii=False)``,
set up once (a converter encodes several small values per record, and ``json.dumps`` builds a new C
encoder on every call)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ENCODER", "KEY_ENCODER"]


class _Encoder:
    """``json.dumps(obj, ensure_ascii=False)`` without its per-call set-up.

    ``JSONEncoder.encode`` builds a new C encoder on every call, which costs as much as encoding a
    small record; this keeps one. No circular-reference check (records come from JSON, which cannot
    hold cycles; a cycle ends in RecursionError, which converters turn into a rejection). Non-finite
    floats raise ValueError (``allow_nan=False``): they would not be JSON.
    """

    def __init__(self) -> None:
        from json import encoder as _json_encoder

        fallback = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
        make = _json_encoder.c_make_encoder
        basestring = _json_encoder.c_encode_basestring
        if make is None or basestring is None:  # pragma: no cover - CPython always has them
            self.encode = fallback.encode  # type: ignore[method-assign]
            self.string = fallback.encode
            return
        self._c = make(None, fallback.default, basestring, None, ": ", ", ", False, False, False)
        self.string = basestring

    def encode(self, obj: Any) -> str:
        if isinstance(obj, str):
            return self.string(obj)  # type: ignore[no-any-return]
        return "".join(self._c(obj, 0))


ENCODER = _Encoder()
# the source text call ids are derived from (NaN allowed here: it only feeds a hash)
KEY_ENCODER = json.JSONEncoder(ensure_ascii=False)
