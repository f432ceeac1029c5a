"""Statistics of prepared data (``fcdata prepare`` output), computed with polars.

What to look at before training: how long samples are (percentiles, a histogram, how many exceed a given
length: what ``--max-length`` and packing will do), how much of each sample is trained, how many tools
records declare and calls they train, and which functions dominate the trained calls.

Calls are counted from the ``call_names`` column: only the calls of trained turns (a turn with weight 0,
or an earlier turn in ``last`` mode, is not counted), hence the ``trained_`` in their keys.

Reads a ``datasets`` folder (its Arrow files, memory-mapped) or a Parquet file; only the columns it needs.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Sequence

from .errors import InputError

__all__ = ["compute_stats", "load_prepared", "DEFAULT_OVER", "PERCENTILES"]

PERCENTILES = (0.5, 0.9, 0.95, 0.99)
DEFAULT_OVER = (1024, 2048, 4096, 8192, 32768)
_COLUMNS = ("length", "num_trained", "record_index", "tool_names", "call_names", "turns_trimmed")


def load_prepared(path: str) -> Any:
    """The prepared rows of ``path`` as a polars DataFrame (only the columns stats needs)."""
    import polars as pl
    import pyarrow as pa

    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "data-*.arrow")))
        state = os.path.join(path, "state.json")
        if os.path.exists(state):
            try:
                with open(state, encoding="utf-8") as fh:
                    files = [os.path.join(path, f["filename"]) for f in json.load(fh)["_data_files"]]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise InputError(f"unreadable state.json: {exc}", file=path) from exc
        if not files:
            raise InputError("is a folder without prepared data (no data-*.arrow; run `fcdata prepare` first)", file=path)
        tables = []
        for f in files:
            try:
                with pa.memory_map(f) as source:
                    tables.append(pa.ipc.open_stream(source).read_all())
            except (OSError, pa.ArrowInvalid) as exc:
                raise InputError(f"not an Arrow file of a datasets folder: {exc}", file=f) from exc
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    elif os.path.isfile(path) and path.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path, columns=[c for c in _COLUMNS if c in pq.read_schema(path).names])
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise InputError(f"not a readable Parquet file: {exc}", file=path) from exc
    elif not os.path.exists(path):
        raise InputError("no such file or folder", file=path)
    else:
        raise InputError("not prepared data: give the folder (or .parquet file) that `fcdata prepare` wrote", file=path)
    missing = [c for c in ("length", "num_trained") if c not in table.column_names]
    if missing:
        raise InputError(f"not prepared data: no column {', '.join(missing)} (run `fcdata prepare` first)", file=path)
    return pl.from_arrow(table.select([c for c in _COLUMNS if c in table.column_names]))


def _histogram(lengths: Any) -> list[dict[str, Any]]:
    """Counts per power-of-two length bucket: [0, 64), [64, 128), ..., up to the longest sample."""
    import polars as pl

    if lengths.len() == 0:
        return []
    top = int(lengths.max())
    edges = [0, 64]
    while edges[-1] <= top:
        edges.append(edges[-1] * 2)
    frame = pl.DataFrame({"length": lengths})
    out = []
    for lo, hi in zip(edges, edges[1:]):
        n = frame.filter((pl.col("length") >= lo) & (pl.col("length") < hi)).height
        out.append({"from": lo, "to": hi, "samples": n})
    return out


def compute_stats(path: str, *, over: Sequence[int] = DEFAULT_OVER, top: int = 15) -> dict[str, Any]:
    """Statistics of the prepared data at ``path`` as a JSON-ready dict.

    ``over``: report how many samples are longer than each of these lengths; ``top``: how many of the
    most-called functions to list. Calls (``trained_calls``, ``trained_calls_per_record``,
    ``distinct_trained_functions``, ``top_trained_functions``) are those of trained turns only."""
    import polars as pl

    df = load_prepared(path)
    n = df.height
    lengths = df["length"]
    tokens = int(lengths.sum()) if n else 0
    trained = int(df["num_trained"].sum()) if n else 0
    out: dict[str, Any] = {
        "path": path,
        "samples": n,
        "tokens": tokens,
        "trained_tokens": trained,
        "trained_share": (trained / tokens) if tokens else 0.0,
        "length": {
            "min": int(lengths.min()) if n else 0,
            "mean": float(lengths.mean()) if n else 0.0,
            **{f"p{int(q * 100)}": int(lengths.quantile(q, interpolation="nearest")) if n else 0 for q in PERCENTILES},
            "max": int(lengths.max()) if n else 0,
        },
        "trained_per_sample": {
            "mean": float(df["num_trained"].mean()) if n else 0.0,
            "p50": int(df["num_trained"].quantile(0.5, interpolation="nearest")) if n else 0,
            "zero": int((df["num_trained"] == 0).sum()) if n else 0,
        },
        "histogram": _histogram(lengths),
        "over": [
            {"length": int(limit), "samples": int((lengths > limit).sum()), "share": (int((lengths > limit).sum()) / n) if n else 0.0, "tokens": int(lengths.filter(lengths > limit).sum()) if n else 0}
            for limit in over
        ],
    }
    if "turns_trimmed" in df.columns:
        out["samples_trimmed"] = int((df["turns_trimmed"] > 0).sum()) if n else 0
    if "record_index" in df.columns:
        per_record = df.group_by("record_index").agg(
            pl.col("tool_names").first().list.len().alias("tools") if "tool_names" in df.columns else pl.lit(0).alias("tools"),
            pl.col("call_names").list.len().sum().alias("calls") if "call_names" in df.columns else pl.lit(0).alias("calls"),
            pl.len().alias("samples"),
        )
        records = per_record.height
        out["records"] = records
        out["samples_per_record"] = float(n / records) if records else 0.0
        for name, key in (("tools", "tools_per_record"), ("calls", "trained_calls_per_record")):
            col = per_record[name]
            dist = per_record.group_by(pl.col(name).clip(0, 4).alias("k")).agg(pl.len().alias("records")).sort("k")
            out[key] = {
                "mean": float(col.mean()) if records else 0.0,
                "max": int(col.max()) if records else 0,
                "distribution": {("4+" if int(k) >= 4 else str(int(k))): int(v) for k, v in zip(dist["k"], dist["records"])},
            }
    if "call_names" in df.columns:
        calls = df.select(pl.col("call_names").explode().drop_nulls().alias("name"))
        counts = calls.group_by("name").agg(pl.len().alias("calls")).sort(["calls", "name"], descending=[True, False])
        total_calls = calls.height
        out["trained_calls"] = total_calls
        out["distinct_trained_functions"] = counts.height
        out["top_trained_functions"] = [{"name": name, "calls": int(c), "share": c / total_calls} for name, c in zip(counts["name"].head(top), counts["calls"].head(top))]
    return out
