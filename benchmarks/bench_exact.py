"""Exact mode on hostile records: time and peak memory (RSS) of ``fcdata prepare``, exact vs single.

Issue 17 item 7: one record of 100,000 messages reached 19 GB RSS in 2 minutes in exact mode (single: 1.8 s),
and a 50 MB line cost 2.8 GB. Every case runs ``fcdata.prepare.prepare`` in a fresh process (peak RSS
from ``getrusage``), and with ``--baseline-rev REV`` the same case also runs on the code of that git
revision (exported with ``git archive`` to a temporary folder), side by side.

Cases:

- ``long-N``: one record of N messages (user/assistant alternating, short texts, no tools). Exact mode
  cuts one sample per user turn where the context moves (v3 always): the *output* then grows as N², so
  the v3 exact runs use ``--max-length`` (each sample keeps its latest exchanges) or a small N; v7/v11
  without tools and v13 make one sample (nothing moves). What must be linear is the work per token
  written: ``us/token`` is printed for every run.
- ``line-50MB``: one record whose user message is 50 MB of text (one user turn: exact = single).

    python benchmarks/bench_exact.py                      # the default cases on this tree
    python benchmarks/bench_exact.py --baseline-rev 44f8d14 --cases long-4000,line-50MB
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from fcdata.prepare import prepare
args = json.loads(sys.argv[2])
t = time.perf_counter()
report = prepare([args["input"]], args["output"], mode=args["mode"], max_length=args["max_length"], tokenizer=args["tokenizer"], output_format="parquet")
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "rss_mb": rss, "samples": report.samples, "tokens": report.tokens}))
"""


def write_long(path: str, n: int) -> None:
    messages = []
    for i in range(n):
        messages.append({"role": "user", "content": f"hi {i % 10}"} if i % 2 == 0 else {"role": "assistant", "content": "ok"})
    if messages[-1]["role"] != "assistant":
        messages.append({"role": "assistant", "content": "ok"})
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"messages": messages}) + "\n")


def write_line(path: str, megabytes: int) -> None:
    words = "the weather in Paris is sunny and the call returns a JSON object with fields ".split()
    text_parts = []
    size = 0
    k = 0
    while size < megabytes * 1_000_000:
        w = words[k % len(words)] + str(k % 97)
        text_parts.append(w)
        size += len(w) + 1
        k += 1
    record = {"messages": [{"role": "user", "content": " ".join(text_parts)}, {"role": "assistant", "content": "That is a long text."}]}
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def run(src: str, inp: str, mode: str, max_length: int | None, tokenizer: str | None, tmp: str) -> dict:
    out = os.path.join(tmp, f"out-{mode}-{time.monotonic_ns()}.parquet")
    args = json.dumps({"input": inp, "output": out, "mode": mode, "max_length": max_length, "tokenizer": tokenizer})
    proc = subprocess.run([sys.executable, "-c", CHILD, src, args], capture_output=True, text=True)
    if os.path.exists(out):
        os.remove(out)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def export(rev: str, tmp: str) -> str:
    dest = os.path.join(tmp, "baseline")
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "fcdata"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="long-100000,long-4000,line-50MB", help="comma-separated: long-N, line-NMB")
    ap.add_argument("--baseline-rev", help="also run each case on this git revision's fcdata")
    ap.add_argument("--v13", help="a v13 tekken.json (or model folder) to run exact mode with too")
    ap.add_argument("--max-length", type=int, default=512, help="max_length for v3 exact runs of long records of over 4,000 messages")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sources = [("this tree", ROOT)]
        if args.baseline_rev:
            sources.append((args.baseline_rev, export(args.baseline_rev, tmp)))
        print(f"load before: {open('/proc/loadavg').read().split()[:3]}")
        print(f"{'case':<12} {'code':<10} {'mode':<16} {'wall s':>8} {'peak RSS MB':>12} {'samples':>8} {'tokens':>11} {'us/token':>9}")
        for case in args.cases.split(","):
            inp = os.path.join(tmp, f"{case}.jsonl")
            if case.startswith("long-"):
                n = int(case[5:])
                write_long(inp, n)
                big = n > 4000
            else:
                write_line(inp, int(case[5:].rstrip("MB")))
                big = False
            runs = [("single", None, None), ("exact", args.max_length if big else None, None)]
            if args.v13:
                runs.append(("exact", None, args.v13))
            for label, src in sources:
                for mode, max_length, tokenizer in runs:
                    name = mode + (f" max {max_length}" if max_length else "") + (" v13" if tokenizer else "")
                    if tokenizer and label != "this tree":
                        continue
                    r = run(src, inp, mode, max_length, tokenizer, tmp)
                    if "error" in r:
                        print(f"{case:<12} {label:<10} {name:<16} error: {r['error'][:80]}")
                        continue
                    per = 1e6 * r["wall"] / max(r["tokens"], 1)
                    print(f"{case:<12} {label:<10} {name:<16} {r['wall']:>8.2f} {r['rss_mb']:>12.0f} {r['samples']:>8} {r['tokens']:>11,} {per:>9.2f}")
        print(f"load after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
