"""``fcdata convert`` through click's CliRunner: formats, outputs, reports, rejects, exit codes,
conservation (read == written + rejected) on good and garbage input, byte-identical reruns and
--num-proc, and every shared sample converting to validator-clean records."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.read import read_items
from fcdata.validate import check_record, validate_files

FIXTURES = Path(__file__).parent / "fixtures"
CONVERT = FIXTURES / "convert"


def _run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["convert", *args], input=input, catch_exceptions=False)


def _shared_inputs(shared: Path) -> list[str]:
    return [
        str(shared / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl"),
        str(shared / "sharegpt" / "glaive_toolcall_en_demo.json"),
        str(shared / "messages" / "mistral_finetune_readme_function_calling_example.jsonl"),
        str(shared / "messages" / "bellwether_glaive_v2_cases_excerpt.jsonl"),
        *sorted(str(p) for p in (shared / "messages" / "functionary_tests").glob("*.json")),
        str(shared / "interactions" / "hackathon_readme_examples.jsonl"),
        str(shared / "interactions" / "hackathon_readme_pretrain_examples.jsonl"),
    ]


def test_every_shared_sample_converts_and_validates(shared_data: Path, tmp_path: Path) -> None:
    out, report, rejects = tmp_path / "out.jsonl", tmp_path / "report.json", tmp_path / "rejects.jsonl"
    inputs = _shared_inputs(shared_data)
    res = _run(*inputs, "-o", str(out), "--report", str(report), "--rejects", str(rejects))
    assert res.exit_code == 0, res.output
    rep = json.loads(report.read_text())
    assert rep["read"] == rep["kept"] + rep["rejected"]
    assert (rep["read"], rep["kept"], rep["rejected"]) == (73 + 300 + 1 + 2 + 3 + 2 + 2, 382, 1)
    assert rep["formats"] == {"canonical": 1, "glaive": 73, "hackathon": 2, "openai": 5, "sharegpt": 300, "text": 2}
    assert rep["rejections"] == {"arguments_schema": 1}
    assert [f["format"] for f in rep["per_input"]] == ["glaive", "sharegpt", "canonical", "openai", "openai", "openai", "openai", "hackathon", "text"]
    assert sum(f["read"] for f in rep["per_input"]) == rep["read"]
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == rep["kept"]
    for line in lines:
        assert [f for f in check_record(json.loads(line))[1] if f.severity == "error"] == []
    vrep = validate_files([str(out)])
    assert (vrep.read, vrep.error_count) == (rep["kept"], 0)
    [reject] = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert reject["line"] == 8001 and reject["reasons"][0]["code"] == "arguments_schema"
    assert json.loads(reject["text"])["tools"].startswith('[{"name": "track_calories"')
    for name in ("glaive_raw", "sharegpt", "functionary_tests"):
        assert name in res.stderr  # the detected format is announced per file
    assert "glaive (detected)" in res.stderr
    assert "rejected because" in res.stdout and "arguments_schema" in res.stdout


def test_rerun_and_num_proc_give_the_same_bytes(shared_data: Path, tmp_path: Path) -> None:
    inputs = [str(CONVERT / "glaive_quirks.jsonl"), str(shared_data / "sharegpt" / "glaive_toolcall_en_demo.json"), str(CONVERT / "garbage.jsonl")]
    outs = []
    for i, procs in enumerate(("1", "1", "2")):
        out, rej = tmp_path / f"o{i}.jsonl", tmp_path / f"r{i}.jsonl"
        res = _run(*inputs, "-o", str(out), "--rejects", str(rej), "--num-proc", procs, "--report", str(tmp_path / f"rep{i}.json"))
        assert res.exit_code == 0, res.output
        outs.append((out.read_bytes(), rej.read_bytes(), (tmp_path / f"rep{i}.json").read_text().replace(f"o{i}.jsonl", "").replace(f"r{i}.jsonl", "")))
    assert outs[0] == outs[1] == outs[2]


def test_garbage_is_rejected_and_counted(tmp_path: Path) -> None:
    out, report, rej = tmp_path / "out.jsonl", tmp_path / "rep.json", tmp_path / "rej.jsonl"
    res = _run(str(CONVERT / "garbage.jsonl"), "-o", str(out), "--report", str(report), "--rejects", str(rej))
    assert res.exit_code == 1 and "no record was written: every one of" in res.stderr  # nothing written is a finding
    rep = json.loads(report.read_text())
    n = sum(1 for line in (CONVERT / "garbage.jsonl").read_text().splitlines() if line.strip())
    assert rep["read"] == n == rep["kept"] + rep["rejected"]
    assert rep["kept"] == 0
    codes = rep["rejections"]
    assert codes["not_json"] >= 2 and codes["not_object"] == 3 and "internal_error" not in codes
    assert codes["invalid_unicode"] == 1
    rejects = [json.loads(x) for x in rej.read_text().splitlines()]
    assert len(rejects) == rep["rejected"]
    source = [line for line in (CONVERT / "garbage.jsonl").read_text().splitlines() if line.strip()]
    assert [r["text"] for r in rejects] == source  # verbatim
    assert out.read_text() == ""
    strict = _run(str(CONVERT / "garbage.jsonl"), "-o", str(out), "--strict")
    assert strict.exit_code == 1


def test_empty_and_blank_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n  \n")
    res = _run(str(empty), str(blank), "-o", str(tmp_path / "o.jsonl"), "--report", str(tmp_path / "r.json"), "--strict")
    assert res.exit_code == 1  # the one rule for empty inputs: a finding, --strict or not
    assert f"{empty}: holds no record" in res.stderr and f"{blank}: holds no record" in res.stderr
    assert (tmp_path / "o.jsonl").read_text() == ""  # still written (empty): the run finished
    rep = json.loads((tmp_path / "r.json").read_text())
    assert (rep["read"], rep["kept"], rep["rejected"]) == (0, 0, 0)
    assert "format unknown" in res.stderr


def test_stdin_to_stdout_with_forced_format() -> None:
    lines = "\n".join(json.dumps(x) for x in ({"text": "hello"}, {"text": "world"})) + "\n"
    res = _run("-", "-o", "-", "--from", "text", input=lines)
    assert res.exit_code == 0
    recs = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["text"] for r in recs] == ["hello", "world"]
    assert recs[0]["metadata"] == {"source_file": "<stdin>", "source_line": 1, "format": "text", "repairs": []}
    assert "kept" in res.stderr and "forced by --from" in res.stderr  # the table goes to stderr when data is on stdout


def test_parquet_and_gzip(tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl"
    gz = tmp_path / "g.jsonl.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(src.read_bytes())
    out = tmp_path / "out.parquet"
    res = _run(str(gz), "-o", str(out), "--num-proc", "1")
    assert res.exit_code == 0, res.output
    items = list(read_items(out))
    assert len(items) == 73
    jsonl = tmp_path / "out.jsonl"
    assert _run(str(src), "-o", str(jsonl)).exit_code == 0
    direct = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert [it.value["messages"] for it in items] == [d["messages"] for d in direct]
    assert [it.value["metadata"]["source_line"] for it in items] == list(range(1, 74))


def test_usage_and_io_errors(tmp_path: Path) -> None:
    missing = _run(str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    assert not (tmp_path / "o.jsonl").exists()
    assert _run(str(CONVERT / "garbage.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--from", "yaml").exit_code == 2
    assert _run(str(CONVERT / "garbage.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--num-proc", "0").exit_code == 2
    assert _run(str(CONVERT / "garbage.jsonl")).exit_code == 2  # -o is required
    assert _run("-", "-o", "-", "--report", "-", input="").exit_code == 2
    assert _run("-", "-", "-o", str(tmp_path / "x.jsonl"), input="").exit_code == 2


def test_failed_run_leaves_no_output(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    res = _run(str(CONVERT / "glaive_quirks.jsonl"), str(tmp_path / "missing.jsonl"), "-o", str(out))
    assert res.exit_code == 2
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left behind


def test_help_has_examples() -> None:
    res = CliRunner().invoke(cli, ["convert", "-h"])
    assert res.exit_code == 0 and "Examples:" in res.output and "--num-proc" in res.output


def test_directory_of_mixed_formats_each_detected(tmp_path: Path, shared_data: Path) -> None:
    for name in ("glaive_raw/glaive_v2_first500_singleturn.jsonl", "interactions/hackathon_readme_examples.jsonl"):
        shutil.copy(shared_data / name, tmp_path / Path(name).name)
    res = _run(str(tmp_path / "glaive_v2_first500_singleturn.jsonl"), str(tmp_path / "hackathon_readme_examples.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--from", "glaive")
    assert res.exit_code == 0
    assert "format_mismatch" in res.stdout  # forced glaive on the hackathon file: its records are refused, not guessed


@pytest.mark.parametrize("command", ["convert", "prepare"])
@pytest.mark.parametrize("option", ["--report", "--rejects"])
def test_stdout_holds_only_the_machine_output(tmp_path, command, option) -> None:
    """`--report -` / `--rejects -`: the summary table for people used to follow the JSON on stdout
    (`json.load` failed on "Extra data"); it goes to stderr whichever output is on stdout."""
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}) + "\n{bad\n")
    out = tmp_path / ("o.jsonl" if command == "convert" else "o")
    res = CliRunner().invoke(cli, [command, str(data), "-o", str(out), option, "-"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    if option == "--report":
        assert json.loads(res.stdout)["rejected"] == 1
    else:
        assert [json.loads(line)["line"] for line in res.stdout.splitlines()] == [2]
    assert "rejected" in res.stderr
