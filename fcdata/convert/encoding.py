"""The JSON encoders every converter writes with: the same bytes as ``json.dumps(obj, ensure_ascii=False)``.

``ENCODER.encode`` is the standard library's encoder, set up once (no circular-reference check: records
come from JSON, which cannot hold cycles; a cycle ends in RecursionError, which converters turn into a
rejection; non-finite floats raise ValueError, ``allow_nan=False``, since they would not be JSON).
``ENCODER.string`` writes a str as a JSON string literal.

An encoder kept alive across calls through CPython's private ``json.encoder.c_make_encoder`` used to
stand here, to skip the set-up ``JSONEncoder.encode`` does on every call. Measured on the benchmark's
repeated corpus (50,000 records, 7 interleaved rounds, CPU time of ``convert_files`` on one process,
2-core machine at load 4-6), it was worth nothing measurable: the public encoder came out 3.8% faster
on the best runs and 8.5% slower on the median, inside the run-to-run spread and under the 10% of the
command's time a private API would have to earn; so it went. ``orjson`` cannot stand in: it writes
``{"a":1}`` where ``json.dumps`` writes ``{"a": 1}``, and the bytes of the output must not change.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any, Callable

__all__ = ["ENCODER", "KEY_ENCODER"]


class _Encoder:
    """``encode(obj)``: ``json.dumps(obj, ensure_ascii=False)``; ``string(s)``: a str as a JSON string."""

    __slots__ = ("encode", "string")

    def __init__(self) -> None:
        self.encode: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False).encode
        self.string: Callable[[str], str] = encode_basestring


ENCODER = _Encoder()
# the source text call ids are derived from (NaN allowed here: it only feeds a hash)
KEY_ENCODER = json.JSONEncoder(ensure_ascii=False)
