"""fcdata prepare: the library function, the CLI, and TRL's SFTTrainer taking the output as is."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.errors import TokenizerError, UsageError
from fcdata.prepare import COLUMNS, prepare
from fcdata.render import render
from fcdata.tokenizer import load_tokenizer
from render_cases import SHARED, readme_record


def _lines(path: Path, n: int) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[:n]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    """Canonical and raw inputs: the mistral-finetune example, Glaive raw rows, ShareGPT rows, hackathon
    chats and pretraining text, and a file with bad lines."""
    d = tmp_path_factory.mktemp("inputs")
    sharegpt = json.loads((SHARED / "sharegpt" / "glaive_toolcall_en_demo.json").read_text(encoding="utf-8"))[:40]
    (d / "sharegpt.json").write_text(json.dumps(sharegpt, ensure_ascii=False), encoding="utf-8")
    (d / "glaive.jsonl").write_text("\n".join(_lines(SHARED / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl", 20)) + "\n", encoding="utf-8")
    canon = readme_record()
    weightless = json.loads(json.dumps(canon))
    for m in weightless["messages"]:
        if m["role"] == "assistant":
            m["weight"] = 0
    both = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "text then"}, {"role": "assistant", "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}
    bad_lines = [
        json.dumps(canon),
        "{not json",
        json.dumps({"messages": [{"role": "user", "content": "no reply"}]}),
        json.dumps(both),
        json.dumps(weightless),
        json.dumps({"text": "Text contained in document n°1"}),
    ]
    (d / "mixed.jsonl").write_text("\n".join(bad_lines) + "\n", encoding="utf-8")
    shutil.copy(SHARED / "interactions" / "hackathon_readme_examples.jsonl", d / "hackathon.jsonl")
    return {k: str(d / f"{k}.{'json' if k == 'sharegpt' else 'jsonl'}") for k in ("sharegpt", "glaive", "mixed", "hackathon")}


@pytest.fixture(scope="module")
def prepared(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("prep") / "data"
    rejects = out.parent / "rejects.jsonl"
    report = prepare([inputs["mixed"], inputs["sharegpt"], inputs["glaive"], inputs["hackathon"]], out, rejects=rejects)
    return out, report, rejects


def test_dataset_columns_and_contents(prepared):
    import datasets

    out, report, _ = prepared
    ds = datasets.load_from_disk(str(out))
    assert list(ds.column_names) == list(COLUMNS)
    assert str(ds.features["input_ids"].feature.dtype) == "int32"
    assert str(ds.features["assistant_masks"].feature.dtype) == "int8"
    assert str(ds.features["labels"].feature.dtype) == "int64"
    assert len(ds) == report.samples
    assert sum(ds["length"]) == report.tokens and sum(ds["num_trained"]) == report.trained_tokens
    # nothing lost: records in = rendered + rejected
    assert report.read == report.kept + report.rejected == 6 + 40 + 20 + 2
    tok = load_tokenizer()
    first = [r for r in ds if r["record_index"] == 0]
    expected = render(readme_record(), tok)
    assert [r["sample_index"] for r in first] == [0, 1]
    for row, sample in zip(first, expected):
        assert row["input_ids"] == sample.input_ids
        assert row["assistant_masks"] == sample.assistant_masks
        assert row["labels"] == [t if m else -100 for t, m in zip(sample.input_ids, sample.assistant_masks)]  # not shifted
        assert row["length"] == sample.length and row["num_trained"] == sample.num_trained
        assert row["source_line"] == 1 and row["source_file"].endswith("mixed.jsonl")
        assert row["tool_names"] == ["generate_anagram"] and row["call_names"] == ["generate_anagram"]
    text_rows = [r for r in ds if r["record_index"] == 5]
    assert text_rows[0]["assistant_masks"] == [0] + [1] * (text_rows[0]["length"] - 1)
    assert json.loads(ds.info.description)["mode"] == "exact"


def test_rejects_are_counted_and_written(prepared):
    out, report, rejects = prepared
    obj = report.to_obj()
    assert obj["rejected"] == 3
    # the converter (which canonical input passes through) refuses what it cannot repair, before validation
    assert obj["rejected_by_stage"] == {"convert": 2, "read": 1}
    assert obj["rejections"] == {"no_assistant_turn": 1, "not_json": 1, "undeclared_function": 1}
    assert obj["records_without_samples"] == 1  # the record whose turns all have weight 0
    lines = [json.loads(x) for x in Path(rejects).read_text(encoding="utf-8").splitlines()]
    assert [(x["line"], x["stage"]) for x in lines] == [(2, "read"), (3, "convert"), (4, "convert")]
    assert lines[0]["reasons"][0]["code"] == "not_json" and lines[0]["text"] == "{not json"
    assert json.loads(lines[2]["text"])["messages"][0]["content"] == "hi"  # verbatim input
    assert set(obj) >= {"read", "kept", "rejected", "rejections", "warnings", "empty_inputs", "inputs", "output", "rejects", "samples", "tokens", "trained_tokens", "dropped_for_length"}


def test_deterministic_bytes_and_num_proc(inputs, prepared, tmp_path):
    out, _, _ = prepared
    again = tmp_path / "again"
    parallel = tmp_path / "parallel"
    files = [inputs["mixed"], inputs["sharegpt"], inputs["glaive"], inputs["hackathon"]]
    prepare(files, again, rejects=tmp_path / "again.jsonl")
    prepare(files, parallel, num_proc=2, chunk_size=16, rejects=tmp_path / "parallel.jsonl")
    for name in sorted(os.listdir(out)):
        data = (out / name).read_bytes()
        assert data == (again / name).read_bytes() == (parallel / name).read_bytes(), name
    assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "parallel.jsonl").read_bytes() == Path(prepared[2]).read_bytes()


def test_rows_holding_several_records_keep_record_indices_in_input_order(published_data, tmp_path):
    """A ToolAlpaca row is one record per instruction: record_index counts records, not rows, whatever
    the chunks (of input rows) and the processes."""
    import datasets

    src = published_data / "harvest" / "toolalpaca_eval__tangqiaoyu-toolalpaca-simulated.jsonl"
    outs = []
    for k, (procs, chunk) in enumerate(((1, 256), (1, 3), (2, 3))):
        rep = prepare([str(src)], tmp_path / f"p{k}", num_proc=procs, chunk_size=chunk, rejects=tmp_path / f"r{k}.jsonl")
        assert (rep.read, rep.kept + rep.rejected) == (100, 100)
        outs.append(tmp_path / f"p{k}")
    ds = datasets.load_from_disk(str(outs[0]))
    index = ds["record_index"]
    assert index == sorted(index) and len(set(index)) == len(index) == 91 and index[-1] == 99
    assert [(line, i) for line, i in zip(ds["source_line"], index)][:11] == [(1, i) for i in range(10)] + [(2, 10)]
    for name in sorted(os.listdir(outs[0])):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes() == (outs[2] / name).read_bytes(), name
    assert (tmp_path / "r0.jsonl").read_bytes() == (tmp_path / "r1.jsonl").read_bytes() == (tmp_path / "r2.jsonl").read_bytes()


def test_parquet_output(inputs, prepared, tmp_path):
    import datasets
    import pyarrow.parquet as pq

    out, report, _ = prepared
    target = tmp_path / "train.parquet"
    rep = prepare([inputs["mixed"], inputs["sharegpt"], inputs["glaive"], inputs["hackathon"]], target, output_format="parquet")
    table = pq.read_table(target)
    assert table.num_rows == rep.samples == report.samples
    ds = datasets.load_from_disk(str(out))
    assert table.column("input_ids").to_pylist() == ds["input_ids"]
    assert table.column("labels").to_pylist() == ds["labels"]


def test_max_length_is_reported(inputs, tmp_path):
    import datasets

    out = tmp_path / "short"
    rep = prepare([inputs["sharegpt"]], out, max_length=256).to_obj()
    ds = datasets.load_from_disk(str(out))
    assert max(ds["length"]) <= 256
    assert rep["dropped_for_length"] > 0 and rep["trimmed_for_length"] > 0
    assert rep["tokens_lost_to_length"] == rep["tokens_trimmed"] + rep["tokens_dropped"] > 0
    assert sum(ds["tokens_trimmed"]) == rep["tokens_trimmed"]
    full = prepare([inputs["sharegpt"]], tmp_path / "full").to_obj()
    assert full["samples"] == rep["samples"] + rep["dropped_for_length"]
    assert full["tokens"] == rep["tokens"] + rep["tokens_lost_to_length"]


def test_failure_leaves_old_output(inputs, tmp_path):
    out = tmp_path / "keep"
    prepare([inputs["sharegpt"]], out, mode="single")  # an earlier data set, which a failed run must leave as it was
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    v1 = os.path.join(os.path.dirname(load_tokenizer().path), "tokenizer.model.v1")
    with pytest.raises(TokenizerError, match="v1 tokenizer"):
        prepare([inputs["sharegpt"]], out, tokenizer=v1)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]  # no temporary files left behind
    with pytest.raises(UsageError):
        prepare([inputs["sharegpt"]], out, mode="all")


def test_cli(inputs, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    report = tmp_path / "report.json"
    res = runner.invoke(cli, ["prepare", inputs["sharegpt"], "-o", str(out), "--report", str(report), "--mode", "single"])
    assert res.exit_code == 0, res.output
    obj = json.loads(report.read_text())
    assert obj["mode"] == "single" and obj["samples"] == obj["kept"] == obj["read"] == 40 and obj["rejected"] == 0
    assert "trained share" in res.output
    res = runner.invoke(cli, ["prepare", inputs["mixed"], "-o", str(tmp_path / "strict"), "--strict"])
    assert res.exit_code == 1
    res = runner.invoke(cli, ["prepare", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "no such file" in res.output
    res = runner.invoke(cli, ["prepare", inputs["sharegpt"], "-o", str(tmp_path / "y"), "--tokenizer", str(tmp_path)])
    assert res.exit_code == 2 and "no tekken.json, tokenizer.model.vN or tokenizer.model" in res.output
    res = runner.invoke(cli, ["prepare", "-h"])
    assert res.exit_code == 0 and "Examples:" in res.output
    # --mode help states single mode's caveat and what last does
    help_text = " ".join(res.output.split())
    assert "differs from mistral-common's at inference" in help_text and "before the LAST user message" in help_text
    assert "only the final assistant turn trained" in help_text


def _hf_tokenizer():
    """A Hugging Face tokenizer object with the v3 vocabulary, for SFTTrainer's pad token only (the
    data is already tokenized; nothing here tokenizes text)."""
    import tokenizers
    from tokenizers import models
    from transformers import PreTrainedTokenizerFast

    tok = load_tokenizer()
    vocab = {tok.id_to_piece(i): i for i in range(tok.vocab_size)}
    inner = tokenizers.Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=inner, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="</s>")


def test_trl_sft_trainer_trains_exactly_the_masked_tokens(prepared, tmp_path):
    """TRL's SFTTrainer takes the folder as already tokenized, keeps our labels, and its loss is the mean
    cross-entropy over exactly the tokens our masks mark (labels not shifted by us; the model shifts)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("trl")
    import datasets
    from transformers import MistralConfig, MistralForCausalLM
    from trl import SFTConfig, SFTTrainer

    out, _, _ = prepared
    full = datasets.load_from_disk(str(out))
    ds = full.select([i for i, n in enumerate(full["length"]) if n <= 200][:4])  # short rows: the lm_head over 32768 is the cost
    torch.manual_seed(0)
    config = MistralConfig(vocab_size=32768, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=4096)
    model = MistralForCausalLM(config)
    args = SFTConfig(
        output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=2, learning_rate=1e-3, logging_steps=1,
        report_to=[], save_strategy="no", use_cpu=True, max_length=None, bf16=False, fp16=False, dataloader_num_workers=0,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=_hf_tokenizer())
    # the prepared rows pass through untouched (no re-tokenization, no label rebuilding)
    assert trainer.train_dataset["labels"] == ds["labels"] and trainer.train_dataset["input_ids"] == ds["input_ids"]
    # its collator pads our labels with -100 and keeps them otherwise
    rows = [trainer.train_dataset[i] for i in range(4)]
    batch = trainer.data_collator([{k: r[k] for k in ("input_ids", "labels")} for r in rows])
    width = batch["labels"].shape[1]
    for i, r in enumerate(rows):
        assert batch["labels"][i].tolist() == r["labels"] + [-100] * (width - len(r["labels"]))
        assert batch["input_ids"][i, : len(r["input_ids"])].tolist() == r["input_ids"]
    # its loss is the cross-entropy over exactly the tokens our masks mark
    model.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(model, {k: v for k, v in batch.items()})
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
    targets = torch.tensor([[t if m else -100 for t, m in zip(r["input_ids"], r["assistant_masks"])] + [-100] * (width - len(r["input_ids"])) for r in rows])
    manual = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 32768), targets[:, 1:].reshape(-1), ignore_index=-100)
    assert int((targets[:, 1:] != -100).sum()) == sum(sum(r["assistant_masks"][1:]) for r in rows)
    assert torch.allclose(loss, manual, rtol=1e-5, atol=1e-6), (loss, manual)
    model.train()
    result = trainer.train()
    assert result.global_step == 2 and torch.isfinite(torch.tensor(result.training_loss))


def test_worker_line_decoding_matches_read_items(tmp_path):
    """With --num-proc > 1 workers decode JSON Lines themselves; every kind of line must come out as
    fcdata.read.read_items makes it (the rejects file depends on it)."""
    from fcdata.prepare import _item_of, _raw_lines
    from fcdata.read import read_items

    path = tmp_path / "lines.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"text": "bom first"}\r\n'
        b"\n"
        b'{"text": "ok"}\n'
        b"\x80\xff not utf-8\n"
        b"{not json\n"
        b"[" * 100000 + b"\n"
        b"NaN\n"
        b'  {"text": "padded"}  \n'
        b'{"text": "no newline at the end"}'
    )
    expected = list(read_items(str(path)))
    got = [_item_of(entry) for entry in _raw_lines(str(path))]
    assert [(i.file, i.line, i.value, i.text, i.error, i.code) for i in got] == [(i.file, i.line, i.value, i.text, i.error, i.code) for i in expected]



def test_output_name_ending_in_parquet_writes_parquet(tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    src = Path(__file__).resolve().parent.parent / "examples" / "synth_sample.jsonl"
    out = tmp_path / "train.parquet"
    r = CliRunner().invoke(cli, ["prepare", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert pq.read_table(out).num_rows > 0
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    r = CliRunner().invoke(cli, ["prepare", str(src), "-o", str(a_file)])
    assert r.exit_code == 2 and "is a file" in r.output


def test_empty_input_gives_a_loadable_empty_dataset(tmp_path: Path) -> None:
    import datasets
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    r = CliRunner().invoke(cli, ["prepare", str(empty), "-o", str(tmp_path / "P")])
    assert r.exit_code == 1 and "holds no record" in r.output, r.output  # a finding, but the run finished
    ds = datasets.load_from_disk(str(tmp_path / "P"))
    assert len(ds) == 0 and "input_ids" in ds.column_names
    r = CliRunner().invoke(cli, ["train", str(tmp_path / "P"), "-o", str(tmp_path / "run"), "--model", "tiny-mistral"])
    assert r.exit_code == 1 and "empty" in r.output  # nothing to train on: a finding, as in every command


def test_an_interrupted_run_leaves_the_rejects_file_of_the_previous_run(tmp_path, monkeypatch) -> None:
    """The rejects file was committed when the last chunk was rendered, before the data set was saved:
    a run stopped in the save (the longest step) left the old data set beside the new rejects."""
    import fcdata.prepare as prep

    data = tmp_path / "d.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    data.write_text(good + "\n{bad\n")
    out, rejects = tmp_path / "out", tmp_path / "rejects.jsonl"
    prep.prepare([str(data)], str(out), rejects=str(rejects))
    before = rejects.read_bytes()
    data.write_text(good + "\n{bad\n{worse\n")

    def interrupted(out_path, tables, *args):
        for _ in tables:
            pass
        raise KeyboardInterrupt

    monkeypatch.setattr(prep, "_write_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare([str(data)], str(out), rejects=str(rejects))
    assert rejects.read_bytes() == before


def test_a_rejects_file_that_cannot_be_written_stops_the_run_before_the_data_set_is_replaced(tmp_path, monkeypatch) -> None:
    import datasets

    import fcdata.prepare as prep
    from fcdata.write import JsonlWriter

    data = tmp_path / "d.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    data.write_text(good + "\n{bad\n")
    out, rejects = tmp_path / "out", tmp_path / "rejects.jsonl"
    prep.prepare([str(data)], str(out), rejects=str(rejects))
    data.write_text((good + "\n") * 3 + "{bad\n")

    def full_disk(self) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(JsonlWriter, "flush", full_disk)
    with pytest.raises(Exception, match="No space left"):
        prep.prepare([str(data)], str(out), rejects=str(rejects))
    assert len(datasets.load_from_disk(str(out))) == 1  # the previous run's data set, beside its rejects


def test_canonical_reasoning_text_is_never_trained(tmp_path) -> None:
    """A canonical record whose reply holds `<think>...</think>` validates with a warning, and prepare's
    skip-the-converter path (and train-eval's as-is path) trained the tags and the reasoning."""
    import datasets

    from fcdata.normalize import Rules
    from fcdata.tokenizer import load_tokenizer
    from fcdata.train.pipeline import load_records

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>secret plan</think>\n\nAnswer."}]}) + "\n")
    out = tmp_path / "out"
    from fcdata.prepare import prepare

    rep = prepare([str(data)], str(out))
    assert rep.repairs == {"reasoning_dropped": 1}
    [row] = datasets.load_from_disk(str(out))
    trained = [t for t, m in zip(row["input_ids"], row["assistant_masks"]) if m]
    assert load_tokenizer().decode(trained).strip() == "Answer."
    for rules in (None, Rules(), Rules(systems_in_place=True, content_with_calls=True, version="v7")):
        records, _, _ = load_records(str(data), rules=rules)
        assert records[0]["messages"][1]["content"] == "Answer.", rules
