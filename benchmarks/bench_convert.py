"""Benchmark: converting a >=100,000-record Glaive v2 corpus, against the floor of merely reading it.

The corpus is made from the real Glaive rows in tests/fixtures/shared/glaive_raw (73 rows, real system
prompts and turns) repeated with varied content: user text and argument values change on every record,
half of the records become multi-turn call conversations built from the row's own declared function
(call, function response, answer, thanks), some keep the real cut-off endings. That is the *repeated*
corpus, the one the target is set on. In the *distinct* corpus, 95% of the records also get their own
system prompt and schema (a changed function and parameter description), as in the real file, where
declarations almost never repeat: the declarations are parsed and checked for nearly every record.
Both run by default (``--corpus``), and so does a third set: the published formats of issue 13
(xLAM, Hermes, When2Call, Gorilla OpenFunctions, ToolBench trajectories from ../shared/data, LLaMA-Factory
v1 from $FCDATA_EXTERNAL_DATA), each format's real rows repeated to ``--format-records`` records with
their own declarations, timed next to the floor of reading that file (``--corpus formats`` alone).

Timed side by side in this process, in ``--repeat`` interleaved rounds, each figure the best of its runs:

- floor: read the file's lines and ``json.loads`` each one;
- convert, 1 process: ``fcdata.convert.convert_files`` (read, convert, validate-clean output, write);
- convert, ``--num-proc`` processes (2 by default).

Target: converting the repeated corpus on one process costs at most 3x the floor (judged on the median
of the round-by-round ratios).

    python benchmarks/bench_convert.py                 # 100,000 records
    python benchmarks/bench_convert.py -n 200000 --num-proc 4
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fcdata.convert import clear_caches, convert_files  # noqa: E402
from fcdata.convert.glaive import parse_system  # noqa: E402

SAMPLES = ROOT / "tests" / "fixtures" / "shared" / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl"
WORDS = "apple river mountain blue quick silver orange garden piano window rocket coffee summer island violet thunder".split()


def _value_for(spec: dict[str, Any], rng: random.Random, k: int) -> Any:
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return spec["enum"][k % len(spec["enum"])]
    kind = spec.get("type")
    if kind == "integer":
        return rng.randint(1, 500)
    if kind == "number":
        return round(rng.uniform(1, 500), 2)
    if kind == "boolean":
        return bool(k % 2)
    if kind == "array":
        item = spec.get("items") if isinstance(spec.get("items"), dict) else {"type": "string"}
        return [_value_for(item, rng, k + j) for j in range(2)]
    if kind == "object":
        props = spec.get("properties") or {}
        return {name: _value_for(props[name], rng, k) for name in spec.get("required") or [] if name in props}
    return f"{rng.choice(WORDS)} {rng.choice(WORDS)} {k}"


def _arguments(function: dict[str, Any], rng: random.Random, k: int) -> dict[str, Any]:
    params = function.get("parameters") or {}
    props = params.get("properties") or {}
    required = params.get("required") or list(props)
    return {name: _value_for(props.get(name, {}), rng, k) for name in required if name in props}


def build_corpus(path: Path, n: int, seed: int = 0, distinct: float = 0.0) -> None:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in SAMPLES.open(encoding="utf-8")]
    with path.open("w", encoding="utf-8") as out:
        for k in range(n):
            row = rows[k % len(rows)]
            system = row["system"]
            _, tools = parse_system(system)
            functions = [t["function"] for t in tools.tools]
            roll = rng.random()
            if rng.random() < distinct:
                # its own declarations: a changed function description and parameter description
                system = system.replace('"description": "', f'"description": "({k}) ', 2)
            if functions and roll < 0.5:
                fn = rng.choice(functions)
                args = _arguments(fn, rng, k)
                arg_text = json.dumps(args, indent=4 if k % 20 == 0 else None)
                result = json.dumps({"status": "ok", "request": k, "value": rng.choice(WORDS)})
                chat = (
                    f"USER: Could you help me with {fn['name'].replace('_', ' ')} for {rng.choice(WORDS)} number {k}?\n\n\n"
                    f"ASSISTANT: <functioncall> {{\"name\": \"{fn['name']}\", \"arguments\": '{arg_text}'}} <|endoftext|>\n\n\n"
                    f"FUNCTION RESPONSE: {result}\n\n\n"
                    f"ASSISTANT: Here is what I found for request {k}: the value is {rng.choice(WORDS)}. <|endoftext|>\n\n\n"
                    f"USER: Thank you, that's all for now ({rng.choice(WORDS)}).\n\n\n"
                    f"ASSISTANT: You're welcome! If you need anything else about {rng.choice(WORDS)}, feel free to ask. <|endoftext|>"
                )
            else:
                chat = row["chat"].replace("USER: ", f"USER: ({rng.choice(WORDS)} {k}) ", 1)
            out.write(json.dumps({"system": system, "chat": chat}, ensure_ascii=False) + "\n")


# the published formats (issue 13): real rows from ../shared/data (and FCDATA_EXTERNAL_DATA), by format
PUBLISHED = ROOT.parent / "shared" / "data"
FORMAT_SOURCES: dict[str, list[str]] = {
    "xlam": ["formats/xlam_rows.jsonl"],
    "hermes": ["formats/hermes_rows.jsonl", "harvest/hermes_datagenie_prerelease__interstellarninja-data-genie.jsonl"],
    "when2call": ["harvest/when2call_test_llm_judge__nvidia-when2call.jsonl", "formats/when2call_sft_readme.jsonl", "formats/when2call_pref_readme.jsonl"],
    "gorilla": ["harvest/gorilla_openfunctions_v1__shishirpatil-gorilla-test.jsonl"],
    "trajectory": ["harvest/toolbench_answer__openbmb-toolbench-data_example.jsonl"],
    "llamafactory": ["$FCDATA_EXTERNAL_DATA/reason_tool_use_demo_50.jsonl"],
    "alpaca": ["harvest/hammer_masking_sft__madeagents-hammer.jsonl"],
    "responses": ["$FCDATA_EXTERNAL_DATA/nemotron-rl-conversational-tool-use-pivot_gym-example.jsonl"],
}
# where a record's first declaration description sits, in the spellings the formats use (plain JSON,
# JSON text inside a string, a Python repr inside the system text)
_DESCRIPTIONS = ('"description": "', '\\"description\\": \\"', "'description': '")


def _format_rows(fmt: str) -> list[str]:
    lines: list[str] = []
    for name in FORMAT_SOURCES[fmt]:
        path = Path(os.path.expandvars(name)) if name.startswith("$") else PUBLISHED / name
        if path.is_file():
            lines += [line.rstrip("\n") for line in path.open(encoding="utf-8") if line.strip()]
    return lines


def build_format_corpus(path: Path, fmt: str, n: int) -> int:
    """``n`` records made of the format's real rows, each copy with its first declaration's description
    changed, so that no record shares its declarations with another (none is parsed from a cache).
    Returns the number of distinct real rows used (0 when they are absent)."""
    rows = _format_rows(fmt)
    if not rows:
        return 0
    with path.open("w", encoding="utf-8") as out:
        for k in range(n):
            line = rows[k % len(rows)]
            for mark in _DESCRIPTIONS:
                if mark in line:
                    line = line.replace(mark, mark + f"({k}) ", 1)
                    break
            out.write(line + "\n")
    return len(rows)


def bench_formats(tmp: Path, n: int, repeat: int, only: list[str] | None = None) -> None:
    """Records per second of each published format on one process, next to the floor of its own file."""
    print(f"\npublished formats: real rows repeated to {n:,} records each, every copy with its own declarations")
    print(f"  {'format':14}{'rows':>6}{'floor rec/s':>13}{'convert rec/s':>15}{'x floor':>9}   written / rejected")
    for fmt in only or FORMAT_SOURCES:
        corpus = tmp / f"{fmt}.jsonl"
        rows = build_format_corpus(corpus, fmt, n)
        if not rows:
            print(f"  {fmt:14}{'-':>6}   (its real rows are absent: {', '.join(FORMAT_SOURCES[fmt])})")
            continue
        out = tmp / f"{fmt}.out.jsonl"
        reports: list[Any] = []

        def convert() -> None:
            clear_caches()
            reports.append(convert_files([str(corpus)], str(out)))

        floors, converts = [], []
        for _ in range(repeat):
            floors.append(_run(lambda: floor(corpus))[0])
            converts.append(_run(convert)[0])
        f, c = min(floors), min(converts)
        rounds = statistics.median(cv / fl for cv, fl in zip(converts, floors))
        rep = reports[-1]
        print(f"  {fmt:14}{rows:6}{n / f:13,.0f}{n / c:15,.0f}{rounds:8.1f}x   {rep.kept:,} / {rep.rejected:,}")
        corpus.unlink()
        out.unlink()


def floor(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            json.loads(line)
            n += 1
    return n


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(fn: Callable[[], Any]) -> tuple[float, float, float]:
    """Wall time, CPU time in this process, CPU time of worker processes, of one call."""
    w0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0, _children_cpu() - k0


def _best(runs: list[tuple[float, float, float]]) -> tuple[float, float, list[float], float]:
    """Best wall time, that run's CPU time here and in workers, and every run's wall time."""
    best = min(runs)
    return best[0], best[1], [r[0] for r in runs], best[2]


def bench(corpus: Path, tmp: Path, n: int, num_proc: int, repeat: int) -> dict[str, Any]:
    """The floor and both conversions, interleaved round by round (floor, 1 process, N processes), so a
    slow spell of a shared machine hits all three alike instead of one whole series."""
    out1, outn = tmp / "out1.jsonl", tmp / "outn.jsonl"
    reports: dict[int, Any] = {}

    def convert(out: Path, procs: int) -> None:
        clear_caches()  # every run starts cold, like a real one (workers always do)
        reports[procs] = convert_files([str(corpus)], str(out), num_proc=procs)

    floor_runs, one_runs, many_runs = [], [], []
    for _ in range(repeat):
        floor_runs.append(_run(lambda: floor(corpus)))
        one_runs.append(_run(lambda: convert(out1, 1)))
        many_runs.append(_run(lambda: convert(outn, num_proc)))
    floor_wall, floor_cpu, floor_walls, _ = _best(floor_runs)
    one_wall, one_cpu, one_walls, _ = _best(one_runs)
    many_wall, many_main_cpu, many_walls, many_workers_cpu = _best(many_runs)
    return {
        "n": n, "size": corpus.stat().st_size, "report": reports[1], "num_proc": num_proc,
        "floor": (floor_wall, floor_cpu, floor_walls), "one": (one_wall, one_cpu, one_walls), "many": (many_wall, many_walls),
        "many_cpu": (many_main_cpu, many_workers_cpu),
        "rounds": [o[0] / f[0] for f, o in zip(floor_runs, one_runs)],
        "identical": out1.read_bytes() == outn.read_bytes(),
    }


def show(title: str, r: dict[str, Any], target: bool) -> None:
    n, rep = r["n"], r["report"]
    fw, fc, fr = r["floor"]
    ow, oc, orr = r["one"]
    mw, mr = r["many"]
    print(f"\n{title}: {n:,} records, {r['size'] / 1e6:.1f} MB; written {rep.kept:,}, rejected {rep.rejected:,} {dict(sorted(rep.rejections.items()))}")
    print(f"  {'':30}{'best s':>8}{'records/s':>11}{'x floor':>9}{'cpu x floor':>13}   wall of each run (s)")
    print(f"  {'read + json.loads (floor)':30}{fw:8.2f}{n / fw:11,.0f}{1:9.2f}{1:13.2f}   {', '.join(f'{t:.2f}' for t in fr)}")
    print(f"  {'convert, 1 process':30}{ow:8.2f}{n / ow:11,.0f}{ow / fw:9.2f}{oc / fc:13.2f}   {', '.join(f'{t:.2f}' for t in orr)}")
    print(f"  {'convert, ' + str(r['num_proc']) + ' processes':30}{mw:8.2f}{n / mw:11,.0f}{mw / fw:9.2f}{'':>13}   {', '.join(f'{t:.2f}' for t in mr)}")
    spread = (max(orr) - min(orr)) / min(orr) if len(orr) > 1 else 0.0
    main_cpu, workers_cpu = r["many_cpu"]
    ideal = oc / max(main_cpu, workers_cpu / r["num_proc"], 1e-9)
    print(f"  1 process / floor, round by round: {', '.join(f'{x:.2f}x' for x in r['rounds'])}")
    print(f"  speed-up with {r['num_proc']} processes: {ow / mw:.2f}x wall; outputs byte-identical: {r['identical']}; 1-process run-to-run spread: {spread:.0%}")
    print(f"  cpu with {r['num_proc']} processes: main {main_cpu:.2f} s, workers {workers_cpu:.2f} s (1 process: {oc:.2f} s) -> at most {ideal:.2f}x on {r['num_proc']} idle cores")
    # the verdict: the median of the round-by-round ratios (each compares two runs a few seconds apart,
    # so a slow spell of the machine does not decide it), next to the ratio of the best runs
    median = statistics.median(r["rounds"])
    verdict = f"{'met' if median <= 3 else 'not met'} (median round {median:.2f}x; best runs: wall {ow / fw:.2f}x, cpu {oc / fc:.2f}x)"
    if target:
        print(f"  target, convert <= 3x floor on one process: {verdict}")
    else:
        print(f"  (the 3x target is set on the repeated corpus; this one: median round {median:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--records", type=int, default=100_000)
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (odd, for the median)")
    ap.add_argument("--corpus", choices=["repeated", "distinct", "both", "formats", "all"], default="all", help="repeated: the sample rows' own declarations (the brief's corpus); distinct: every record its own declarations, as in the full file; formats: the published formats' real rows (xLAM, Hermes, When2Call, Gorilla, ToolBench, LLaMA-Factory v1, Hammer alpaca, Nemotron RL Responses)")
    ap.add_argument("--format-records", type=int, default=20_000, help="records per published format (--corpus formats)")
    ap.add_argument("--format", dest="formats", action="append", choices=sorted(FORMAT_SOURCES), help="only this published format (repeatable; --corpus formats)")
    args = ap.parse_args()
    print(f"os.cpu_count()={os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for kind, distinct in (("repeated", 0.0), ("distinct", 0.95)):
            if args.corpus not in (kind, "both", "all"):
                continue
            corpus = tmp / f"glaive_{kind}.jsonl"
            build_corpus(corpus, args.records, distinct=distinct)
            title = "real sample rows repeated, conversations varied" if kind == "repeated" else "same, and 95% of records with their own declarations and schemas"
            show(title, bench(corpus, tmp, args.records, args.num_proc, args.repeat), target=kind == "repeated")
            corpus.unlink()
        if args.corpus in ("formats", "all"):
            bench_formats(tmp, args.format_records, args.repeat, args.formats)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
