"""Evaluation and train-eval: prompts are exactly mistral-common's inference encoding, the split is
deterministic and leak-free, every record is accounted for, and the whole recipe runs end to end on the
CPU with `--model tiny-mistral` (the one slow test of the training suite)."""

from __future__ import annotations

import json
import os
import time
import pytest
import torch
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.convert import convert_records
from fcdata.errors import UsageError
from fcdata.read import read_items
from fcdata.synth import synth_records
from fcdata.train.evaluate import eval_items
from fcdata.train.generate import _open_call_id
from fcdata.train.pipeline import load_records, render_report_md, split_records
from oracle import encode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "sharegpt_sample.jsonl")
SYNTH_EXAMPLE = os.path.join(ROOT, "examples", "synth_sample.jsonl")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _converted(path: str) -> list[dict]:
    return [o.record for o in convert_records(read_items(path)) if o.ok]


def test_eval_prompts_are_mistral_commons_inference_encoding(shared_data) -> None:
    """Every held-out turn's prompt equals encode_chat_completion of the conversation before it, in
    mistral-common's inference (test) mode: tools before the last user message, results, earlier ids."""
    records = _converted(str(shared_data / "sharegpt" / "glaive_toolcall_en_demo.json"))[:80]
    records += list(synth_records(n_train=60, n_test=0, seed=4))
    items, skipped = eval_items(records)
    assert len(items) > 250
    kinds = set()
    for it in items:
        record = records[it.record_index - 1]
        prompt = {"messages": record["messages"][: it.message_index], "tools": record.get("tools") or []}
        assert it.prompt_ids == encode(prompt, mode="test"), it.id
        kinds.add(record["messages"][it.message_index - 1]["role"])
        assert it.reference["messages"][-1] == record["messages"][it.message_index]
        assert it.reference["metadata"]["id"] == it.id
    assert kinds == {"user", "tool"}  # turns after a user message and after tool results


def test_turns_that_are_not_inference_targets_are_skipped_and_counted() -> None:
    call = {"id": "abcABC123", "type": "function", "function": {"name": "f", "arguments": {}}}
    tools = [{"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object", "properties": {}}}}]
    record = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "thinking", "weight": 0},
            {"role": "user", "content": "b"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "abcABC123", "content": "{}"},
            {"role": "assistant", "content": "done"},
            {"role": "assistant", "content": "and more"},
        ],
        "tools": tools,
        "metadata": {"id": "r7"},
    }
    # text then a call in one assistant turn: mistral-common cannot encode the later prompt
    both = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "let me look"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "abcABC123", "content": "{}"},
            {"role": "assistant", "content": "done"},
        ],
        "tools": tools,
    }
    items, skipped = eval_items([record, {"text": "plain pretraining text"}, both])
    assert [it.id for it in items] == ["r7:3", "r7:5", "3:1"]
    assert skipped == {"after_assistant": 2, "text_record": 1, "unrenderable_prompt": 1, "weight_0": 1}


def test_turn_names_use_the_scorers_reading_of_an_id() -> None:
    """A whole-number float id (2.0, from pandas) names its turns "2:k", as the scorer reads that id; an
    id that is no id (an object, a boolean) falls back to the record's position, never its repr; a name
    already taken (a duplicate id, a position that is another record's id) gets the position appended, so
    no two turns share a name (the scorer would reject both)."""
    tools: list = []
    base = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    records = [{"messages": base, "tools": tools, "metadata": {"id": v}} for v in (2.0, {"x": 1}, True, 7, "q", "q", "q@8", "q")]
    items, _ = eval_items(records)
    assert [it.id for it in items] == ["2:1", "2@2:1", "3:1", "7:1", "q:1", "q@6:1", "q@8:1", "q@8@:1"]


def test_open_call_id_only_at_call_level() -> None:
    assert _open_call_id('[{"name": "f", "arguments": {"a": 1}, "id": "')
    assert not _open_call_id('[{"name": "f", "arguments": {"id": "')  # an argument named id
    assert _open_call_id('[{"name": "f", "arguments": {"s": "a \\"quoted\\" [{ word"}, "id": "')  # escapes, brackets in strings
    assert not _open_call_id('[{"name": "f", "arguments": {"a": [{"id": "')  # deeper than a call object
    assert _open_call_id('[{"name": "f", "arguments": {"s": "[{"}, "id": "abcdefghi"}, {"name": "g", "arguments": {}, "id": "')
    # "id" written as a value (the name), then a colon: no id was opened, the model is left to itself
    assert not _open_call_id('[{"name": "id": "')
    assert not _open_call_id('[{"name": "f", "arguments": {}, "x": "id": "')


def test_split_is_deterministic_leak_free_and_keeps_order() -> None:
    records = [{"messages": [{"role": "user", "content": f"q{i % 37}"}, {"role": "assistant", "content": "a"}], "metadata": {"line": i}} for i in range(100)]
    train, held, info = split_records(records, eval_fraction=0.1, seed=0)
    assert info["method"] == "content hash" and len(train) + len(held) == 100
    assert len(held) >= 10
    again = split_records(list(reversed(records)), eval_fraction=0.1, seed=0)
    assert sorted(r["metadata"]["line"] for r in again[1]) == sorted(r["metadata"]["line"] for r in held)
    # identical records (same content, other metadata) are never split across the two sides
    held_text = {r["messages"][0]["content"] for r in held}
    assert not held_text & {r["messages"][0]["content"] for r in train}
    assert [r["metadata"]["line"] for r in train] == sorted(r["metadata"]["line"] for r in train)
    other = split_records(records, eval_fraction=0.1, seed=1)[1]
    assert {r["metadata"]["line"] for r in other} != {r["metadata"]["line"] for r in held}
    fixed = split_records(records, eval_size=5, seed=0)[1]
    assert len(fixed) >= 5 and len({r["messages"][0]["content"] for r in fixed}) <= 5
    # records that carry their split keep it
    synth = list(synth_records(n_train=20, n_test=4))
    t, h, i = split_records(synth)
    assert i["method"] == "metadata.split" and len(h) == 4 and all(r["metadata"]["split"] == "test" for r in h)
    with pytest.raises(UsageError):
        split_records(records[:1])
    with pytest.raises(UsageError):
        split_records(records, eval_size=100)


def test_copies_that_differ_only_in_call_ids_stay_on_one_side() -> None:
    """Converters make call ids up per copy; 8 of 20 duplicated conversations landed on both sides."""
    def conversation(i: int, cid: str) -> dict:
        call = {"id": cid, "type": "function", "function": {"name": "get_weather", "arguments": {"city": f"c{i}"}}}
        return {"messages": [{"role": "user", "content": f"Weather in c{i}?"}, {"role": "assistant", "tool_calls": [call]}, {"role": "tool", "tool_call_id": cid, "content": "21"}, {"role": "assistant", "content": "21."}]}

    records = [conversation(i, f"aaaaaaa{i:02d}") for i in range(20)] + [conversation(i, f"bbbbbbb{i:02d}") for i in range(20)]
    train, held, _ = split_records(records, eval_size=10, seed=0)
    asked = lambda rs: {r["messages"][0]["content"] for r in rs}  # noqa: E731
    assert asked(train) and asked(held) and not asked(train) & asked(held)


def test_load_records_accounts_for_every_record(tmp_path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = next(synth_records(n_train=1, n_test=0))
    bad_call = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "nope", "arguments": {}}}]}], "tools": []}
    lines = [json.dumps(good), "{not json", json.dumps({"foo": 1}), json.dumps(bad_call), json.dumps(good)]
    path.write_text("\n".join(lines) + "\n")
    records, rejects, counts = load_records(str(path))
    assert counts["read"] == 5 == len(records) + counts["rejected"] == counts["kept"] + sum(counts["rejected_by_stage"].values())
    assert len(records) == 2 and len(rejects) == 3
    assert {r["stage"] for r in rejects} >= {"convert"}
    assert all(r["line"] for r in rejects)


@pytest.mark.slow
def test_train_eval_end_to_end_on_the_bundled_example_on_cpu(tmp_path) -> None:
    """The README's first command, as it is: the bundled synthetic example (240 training records, 40
    held out with new tools and values) -> convert -> validate -> split -> prepare -> score the base ->
    train (LoRA defaults) -> score -> report, on a CPU, in under 3 minutes; then `fcdata eval` of the run
    folder reproduces the after-training predictions exactly (base_model/ + adapter/ reload)."""
    run = tmp_path / "run"
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["train-eval", SYNTH_EXAMPLE, "-o", str(run), "--model", "tiny-mistral"])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert elapsed < 180, f"train-eval took {elapsed:.0f} s"
    report = json.loads((run / "report.json").read_text())
    assert set(report) >= {"before", "after", "train", "input", "split", "prepared", "config"}
    for side in ("before", "after"):
        assert report[side]["accuracy"] is not None and report[side]["loss"] > 0 and report[side]["n"] == 55
        # 39 of the 55 held-out turns call a tool (37 single, 2 parallel); a random model gets none right
        assert (report[side]["call_items"], report[side]["call_accuracy"]) == (39, 0.0)
    train = report["train"]
    assert train["loss"]["first"] is not None and train["loss"]["last"] is not None
    assert train["tokens_per_second"] > 0 and train["trained_tokens_per_second"] > 0 and train["peak_memory_bytes"] > 0
    inp = report["input"]
    assert inp["read"] == 280 == inp["kept"] + inp["rejected"] == inp["kept"] + sum(inp["rejected_by_stage"].values())
    assert report["split"] == {"method": "metadata.split", "train": 240, "held_out": 40}
    assert report["config"]["lora"]["r"] == 32 and report["config"]["optim"] == "adamw_torch_fused"
    for name in ("report.md", "loss_curve.png", "predictions_before.jsonl", "predictions_after.jsonl", "references.jsonl", "adapter/adapter_config.json", "base_model/config.json", "data/train.jsonl", "data/heldout.jsonl", "prepared/dataset_info.json", "config.yaml", "metrics.json", "rejects.jsonl"):
        assert (run / name).exists(), name
    md = (run / "report.md").read_text()
    assert "| exact accuracy, all turns |" in md and "| exact accuracy, turns that call a tool |" in md and "![loss curve](loss_curve.png)" in md
    after = [json.loads(line) for line in (run / "predictions_after.jsonl").read_text().splitlines()]
    assert len(after) == 55 and all({"id", "output", "correct", "error"} <= set(p) for p in after)
    # the predictions score again with `fcdata score`, against the run's own references, same figures
    scored = CliRunner().invoke(cli, ["score", str(run / "predictions_after.jsonl"), "--references", str(run / "references.jsonl"), "--report", str(tmp_path / "score.json")])
    assert scored.exit_code in (0, 1), scored.output
    rescored = json.loads((tmp_path / "score.json").read_text())
    assert rescored["n"] == 55 and rescored["accuracy"] == report["after"]["accuracy"] and not rescored.get("rejected")
    assert "before" in result.stdout and "after" in result.stdout and "report.md" in result.stdout
    again = CliRunner().invoke(cli, ["eval", str(run), str(run / "data" / "heldout.jsonl")])
    assert again.exit_code == 0, again.output
    replayed = [json.loads(line) for line in (run / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert [p["output"] for p in replayed] == [p["output"] for p in after]
    assert json.loads((run / "eval" / "report.json").read_text())["accuracy"] == report["after"]["accuracy"]
    # the held-out loss too: eval renders as the run trained (its render_mode and max_length)
    assert json.loads((run / "eval" / "report.json").read_text())["loss"] == pytest.approx(report["after"]["loss"], rel=1e-6)
    # an earlier eval's rejects do not stay behind in the folder of one that rejected nothing
    (run / "eval" / "rejects.jsonl").write_text('{"stale": 1}\n')
    assert CliRunner().invoke(cli, ["eval", str(run), str(run / "data" / "heldout.jsonl")]).exit_code == 0
    assert not (run / "eval" / "rejects.jsonl").exists()
    # everything the run wrote is a name the run-folder guard knows (fcdata.paths.RUN_FOLDER_ENTRIES), so
    # running again into it is never refused as a folder fcdata did not write
    from fcdata.paths import RUN_FOLDER_ENTRIES, run_folder_problem

    assert {p.name for p in run.iterdir()} <= RUN_FOLDER_ENTRIES
    (run / "config.yaml").rename(run / "config.yaml.saved")  # a run cut off before its config.yaml
    assert run_folder_problem(str(run)) is not None  # (the renamed file is not a run's)
    (run / "config.yaml.saved").unlink()
    assert run_folder_problem(str(run)) is None


def test_report_md_renders_every_section() -> None:
    summary = {"n": 4, "accuracy": 0.5, "call_accuracy": 0.25, "name_accuracy": 0.75, "decision": {"accuracy": 1.0}, "arguments": {"f1": 0.6}, "parse_failures": 0, "unfinished_replies": 1, "categories": {"single": {"n": 4, "accuracy": 0.5}}}
    report = {
        "input": {"path": "x.jsonl", "read": 10, "kept": 9, "rejected": 1, "rejected_by_stage": {"convert": 1}},
        "split": {"method": "content hash", "train": 8, "held_out": 1},
        "before": {**summary, "accuracy": 0.0},
        "after": summary,
        "train": {"model": {"name": "tiny-mistral", "parameters": 10, "trainable_parameters": 5, "dtype": "float32"}, "steps": 3, "loss": {"first": 2.0, "last": 1.0}, "tokens": 100, "trained_tokens": 30, "tokens_per_second": 50.0, "trained_tokens_per_second": 15.0, "peak_memory_bytes": 2**30, "peak_memory_kind": "rss", "runtime_s": 2.0, "data": {"mode": "packed", "efficiency": 0.9}},
        "config": {"notes": ["optim: changed"]},
        "runtime_s": 5.0,
    }
    md = render_report_md(report)
    assert "| exact accuracy, all turns | 0.0% | 50.0% |" in md
    assert "| exact accuracy, turns that call a tool | 25.0% | 25.0% |" in md
    assert "| single | 4 | 50.0% | 50.0% |" in md
    assert "loss_curve.png" in md and "- optim: changed" in md and "1.00 GiB" in md
    # every line is explained, the decision line with why it can exceed the no_call row
    for line in ("exact accuracy, all turns", "function-name accuracy", "call / no-call decision", "argument F1", "replies without `</s>`", "loss on held-out replies"):
        assert f"- **{line}**: " in md, line
    assert "unfinished" in md and "fcdata score predictions_after.jsonl --references references.jsonl" in md
    finished = render_report_md({**report, "train": {**report["train"], "already_finished": True, "steps_this_run": 0, "tokens_per_second": None, "trained_tokens_per_second": None}})
    assert "nothing trained: the run had already finished" in finished


def test_cli_usage_errors(tmp_path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["train-eval", EXAMPLE, "-o", str(tmp_path / "r"), "--qlora"]).exit_code == 2  # no CUDA here
    bad = runner.invoke(cli, ["train", EXAMPLE, "-o", str(tmp_path / "r2"), "--set", "lerning_rate=1"])
    assert bad.exit_code == 2 and "unknown setting 'lerning_rate'" in bad.output
    assert runner.invoke(cli, ["eval", "tiny-mistral", EXAMPLE]).exit_code == 2  # no -o for a model spec
    # an input with nothing to train or evaluate on is a finding (exit 1), as in every command
    (tmp_path / "empty.jsonl").write_text("")
    for argv in (["train", str(tmp_path / "empty.jsonl"), "-o", str(tmp_path / "re1"), "--model", "tiny-mistral"], ["train-eval", str(tmp_path / "empty.jsonl"), "-o", str(tmp_path / "re2"), "--model", "tiny-mistral"], ["eval", "tiny-mistral", str(tmp_path / "empty.jsonl"), "-o", str(tmp_path / "re3")]):
        r = runner.invoke(cli, argv)
        assert r.exit_code == 1 and "Error:" in r.output and "Traceback" not in r.output, (argv, r.output)
    no_gpu = runner.invoke(cli, ["eval", "tiny-mistral", EXAMPLE, "-o", str(tmp_path / "e"), "--qlora"])
    assert no_gpu.exit_code == 2 and "needs a CUDA GPU" in no_gpu.output, no_gpu.output  # as train refuses it
    assert runner.invoke(cli, ["train", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "r3")]).exit_code == 2
    # a model that cannot load is refused before the data is read: no run folder is left half made
    for model, extra, said in (("no-such-model", [], "not a built-in model"), ("tiny-mistral", ["--set", "model_config.x=1"], "unknown key(s) 'x'")):
        r = runner.invoke(cli, ["train-eval", EXAMPLE, "-o", str(tmp_path / "r4"), "--model", model, *extra])
        assert r.exit_code == 2 and said in r.output, r.output
        assert not (tmp_path / "r4").exists()
    # values transformers refuses are one line and exit 2 before any work, not a traceback after preparing
    for extra, said in (
        (["--set", "lr_scheduler=bogus"], "lr_scheduler: unknown value 'bogus'"),
        (["--optim", "bogus"], "optim: unknown value 'bogus'"),
        (["--set", "model_config.num_hidden_layers=abc"], "num_hidden_layers = 'abc'"),
        (["--set", "model_config.hidden_size=-5"], "hidden_size = -5"),
    ):
        r = runner.invoke(cli, ["train", EXAMPLE, "-o", str(tmp_path / "r5"), "--model", "tiny-mistral", *extra])
        assert r.exit_code == 2 and said in r.output and "Traceback" not in r.output, r.output
        assert not (tmp_path / "r5").exists()


@pytest.mark.slow
def test_a_tiny_model_trained_for_a_minute_beats_its_untrained_self(tmp_path) -> None:
    """The synthetic task, easy difficulty (every reference is one call), tiny-mistral trained from
    scratch on the CPU for about a minute: where its untrained self writes noise, it now always answers
    with a tool call, and it predicts the held-out replies far better (held-out loss per trained token
    at most half). Exact accuracy needs far more compute (the GPU benchmark shows it)."""
    from fcdata.train.config import TrainConfig, merge_overrides
    from fcdata.train.pipeline import train_eval
    from fcdata.write import write_jsonl

    data = tmp_path / "easy.jsonl"
    write_jsonl(str(data), synth_records(n_train=300, n_test=32, difficulty="easy"))
    cfg = merge_overrides(
        TrainConfig(),
        {"full": True, "max_length": 512, "batch_size": 2, "gradient_accumulation_steps": 1, "learning_rate": 3e-3, "epochs": 2.0, "logging_steps": 10, "save_steps": 10**9},
    )
    report = train_eval(str(data), str(tmp_path / "run"), cfg).report
    before, after = report["before"], report["after"]
    assert before["n"] == after["n"] == 32
    assert before["decision"]["accuracy"] == 0.0 and before["unfinished_replies"] == 32
    assert after["decision"]["accuracy"] == 1.0
    assert after["loss"] < 0.5 * before["loss"]
    assert report["train"]["loss"]["last"] < 0.5 * report["train"]["loss"]["first"]
