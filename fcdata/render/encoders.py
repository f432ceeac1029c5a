"""Which encoder renders a tokenizer's version: the one table of versions.

| version | encoder | mistral-common | models (examples) |
|---|---|---|---|
| v1 | :class:`~fcdata.render.v3.EncoderV1` | ``InstructTokenizerV1`` | Mistral 7B v0.1 (``{"text"}`` records only) |
| v2 | :class:`~fcdata.render.v3.EncoderV2` | ``InstructTokenizerV2`` | Mixtral 8x22B v0.1 (records without tools) |
| v3 | :class:`~fcdata.render.v3.EncoderV3` | ``InstructTokenizerV3`` | Mistral 7B v0.3 (SentencePiece), Mistral NeMo (Tekken) |
| v7 | :class:`~fcdata.render.v7.EncoderV7` | ``InstructTokenizerV7`` | Mistral Large 2411 (SentencePiece), Mistral Small 3 / 3.1 (Tekken) |
| v11 | :class:`~fcdata.render.v11.EncoderV11` | ``InstructTokenizerV11`` | Mistral Small 3.2, Magistral 2506 |
| v13 | :class:`~fcdata.render.v13.EncoderV13` | ``InstructTokenizerV13`` | Devstral / Magistral 2507 and later |
| v15 | :class:`~fcdata.render.v15.EncoderV15` | ``InstructTokenizerV15`` | models with a reasoning-effort setting (the builder's defaults) |
"""

from __future__ import annotations

from ..errors import TokenizerError
from ..tokenizer import Tokenizer
from .v3 import EncoderV1, EncoderV2, EncoderV3
from .v7 import EncoderV7
from .v11 import EncoderV11
from .v13 import EncoderV13
from .v15 import EncoderV15

__all__ = ["ENCODERS", "encoder_class", "encoder_for"]

ENCODERS: dict[str, type[EncoderV3]] = {
    "v1": EncoderV1,
    "v2": EncoderV2,
    "v3": EncoderV3,
    "v7": EncoderV7,
    "v11": EncoderV11,
    "v13": EncoderV13,
    "v15": EncoderV15,
}

_BY_TOKENIZER: dict[int, EncoderV3] = {}


def encoder_class(version: str) -> type[EncoderV3] | None:
    return ENCODERS.get(version)


def encoder_for(tok: Tokenizer) -> EncoderV3:
    """The encoder of a tokenizer's version (one per loaded tokenizer)."""
    encoder = _BY_TOKENIZER.get(id(tok))
    if encoder is not None and encoder.tok is tok:
        return encoder
    cls = ENCODERS.get(tok.version)
    if cls is None:
        raise TokenizerError(f"{tok.path}: a {tok.version} tokenizer; fcdata renders {', '.join(ENCODERS)}")
    encoder = _BY_TOKENIZER[id(tok)] = cls(tok)
    return encoder
