"""The command group: every command listed and loadable, --version, and the message a command that needs
the training stack gives when it is not installed."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from fcdata import __version__
from fcdata.cli.main import COMMANDS, cli


def test_help_lists_every_command() -> None:
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in r.output


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_help_with_examples(name: str) -> None:
    r = CliRunner().invoke(cli, [name, "-h"])
    assert r.exit_code == 0, r.output
    assert "Examples:" in r.output


def test_version() -> None:
    r = CliRunner().invoke(cli, ["--version"])
    assert r.output == f"fcdata, version {__version__}\n"


def test_missing_training_stack_is_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for mod in [m for m in sys.modules if m == "transformers" or m.startswith("transformers.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` now fails
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "x"}\n')
    r = CliRunner().invoke(cli, ["train", str(data), "-o", str(tmp_path / "run")])
    assert r.exit_code == 2
    assert "needs the training stack" in r.output and "pip install 'fcdata[train]'" in r.output


def test_unknown_command() -> None:
    r = CliRunner().invoke(cli, ["nope"])
    assert r.exit_code == 2
