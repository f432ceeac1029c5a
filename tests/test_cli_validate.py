"""`fcdata validate` through click's CliRunner: exact exit codes, report and rejects files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fcdata.cli.main import cli

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_clean_file_exits_0(tmp_path: Path) -> None:
    p = tmp_path / "ok.jsonl"
    p.write_text(json.dumps(GOOD) + "\n")
    r = run("validate", str(p))
    assert r.exit_code == 0
    assert r.output == (
        "                  count\n"
        "----------------  -----\n"
        "records read          1\n"
        "  kept (valid)        1\n"
        "  rejected            0\n"
        "error findings        0\n"
        "warning findings      0\n"
    )


def test_errors_exit_1_with_report_and_rejects(tmp_path: Path) -> None:
    p = tmp_path / "mixed.jsonl"
    bad = {"messages": [{"role": "user", "content": "hi"}]}
    p.write_text(json.dumps(GOOD) + "\nnot json\n" + json.dumps(bad) + "\n")
    rep, rej = tmp_path / "r.json", tmp_path / "rej.jsonl"
    r = run("validate", str(p), "--report", str(rep), "--rejects", str(rej))
    assert r.exit_code == 1
    assert f"{p}:2: $: error[not_json]" in r.output
    assert f"{p}:3: messages: error[single_message]" in r.output
    report = json.loads(rep.read_text())
    assert (report["read"], report["kept"], report["rejected"]) == (3, 1, 2)
    assert {**report["errors"], **report["warnings"]} == {"not_json": 1, "single_message": 1}
    assert [f["line"] for f in report["findings"]] == [2, 3]
    rejects = [json.loads(x) for x in rej.read_text().splitlines()]
    assert rejects[0]["text"] == "not json" and rejects[0]["line"] == 2
    assert json.loads(rejects[1]["text"]) == bad and rejects[1]["reasons"][0]["code"] == "single_message" and rejects[1]["stage"] == "validate"


def test_report_to_stdout_is_pure_json(tmp_path: Path) -> None:
    p = tmp_path / "ok.jsonl"
    p.write_text(json.dumps(GOOD) + "\n")
    r = run("validate", str(p), "--report", "-")
    assert json.loads(r.output)["kept"] == 1


def test_stdin(tmp_path: Path) -> None:
    r = run("validate", "-", input=(json.dumps(GOOD) + "\n").encode())
    assert r.exit_code == 0


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    p = tmp_path / "w.jsonl"
    warn = {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "?"}]}
    p.write_text(json.dumps(warn) + "\n")
    assert run("validate", str(p)).exit_code == 0
    assert run("validate", str(p), "--strict").exit_code == 1


def test_missing_file_is_usage_error() -> None:
    r = CliRunner().invoke(cli, ["validate", "does-not-exist.jsonl"])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_no_files_is_usage_error() -> None:
    assert CliRunner().invoke(cli, ["validate"]).exit_code == 2


def test_bad_input_never_tracebacks(tmp_path: Path) -> None:
    cases = {
        "empty.jsonl": b"",
        "trunc.json": b'[{"messages": [',
        "utf8.jsonl": b'{"text": "\xff"}\n',
        "nulls.jsonl": b'{"messages": null, "tools": null}\n{"messages": [null, {"role": null, "content": null}]}\nnull\n',
        "numbers.jsonl": b'{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": 6}], "tools": 7}\n',
        "deep.jsonl": b"[" * 50_000 + b"]" * 50_000 + b"\n",
    }
    for name, blob in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        r = CliRunner().invoke(cli, ["validate", str(p), "--report", str(tmp_path / (name + ".r.json"))])
        assert r.exception is None or isinstance(r.exception, SystemExit), (name, r.output)
        assert r.exit_code == 1, (name, r.output)
        report = json.loads((tmp_path / (name + ".r.json")).read_text())
        assert report["read"] == report["kept"] + report["rejected"]


def test_empty_file_is_a_finding(tmp_path: Path) -> None:
    p = tmp_path / "empty.jsonl"
    p.write_text("\n\n")
    r = run("validate", str(p))
    assert r.exit_code == 1
    assert f"{p}: $: error[empty_file]: the file holds no record" in r.output


def test_max_findings_limits_the_printed_list(tmp_path: Path) -> None:
    p = tmp_path / "many.jsonl"
    p.write_text("x\n" * 30)
    r = run("validate", str(p), "--max-findings", "3")
    assert r.output.count("error[not_json]") == 3
    assert "... 27 more findings" in r.output


def test_list_codes_and_help() -> None:
    r = run("validate", "--list-codes")
    assert r.exit_code == 0 and "call_id_format" in r.output and "arguments_schema" in r.output
    r = run("validate", "--help")
    assert r.exit_code == 0 and "Exit codes" in r.output


def test_outputs_are_checked_before_any_work(tmp_path: Path) -> None:
    p = tmp_path / "ok.jsonl"
    p.write_text(json.dumps(GOOD) + "\n")
    r = CliRunner().invoke(cli, ["validate", str(p), "--report", "-", "--rejects", "-"])
    assert r.exit_code == 2 and "would all write to stdout" in r.output
    r = CliRunner().invoke(cli, ["validate", str(p), "--report", str(tmp_path)])
    assert r.exit_code == 2 and "is a directory" in r.output
    # a name ending in / means a folder, even where none exists yet: never a file of that name
    for command in (["validate", str(p), "--report"], ["convert", str(p), "-o"], ["prepare", str(p), "--rejects"]):
        r = CliRunner().invoke(cli, [*command, str(tmp_path / "new") + "/"] + (["-o", str(tmp_path / "prep")] if command[0] == "prepare" else []))
        assert r.exit_code == 2 and "ends with '/'" in r.output, (command, r.output)
        assert not (tmp_path / "new").exists()


def test_rejects_are_verbatim_and_survive_lone_surrogates(tmp_path: Path) -> None:
    # numbers, duplicate keys and spacing as written; a lone surrogate escape (valid JSON, not UTF-8)
    odd = '{"messages": [{"role": "user", "content": "x"}], "n": 1E5, "n": 1.10,  "z": 1e400}'
    lone = '{"messages": [{"role": "user", "content": "a\\ud800"}, {"role": "assistant", "content": "b"}]}'
    p = tmp_path / "odd.jsonl"
    p.write_text(odd + "\n" + lone + "\n")
    rej = tmp_path / "rej.jsonl"
    rep = tmp_path / "rep.json"
    r = run("validate", str(p), "--rejects", str(rej), "--report", str(rep))
    assert r.exit_code == 1
    lines = [json.loads(x) for x in rej.read_text(encoding="utf-8").splitlines()]
    assert [x["text"] for x in lines] == [odd, lone]
    assert "invalid_unicode" in [f["code"] for f in lines[1]["reasons"]]
    assert json.loads(rep.read_text())["rejected"] == 2


def test_bad_bytes_in_a_json_array_do_not_stop_the_file(tmp_path: Path) -> None:
    good = json.dumps(GOOD).encode()
    p = tmp_path / "arr.json"
    p.write_bytes(b"[" + good + b",\n" + b'{"messages": "\xff\xfe"}' + b",\n" + good + b",\n" + good + b"]")
    rep = tmp_path / "rep.json"
    r = run("validate", str(p), "--report", str(rep))
    assert r.exit_code == 1
    report = json.loads(rep.read_text())
    assert (report["read"], report["kept"], report["rejected"]) == (4, 3, 1)
    assert [(f["code"], f["line"]) for f in report["findings"]] == [("not_utf8", 2)]


def test_closed_output_pipe_is_not_success(tmp_path: Path) -> None:
    import subprocess
    import sys

    p = tmp_path / "bad.jsonl"
    p.write_text("not json\n" * 20000)
    code = "import sys; from fcdata.cli.main import cli; sys.exit(cli(['validate', sys.argv[1], '--max-findings', '100000']))"
    proc = subprocess.Popen([sys.executable, "-c", code, str(p)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    proc.wait(timeout=120)
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr.read()


def test_rejects_to_stdout_is_pure_json_lines(tmp_path: Path) -> None:
    """`--rejects -` wrote the findings and the table into the JSON Lines stream (27 foreign lines)."""
    p = tmp_path / "mixed.jsonl"
    p.write_text(json.dumps(GOOD) + "\nnot json\n" + json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    r = run("validate", str(p), "--rejects", "-")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["stage"] in ("read", "validate") for line in lines), r.stdout
    assert "error[not_json]" in r.stderr and "records read" in r.stderr


def test_keys_from_the_data_cannot_forge_or_split_a_finding(tmp_path: Path) -> None:
    """Argument keys were printed raw in finding paths: a key holding a newline and `fake.jsonl:99: ...`
    planted a finding of its own, an escape sequence reached the terminal, `x.y` read as two keys."""
    tool = {"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}}}
    args = {"a\nfake.jsonl:99: $: error[x]: injected": 1, "x.y": 2, "evil\x1b[31m": 3}
    rec = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "f", "arguments": json.dumps(args)}}]}], "tools": [tool]}
    p = tmp_path / "keys.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    r = run("validate", str(p))
    assert r.exit_code == 1
    findings = [line for line in r.output.splitlines() if "error[" in line]
    assert len(findings) == 3 and all(line.startswith(f"{p}:1: ") for line in findings), r.output
    assert "\x1b" not in r.output
    assert 'arguments["x.y"]' in r.output and 'arguments["evil\\u001b[31m"]' in r.output
