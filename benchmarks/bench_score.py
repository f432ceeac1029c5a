"""Scoring speed: 10,000 predictions, fcdata's metrics and BFCL's checker, from files on disk.

Target (issue 6): well under a second per thousand predictions. Printed beside each run, in the same
process, is a baseline: reading the same prediction file and parsing every reply, which no scorer can
beat; the ratio shows what matching, comparing and reporting cost on top.

    python benchmarks/bench_score.py            # 10,000 predictions
    python benchmarks/bench_score.py --n 50000

The reference set is built so that no two records share a tool schema (the worst case for the
validator cache); the BFCL set repeats the real v3 questions under fresh ids, with predictions made
from the accepted answers and a mix of perturbed, text and unparseable replies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fcdata.read import read_items  # noqa: E402
from fcdata.score import score, score_bfcl  # noqa: E402
from fcdata.score.bfcl import mapped_name  # noqa: E402
from fcdata.score.parse import reply_from_prediction  # noqa: E402

BFCL = ROOT / "tests" / "fixtures" / "shared" / "bfcl"
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def raw(calls: list[dict[str, Any]]) -> str:
    return "[TOOL_CALLS] " + json.dumps(calls, ensure_ascii=False) + "</s>"


def reference_set(n: int, rnd: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    refs, preds = [], []
    for i in range(n):
        tool = {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": "A tool.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}, f"extra_{i}": {"type": "boolean"}},
                    "required": ["city"],
                },
            },
        }
        calls = [{"name": f"tool_{i}", "arguments": {"city": f"City {i % 97}", "days": 1 + i % 7}} for _ in range(1 + (i % 3 == 0))]
        if i % 5 == 4:
            assistant: dict[str, Any] = {"role": "assistant", "content": "No tool needed."}
        else:
            assistant = {"role": "assistant", "tool_calls": [{"id": f"a{i:08d}", "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}} for c in calls]}
        refs.append({"messages": [{"role": "user", "content": f"Question {i}"}, assistant], "tools": [tool], "metadata": {"id": f"q{i}"}})
        roll = rnd.random()
        if assistant.get("content"):
            output = "No tool needed.</s>" if roll < 0.8 else raw(calls)
        elif roll < 0.6:
            output = raw(list(reversed(calls)))
        elif roll < 0.8:
            output = raw([{**calls[0], "arguments": {"city": "Elsewhere", "days": "two"}}])
        elif roll < 0.9:
            output = raw(calls)[:-20]
        else:
            output = "I would rather not.</s>"
        preds.append({"id": f"q{i}", "output": output})
    return refs, preds


def bfcl_set(n: int, rnd: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    questions, answers = [], {}
    for category in CATEGORIES:
        questions += [json.loads(line) for line in (BFCL / f"BFCL_v3_{category}.json").read_text(encoding="utf-8").splitlines()]
        if category != "irrelevance":
            for line in (BFCL / "possible_answer" / f"BFCL_v3_{category}.json").read_text(encoding="utf-8").splitlines():
                a = json.loads(line)
                answers[a["id"]] = a
    out_q, out_a, preds = [], [], []
    for i in range(n):
        q = questions[i % len(questions)]
        category = q["id"].rsplit("_", 1)[0]
        new_id = f"{category}_{100000 + i}"
        out_q.append({**q, "id": new_id})
        if q["id"] in answers:
            out_a.append({**answers[q["id"]], "id": new_id})
            calls = []
            for entry in answers[q["id"]]["ground_truth"]:
                ((name, params),) = entry.items()
                calls.append({"name": mapped_name(name), "arguments": {p: next(v for v in vals if v != "") for p, vals in params.items() if any(v != "" for v in vals)}})
        else:
            calls = [{"name": mapped_name(q["function"][0]["name"]), "arguments": {}}]
        roll = rnd.random()
        if roll < 0.7:
            output = raw(calls) if category != "irrelevance" else "I cannot do that.</s>"
        elif roll < 0.85:
            output = raw(list(reversed(calls)))
        elif roll < 0.95:
            output = raw(calls)[:-15]
        else:
            output = "Let me think about it.</s>"
        preds.append({"id": new_id, "output": output})
    return out_q, out_a, preds


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def baseline(path: Path) -> int:
    count = 0
    for item in read_items(path):
        reply_from_prediction(item.value)
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    rnd = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        refs, preds = reference_set(args.n, rnd)
        write_jsonl(d / "refs.jsonl", refs)
        write_jsonl(d / "preds.jsonl", preds)
        questions, answers, bfcl_preds = bfcl_set(args.n, rnd)
        write_jsonl(d / "questions.json", questions)
        write_jsonl(d / "answers.json", answers)
        write_jsonl(d / "bfcl_preds.jsonl", bfcl_preds)

        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, n = {args.n:,} predictions (best of 3)")
        print(f"{'run':<44}{'seconds':>9}{'ms / 1000':>11}{'x baseline':>12}")
        base_t, count = timed(lambda: baseline(d / "preds.jsonl"))
        assert count == args.n
        rows = [("baseline: read + parse replies", base_t, None)]
        ref_t, report = timed(lambda: score(str(d / "preds.jsonl"), str(d / "refs.jsonl")))
        assert report.n == args.n and not report.rejected
        rows.append(("reference mode (fcdata metrics, jsonschema)", ref_t, ref_t / base_t))
        bfcl_base_t, _ = timed(lambda: baseline(d / "bfcl_preds.jsonl"))
        bfcl_t, bfcl_report = timed(lambda: score_bfcl(str(d / "bfcl_preds.jsonl"), str(d / "questions.json"), str(d / "answers.json")))
        assert bfcl_report.n == args.n and not bfcl_report.rejected
        rows.append(("BFCL mode (AST checker)", bfcl_t, bfcl_t / bfcl_base_t))
        for name, seconds, ratio in rows:
            print(f"{name:<44}{seconds:>9.3f}{1000 * seconds * 1000 / args.n:>11.1f}{'' if ratio is None else f'{ratio:>11.1f}x':>12}")
        worst = max(ref_t, bfcl_t) * 1000 / args.n
        print(f"target: under 1000 ms per 1000 predictions -> worst {worst * 1000:.0f} ms per 1000: {'OK' if worst < 1 else 'MISSED'}")
        print(f"(reference accuracy {report.accuracy:.3f}, BFCL accuracy {bfcl_report.accuracy:.3f})")


if __name__ == "__main__":
    main()
