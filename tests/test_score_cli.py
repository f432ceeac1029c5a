"""`fcdata score` and `fcdata bfcl-prompts` through click's CliRunner: outputs, files and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.score import score

FIXTURES = Path(__file__).parent / "fixtures" / "score"
PREDICTIONS = str(FIXTURES / "predictions.jsonl")
REFERENCES = str(FIXTURES / "references.jsonl")


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_reference_mode_writes_everything_and_exits_1_on_rejected_lines(tmp_path: Path) -> None:
    report_path, details_path, rejects_path = tmp_path / "r.json", tmp_path / "d.jsonl", tmp_path / "rej.jsonl"
    result = invoke("score", PREDICTIONS, "--references", REFERENCES, "--report", str(report_path), "--details", str(details_path), "--rejects", str(rejects_path))
    assert result.exit_code == 1  # five lines could not be scored
    library = score(PREDICTIONS, REFERENCES).to_json()
    assert json.loads(report_path.read_text()) == library
    details = [json.loads(line) for line in details_path.read_text().splitlines()]
    assert len(details) == 15
    assert details[1] == {"id": "r2", "correct": False, "error": "wrong_value", "category": "single", "parse_failure": False, "issues": ["wrong_value"]}
    assert all(set(d) >= {"id", "correct", "error"} for d in details)
    rejects = [json.loads(line) for line in rejects_path.read_text().splitlines()]
    assert [r["line"] for r in rejects] == [6, 7, 18, 19, 20]
    assert rejects[0]["text"] == '{"id": "r99", "output": "hello</s>"}'
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "category   n  correct  accuracy",
        "--------  --  -------  --------",
        "no_call    3        2    66.67%",
        "single    10        1    10.00%",
        "parallel   2        1    50.00%",
        "all       15        4    26.67%",
    ]
    assert "argument precision / recall / F1             64.71% / 55.00% / 59.46%" in result.stdout
    assert "warning: predictions: " + PREDICTIONS + ":6: no reference has id 'r99'" in result.stderr
    assert "note: 1 references have no prediction (r16)" in result.stderr


def test_report_to_stdout_is_pure_json() -> None:
    result = invoke("score", PREDICTIONS, "-r", REFERENCES, "--report", "-")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["n"] == 15


def bfcl_files(shared: Path, tmp_path: Path) -> tuple[str, str, str, str]:
    """Three simple and two irrelevance questions, with predictions for four of them."""
    simple = [json.loads(line) for line in (shared / "bfcl" / "BFCL_v3_simple.json").read_text().splitlines()[:3]]
    answers = [json.loads(line) for line in (shared / "bfcl" / "possible_answer" / "BFCL_v3_simple.json").read_text().splitlines()[:3]]
    irrelevance = [json.loads(line) for line in (shared / "bfcl" / "BFCL_v3_irrelevance.json").read_text().splitlines()[:2]]
    q, a, i, p = tmp_path / "q.json", tmp_path / "a.json", tmp_path / "i.json", tmp_path / "p.jsonl"
    q.write_text("".join(json.dumps(x) + "\n" for x in simple))
    a.write_text("".join(json.dumps(x) + "\n" for x in answers))
    i.write_text("".join(json.dumps(x) + "\n" for x in irrelevance))
    preds = [
        # simple_0: the accepted call; "unit" may be omitted ("" in its accepted list)
        {"id": "simple_0", "output": '[TOOL_CALLS] [{"name": "calculate_triangle_area", "arguments": {"base": 10, "height": 5}}]</s>'},
        # simple_1: declared as math.factorial, so a Mistral model must call math_factorial
        {"id": "simple_1", "output": '[TOOL_CALLS] [{"name": "math.factorial", "arguments": {"number": 5}}]</s>'},
        {"id": "irrelevance_0", "output": '[TOOL_CALLS] [{"name": "determine_body_mass_index", "arguments": {"weight": 1'},
        {"id": "irrelevance_1", "content": "I cannot solve that with math_sum."},
    ]
    p.write_text("".join(json.dumps(x) + "\n" for x in preds))
    return str(q), str(a), str(i), str(p)


def test_bfcl_mode(shared_data: Path, tmp_path: Path) -> None:
    q, a, i, p = bfcl_files(shared_data, tmp_path)
    details = tmp_path / "d.jsonl"
    result = invoke("score", p, "--bfcl", q, "--bfcl", i, "--answers", a, "--details", str(details))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:5] == [
        "category     n  correct  accuracy",
        "-----------  -  -------  --------",
        "simple       2        1    50.00%",
        "irrelevance  2        2   100.00%",
        "all          4        3    75.00%",
    ]
    assert "parse failures                               1 (1 scored correct on irrelevance)" in result.stdout
    assert "note: 1 BFCL questions have no prediction (simple_2)" in result.stderr
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    assert [(r["id"], r["correct"], r["error"], r["parse_failure"]) for r in rows] == [
        ("simple_0", True, None, False),
        ("simple_1", False, "wrong_name", False),
        ("irrelevance_0", True, None, True),
        ("irrelevance_1", True, None, False),
    ]
    assert rows[1]["bfcl_error"] == "simple_function_checker:wrong_func_name"
    assert all("bfcl_error" in r for r in rows) and rows[0]["bfcl_error"] is None  # present on every line, as documented
    # questions on standard input, as every input may be
    piped = invoke("score", p, "--bfcl", "-", "--bfcl", i, "--answers", a, "--report", "-", input=Path(q).read_text())
    assert json.loads(piped.stdout)["categories"]["simple"]["n"] == 2, piped.output
    # with the names as declared, simple_1 passes
    kept = invoke("score", p, "--bfcl", q, "--bfcl", i, "--answers", a, "--keep-dots", "--report", "-")
    assert json.loads(kept.stdout)["categories"]["simple"]["correct"] == 2
    # --min-accuracy turns a low score into exit code 1
    assert invoke("score", p, "--bfcl", q, "--bfcl", i, "--answers", a, "-q", "--min-accuracy", "0.8").exit_code == 1
    assert invoke("score", p, "--bfcl", q, "--bfcl", i, "--answers", a, "-q", "--min-accuracy", "0.75").exit_code == 0


def test_bfcl_without_answers_rejects_ast_predictions(shared_data: Path, tmp_path: Path) -> None:
    q, _, i, p = bfcl_files(shared_data, tmp_path)
    result = invoke("score", p, "--bfcl", q, "--bfcl", i, "-q", "--report", str(tmp_path / "r.json"))
    assert result.exit_code == 1
    assert "no accepted answer for 'simple_0'" in result.stderr
    # a question whose prediction was rejected had one: it is not also counted as having none
    rep = json.loads((tmp_path / "r.json").read_text())
    assert "simple_0" not in rep["missing_ids"], rep["missing_ids"]


def test_a_rejected_prediction_is_not_also_a_missing_one(tmp_path: Path) -> None:
    """scored + rejected (with the reference's id) + missing = references: a prediction line of an
    unknown shape used to be counted both as rejected and as missing."""
    refs = [json.loads(line) for line in Path(REFERENCES).read_text().splitlines()]
    ids = [str(r["id"]) if "id" in r else str((r.get("metadata") or {}).get("id")) for r in refs]
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": ids[0], "foo": 1}) + "\n")
    report = score(str(preds), REFERENCES)
    assert report.rejected and ids[0] not in report.missing
    assert len(report.items) + 1 + len(report.missing) == len(refs)


@pytest.mark.parametrize(
    "args, message",
    [
        ([PREDICTIONS], "give --references or --bfcl"),
        ([PREDICTIONS, "-r", REFERENCES, "--bfcl", REFERENCES], "give --references or --bfcl"),
        ([PREDICTIONS, "-r", REFERENCES, "--answers", REFERENCES], "--answers goes with --bfcl"),
        (["missing.jsonl", "-r", REFERENCES], "does not exist"),
        ([PREDICTIONS, "-r", REFERENCES, "--min-accuracy", "2"], "not in the range"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["score", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_help() -> None:
    for command in ("score", "bfcl-prompts"):
        result = invoke(command, "-h")
        assert result.exit_code == 0 and "Examples:" in result.output


def test_stdin_predictions() -> None:
    result = invoke("score", "-", "-r", REFERENCES, "-q", "--report", "-", input=Path(PREDICTIONS).read_text())
    assert json.loads(result.stdout)["n"] == 15


def test_bfcl_prompts_command(shared_data: Path, tmp_path: Path) -> None:
    out, ids = tmp_path / "prompts.jsonl", tmp_path / "ids.jsonl"
    question_file = str(shared_data / "bfcl" / "BFCL_v3_parallel.json")
    result = invoke("bfcl-prompts", question_file, "-o", str(out))
    assert result.exit_code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 200 and records[0]["metadata"]["id"] == "parallel_0"
    assert "200 prompts written" in result.stderr
    small = tmp_path / "two.json"
    small.write_text("\n".join(Path(question_file).read_text().splitlines()[:2]) + "\n")
    result = invoke("bfcl-prompts", str(small), "-o", str(out), "--ids", str(ids))
    assert result.exit_code == 0
    rows = [json.loads(line) for line in ids.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["parallel_0", "parallel_1"]
    assert rows[0]["input_ids"][0] == 1 and rows[0]["input_ids"][-1] == 4


def test_bfcl_prompts_skips_bad_questions_with_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "multi_turn_base_0", "question": [[{"role": "user", "content": "a"}]], "function": []}) + "\n")
    result = invoke("bfcl-prompts", str(bad))
    assert result.exit_code == 1
    assert f"warning: {bad}:1: category 'multi_turn_base'" in result.stderr
    assert result.stdout == ""
