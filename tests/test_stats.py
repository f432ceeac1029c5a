"""fcdata stats: numbers checked against the prepared rows themselves."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.errors import InputError
from fcdata.prepare import prepare
from fcdata.stats import compute_stats
from render_cases import SHARED


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp("stats")
    prepare([str(SHARED / "sharegpt" / "glaive_toolcall_en_demo.json"), str(SHARED / "interactions" / "hackathon_readme_pretrain_examples.jsonl")], d / "data")
    prepare([str(SHARED / "sharegpt" / "glaive_toolcall_en_demo.json")], d / "data.parquet", output_format="parquet", mode="single")
    return d


def test_numbers_match_the_rows(prepared):
    import datasets

    ds = datasets.load_from_disk(str(prepared / "data"))
    s = compute_stats(str(prepared / "data"), over=(512, 1024), top=5)
    lengths = np.array(ds["length"])
    assert s["samples"] == len(ds) and s["tokens"] == int(lengths.sum())
    assert s["trained_tokens"] == sum(ds["num_trained"]) and abs(s["trained_share"] - s["trained_tokens"] / s["tokens"]) < 1e-12
    assert s["length"]["max"] == lengths.max() and s["length"]["min"] == lengths.min()
    ordered = np.sort(lengths)
    for q in (50, 90, 95, 99):  # the nearest sample, halves rounded up
        assert s["length"][f"p{q}"] == ordered[int(np.floor(q / 100 * (len(ordered) - 1) + 0.5))]
    assert sum(h["samples"] for h in s["histogram"]) == len(ds)
    assert s["over"][0] == {"length": 512, "samples": int((lengths > 512).sum()), "share": float((lengths > 512).mean()), "tokens": int(lengths[lengths > 512].sum())}
    calls = Counter(name for names in ds["call_names"] for name in names)
    assert s["trained_calls"] == sum(calls.values()) and s["distinct_trained_functions"] == len(calls)
    assert [(f["name"], f["calls"]) for f in s["top_trained_functions"]] == sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    records = {r: t for r, t in zip(ds["record_index"], ds["tool_names"])}
    assert s["records"] == len(records)
    assert s["tools_per_record"]["mean"] == pytest.approx(np.mean([len(t) for t in records.values()]))
    assert sum(s["trained_calls_per_record"]["distribution"].values()) == len(records)


def test_parquet_and_cli(prepared):
    runner = CliRunner()
    res = runner.invoke(cli, ["stats", str(prepared / "data.parquet"), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output)
    assert obj["samples"] == obj["records"] == 299  # single mode: one sample per record
    res = runner.invoke(cli, ["stats", str(prepared / "data"), "--over", "700"])
    assert res.exit_code == 0
    assert "trained share" in res.output and "longer than" in res.output and "calculate_distance" in res.output
    # calls come from trained turns only (the call_names column), and say so
    assert "trained calls per record:" in res.output and "most called functions (trained turns):" in res.output
    res = runner.invoke(cli, ["stats", str(SHARED)])
    assert res.exit_code == 2 and "prepared data" in res.output
    with pytest.raises(InputError):
        compute_stats(str(SHARED / "sharegpt" / "glaive_toolcall_en_demo.json"))


def test_prepare_that_writes_nothing_fails_and_stats_says_the_set_is_empty(tmp_path):
    """Issue 17: --max-length 64 dropped every record, exit 0 even with --strict, and stats printed
    `tools per record: mean 0.00, max 0 (records with )`."""
    src = str(SHARED.parent.parent.parent / "examples" / "synth_sample.jsonl")
    for extra in ([], ["--strict"]):
        r = CliRunner().invoke(cli, ["prepare", src, "-o", str(tmp_path / "P"), "--max-length", "64", *extra])
        assert r.exit_code == 1, r.output
        assert "no sample was written: every one of the 280 record(s) was rejected or too long for --max-length 64" in r.stderr
    r = CliRunner().invoke(cli, ["stats", str(tmp_path / "P")])
    assert r.exit_code == 1  # a finding: nothing to train on, as in every command
    assert "the data set is empty (0 samples)" in r.output and "records with )" not in r.output
    r = CliRunner().invoke(cli, ["stats", str(tmp_path / "P"), "--json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["samples"] == 0
    assert compute_stats(str(tmp_path / "P"))["samples"] == 0
