"""Every tokenizer version against mistral-common: ids token for token, masks by the per-message oracle.

Versions (``tokenizer_files.py``): v3 SentencePiece and Tekken, v7 SentencePiece (shipped by
mistral-common), v7 Tekken, v11 and v13 Tekken (built the way mistral-common's test suite builds them).
For each: the shared real data after ``fcdata convert`` and thousands of seeded random conversations
(long texts among them), in every mode; each sample's ids and mask must equal what
:func:`oracle.expected_mask` rebuilds from mistral-common's per-message encoders, and the whole
conversation must equal ``encode_chat_completion``.

Budget: the oracle (mistral-common) is the cost; ``FCDATA_VERSION_EXAMPLES`` sets the number of random
conversations per version (2000 by default; the exact/last cuts of every fourth one are checked too).
"""

from __future__ import annotations

import json
import os
import random
from functools import lru_cache

import pytest

from fcdata.errors import RecordError, TokenizerError
from fcdata.render import render
from fcdata.tokenizer import load_tokenizer
from oracle import encode, expected_mask
from render_cases import random_conversation, readme_record
from tokenizer_files import TOKENIZER_VERSION, VERSION_KEYS, tokenizer_path

EXAMPLES = int(os.environ.get("FCDATA_VERSION_EXAMPLES", "2000"))


@lru_cache(maxsize=None)
def tok_of(key: str):
    return load_tokenizer(tokenizer_path(key))


def _sub(record: dict, indexes: tuple[int, ...]) -> dict:
    return {"messages": [record["messages"][i] for i in indexes], "tools": record.get("tools", [])}


def check_record(record: dict, key: str, modes: tuple[str, ...] = ("single", "exact", "last")) -> int:
    """ids and masks of every sample of ``record`` in ``modes`` against the oracle; the number of samples."""
    tok = tok_of(key)
    n = 0
    for mode in modes:
        for s in render(record, tok, mode=mode):
            ids, mask = expected_mask(_sub(record, s.conversation), mode, key)
            assert s.input_ids == ids, f"{key} {mode}: ids differ from mistral-common"
            assert s.assistant_masks == mask, f"{key} {mode}: mask differs from the oracle"
            assert s.labels == [t if m else -100 for t, m in zip(ids, mask)]
            n += 1
    return n


@lru_cache(maxsize=1)
def converted_shared_records() -> tuple[str, ...]:
    """The shared data's chat records after fcdata convert and validate (JSON text, one per record)."""
    from fcdata import convert
    from fcdata.read import read_items
    from fcdata.validate import check_record as validate

    from conftest import SHARED

    out = []
    for path in sorted(SHARED.rglob("*")):
        if path.suffix not in (".json", ".jsonl"):
            continue
        for result in convert.convert_records(read_items(path)):
            record = getattr(result, "record", None)
            if record is None or "messages" not in record:
                continue
            model, findings = validate(record)
            if model is not None and not any(f.severity == "error" for f in findings):
                out.append(json.dumps({"messages": record["messages"], "tools": record.get("tools", [])}, ensure_ascii=False))
    return tuple(out)


@pytest.mark.parametrize("key", VERSION_KEYS)
def test_shared_data_every_version(key):
    """100% of the shared real data, every mode: ids equal mistral-common's, masks equal the oracle's."""
    records = [json.loads(r) for r in converted_shared_records()]
    assert len(records) >= 300
    samples = 0
    for k, record in enumerate(records):
        modes = ("single", "exact", "last") if k % 2 == 0 else ("single",)
        samples += check_record(record, key, modes)
        if k % 10 == 0:
            [single] = render(record, tok_of(key), mode="single")
            assert single.input_ids == encode(record, key=key)
    assert samples >= len(records)


@pytest.mark.parametrize("key", VERSION_KEYS)
def test_generated_every_version(key):
    """Thousands of seeded random conversations per version, long texts among them."""
    rng = random.Random(f"fcdata-{key}")
    version = TOKENIZER_VERSION[key]
    tok = tok_of(key)
    long_texts = 0
    for n in range(EXAMPLES):
        record = random_conversation(rng, version)
        long_texts += any(len(m.get("content") or "") > 1000 for m in record["messages"])
        if n % 4 == 0:
            check_record(record, key)
        else:
            check_record(record, key, ("single",))
        if n % 10 == 0:
            [single] = render(record, tok, mode="single") or [None]
            if single is not None:
                assert single.input_ids == encode(record, key=key)
    assert long_texts >= EXAMPLES // 20


def test_mask_oracle_fails_when_tool_calls_or_eos_are_left_untrained(monkeypatch):
    """The oracle is not fooled: leave [TOOL_CALLS] (or </s>) untrained and it reports the mask wrong."""
    from fcdata.render import v3, v11
    from fcdata.render.segments import Control

    record = readme_record()
    check_record(record, "v3")  # as rendered: equal

    original_calls = v3.EncoderV3.calls

    def untrained_tool_calls(self, turn):
        pieces, names = original_calls(self, turn)
        return [p._replace(trainable=False) if isinstance(p, Control) else p for p in pieces], names

    monkeypatch.setattr(v3.EncoderV3, "calls", untrained_tool_calls)
    with pytest.raises(AssertionError, match="mask differs"):
        check_record(record, "v3")
    monkeypatch.undo()

    original_assistant = v3.EncoderV3.assistant

    def untrained_eos(self, turn):
        pieces, names = original_assistant(self, turn)
        return [*pieces[:-1], pieces[-1]._replace(trainable=False)], names

    monkeypatch.setattr(v3.EncoderV3, "assistant", untrained_eos)
    with pytest.raises(AssertionError, match="mask differs"):
        check_record(record, "v7")
    monkeypatch.undo()

    original_call_id = v11.EncoderV11.call_id

    def trained_id(self, message_index, call):
        return [p._replace(trainable=True) for p in original_call_id(self, message_index, call)]

    monkeypatch.setattr(v11.EncoderV11, "call_id", trained_id)
    with pytest.raises(AssertionError, match="mask differs"):
        check_record(record, "v11")


def _kinds(s) -> list[tuple[str, int]]:
    return [(k, m) for k, m in zip(s.span_kinds, s.assistant_masks)]


def test_version_layouts_by_hand():
    """What each version writes for one call and its result, read back as pieces."""
    record = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "tool_call_id": "abcdefghi", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "", "parameters": {}}}],
    }
    texts = {}
    for key in ("v3-tekken", "v7-tekken", "v11", "v13"):
        tok = tok_of(key)
        [s] = render(record, tok, mode="single")
        texts[key] = "".join(tok.id_to_piece(t) if tok.is_control(t) else tok.decode([t]) for t in s.input_ids)
        trained = {tok.id_to_piece(t) for t, m in zip(s.input_ids, s.assistant_masks) if m and tok.is_control(t)}
        assert "[TOOL_CALLS]" in trained and "</s>" in trained
        if key == "v11":
            assert trained >= {"[ARGS]", "[CALL_ID]"}
        ids_trained = [t for t, k, m in zip(s.input_ids, s.span_kinds, s.assistant_masks) if k == "call_id" and m]
        assert ids_trained == []
    assert '[INST]Be brief.\n\nWeather?[/INST][TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcdefghi"}]</s>' in texts["v3-tekken"]
    assert "[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT][AVAILABLE_TOOLS]" in texts["v7-tekken"]
    assert '[TOOL_RESULTS]abcdefghi[TOOL_CONTENT]sunny[/TOOL_RESULTS]' in texts["v7-tekken"]
    assert '[TOOL_CALLS]get_weather[CALL_ID]abcdefghi[ARGS]{"city": "Paris"}</s>' in texts["v11"]
    assert texts["v13"].startswith("<s>[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT][AVAILABLE_TOOLS]")
    assert '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}</s>[TOOL_RESULTS]sunny[/TOOL_RESULTS]' in texts["v13"]


def test_exact_mode_makes_one_sample_where_nothing_moves():
    """v13 (tools with the first user turn) and v7/v11 without tools: the one sample is every turn's
    inference context; v3 and v7/v11 with tools cut one sample per user turn."""
    record = {
        "messages": [
            {"role": "user", "content": "one"}, {"role": "assistant", "content": "1"},
            {"role": "user", "content": "two"}, {"role": "assistant", "content": "2"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "", "parameters": {}}}],
    }
    no_tools = {"messages": record["messages"]}
    assert len(render(record, tok_of("v13"))) == 1 and len(render(record, tok_of("v11"))) == 2
    assert len(render(no_tools, tok_of("v7-tekken"))) == 1 and len(render(no_tools, tok_of("v3"))) == 2
    for key in ("v13", "v11", "v7-tekken"):
        check_record(record, key, ("exact",))
        check_record(no_tools, key, ("exact",))


def test_tools_on_a_version_without_tool_tokens_are_refused_clearly(tmp_path):
    from oracle import V3_PATH  # noqa: F401  (the shipped files sit beside it)
    from tokenizer_files import DATA

    v2 = load_tokenizer(os.path.join(DATA, "mistral_instruct_tokenizer_240216.model.v2"))
    with pytest.raises(TokenizerError, match=r"v2 tokenizer .* \(tools, tool calls or tool results\)"):
        render(readme_record(), v2)
    # a v11 Tekken file without [ARGS]/[CALL_ID]: refused for tool data, fine for plain chat
    data = json.load(open(tokenizer_path("v11"), encoding="utf-8"))
    for t in data["special_tokens"]:
        if t["token_str"] in ("[ARGS]", "[CALL_ID]"):
            t["token_str"] = f"<SPECIAL_{t['rank']}>"
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "tekken.json").write_text(json.dumps(data), encoding="utf-8")
    broken = load_tokenizer(folder)
    assert broken.version == "v11" and not broken.supports_tools
    with pytest.raises(TokenizerError, match=r"no \[ARGS\], \[CALL_ID\] control tokens"):
        render(readme_record(), broken)
    [s] = render({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}, broken)
    assert s.num_trained == len(broken.encode("Hello")) + 1


def test_v13_needs_an_id_on_every_call():
    record = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}
    with pytest.raises(RecordError, match="needs an id for a v13 tokenizer"):
        render(record, tok_of("v13"))
    render(record, tok_of("v11"))  # v11 writes no [CALL_ID] for it, as mistral-common does
    check_record(record, "v11")


def test_model_folders_and_version_detection(tmp_path):
    import shutil

    folder = tmp_path / "Mistral-Small-3"
    folder.mkdir()
    shutil.copy(tokenizer_path("v7-tekken"), folder / "tekken.json")
    shutil.copy(tokenizer_path("v3"), folder / "tokenizer.model.v3")  # tekken.json wins, as in mistral-common
    tok = load_tokenizer(folder)
    assert tok.backend == "tekken" and tok.version == "v7" and tok.vocab_size == 131072 and tok.system_id == 17
    spm = tmp_path / "Mistral-Large"
    spm.mkdir()
    shutil.copy(tokenizer_path("v3"), spm / "tokenizer.model.v3")
    shutil.copy(tokenizer_path("v7"), spm / "tokenizer.model.v7")
    assert load_tokenizer(spm).version == "v7"  # the last in name order, as mistral-common picks
    assert tok_of("v3-tekken").version == "v3" and tok_of("v13").args_id == 32 and tok_of("v13").call_id_id == 33


def test_prepare_and_inspect_take_a_model_folder(tmp_path):
    """`fcdata prepare --tokenizer FOLDER` renders in the folder's version; the dataset says which."""
    import shutil

    import datasets
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    folder = tmp_path / "Mistral-Small-3.2"
    folder.mkdir()
    shutil.copy(tokenizer_path("v11"), folder / "tekken.json")
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(readme_record()) + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["prepare", str(data), "-o", str(tmp_path / "out"), "--tokenizer", str(folder)])
    assert res.exit_code == 0, res.output
    ds = datasets.load_from_disk(str(tmp_path / "out"))
    assert json.loads(ds.info.description)["format"] == "mistral_v11"
    expected = render(readme_record(), tok_of("v11"))
    assert [list(r) for r in ds["input_ids"]] == [s.input_ids for s in expected]
    assert [list(r) for r in ds["assistant_masks"]] == [s.assistant_masks for s in expected]
    res = CliRunner().invoke(cli, ["inspect", str(data), "--tokenizer", str(folder), "--no-color"])
    assert res.exit_code == 0 and "[TOOL_CALLS]" in res.output and "[ARGS]" in res.output, res.output


_TEXT_THEN_CALL_TOOLS = [{"type": "function", "function": {"name": "get_w", "description": "w", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
_CALL = {"id": "abcDEF123", "type": "function", "function": {"name": "get_w", "arguments": {"city": "Paris"}}}
TEXT_THEN_CALL = {
    # one message holding text and a call
    "one message": [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "Let me check.", "tool_calls": [_CALL]}, {"role": "tool", "content": "sunny", "tool_call_id": "abcDEF123"}, {"role": "assistant", "content": "It is sunny."}],
    # a text message, then a call message: mistral-common merges them into one turn
    "two messages": [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "Let me check."}, {"role": "assistant", "tool_calls": [_CALL]}, {"role": "tool", "content": "sunny", "tool_call_id": "abcDEF123"}, {"role": "assistant", "content": "It is sunny."}],
}


@pytest.mark.parametrize("shape", sorted(TEXT_THEN_CALL))
@pytest.mark.parametrize("key", ["v3", "v7", "v7-tekken", "v11", "v13"])
def test_prepare_keeps_text_before_calls_where_the_version_encodes_it(tmp_path, key, shape):
    """From v7 on a turn may hold text then calls. `prepare` used to judge records by v3's rules, send
    such a record to the converter and train it with the text silently cut (exit 0, nothing counted); it
    must give mistral-common's ids, and on v3 count the converter's repair."""
    import datasets
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    rec = {"tools": _TEXT_THEN_CALL_TOOLS, "messages": TEXT_THEN_CALL[shape]}
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = CliRunner().invoke(cli, ["prepare", str(data), "-o", str(out), "--tokenizer", tokenizer_path(key), "--mode", "single", "--report", str(report)])
    assert res.exit_code == 0, res.output
    rep = json.loads(report.read_text())
    ids = [list(r) for r in datasets.load_from_disk(str(out))["input_ids"]]
    val = CliRunner().invoke(cli, ["validate", str(data), "--tokenizer", tokenizer_path(key)])
    if TOKENIZER_VERSION[key] == "v3":
        assert rep["repairs"] == {"text_before_call_dropped" if shape == "one message" else "text_turn_before_call_dropped": 1}
        assert "repaired (by the converter)" in res.output
        assert val.exit_code == 1
    else:
        assert rep["repairs"] == {} and rep["kept"] == 1
        assert ids == [encode(rec, key=key)]
        assert tok_of(key).decode(ids[0]).count("Let me check.") == 1
        assert val.exit_code == 0, val.output


@pytest.mark.parametrize("shape", sorted(TEXT_THEN_CALL))
def test_train_and_eval_inputs_keep_text_before_calls_on_v7_and_later(tmp_path, shape):
    """`train-eval` and `eval` read their input with the model's version rules: a canonical turn of text
    then calls reaches a v11 model whole (v3's rules would have the converter cut the text)."""
    from fcdata.render.encoders import encoder_for
    from fcdata.train.pipeline import load_records

    rec = {"tools": _TEXT_THEN_CALL_TOOLS, "messages": TEXT_THEN_CALL[shape], "metadata": {"id": "r1"}}
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    v3_records, _, v3_counts = load_records(str(data))
    assert "Let me check." not in json.dumps(v3_records[0]["messages"]) and sum(v3_counts["repairs"].values()) == 1
    records, _, counts = load_records(str(data), rules=encoder_for(tok_of("v11")).rules)
    # the converter reads the record by v11's rules: the text stays; a text message before a call message
    # is joined to it, as mistral-common's merge joins them (the same ids either way)
    joined = shape == "two messages"
    assert counts["kept"] == 1 and counts["repairs"] == ({"text_turn_joined_to_calls": 1} if joined else {})
    assert records[0]["messages"] == TEXT_THEN_CALL["one message"]
    assert encode(records[0], key="v11") == encode(rec, key="v11")
    assert records[0]["metadata"] == {"source_file": str(data), "source_line": 1, "format": "canonical", "repairs": ["text_turn_joined_to_calls"] if joined else [], "id": "r1"}
