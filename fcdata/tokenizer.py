"""The Mistral v0.3 ("v3") SentencePiece tokenizer, used directly: text segments in, ids out.

Rendering never builds one big prompt string and re-tokenizes it: every text segment (a user message, a
call JSON, a tools block) is encoded on its own, exactly as mistral-common does, and the control ids
(``[INST]``, ``[TOOL_CALLS]``, ...) are spliced in between. SentencePiece never emits a control id for
text, so a user who types ``"[INST]"`` or ``"<s>"`` gets plain-text tokens.

Which files are accepted (:func:`load_tokenizer`):

- nothing: the v3 model shipped inside mistral-common
  (``mistral_common/data/mistral_instruct_tokenizer_240323.model.v3``), so nothing is downloaded;
- a ``*.model.v3`` file, or a bare ``tokenizer.model`` (the Hugging Face name) whose ids 1..13 are the v3
  control pieces ``<s> </s> [INST] [/INST] [TOOL_CALLS] [AVAILABLE_TOOLS] [/AVAILABLE_TOOLS]
  [TOOL_RESULTS] [/TOOL_RESULTS] [IMG] [PREFIX] [MIDDLE] [SUFFIX]`` (ids 1..9 alone do not tell v3 from
  v2, whose ids 10..13 are unnamed controls);
- a Hugging Face model directory holding one of those;
- a ``*.model.v2`` file (or a bare ``tokenizer.model`` that is one): same vocabulary, but v2 encodes tool history differently, so it is refused for
  data with tools; a v1 model (no ``[INST]`` control token, Mistral 7B v0.1/v0.2) can only render
  ``{"text"}`` records. These refusals happen when such data is rendered (:meth:`require`), with a
  :class:`~fcdata.errors.TokenizerError` that names the file.
- Tekken (``tekken.json``) and v7+ SentencePiece files use other layouts and are refused at load.

Speed. SentencePiece encodes ~0.8M tokens/s on one core. Two caches make rendering faster than that
without changing a single id:

- a *word* cache. SentencePiece writes a space as "▁" and the v3 vocabulary has no piece with a "▁" after
  another character, so no BPE merge crosses the start of a space-separated word: the ids of a text are
  the ids of its words (a word with the spaces before it) one after the other. Words repeat across
  records far more than whole texts do (JSON keys, function names, common words), so each distinct word
  is encoded once. The vocabulary condition is checked when the model loads (a model that breaks it
  encodes whole texts), texts holding a literal "▁" are encoded whole, and tests compare both paths on
  random and real text.
- a *segment* cache (:class:`SegmentCache`) for long texts that recur whole: tools blocks, system prompts.
"""

from __future__ import annotations

import logging
import os
import re
from functools import lru_cache
from typing import Callable, Iterable, Sequence

from .errors import TokenizerError

__all__ = ["MistralV3Tokenizer", "SegmentCache", "load_tokenizer", "default_tokenizer_path", "V3_CONTROL_PIECES"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "mistral_instruct_tokenizer_240323.model.v3"

# id -> piece of the Mistral v0.3 control tokens (mistral-common SpecialTokens)
# control pieces that tell v3 from v2, whose ids 0..9 are the same
V3_ONLY_PIECES: dict[int, str] = {10: "[IMG]", 11: "[PREFIX]", 12: "[MIDDLE]", 13: "[SUFFIX]"}
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

_SPACE_PIECE = "\u2581"
# a word: the spaces before it and the non-spaces of it; or the spaces that end the text
_WORDS = re.compile(r" *[^ ]+| +$")


def default_tokenizer_path() -> str:
    """The v3 model file shipped inside the installed mistral-common wheel (found offline)."""
    import importlib.util

    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerError("mistral-common is not installed; pass --tokenizer PATH to a tokenizer.model.v3")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", DEFAULT_MODEL_NAME)
    if not os.path.isfile(path):
        raise TokenizerError(f"{path}: the v3 tokenizer file is missing from this mistral-common install")
    return path


class SegmentCache:
    """Encoded text segments by their text, bounded by a total number of tokens (oldest dropped first).

    Only segments of at least ``min_chars`` characters are kept: short ones are cheap to encode from the
    word cache, and long ones that recur whole (a tools block, a system prompt) are what pays."""

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


class MistralV3Tokenizer:
    """A SentencePiece model with the Mistral v0.3 control ids as attributes.

    ``encode(text)`` gives the ids of one text segment with no BOS/EOS (what mistral-common's
    ``tokenizer.encode(s, bos=False, eos=False)`` gives); ``encode_batch`` encodes many segments (each
    distinct one once, long recurring ones from the :class:`SegmentCache`). ``piece_lengths[id]`` is how
    many UTF-8 bytes of SentencePiece's view of the text a token covers (spaces written as "▁", 3 bytes;
    0 for control tokens): it lets the renderer map tokens back to characters of a segment (the v3
    model's normaliser is the identity apart from that escaping; the renderer checks the sums).
    """

    bos_id = 1
    eos_id = 2
    inst_id = 3
    inst_end_id = 4
    tool_calls_id = 5
    tools_id = 6
    tools_end_id = 7
    results_id = 8
    results_end_id = 9
    unk_id = 0

    def __init__(self, path: str, *, version: str | None = None, cache: SegmentCache | None = None, word_cache_size: int = 200_000) -> None:
        import sentencepiece as spm

        self.path = os.fspath(path)
        try:
            self._sp = spm.SentencePieceProcessor(model_file=self.path)
        except (OSError, RuntimeError) as exc:
            raise TokenizerError(f"{self.path}: not a SentencePiece model ({exc})") from exc
        sp = self._sp
        self.vocab_size: int = sp.vocab_size()
        self.cache = cache if cache is not None else SegmentCache()
        pieces = {i: sp.id_to_piece(i) for i in range(min(14, self.vocab_size))}
        self.has_instruct_tokens = all(i < self.vocab_size and pieces[i] == V3_CONTROL_PIECES[i] and sp.IsControl(i) for i in range(1, 5))
        has_tool_tokens = self.has_instruct_tokens and all(i < self.vocab_size and pieces[i] == V3_CONTROL_PIECES[i] and sp.IsControl(i) for i in range(5, 10))
        # v2 (mistral_instruct_tokenizer_240216) has the same ids 0..9 as v3; v3 alone names 10..13
        has_v3_markers = all(pieces.get(i) == piece for i, piece in V3_ONLY_PIECES.items())
        self.has_v3_markers = has_v3_markers
        if version is None:
            version = "v3" if has_tool_tokens and has_v3_markers else ("v2" if self.has_instruct_tokens else "v1")
        self.version = version
        self.supports_tools = has_tool_tokens and version == "v3"
        self.control_ids = frozenset(i for i in range(self.vocab_size) if sp.IsControl(i))
        self.piece_lengths: list[int] = [self._piece_length(i) for i in range(self.vocab_size)]
        self._raw = self._fast_encoder()
        self._words: dict[str, list[int]] = {}
        self.word_cache_size = word_cache_size
        self._space_id = sp.piece_to_id(_SPACE_PIECE)
        self.word_split = self._word_split_holds()

    def _fast_encoder(self) -> Callable[[str], list[int]]:
        """SentencePiece's C++ ``EncodeAsIds`` without the Python wrapper's per-call option handling
        (~2.5 us a call); the public ``encode`` when the binding differs (checked on a sample text)."""
        proc = getattr(self._sp, "_processor", None)
        raw = getattr(proc, "_EncodeAsIds", None)
        if raw is not None:

            def fast(text: str) -> list[int]:
                return raw(text, False, 0, 0.0, False, False, False)

            try:
                probe = "Hello ▁ [INST] 日本 😀\n\n x"
                if fast(probe) == self._sp.encode(probe):
                    return fast
            except Exception:  # an incompatible binding: use the public API
                pass
        return self._sp.encode

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

    # ---------------------------------------------------------------------------------- encoding

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

    def encode(self, text: str) -> list[int]:
        """The ids of one text segment, without BOS/EOS (``""`` gives ``[]``)."""
        try:
            return self._encode_words(text) if self.word_split else self._raw(text)
        except (RuntimeError, UnicodeEncodeError, TypeError) as exc:
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
        self._words.clear()
        self.cache.clear()

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; control tokens are dropped (as mistral-common's default policy does)."""
        return self._sp.decode([int(i) for i in ids if int(i) not in self.control_ids])

    def id_to_piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(int(token_id))

    def piece_text(self, token_id: int) -> str:
        """What a token shows as: control tokens as their piece (``[INST]``), ``▁`` as a space, byte
        tokens as their ``<0x0A>`` piece."""
        return self._sp.id_to_piece(int(token_id)).replace(_SPACE_PIECE, " ")

    def is_control(self, token_id: int) -> bool:
        return int(token_id) in self.control_ids

    # ---------------------------------------------------------------------------------- capability

    def require(self, *, instruct: bool = False, tools: bool = False, what: str = "this record") -> None:
        """Raise :class:`TokenizerError` unless this tokenizer can render ``what``.

        ``instruct``: needs the ``[INST]``/``[/INST]`` control tokens (every chat record); ``tools``: needs
        the v3 tool tokens and v3 layout (records with tools, calls or results).
        """
        if instruct and not self.has_instruct_tokens:
            raise TokenizerError(
                f"{self.path}: a {self.version} tokenizer (no [INST]/[/INST] control tokens, Mistral 7B v0.1/v0.2) "
                f"cannot render {what} in the Mistral v0.3 layout; use a v3 tokenizer (tokenizer.model.v3), "
                "or leave --tokenizer out to use the one shipped in mistral-common"
            )
        if tools and not self.supports_tools:
            raise TokenizerError(
                f"{self.path}: a {self.version} tokenizer has no v3 tool tokens/layout and cannot render {what} "
                "(tools, tool calls or tool results); use a v3 tokenizer (tokenizer.model.v3), or leave "
                "--tokenizer out to use the one shipped in mistral-common"
            )

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        # worker processes reload the model from its file (with fresh caches) instead of pickling it
        return (_rebuild, (self.path, self.version))

    def __repr__(self) -> str:
        return f"MistralV3Tokenizer({self.path!r}, version={self.version!r}, vocab_size={self.vocab_size})"


def _rebuild(path: str, version: str) -> MistralV3Tokenizer:
    return MistralV3Tokenizer(path, version=version)


def _version_from_name(name: str) -> str | None:
    """``v3`` from ``*.model.v3`` (``v7`` from ``*.model.v7m1``); ``None`` for a bare ``*.model``."""
    last = name.rsplit(".", 1)[-1]
    if name.endswith(".model") or not last.startswith("v"):
        return None
    return "v" + last[1:].split("m", 1)[0]


def _resolve(path: str) -> tuple[str, str | None]:
    """The model file to load and the version its name declares."""
    if os.path.isdir(path):
        for name in ("tokenizer.model.v3", "tokenizer.model"):
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                return _resolve(candidate)
        found = sorted(f for f in os.listdir(path) if f.startswith("tokenizer") or f.startswith("tekken"))
        hint = f" (found: {', '.join(found)})" if found else ""
        raise TokenizerError(f"{path}: no tokenizer.model.v3 or tokenizer.model in this folder{hint}")
    if not os.path.exists(path):
        raise TokenizerError(f"{path}: no such tokenizer file or folder")
    name = os.path.basename(path)
    if name.endswith(".json"):
        raise TokenizerError(f"{path}: a Tekken tokenizer (Mistral v7+ models); fcdata renders Mistral v0.3, which needs the v3 SentencePiece model (tokenizer.model.v3)")
    version = _version_from_name(name)
    if version is not None and version not in ("v1", "v2", "v3"):
        raise TokenizerError(f"{path}: a {version} tokenizer; fcdata renders Mistral v0.3, which needs the v3 SentencePiece model (tokenizer.model.v3)")
    return path, version


@lru_cache(maxsize=8)
def _load_cached(file: str, declared: str | None, mtime_ns: int, size: int) -> MistralV3Tokenizer:
    tok = MistralV3Tokenizer(file, version=declared)
    if declared == "v3" and not tok.supports_tools:
        raise TokenizerError(f"{file}: named as a v3 tokenizer but ids 1..9 are not the v3 control tokens {list(V3_CONTROL_PIECES.values())}")
    if declared == "v3" and not tok.has_v3_markers:
        raise TokenizerError(f"{file}: named as a v3 tokenizer but ids 10..13 are not v3's {list(V3_ONLY_PIECES.values())} (a v2 model?)")
    log.debug("loaded %r", tok)
    return tok


def load_tokenizer(path: str | os.PathLike[str] | None = None) -> MistralV3Tokenizer:
    """Load a tokenizer (``None``: the v3 model shipped in mistral-common). A model file is loaded once
    per process (and again if it changes on disk); the loaded tokenizer, with its caches, is shared."""
    resolved = default_tokenizer_path() if path is None else os.path.abspath(os.fspath(path))
    file, declared = _resolve(resolved)
    try:
        st = os.stat(file)
    except OSError as exc:
        raise TokenizerError(f"{file}: cannot read the tokenizer: {exc.strerror or exc}") from exc
    return _load_cached(file, declared, st.st_mtime_ns, st.st_size)
