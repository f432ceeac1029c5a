"""Validation throughput and memory on a large file.

Writes a JSON Lines file of N canonical records (default 1,000,000; real-length tool-calling
conversations with varied content and a few bad records mixed in), then in the same run:

1. the floor: reading the lines and ``json.loads``-ing them, in this process;
2. ``fcdata validate FILE --quiet --report R`` in a child process, whose peak RSS is measured.

Prints records/s for both, the ratio, and the child's peak RSS; the target is a peak under 500 MB for
1,000,000 records (validation streams: memory must not grow with the file).

    python benchmarks/bench_validate.py            # 1,000,000 records
    python benchmarks/bench_validate.py -n 200000  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "convert_currency", "description": "Convert an amount between currencies", "parameters": {"type": "object", "properties": {"amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"}}, "required": ["amount", "from", "to"]}}},
]
CITIES = ["Paris", "Lagos", "Lima", "Osaka", "Perth", "Quito", "Riga", "Sofia", "Tunis", "Ulm"]


def record(i: int) -> dict:
    city = CITIES[i % len(CITIES)]
    cid = f"c{i % 10_000_000:08d}"
    rec = {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant with access to functions."},
            {"role": "user", "content": f"Hi! What's the weather like in {city} today? Request number {i}."},
            {"role": "assistant", "tool_calls": [{"id": cid, "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": city, "unit": "celsius"})}}]},
            {"role": "tool", "tool_call_id": cid, "name": "get_weather", "content": json.dumps({"temperature": i % 35, "condition": "sunny"})},
            {"role": "assistant", "content": f"It is {i % 35} degrees and sunny in {city} right now."},
        ],
        "tools": TOOLS,
    }
    if i % 1000 == 7:  # a few broken records: the run must go on and count them
        rec["messages"][2]["tool_calls"][0]["function"]["name"] = "get_wether"
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--records", type=int, default=1_000_000)
    ap.add_argument("--dir", default=None, help="where to write the test file (default: a temp dir)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "big.jsonl")
        t0 = time.perf_counter()
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(args.records):
                fh.write(json.dumps(record(i), ensure_ascii=False) + "\n")
        size = os.path.getsize(path)
        print(f"wrote {args.records:,} records, {size / 1e6:,.0f} MB in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        n = 0
        with open(path, "rb") as fh:
            for line in fh:
                json.loads(line)
                n += 1
        floor = time.perf_counter() - t0

        report = os.path.join(tmp, "report.json")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "fcdata.cli.main", "validate", path, "--quiet", "--report", report], capture_output=True, text=True)
        took = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rep = json.load(open(report))
        assert rep["read"] == args.records, rep
        print(f"floor (read + json.loads):  {n / floor:>10,.0f} records/s  ({floor:.1f} s)")
        print(f"fcdata validate:            {args.records / took:>10,.0f} records/s  ({took:.1f} s, {took / floor:.1f}x the floor)")
        print(f"records {rep['read']:,}  kept {rep['kept']:,}  rejected {rep['rejected']:,}  exit code {proc.returncode}")
        print(f"peak RSS of fcdata validate: {peak_mb:,.0f} MB (target < 500 MB)")


if __name__ == "__main__":
    main()
