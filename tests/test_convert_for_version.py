"""Converting for a tokenizer version: from v7 on, text an assistant writes before its calls stays.

v3 cannot encode an assistant turn of text then calls, so the converter cuts such text
(``text_before_call_dropped``, ``text_turn_before_call_dropped``). v7 and later encode it; converting by
their rules (``convert_item(..., rules=...)``, ``fcdata convert --tokenizer``, and every command that
renders with such a tokenizer) keeps it. Checked on real ToolBench rows (ReAct thoughts before calls)
against mistral-common's encoder and the mask oracle, and on the shapes the rule has to get right.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from fcdata.convert import convert_records
from fcdata.convert.finish import messages_json
from fcdata.normalize import Rules
from fcdata.read import read_items
from fcdata.render import render
from fcdata.render.encoders import encoder_for
from fcdata.tokenizer import load_tokenizer
from fcdata.validate import check_record
from oracle import encode, expected_mask
from tokenizer_files import tokenizer_path

V7_ON = ["v7", "v7-tekken", "v11", "v13"]
TOOLBENCH = "harvest/toolbench_answer__openbmb-toolbench-data_example.jsonl"


@lru_cache(maxsize=None)
def _tok(key: str):
    return load_tokenizer(tokenizer_path(key))


def _rules(key: str) -> Rules:
    return encoder_for(_tok(key)).rules


def _texts_with_calls(record: dict) -> list[str]:
    return [m["content"] for m in record["messages"] if m["role"] == "assistant" and m.get("content") and m.get("tool_calls")]


@pytest.mark.parametrize("key", V7_ON)
def test_real_toolbench_rows_keep_their_thoughts_and_render_as_mistral_common(published_data: Path, key: str) -> None:
    path = str(published_data / TOOLBENCH)
    v3 = list(convert_records(read_items(path)))
    kept = list(convert_records(read_items(path), rules=_rules(key)))
    assert [o.ok for o in kept] == [o.ok for o in v3]  # the same records written and rejected
    written = [o for o in kept if o.ok]
    assert len(written) == 12
    cut = [d["text"] for o in v3 if o.ok for d in (o.record["metadata"].get("dropped_text") or [])]
    texts = [t for o in written for t in _texts_with_calls(o.record)]
    # v3 cut 20 turns' text; each is found whole in the turns kept for v7+ (joined turns hold two)
    assert len(cut) == 20 and all(any(c in t for t in texts) for c in cut)
    assert sum(1 for o in written if _texts_with_calls(o.record)) == 9
    tok = _tok(key)
    for o in written:
        rec = o.record
        assert not rec["metadata"].get("dropped_text")
        assert not {"text_before_call_dropped", "text_turn_before_call_dropped"} & set(o.repairs)
        # the writer's fast JSON is json.dumps of the record, content next to calls included
        assert messages_json(rec["messages"]) == json.dumps(rec["messages"], ensure_ascii=False)
        _, findings = check_record(rec, rules=_rules(key))
        assert not [f for f in findings if f.severity == "error"], findings
        _, v3_findings = check_record(rec)  # v3's rules refuse what only v7+ encodes
        assert _texts_with_calls(rec) == [] or "content_and_tool_calls" in {f.code for f in v3_findings}
        for mode in ("single", "exact"):
            for s in render(rec, tok, mode=mode):
                sub = {"messages": [rec["messages"][i] for i in s.conversation], "tools": rec["tools"]}
                ids, mask = expected_mask(sub, mode, key)
                assert s.input_ids == ids and s.assistant_masks == mask


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _call(cid: str | None = None) -> dict:
    call = {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    return {**call, "id": cid} if cid else call


def _convert(messages: list[dict], key: str | None) -> object:
    [out] = list(convert_records([{"messages": messages, "tools": TOOLS}], rules=_rules(key) if key else None))
    return out


def test_openai_text_with_calls_that_needs_other_repairs_keeps_its_text_on_v7() -> None:
    """The record needs ids (``call_id_added``): before, only records whose sole repair was the text cut
    were kept as they were on v7+, and this one lost its text."""
    msgs = [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "Let me check.", "tool_calls": [_call()]}, {"role": "tool", "content": "sunny"}, {"role": "assistant", "content": "Sunny."}]
    v3 = _convert(msgs, None)
    assert v3.ok and "text_before_call_dropped" in v3.repairs and _texts_with_calls(v3.record) == []
    for key in V7_ON:
        out = _convert(msgs, key)
        assert out.ok and "call_id_added" in out.repairs and "text_before_call_dropped" not in out.repairs
        assert _texts_with_calls(out.record) == ["Let me check."]
        assert tuple(_tok(key).decode(encode(out.record, key=key)).split("Let me check.")).__len__() == 2


def test_a_text_turn_before_a_call_turn_is_joined_to_it_as_mistral_common_merges_them() -> None:
    msgs = [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "Let me check."}, {"role": "assistant", "content": "One moment.", "tool_calls": [_call("abcDEF123")]}, {"role": "tool", "content": "sunny", "tool_call_id": "abcDEF123"}, {"role": "assistant", "content": "Sunny."}]
    for key in V7_ON:
        out = _convert(msgs, key)
        assert out.ok and out.repairs == ["text_turn_joined_to_calls"]
        assert _texts_with_calls(out.record) == ["Let me check.\n\nOne moment."]
        assert encode(out.record, key=key) == encode({"messages": msgs, "tools": TOOLS}, key=key)


def test_text_between_two_call_turns_is_still_cut_on_every_version() -> None:
    """Merged into one turn, it would move before the first turn's calls: what the model said changes."""
    msgs = [{"role": "user", "content": "Paris and Rome?"}, {"role": "assistant", "tool_calls": [_call("abcDEF123")]}, {"role": "assistant", "content": "And Rome.", "tool_calls": [_call("abcDEF456")]}, {"role": "tool", "content": "sunny", "tool_call_id": "abcDEF123"}, {"role": "tool", "content": "rain", "tool_call_id": "abcDEF456"}, {"role": "assistant", "content": "Sunny, then rain."}]
    for key in [None, *V7_ON]:
        out = _convert(msgs, key)
        assert out.ok and "text_before_call_dropped" in out.repairs and "consecutive_calls_merged" in out.repairs
        assert "And Rome." not in json.dumps(out.record["messages"]) and out.record["metadata"]["dropped_text"][0]["text"] == "And Rome."


def test_markup_with_a_preamble_keeps_the_preamble_on_v7_and_cuts_what_follows() -> None:
    msgs = [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\nOne moment.'}]
    v3, v7 = _convert(msgs, None), _convert(msgs, "v7")
    assert v3.ok and v7.ok
    assert _texts_with_calls(v7.record) == ["Let me check."] and "text_after_call_dropped" in v7.repairs
    assert _texts_with_calls(v3.record) == [] and {"text_before_call_dropped", "text_after_call_dropped"} <= set(v3.repairs)


def test_the_v3_default_is_unchanged_after_a_v7_conversion_in_the_same_process() -> None:
    msgs = [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "Let me check.", "tool_calls": [_call("abcDEF123")]}]
    assert _texts_with_calls(_convert(msgs, "v7").record) == ["Let me check."]
    assert _texts_with_calls(_convert(msgs, None).record) == []


@pytest.mark.parametrize("procs", [1, 2])
def test_cli_convert_tokenizer_keeps_text_and_is_byte_identical_on_any_number_of_processes(published_data: Path, tmp_path: Path, procs: int) -> None:
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    src = str(published_data / TOOLBENCH)
    outs = []
    for run in range(2):
        out = tmp_path / f"out{run}.jsonl"
        res = CliRunner().invoke(cli, ["convert", src, "-o", str(out), "--tokenizer", tokenizer_path("v7"), "--num-proc", str(procs if run else 1)])
        assert res.exit_code == 0, res.output
        assert "text_turn_joined_to_calls" in res.output and "text_before_call_dropped" not in res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    val = CliRunner().invoke(cli, ["validate", str(tmp_path / "out0.jsonl"), "--tokenizer", tokenizer_path("v7")])
    assert val.exit_code == 0, val.output
    assert CliRunner().invoke(cli, ["validate", str(tmp_path / "out0.jsonl")]).exit_code == 1


def test_prepare_on_raw_rows_with_a_v7_tokenizer_keeps_the_text(published_data: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    report = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["prepare", str(published_data / TOOLBENCH), "-o", str(tmp_path / "p"), "--tokenizer", tokenizer_path("v7"), "--report", str(report)])
    assert res.exit_code == 0, res.output
    rep = json.loads(report.read_text())
    assert rep["kept"] == 12 and rep["repairs"].get("text_turn_joined_to_calls") == 2
    assert not {"text_before_call_dropped", "text_turn_before_call_dropped"} & set(rep["repairs"])


def test_inspect_shows_raw_rows_as_prepare_renders_them_for_the_version(published_data: Path) -> None:
    """`fcdata inspect --tokenizer` converts raw input by that version's rules, as `prepare` does: the
    samples shown are the ones trained (before, the v7 view cut the text prepare keeps)."""
    from fcdata.view import inspect_file

    path = str(published_data / TOOLBENCH)
    shown = inspect_file(path, index=0, count=15, tokenizer=tokenizer_path("v7"), mode="single")  # 12 written, 3 rejected
    kept = [o.record for o in convert_records(read_items(path), rules=_rules("v7")) if o.ok]
    rendered = [s.input_ids for v in shown for s in v.samples]
    assert rendered == [s.input_ids for rec in kept for s in render(rec, _tok("v7"), mode="single")]
    assert any("Based on" in _tok("v7").decode(ids) for ids in rendered)
