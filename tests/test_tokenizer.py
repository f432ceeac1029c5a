"""fcdata.tokenizer: the shipped v3 model, which files are accepted or refused, encoding and its cache."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcdata.errors import TokenizerError
from fcdata.render import render
from fcdata.tokenizer import V3_CONTROL_PIECES, SegmentCache, load_tokenizer
from oracle import mistral_tokenizer
from render_cases import readme_record

DATA = os.path.dirname(load_tokenizer().path)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def test_default_is_the_shipped_v3_model(tok):
    assert tok.path.endswith("mistral_instruct_tokenizer_240323.model.v3") and os.path.isfile(tok.path)
    assert tok.version == "v3" and tok.supports_tools and tok.vocab_size == 32768
    ids = (tok.bos_id, tok.eos_id, tok.inst_id, tok.inst_end_id, tok.tool_calls_id, tok.tools_id, tok.tools_end_id, tok.results_id, tok.results_end_id)
    assert ids == tuple(range(1, 10))
    assert [tok.id_to_piece(i) for i in ids] == list(V3_CONTROL_PIECES.values())
    assert load_tokenizer() is tok  # loaded once per process


@pytest.mark.parametrize("text", ["", " ", "Hello world", "  leading", "trailing  ", "[INST] <s> [TOOL_CALLS]", "日本語 😀", "a\n\nb", "\u2581x"])
def test_encode_equals_mistral_common(tok, text):
    inner = mistral_tokenizer().instruct_tokenizer.tokenizer
    assert tok.encode(text) == inner.encode(text, bos=False, eos=False)
    assert not any(tok.is_control(t) for t in tok.encode(text))  # control strings in text stay text
    assert tok.encode_batch([text, text]) == [tok.encode(text)] * 2


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_piece_lengths_locate_every_token(text):
    """The renderer maps tokens to characters by adding piece lengths; that must add up exactly."""
    tok = load_tokenizer()
    ids = tok.encode(text)
    assert (sum(tok.piece_lengths[t] for t in ids) - tok.prefix_units if ids else 0) == tok.text_units(text)


def test_segment_cache(tok):
    cache = SegmentCache(max_tokens=50, min_chars=10)
    cache.put("short", [1])
    assert cache.get("short") is None  # too short to keep
    cache.put("a" * 20, list(range(30)))
    cache.put("b" * 20, list(range(30)))  # over the token budget: the oldest goes
    assert cache.get("a" * 20) is None and cache.get("b" * 20) == list(range(30)) and len(cache) == 1
    tok.cache.clear()
    text = "x " * 200  # long enough for the segment cache
    first = tok.encode_batch([text])
    again = tok.encode_batch([text, text])
    assert first == again[:1] and again[0] is again[1] and tok.cache.hits == 1


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list("ab c\n\t.{}\"") + [" ", "  ", "   ", "\u2581", "é", "日", "😀", "\u00a0", " the", "ing "]), max_size=30).map("".join) | st.text(max_size=40))
def test_word_cache_equals_whole_text_encoding(text):
    """Word-by-word encoding (the word cache) gives exactly SentencePiece's ids for the whole text."""
    tok = load_tokenizer()
    assert tok.word_split
    assert tok.encode(text) == tok._raw(text)


def test_v2_tokenizer_refused_for_tools_only(tok):
    v2 = load_tokenizer(os.path.join(DATA, "mistral_instruct_tokenizer_240216.model.v2"))
    assert v2.version == "v2" and not v2.supports_tools and v2.has_instruct_tokens
    with pytest.raises(TokenizerError, match="v2 tokenizer encodes tool history differently"):
        render(readme_record(), v2)
    plain = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    assert render(plain, v2)[0].input_ids == render(plain, tok)[0].input_ids


def test_v1_tokenizer_renders_text_records_only(tok):
    v1 = load_tokenizer(os.path.join(DATA, "tokenizer.model.v1"))
    assert v1.version == "v1" and not v1.has_instruct_tokens and v1.vocab_size == 32000
    with pytest.raises(TokenizerError, match=r"no \[INST\]/\[/INST\] control tokens"):
        render({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}, v1)
    [s] = render({"text": "plain text"}, v1)
    assert s.input_ids == [1, *v1.encode("plain text"), 2]


def test_files_and_folders(tok, tmp_path):
    hf = tmp_path / "Mistral-7B-Instruct-v0.3"
    hf.mkdir()
    shutil.copy(tok.path, hf / "tokenizer.model")  # the Hugging Face name: told v3 by its control pieces
    assert load_tokenizer(hf).version == "v3" and load_tokenizer(hf / "tokenizer.model").supports_tools
    shutil.copy(tok.path, hf / "tokenizer.model.v3")
    assert load_tokenizer(hf).path.endswith("tokenizer.model.v3")
    old = tmp_path / "v01"
    old.mkdir()
    shutil.copy(os.path.join(DATA, "tokenizer.model.v1"), old / "tokenizer.model")
    assert load_tokenizer(old).version == "v1"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TokenizerError, match="no tekken.json, tokenizer.model.vN or tokenizer.model"):
        load_tokenizer(empty)
    with pytest.raises(TokenizerError, match="no such tokenizer"):
        load_tokenizer(tmp_path / "missing.model.v3")
    (tmp_path / "tekken.json").write_text("{}")
    with pytest.raises(TokenizerError, match="Tekken"):
        load_tokenizer(tmp_path / "tekken.json")
    v7 = load_tokenizer(os.path.join(DATA, "mistral_instruct_tokenizer_241114.model.v7"))
    assert v7.version == "v7" and v7.supports_tools and v7.system_id == 16
    with pytest.raises(TokenizerError, match="unknown tokenizer version 'v9'"):
        shutil.copy(tok.path, tmp_path / "odd.model.v9")
        load_tokenizer(tmp_path / "odd.model.v9")
    (tmp_path / "junk.model.v3").write_bytes(b"not a model")
    with pytest.raises(TokenizerError, match="not a SentencePiece model"):
        load_tokenizer(tmp_path / "junk.model.v3")
    fake = tmp_path / "renamed.model.v3"
    shutil.copy(os.path.join(DATA, "tokenizer.model.v1"), fake)
    with pytest.raises(TokenizerError, match="not the v3 control tokens"):
        load_tokenizer(fake)


def test_pickles_by_path(tok):
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.path == tok.path and clone.encode("Hello") == tok.encode("Hello")
    assert tok.decode(tok.encode("Hello world")) == "Hello world"
    assert tok.decode([1, *tok.encode("x"), 2]) == "x"


def test_a_v2_model_under_the_bare_hugging_face_name_is_not_taken_for_v3(tmp_path) -> None:
    import os
    import shutil

    import mistral_common

    from fcdata.errors import TokenizerError
    from fcdata.tokenizer import load_tokenizer

    v2 = os.path.join(os.path.dirname(mistral_common.__file__), "data", "mistral_instruct_tokenizer_240216.model.v2")
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(v2, folder / "tokenizer.model")
    tok = load_tokenizer(folder)
    assert tok.version == "v2" and not tok.supports_tools
    shutil.copy(v2, tmp_path / "tokenizer.model.v3")  # a v2 model misnamed as v3
    with pytest.raises(TokenizerError, match="ids 10..13"):
        load_tokenizer(tmp_path / "tokenizer.model.v3")


def test_a_bare_v7_sentencepiece_model_is_refused_not_rendered_as_v3(tmp_path) -> None:
    """mistral-common's v7 SentencePiece file saved as a bare `tokenizer.model` was detected as v3 and
    rendered without [SYSTEM_PROMPT], silently."""
    import shutil

    from tokenizer_files import tokenizer_path

    shutil.copy(tokenizer_path("v7"), tmp_path / "tokenizer.model")
    with pytest.raises(TokenizerError, match=r"name it tokenizer.model.v7"):
        load_tokenizer(tmp_path / "tokenizer.model")
    shutil.copy(tokenizer_path("v3"), tmp_path / "v3.model")
    assert load_tokenizer(tmp_path / "v3.model").version == "v3"  # a bare v3 file is still read as v3


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(special_tokens=[t for t in d["special_tokens"] if t["token_str"] != "<s>"]), "no <s>"),
        (lambda d: [t.pop("token_str") for t in d["special_tokens"][:1]], "special_tokens must be a list"),
        (lambda d: d["config"].update(default_vocab_size="big"), "must be integers"),
    ],
)
def test_a_malformed_tekken_file_is_a_clear_error(tmp_path, change, words) -> None:
    """A tekken.json with no `<s>` or a special token without `token_str` raised KeyError (a traceback)."""
    from tokenizer_files import tokenizer_path

    data = json.loads(open(tokenizer_path("v11"), encoding="utf-8").read())
    change(data)
    (tmp_path / "tekken.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerError, match=words):
        load_tokenizer(tmp_path / "tekken.json")
