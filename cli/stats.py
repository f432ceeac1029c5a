"""``fcdata stats``: lengths, trained share, tools and trained calls of prepared data."""

from __future__ import annotations

import json
from typing import Any

import click

from fcdata.stats import DEFAULT_OVER, compute_stats

from .common import CONTEXT_SETTINGS, EXIT_FINDINGS, format_table


def _bar(n: int, most: int, width: int = 40) -> str:
    return "█" * (round(width * n / most) if most else 0)


def _text(s: dict[str, Any], path: str) -> str:
    if not s["samples"]:
        return f"{path}: the data set is empty (0 samples), so there is nothing to measure; `fcdata prepare` wrote no sample (its report says why: records rejected, or too long for --max-length)"
    parts = []
    rows: list[list[Any]] = [
        ["samples", s["samples"]],
        ["records", s.get("records", "")],
        ["tokens", s["tokens"]],
        ["trained tokens", s["trained_tokens"]],
        ["trained share", f"{s['trained_share']:.1%}"],
        ["samples per record", round(s.get("samples_per_record", 0.0), 2)],
    ]
    if "samples_trimmed" in s:
        rows.append(["samples trimmed to fit", s["samples_trimmed"]])
    parts.append(format_table(["", "value"], rows, align="lr"))
    L = s["length"]
    parts.append(format_table(["length", "min", "mean", "p50", "p90", "p95", "p99", "max"], [["tokens", L["min"], round(L["mean"], 1), L["p50"], L["p90"], L["p95"], L["p99"], L["max"]]]))
    most = max((h["samples"] for h in s["histogram"]), default=0)
    parts.append(format_table(["length", "samples", ""], [[f"{h['from']}-{h['to'] - 1}", h["samples"], _bar(h["samples"], most)] for h in s["histogram"]], align="lrl"))
    parts.append(format_table(["longer than", "samples", "share", "tokens"], [[o["length"], o["samples"], f"{o['share']:.2%}", o["tokens"]] for o in s["over"]]))
    for key, label in (("tools_per_record", "tools per record"), ("trained_calls_per_record", "trained calls per record")):
        if key in s:
            d = s[key]
            dist = ", ".join(f"{k}: {v}" for k, v in d["distribution"].items())
            parts.append(f"{label}: mean {d['mean']:.2f}, max {d['max']}" + (f" (records with {dist})" if dist else ""))
    if s.get("top_trained_functions"):
        parts.append(
            "most called functions (trained turns):\n"
            + format_table(["function", "trained calls", "share"], [[f["name"], f["calls"], f"{f['share']:.1%}"] for f in s["top_trained_functions"]], align="lrr")
            + f"\n({s['trained_calls']} calls in trained turns to {s['distinct_trained_functions']} functions; calls in untrained turns are not counted)"
        )
    return "\n\n".join(parts)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("path", type=click.Path(exists=True))
@click.option("--over", "over", multiple=True, type=click.IntRange(min=1), metavar="N", help=f"Count samples longer than N tokens (repeatable) [default: {', '.join(map(str, DEFAULT_OVER))}].")
@click.option("--top", type=click.IntRange(min=0), default=15, show_default=True, help="How many of the most-called functions (calls in trained turns) to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON (for machines).")
def stats(path: str, over: tuple[int, ...], top: int, as_json: bool) -> None:
    """Statistics of prepared data (the folder or .parquet file `fcdata prepare` wrote).

    Length distribution (percentiles and a histogram), trained-token share, tools per record,
    trained calls per record and the most-called functions (both count only the calls in trained
    turns), and how many samples exceed given lengths.

    \b
    Examples:
      fcdata stats prepared/
      fcdata stats prepared/ --over 2048 --over 4096
      fcdata stats train.parquet --json > stats.json

    Exit codes: 0 ok; 1 findings: the data set holds no sample (nothing to train on); 2 usage or I/O
    error (see `fcdata --help`).
    """
    result = compute_stats(path, over=over or DEFAULT_OVER, top=top)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(_text(result, path))
    if not result["samples"]:
        raise SystemExit(EXIT_FINDINGS)  # as every command treats a run with no record
