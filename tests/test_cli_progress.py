"""The progress bar's total and steps count the same thing, whatever the container: a bar that ends at
11% or 900% on a gzip or Parquet file is worse than none."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from fcdata.cli.common import ByteProgress
from fcdata.read import read_items

RECORD = {"messages": [{"role": "user", "content": "héllo " * 20}, {"role": "assistant", "content": "ok"}]}


def _walk(path: Path) -> tuple[float, float]:
    bar = ByteProgress([str(path)], enabled=True)
    for item in read_items(path):
        bar.advance(item)
    done, total = bar._bar.n, bar._bar.total
    bar.close()
    return done, total


def test_jsonl_counts_bytes(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text("".join(json.dumps(RECORD, ensure_ascii=False) + "\n" for _ in range(50)), encoding="utf-8")
    done, total = _walk(p)
    assert done == total == p.stat().st_size


def test_gzip_total_is_the_decompressed_size(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl.gz"
    raw = "".join(json.dumps(RECORD, ensure_ascii=False) + "\n" for _ in range(200)).encode()
    p.write_bytes(gzip.compress(raw))
    done, total = _walk(p)
    assert done == total == len(raw) > p.stat().st_size


def test_parquet_rows_advance_the_bar(tmp_path: Path) -> None:
    from fcdata.write import write_parquet

    p = tmp_path / "x.parquet"
    write_parquet(str(p), [dict(RECORD) for _ in range(40)])
    done, total = _walk(p)
    assert total == p.stat().st_size
    assert abs(done - total) < 1e-6 * total + 1
