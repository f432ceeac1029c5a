"""The synthetic tool-calling task: valid, renderable, deterministic records whose held-out part really
holds out tools and values."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.errors import UsageError
from fcdata.render import render_records
from fcdata.synth import SynthConfig, synth_records, tool_universe
from fcdata.validate import check_record


@pytest.fixture(scope="module")
def normal() -> list[dict]:
    return list(synth_records(n_train=400, n_test=100, seed=3))


def _calls(record: dict) -> list[dict]:
    return [tc["function"] for m in record["messages"] if m["role"] == "assistant" for tc in m.get("tool_calls") or []]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def test_deterministic_bytes() -> None:
    a = [json.dumps(r, ensure_ascii=False) for r in synth_records(n_train=50, n_test=10, seed=7)]
    b = [json.dumps(r, ensure_ascii=False) for r in synth_records(n_train=50, n_test=10, seed=7)]
    c = [json.dumps(r, ensure_ascii=False) for r in synth_records(n_train=50, n_test=10, seed=8)]
    assert a == b
    assert a != c
    # a record does not depend on how many come before or after it
    d = [json.dumps(r, ensure_ascii=False) for r in synth_records(n_train=50, n_test=0, seed=7)]
    assert d == a[:50]


def test_every_record_validates_and_renders(normal: list[dict]) -> None:
    for record in normal:
        _, findings = check_record(record)
        assert [f for f in findings if f.severity == "error"] == [], findings
        assert not [f for f in findings if f.severity == "warning"], findings
    rendered = render_records(normal)
    assert all(not isinstance(r, Exception) for r in rendered)
    assert all(r.samples and all(s.num_trained > 0 for s in r.samples) for r in rendered)


def test_cases_and_splits(normal: list[dict]) -> None:
    meta = [r["metadata"] for r in normal]
    assert Counter(m["split"] for m in meta) == {"train": 400, "test": 100}
    assert [m["index"] for m in meta] == list(range(500))
    cases = Counter(m["case"] for m in meta)
    assert set(cases) == {"single", "parallel", "no_call", "multi_turn"}
    assert cases["single"] > cases["parallel"]
    for record in normal:
        calls = _calls(record)
        case = record["metadata"]["case"]
        if case == "no_call":
            assert calls == [] and record["messages"][-1]["content"]
        elif case == "parallel":
            assert len(record["messages"][-1]["tool_calls"]) == 2
        elif case == "multi_turn":
            assert any(m["role"] == "tool" for m in record["messages"]) and len(calls) == 2
        else:
            assert len(calls) == 1
        assert 2 <= len(record["tools"]) <= 4


def test_calls_follow_their_schema_and_the_request(normal: list[dict]) -> None:
    checked = 0
    for record in normal:
        schemas = {t["function"]["name"]: t["function"] for t in record["tools"]}
        user_text = " ".join(m["content"] for m in record["messages"] if m["role"] == "user")
        for call in _calls(record):
            fn = schemas[call["name"]]  # only declared tools are called
            jsonschema.validate(call["arguments"], fn["parameters"])
            verb, noun = call["name"].split("_", 1)
            assert f"{verb} the {noun}" in user_text.lower() and fn["description"] == f"{verb} the {noun}"
            for key, value in call["arguments"].items():
                spoken = f'{key} "{value}"' if isinstance(value, str) else f"{key} {json.dumps(value)}"
                assert spoken in user_text, (spoken, user_text)
                checked += 1
        # a distractor never serves the same noun as a called tool
        called_nouns = [c["name"].split("_", 1)[1] for c in _calls(record)]
        declared_nouns = [n.split("_", 1)[1] for n in schemas]
        for noun in set(called_nouns):
            assert declared_nouns.count(noun) == called_nouns.count(noun)
    assert checked > 300


def test_held_out_tools_and_values_never_seen_in_training(normal: list[dict]) -> None:
    train_tools, held_tools = tool_universe()
    held_names = {t.name for t in held_tools}
    train = [r for r in normal if r["metadata"]["split"] == "train"]
    test = [r for r in normal if r["metadata"]["split"] == "test"]
    seen_names = {t["function"]["name"] for r in train for t in r["tools"]}
    assert not seen_names & held_names
    test_called = {c["name"] for r in test for c in _calls(r)}
    assert test_called & held_names, "some held-out records call held-out tools"
    # every verb and noun of a held-out tool occurs in training tools
    verbs = {n.split("_", 1)[0] for n in seen_names}
    nouns = {n.split("_", 1)[1] for n in seen_names}
    assert all(n.split("_", 1)[0] in verbs and n.split("_", 1)[1] in nouns for n in test_called)
    train_values = {s for r in train for c in _calls(r) for s in _strings(c["arguments"])}
    test_values = {s for r in test for c in _calls(r) for s in _strings(c["arguments"])}
    enums = {"metric", "imperial", "low", "medium", "high", "asc", "desc", "small", "large"}
    assert test_values - enums and not (test_values - enums) & train_values
    train_ints = {v for r in train for c in _calls(r) for v in c["arguments"].values() if isinstance(v, int) and not isinstance(v, bool)}
    test_ints = {v for r in test for c in _calls(r) for v in c["arguments"].values() if isinstance(v, int) and not isinstance(v, bool)}
    assert test_ints and not test_ints & train_ints


def test_easy_difficulty_is_one_tool_one_call() -> None:
    records = list(synth_records(n_train=50, n_test=10, difficulty="easy"))
    for record in records:
        assert len(record["tools"]) == 1 and len(_calls(record)) == 1
        assert [m["role"] for m in record["messages"]] == ["user", "assistant"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"difficulty": "hard"},
        {"n_train": -1},
        {"parallel": 0.7, "no_call": 0.5},
        {"max_tools": 1},
        {"no_call": 1.5},
        {"n_train": 0, "n_test": 0},  # nothing to make
        {"max_tools": 30},  # more tools than nouns less one: it looped forever, or crashed in no_call
        {"max_tools": 1000},
    ],
)
def test_bad_settings_are_refused(overrides: dict) -> None:
    with pytest.raises(UsageError):
        list(synth_records(SynthConfig(**overrides)))


def test_cli_writes_records_and_a_table(tmp_path) -> None:
    out = tmp_path / "s.jsonl"
    result = CliRunner().invoke(cli, ["synth", "-o", str(out), "-n", "20", "--test", "5", "--seed", "1"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 25
    assert [json.loads(line) for line in lines] == list(synth_records(n_train=20, n_test=5, seed=1))
    assert "wrote 25 records" in result.stderr
    assert "split" in result.stderr and "case" in result.stderr
    stdout = CliRunner().invoke(cli, ["synth", "-o", "-", "-n", "3", "--test", "0", "--difficulty", "easy"])
    assert stdout.exit_code == 0 and len(stdout.stdout.splitlines()) == 3


def test_the_most_tools_allowed_can_be_made_and_easy_ignores_the_normal_settings() -> None:
    from fcdata.synth import MAX_TOOLS

    records = list(synth_records(n_train=200, n_test=50, max_tools=MAX_TOOLS, no_call=0.5, seed=3))
    assert len(records) == 250 and max(len(r["tools"]) for r in records) == MAX_TOOLS
    # the shares and max_tools apply to normal difficulty only, so they cannot make easy fail
    easy = list(synth_records(n_train=5, n_test=1, difficulty="easy", parallel=0.9, no_call=0.9, max_tools=1))
    assert len(easy) == 6


def test_cli_usage_errors_exit_2(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["synth", "-o", str(tmp_path / "x.jsonl"), "--difficulty", "impossible"])
    assert result.exit_code == 2
    result = CliRunner().invoke(cli, ["synth", "-o", str(tmp_path / "x.jsonl"), "--parallel", "0.6", "--no-call", "0.6"])
    assert result.exit_code == 2 and "must not exceed 1" in result.output


def test_bundled_example_is_the_generator_output() -> None:
    """examples/synth_sample.jsonl is `fcdata synth -o examples/synth_sample.jsonl -n 240 --test 40`."""
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "synth_sample.jsonl")
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert lines == [json.dumps(r, ensure_ascii=False) for r in synth_records(n_train=240, n_test=40)]
