"""One report vocabulary: convert, validate, prepare and train-eval's input section count records with the
same keys, meaning the same thing (fcdata.reports, docs/architecture.md "Rejects and reports")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.train.pipeline import load_records

LEADING = ["read", "kept", "rejected", "rejections"]


def _report(tmp_path: Path, *argv: str) -> dict[str, Any]:
    out = tmp_path / f"{argv[0]}.report.json"
    CliRunner().invoke(cli, [*argv, "--report", str(out)], catch_exceptions=False)
    return json.loads(out.read_text())


def test_every_stage_report_leads_with_the_same_counts(shared_data: Path, tmp_path: Path) -> None:
    # real Glaive rows, one line that is not JSON and one record of no known format
    rows = (shared_data / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([*rows[:20], "{not json", '{"foo": 1}', *rows[20:]]) + "\n", encoding="utf-8")
    conv = _report(tmp_path, "convert", str(mixed), "-o", str(tmp_path / "c.jsonl"))
    # the converted records with the two bad lines put back, so that validate refuses something too
    canonical = (tmp_path / "c.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "v.jsonl").write_text("\n".join([*canonical, "{not json", '{"foo": 1}']) + "\n", encoding="utf-8")
    val = _report(tmp_path, "validate", str(tmp_path / "v.jsonl"))
    prep = _report(tmp_path, "prepare", str(mixed), "-o", str(tmp_path / "p"))
    _, _, inp = load_records(str(mixed))
    for name, rep in (("convert", conv), ("validate", val), ("prepare", prep), ("train-eval input", inp)):
        assert list(rep)[:4] == LEADING, (name, list(rep))
        assert rep["read"] == rep["kept"] + rep["rejected"], (name, rep)
        assert rep["rejected"] >= 2 and rep["rejections"]["not_json"] == 1, (name, rep["rejections"])
        assert {"empty_inputs", "inputs"} <= set(rep) or name == "train-eval input", (name, set(rep))
    assert conv["read"] == prep["read"] == inp["read"] == 42 and conv["kept"] == prep["kept"] == inp["kept"]
    # every stage reads each record as what it is: the record of no known format is unknown_format to all
    assert prep["rejections"] == inp["rejections"] == conv["rejections"] == {"not_json": 1, "unknown_format": 1}
    assert val["read"] == conv["kept"] + 2 and val["rejected"] == 2
