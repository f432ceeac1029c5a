"""The README's commands and words, checked against what the code and CI do (issue 17: a newcomer's
first hour)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from click.testing import CliRunner

from fcdata.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks() -> list[str]:
    return re.findall(r"```\n(.*?)```", README, flags=re.S)


def test_every_install_command_pins_the_cpu_torch() -> None:
    """Without the pin, pip resolves torch from PyPI, whose Linux wheel is the CUDA build (6.4 GB)."""
    installs = [line for block in _blocks() for line in block.splitlines() if line.startswith("pip install") and "[train" in line]
    assert len(installs) >= 2
    for line in installs:
        assert "torch==2.13.0" in line.split("&&")[0], line
    assert "GPU build" in README


def test_ci_extracts_the_test_command_as_written() -> None:
    """The same awk program as .ci/run, on the README: it finds the command that follows the marker."""
    ci = (ROOT / ".ci" / "run").read_text()
    program = re.search(r"cmd=\$\(awk '([^']*)' README.md\)", ci)
    assert program, "the extraction in .ci/run changed"
    out = subprocess.run(["awk", program.group(1), str(ROOT / "README.md")], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "pip install torch==2.13.0 -e '.[train,test]' && pytest -n 2"
    assert "chromium" in ci.split("cmd=$(awk")[0]  # installed before the test command runs


def _words(text: str) -> str:
    return " ".join(text.split())


def test_exit_code_one_is_worded_once() -> None:
    wording = (
        "Exit codes: 0 ok; 1 findings: the run finished but the data failed its checks (each command's --help says which findings count;"
        " --strict makes rejections and warnings count; an input that holds no record or is cut off mid-record, or a run that writes none, always counts);"
        " 2 usage or I/O error: the run did not finish (an output that is also an input or cannot be written, an output folder"
        " holding files fcdata did not write, which it would replace, a full disk, an output pipe closed early as in `| head`); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM); an interrupted run that has not ended 30 s later exits then. A run that did not finish leaves"
        " nothing partial under an output's name."
    )
    assert wording in _words(README)
    assert wording in _words(CliRunner().invoke(cli, ["--help"]).output)
    for name in ("convert", "validate", "prepare", "score", "bfcl-prompts"):
        assert "1 findings:" in _words(CliRunner().invoke(cli, [name, "--help"]).output), name


def test_the_convert_and_validate_examples_write_different_reports() -> None:
    reports = re.findall(r"^fcdata (convert|validate) .*--report (\S+)", README, flags=re.M)
    assert len(reports) == 2 and reports[0][1] != reports[1][1], reports
