"""Mistral tokenizers used directly: text segments in, ids out, SentencePiece and Tekken behind one interface.

Rendering never builds one big prompt string and re-tokenizes it: every text segment (a user message, a
call JSON, a tools block) is encoded on its own, exactly as mistral-common does, and the control ids
(``[INST]``, ``[TOOL_CALLS]``, ...) are spliced in between. Neither backend ever emits a control id for
text, so a user who types ``"[INST]"`` or ``"<s>"`` gets plain-text tokens.

Two backends, one interface (:class:`Tokenizer`):

- :class:`SentencePieceTokenizer`: ``tokenizer.model.v3`` / ``.v7`` ... (Mistral 7B v0.3, Mistral Large
  2411). SentencePiece writes a space as "▁" and puts one "▁" in front of every non-empty segment.
- :class:`TekkenTokenizer`: ``tekken.json`` (Mistral NeMo, Small 3, Small 3.1/3.2, Magistral, Devstral
  ...), a byte-level BPE run by ``tiktoken``; no prefix, the first ``num_special_tokens`` ids are the
  control tokens and text ids come after them.

Versions are read from the file as mistral-common reads them (``config.version`` of a ``tekken.json``,
the ``.model.vN`` suffix of a SentencePiece file); a bare ``tokenizer.model`` (the Hugging Face name),
which mistral-common takes for v1, is told v3/v2/v1 apart by its control pieces (ids 1..13), as the
v0.3 repositories ship it under that name too. :func:`load_tokenizer` takes a file or a model folder
(``tekken.json`` wins, as in mistral-common, then the highest ``tokenizer.model.vN``, then
``tokenizer.model``); nothing: the v3 model shipped inside mistral-common. What a version can render is
the renderer's business (:mod:`fcdata.render.encoders`); the tokenizer only says which control tokens it
has (:meth:`Tokenizer.special`).

Speed. SentencePiece encodes ~0.8M tokens/s on one core, and a renderer built on it is bounded by that.
Two caches make it faster without changing a single id:

- a *word* cache (SentencePiece only). The v3/v7 vocabularies have no piece with a "▁" after another
  character, so no BPE merge crosses the start of a space-separated word: the ids of a text are the ids
  of its words (a word with the spaces before it) one after the other, and words repeat across records
  far more than whole texts do. The vocabulary condition is checked when the model loads (a model that
  breaks it encodes whole texts), texts holding a literal "▁" are encoded whole, and tests compare both
  paths on random and real text. Tekken needs none: ``tiktoken`` already runs at about twice
  SentencePiece's speed in native code, and a Python-side word split costs more than it saves.
- a *segment* cache (:class:`SegmentCache`) for long texts that recur whole: tools blocks, system prompts.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from functools import lru_cache
from typing import Any, Callable, Iterable, Sequence

from .errors import TokenizerError

__all__ = [
    "Tokenizer",
    "SentencePieceTokenizer",
    "TekkenTokenizer",
    "MistralV3Tokenizer",
    "SegmentCache",
    "load_tokenizer",
    "default_tokenizer_path",
    "V3_CONTROL_PIECES",
    "VERSIONS",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "mistral_instruct_tokenizer_240323.model.v3"

# the instruct versions mistral-common knows, in order (mistral_common.tokens.tokenizers.base.TokenizerVersion)
VERSIONS = ("v1", "v2", "v3", "v7", "v11", "v13", "v15")

# id -> piece of the Mistral v0.3 SentencePiece control tokens (mistral-common SpecialTokens)
V3_CONTROL_PIECES: dict[int, str] = {
    1: "<s>",
    2: "</s>",
    3: "[INST]",
    4: "[/INST]",
    5: "[TOOL_CALLS]",
    6: "[AVAILABLE_TOOLS]",
    7: "[/AVAILABLE_TOOLS]",
    8: "[TOOL_RESULTS]",
    9: "[/TOOL_RESULTS]",
}
# control pieces that tell a v3 SentencePiece model from v2, whose ids 0..9 are the same
V3_ONLY_PIECES: dict[int, str] = {10: "[IMG]", 11: "[PREFIX]", 12: "[MIDDLE]", 13: "[SUFFIX]"}

# attribute name -> the control token's piece (mistral_common SpecialTokens); absent ones are None
_SPECIALS: dict[str, str] = {
    "bos_id": "<s>",
    "eos_id": "</s>",
    "inst_id": "[INST]",
    "inst_end_id": "[/INST]",
    "tool_calls_id": "[TOOL_CALLS]",
    "tools_id": "[AVAILABLE_TOOLS]",
    "tools_end_id": "[/AVAILABLE_TOOLS]",
    "results_id": "[TOOL_RESULTS]",
    "results_end_id": "[/TOOL_RESULTS]",
    "system_id": "[SYSTEM_PROMPT]",
    "system_end_id": "[/SYSTEM_PROMPT]",
    "tool_content_id": "[TOOL_CONTENT]",
    "args_id": "[ARGS]",
    "call_id_id": "[CALL_ID]",
    "settings_id": "[MODEL_SETTINGS]",
    "settings_end_id": "[/MODEL_SETTINGS]",
}

_SPACE_PIECE = "\u2581"
# a word: the spaces before it and the non-spaces of it; or the spaces that end the text
_WORDS = re.compile(r" *[^ ]+| +$")


def default_tokenizer_path() -> str:
    """The v3 model file shipped inside the installed mistral-common wheel (found offline)."""
    import importlib.util

    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerError("mistral-common is not installed; pass --tokenizer PATH to a tokenizer file or model folder")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", DEFAULT_MODEL_NAME)
    if not os.path.isfile(path):
        raise TokenizerError(f"{path}: the v3 tokenizer file is missing from this mistral-common install")
    return path


class SegmentCache:
    """Encoded text segments by their text, bounded by a total number of tokens (oldest dropped first).

    Only segments of at least ``min_chars`` characters are kept: short ones are cheap to encode, and long
    ones that recur whole (a tools block, a system prompt) are what pays."""

    def __init__(self, max_tokens: int = 1_000_000, min_chars: int = 256) -> None:
        self.max_tokens = max_tokens
        self.min_chars = min_chars
        self._data: dict[str, list[int]] = {}
        self._tokens = 0
        self.hits = 0
        self.misses = 0

    def get(self, text: str) -> list[int] | None:
        ids = self._data.get(text)
        if ids is None:
            self.misses += 1
        else:
            self.hits += 1
        return ids

    def put(self, text: str, ids: list[int]) -> None:
        if len(text) < self.min_chars or len(ids) > self.max_tokens or text in self._data:
            return
        self._data[text] = ids
        self._tokens += len(ids)
        while self._tokens > self.max_tokens:
            oldest = next(iter(self._data))
            self._tokens -= len(self._data.pop(oldest))

    def clear(self) -> None:
        self._data.clear()
        self._tokens = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


class Tokenizer:
    """What the renderer needs from a Mistral tokenizer, whatever its backend.

    ``encode(text)`` gives the ids of one text segment with no BOS/EOS (mistral-common's
    ``tokenizer.encode(s, bos=False, eos=False)``); ``encode_batch`` encodes many (each distinct text
    once, long recurring ones from the :class:`SegmentCache`). Control ids are attributes (``bos_id``,
    ``inst_id``, ``tool_calls_id``, ``system_id``, ``args_id``, ... ``None`` when the vocabulary has no
    such token). Token positions inside a segment are located by adding ``piece_lengths[id]``, the
    length a token covers in :meth:`text_units` (0 for control tokens); a non-empty segment's lengths
    add up to ``text_units(text) + prefix_units``. The renderer checks that sum for every segment it
    splits.
    """

    backend = "?"
    prefix_units = 0
    bos_id: int
    eos_id: int
    inst_id: int | None
    inst_end_id: int | None
    tool_calls_id: int | None
    tools_id: int | None
    tools_end_id: int | None
    results_id: int | None
    results_end_id: int | None
    system_id: int | None
    system_end_id: int | None
    tool_content_id: int | None
    args_id: int | None
    call_id_id: int | None
    settings_id: int | None
    settings_end_id: int | None

    path: str
    version: str
    vocab_size: int
    control_ids: frozenset[int]
    piece_lengths: list[int]
    cache: SegmentCache

    def _set_specials(self, lookup: Callable[[str], int | None]) -> None:
        for attr, piece in _SPECIALS.items():
            setattr(self, attr, lookup(piece))

    def special(self, piece: str) -> int | None:
        """The id of a control token by its piece (``"[ARGS]"``), ``None`` when this vocabulary has none."""
        for attr, p in _SPECIALS.items():
            if p == piece:
                return getattr(self, attr)  # type: ignore[no-any-return]
        return None

    @property
    def has_instruct_tokens(self) -> bool:
        return self.inst_id is not None and self.inst_end_id is not None

    @property
    def version_number(self) -> int:
        return int(self.version[1:])

    # ---------------------------------------------------------------------------------- encoding

    def _encode_one(self, text: str) -> list[int]:
        raise NotImplementedError

    def text_units(self, text: str) -> int:
        """The length of ``text`` in the units of :attr:`piece_lengths`."""
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        """The ids of one text segment, without BOS/EOS (``""`` gives ``[]``)."""
        try:
            return self._encode_one(text)
        except (RuntimeError, UnicodeEncodeError, TypeError, ValueError) as exc:
            raise TokenizerError(f"cannot encode text {text[:40]!r}: {exc}") from exc

    def encode_batch(self, texts: Sequence[str], *, use_cache: bool = True) -> list[list[int]]:
        """The ids of many segments, in order; each distinct text is encoded once, long ones that recur
        come from the segment cache. The lists returned may be shared: do not modify them."""
        out: list[list[int]] = []
        done: dict[str, list[int]] = {}
        cache = self.cache if use_cache else None
        min_chars = cache.min_chars if cache is not None else 1 << 62
        encode = self.encode
        for text in texts:
            ids = done.get(text)
            if ids is None:
                if len(text) >= min_chars:
                    ids = cache.get(text)  # type: ignore[union-attr]
                    if ids is None:
                        ids = encode(text)
                        cache.put(text, ids)  # type: ignore[union-attr]
                else:
                    ids = encode(text)
                done[text] = ids
            out.append(ids)
        return out

    def clear_caches(self) -> None:
        """Forget every cached word and segment (for benchmarks that must start cold)."""
        self.cache.clear()

    # ---------------------------------------------------------------------------------- decoding

    def piece_bytes(self, token_id: int) -> bytes:
        """The bytes of text a token stands for (a control token: its piece)."""
        raise NotImplementedError

    def id_to_piece(self, token_id: int) -> str:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; control tokens are dropped (as mistral-common's default policy does)."""
        raise NotImplementedError

    def piece_text(self, token_id: int) -> str:
        """What a token shows as: control tokens as their piece (``[INST]``), text as its characters."""
        if self.is_control(token_id):
            return self.id_to_piece(token_id)
        return self.piece_bytes(token_id).decode("utf-8", errors="replace")

    def is_control(self, token_id: int) -> bool:
        return int(token_id) in self.control_ids

    # ---------------------------------------------------------------------------------- capability

    @property
    def supports_tools(self) -> bool:
        """Whether this tokenizer's version and vocabulary can encode tools, calls and results."""
        from .render.encoders import encoder_class

        cls = encoder_class(self.version)
        return cls is not None and cls.can_encode_tools(self)

    def require(self, *, instruct: bool = False, tools: bool = False, what: str = "this record") -> None:
        """Raise :class:`TokenizerError` unless this tokenizer can render ``what`` (kept for callers
        that check before rendering; the renderer's encoders make the same checks)."""
        from .render.encoders import encoder_for

        encoder = encoder_for(self)
        if instruct:
            encoder.require_instruct(what)
        if tools:
            encoder.require_tools(what)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        # worker processes reload the model from its file (with fresh caches) instead of pickling it
        return (_rebuild, (self.path, self.version))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r}, version={self.version!r}, vocab_size={self.vocab_size})"


class SentencePieceTokenizer(Tokenizer):
    """A SentencePiece model (``tokenizer.model.vN``): Mistral 7B v0.1-v0.3, Mistral Large 2411 (v7).

    ``piece_lengths[id]`` counts UTF-8 bytes of SentencePiece's view of the text (a space written as "▁",
    3 bytes; a byte token 1): the Mistral models' normaliser is the identity apart from that escaping,
    and the one "▁" put in front of a segment stands for no input (``prefix_units`` = 3).
    """

    backend = "sentencepiece"
    prefix_units = 3

    def __init__(self, path: str, *, version: str | None = None, cache: SegmentCache | None = None, word_cache_size: int = 200_000) -> None:
        import sentencepiece as spm

        self.path = os.fspath(path)
        try:
            self._sp = spm.SentencePieceProcessor(model_file=self.path)
        except (OSError, RuntimeError) as exc:
            raise TokenizerError(f"{self.path}: not a SentencePiece model ({exc})") from exc
        sp = self._sp
        self.vocab_size = sp.vocab_size()
        self.cache = cache if cache is not None else SegmentCache()
        pieces = {i: sp.id_to_piece(i) for i in range(min(14, self.vocab_size))}
        self.has_v3_control_pieces = all(pieces.get(i) == p and sp.IsControl(i) for i, p in V3_CONTROL_PIECES.items())
        self.has_v3_markers = all(pieces.get(i) == piece for i, piece in V3_ONLY_PIECES.items())  # v3+ name ids 10..13
        instruct = all(pieces.get(i) == V3_CONTROL_PIECES[i] and sp.IsControl(i) for i in range(1, 5))
        if version is None:  # a bare tokenizer.model: told apart by its control pieces
            version = "v3" if self.has_v3_control_pieces and self.has_v3_markers else ("v2" if instruct else "v1")
            later = [p for p in ("[SYSTEM_PROMPT]", "[TOOL_CONTENT]") if sp.piece_to_id(p) != sp.unk_id() and sp.IsControl(sp.piece_to_id(p))]
            if later:
                # v7's control tokens: rendered as v3 it would silently lose the [SYSTEM_PROMPT] layout
                raise TokenizerError(
                    f"{self.path}: a bare tokenizer.model whose control tokens include {' and '.join(later)} (v7 and later), "
                    "but its name does not say its version (mistral-common reads a bare .model as v1); "
                    "name it tokenizer.model.v7 (or the version it is) so that it is rendered as that version"
                )
        self.version = version
        self.control_ids = frozenset(i for i in range(self.vocab_size) if sp.IsControl(i))

        def lookup(piece: str) -> int | None:
            i = sp.piece_to_id(piece)
            return i if i != sp.unk_id() and sp.IsControl(i) else None

        self._set_specials(lookup)
        self.bos_id = sp.bos_id()
        self.eos_id = sp.eos_id()
        self.piece_lengths = [self._piece_length(i) for i in range(self.vocab_size)]
        # the public encode: fcdata once called SentencePiece's private C++ binding (_EncodeAsIds) to skip
        # the wrapper's per-call option handling; measured on the bench_render corpus (5,000 records,
        # prepare --mode single, one process) it gave no gain (0.95x the public API's speed for v3, 0.83x
        # for v7, on a loaded machine), far from the 10% of the command's time it had to be worth, so it went
        self._raw: Callable[[str], list[int]] = sp.encode
        self._words: dict[str, list[int]] = {}
        self.word_cache_size = word_cache_size
        self._space_id = sp.piece_to_id(_SPACE_PIECE)
        self.word_split = self._word_split_holds()

    def _word_split_holds(self) -> bool:
        """Whether ids can be computed word by word: no piece has a "▁" after another character (so no
        merge crosses a word start), "▁" alone is a piece, and a probe encodes the same both ways."""
        sp = self._sp
        if self._space_id == sp.unk_id():
            return False
        for i in range(self.vocab_size):
            if _SPACE_PIECE in sp.id_to_piece(i).lstrip(_SPACE_PIECE):
                return False
        probe = "  Hello  world, {\"a\": 1}\n\n x  y   "
        return self._encode_words(probe) == self._raw(probe)

    def _piece_length(self, i: int) -> int:
        sp = self._sp
        if sp.IsControl(i):
            return 0
        if sp.IsByte(i):
            return 1
        if sp.IsUnknown(i):
            return -(1 << 30)  # makes any offset check fail loudly: an unknown token hides its text
        return len(sp.id_to_piece(i).encode("utf-8"))

    def text_units(self, text: str) -> int:
        """UTF-8 bytes with each space escaped as "▁" (3 bytes): a space and a literal "▁" in the text
        both become the same "▁" inside pieces."""
        n = len(text) if text.isascii() else len(text.encode("utf-8"))
        return n + 2 * text.count(" ")

    def _encode_words(self, text: str) -> list[int]:
        """``encode`` word by word through the word cache (see the module doc)."""
        if not text:
            return []
        if _SPACE_PIECE in text:
            return self._raw(text)  # a literal "▁" could merge with the spaces around it: encode whole
        words = self._words
        if len(words) >= self.word_cache_size:
            words.clear()
        raw = self._raw
        space = self._space_id
        out: list[int] = []
        # the "▁" SentencePiece puts in front of a text plays the part of the space before the first word,
        # so every word is looked up with one leading space more than SentencePiece is given
        for unit in _WORDS.findall(" " + text):
            ids = words.get(unit)
            if ids is None:
                ids = words[unit] = raw(unit[1:]) if len(unit) > 1 else [space]
            out += ids
        return out

    def _encode_one(self, text: str) -> list[int]:
        return self._encode_words(text) if self.word_split else self._raw(text)

    def clear_caches(self) -> None:
        self._words.clear()
        self.cache.clear()

    def decode(self, ids: Iterable[int]) -> str:
        return self._sp.decode([int(i) for i in ids if int(i) not in self.control_ids])  # type: ignore[no-any-return]

    def id_to_piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(int(token_id))  # type: ignore[no-any-return]

    def piece_bytes(self, token_id: int) -> bytes:
        piece = self._sp.id_to_piece(int(token_id))
        if self._sp.IsByte(int(token_id)):
            return bytes([int(piece[3:5], 16)])  # "<0x0A>"
        return piece.replace(_SPACE_PIECE, " ").encode("utf-8")  # type: ignore[no-any-return]

    def piece_text(self, token_id: int) -> str:
        """Control tokens as their piece (``[INST]``), ``▁`` as a space, byte tokens as ``<0x0A>``."""
        return self._sp.id_to_piece(int(token_id)).replace(_SPACE_PIECE, " ")  # type: ignore[no-any-return]


class TekkenTokenizer(Tokenizer):
    """A Tekken tokenizer (``tekken.json``): byte-level BPE run by ``tiktoken``, as mistral-common's
    ``Tekkenizer`` runs it.

    The file holds the BPE vocabulary (``vocab``: rank, base64 bytes), the pre-tokenizer regex, the
    number of control tokens in front of the text ids (``default_num_special_tokens``), the vocabulary
    size and, from v7 on, the control tokens themselves (``special_tokens``; older files use
    mistral-common's fixed list). The BPE ranks are loaded shifted by the number of control tokens, so
    ``tiktoken`` returns final ids with no per-token addition (shifting every rank keeps their order,
    hence every merge). ``piece_lengths`` are byte lengths; there is no prefix.
    """

    backend = "tekken"
    prefix_units = 0

    # mistral_common Tekkenizer.DEPRECATED_SPECIAL_TOKENS: the control tokens of files that list none
    LEGACY_SPECIAL_TOKENS = (
        "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
        "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]",
        "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]",
    )  # fmt: skip

    def __init__(self, path: str, *, cache: SegmentCache | None = None, data: dict[str, Any] | None = None) -> None:
        import tiktoken

        self.path = os.fspath(path)
        if data is None:
            data = _read_tekken_json(self.path)
        config = data["config"]
        self.version = config["version"]
        try:
            self.num_special_tokens = int(config["default_num_special_tokens"])
            self.vocab_size = int(config["default_vocab_size"])
        except (TypeError, ValueError) as exc:
            raise TokenizerError(f"{self.path}: the Tekken config's sizes must be integers ({exc})") from exc
        inner = self.vocab_size - self.num_special_tokens
        try:
            vocab = data["vocab"][:inner]
            ranks = {base64.b64decode(entry["token_bytes"]): int(entry["rank"]) + self.num_special_tokens for entry in vocab}
            if len(ranks) != inner or len(vocab) != inner:
                raise ValueError(f"{len(vocab)} vocabulary entries for a vocabulary of {inner} text tokens")
            self._model = tiktoken.Encoding(name=os.path.basename(self.path), pat_str=config["pattern"], mergeable_ranks=ranks, special_tokens={})
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenizerError(f"{self.path}: not a usable Tekken vocabulary ({exc})") from exc
        listed = data.get("special_tokens")
        try:
            if listed is None:
                specials = list(self.LEGACY_SPECIAL_TOKENS)
            else:
                specials = [str(t["token_str"]) for t in sorted(listed, key=lambda t: int(t["rank"]))]
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenizerError(f"{self.path}: special_tokens must be a list of {{\"rank\", \"token_str\"}} objects ({exc.__class__.__name__}: {exc})") from exc
        specials += [f"<SPECIAL_{i}>" for i in range(len(specials), self.num_special_tokens)]
        self._specials = specials
        by_piece = {p: i for i, p in enumerate(specials)}
        missing = [p for p in ("<s>", "</s>") if p not in by_piece]
        if missing:
            raise TokenizerError(f"{self.path}: the special tokens have no {' and no '.join(missing)}, which every Mistral tokenizer has")
        self._set_specials(by_piece.get)
        self.bos_id = by_piece["<s>"]
        self.eos_id = by_piece["</s>"]
        self.control_ids = frozenset(range(self.num_special_tokens))
        self.cache = cache if cache is not None else SegmentCache()
        self._bytes: list[bytes] = [b""] * self.vocab_size
        for token_bytes, rank in ranks.items():
            self._bytes[rank] = token_bytes
        self.piece_lengths = [len(b) for b in self._bytes]
        self.model_settings_builder = data.get("model_settings_builder")

    def _encode_one(self, text: str) -> list[int]:
        return self._model.encode_ordinary(text)  # type: ignore[no-any-return]

    def text_units(self, text: str) -> int:
        return len(text) if text.isascii() else len(text.encode("utf-8"))

    def decode(self, ids: Iterable[int]) -> str:
        n = self.num_special_tokens
        return b"".join(self._bytes[int(i)] for i in ids if int(i) >= n).decode("utf-8", errors="replace")

    def id_to_piece(self, token_id: int) -> str:
        token_id = int(token_id)
        if token_id < self.num_special_tokens:
            return self._specials[token_id]
        return self._bytes[token_id].decode("utf-8", errors="replace")

    def piece_bytes(self, token_id: int) -> bytes:
        token_id = int(token_id)
        if token_id < self.num_special_tokens:
            return self._specials[token_id].encode("utf-8")
        return self._bytes[token_id]

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (_rebuild, (self.path, "tekken"))


MistralV3Tokenizer = Tokenizer  # the name this interface had when fcdata rendered v3 alone


def _read_tekken_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenizerError(f"{path}: cannot read the Tekken tokenizer: {exc}") from exc
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict) or not isinstance(data.get("vocab"), list):
        raise TokenizerError(f"{path}: not a Tekken tokenizer (no \"config\" and \"vocab\")")
    version = config.get("version")
    if version not in VERSIONS:
        raise TokenizerError(f"{path}: unknown Tekken tokenizer version {version!r} (mistral-common knows {', '.join(VERSIONS)})")
    for key in ("pattern", "default_vocab_size", "default_num_special_tokens"):
        if key not in config:
            raise TokenizerError(f"{path}: the Tekken config has no {key!r}")
    if data.get("special_tokens") is None and VERSIONS.index(version) > VERSIONS.index("v7"):
        raise TokenizerError(f"{path}: a {version} Tekken file must list its special_tokens (mistral-common refuses it too)")
    return data  # type: ignore[no-any-return]


def _rebuild(path: str, version: str) -> Tokenizer:
    if version == "tekken":
        return TekkenTokenizer(path)
    return SentencePieceTokenizer(path, version=version)


def _version_from_name(name: str) -> str | None:
    """``v3`` from ``*.model.v3`` (``v7`` from ``*.model.v7m1``); ``None`` for a bare ``*.model``."""
    last = name.rsplit(".", 1)[-1]
    if name.endswith(".model") or not last.startswith("v"):
        return None
    return "v" + last[1:].split("m", 1)[0]


_SPM_NAME = re.compile(r"[^.]*\.model(\.v\d+(m\d+)?)?")


def _pick_in_folder(path: str) -> str:
    """The tokenizer file of a model folder, chosen as mistral-common chooses among a repository's files
    (``get_one_valid_tokenizer_file``): ``tekken.json`` wins; else the last SentencePiece file
    (``*.model`` or ``*.model.vN``) in name order."""
    names = sorted(os.listdir(path))
    if "tekken.json" in names:
        return os.path.join(path, "tekken.json")
    spm = [n for n in names if _SPM_NAME.fullmatch(n) and os.path.isfile(os.path.join(path, n))]
    if spm:
        return os.path.join(path, spm[-1])
    found = [n for n in names if n.startswith("tokenizer") or n.startswith("tekken")]
    hint = f" (found: {', '.join(found)})" if found else ""
    raise TokenizerError(f"{path}: no tekken.json, tokenizer.model.vN or tokenizer.model in this folder{hint}")


def _resolve(path: str) -> tuple[str, str | None]:
    """The file to load and what its name declares: ``"tekken"`` or a SentencePiece version (``None``
    for a bare ``*.model``)."""
    if os.path.isdir(path):
        return _resolve(_pick_in_folder(path))
    if not os.path.exists(path):
        raise TokenizerError(f"{path}: no such tokenizer file or folder")
    name = os.path.basename(path)
    if name.endswith(".json"):
        return path, "tekken"
    version = _version_from_name(name)
    if version is not None and version not in VERSIONS:
        raise TokenizerError(f"{path}: unknown tokenizer version {version!r} in the file name (mistral-common knows {', '.join(VERSIONS)})")
    return path, version


@lru_cache(maxsize=8)
def _load_cached(file: str, declared: str | None, mtime_ns: int, size: int) -> Tokenizer:
    tok: Tokenizer
    if declared == "tekken":
        tok = TekkenTokenizer(file)
    else:
        spm_tok = SentencePieceTokenizer(file, version=declared)
        if declared == "v3" and not spm_tok.has_v3_control_pieces:
            raise TokenizerError(f"{file}: named as a v3 tokenizer but ids 1..9 are not the v3 control tokens {list(V3_CONTROL_PIECES.values())}")
        if declared == "v3" and not spm_tok.has_v3_markers:
            raise TokenizerError(f"{file}: named as a v3 tokenizer but ids 10..13 are not v3's {list(V3_ONLY_PIECES.values())} (a v2 model?)")
        tok = spm_tok
    log.debug("loaded %r", tok)
    return tok


def load_tokenizer(path: str | os.PathLike[str] | None = None) -> Tokenizer:
    """Load a tokenizer file or model folder (``None``: the v3 model shipped in mistral-common). A file is
    loaded once per process (and again if it changes on disk); the tokenizer, with its caches, is shared."""
    resolved = default_tokenizer_path() if path is None else os.path.abspath(os.fspath(path))
    file, declared = _resolve(resolved)
    try:
        st = os.stat(file)
    except OSError as exc:
        raise TokenizerError(f"{file}: cannot read the tokenizer: {exc.strerror or exc}") from exc
    return _load_cached(file, declared, st.st_mtime_ns, st.st_size)


def model_tokenizer(model: str | os.PathLike[str] | None, tokenizer: str | os.PathLike[str] | None = None) -> str | None:
    """Which tokenizer goes with a model, so that its version need not be given twice: ``tokenizer`` when
    given; for an ``fcdata train`` run folder, the tokenizer its ``tokenizer.json`` records; for a model
    folder holding a tokenizer file (``tekken.json``, ``tokenizer.model*``), that folder; else ``None``
    (the v3 tokenizer shipped in mistral-common, right for the built-in models)."""
    if tokenizer is not None:
        return os.fspath(tokenizer)
    if model is None or not os.path.isdir(model):
        return None
    model = os.fspath(model)
    recorded = os.path.join(model, "tokenizer.json")
    if os.path.isfile(os.path.join(model, "config.yaml")) and os.path.isfile(recorded):
        try:
            with open(recorded, encoding="utf-8") as fh:
                path = json.load(fh).get("path")
        except (OSError, ValueError, AttributeError):
            path = None
        if isinstance(path, str) and os.path.exists(path):
            return path
    names = os.listdir(model)
    if "tekken.json" in names or any(_SPM_NAME.fullmatch(n) for n in names):
        return model
    return None
