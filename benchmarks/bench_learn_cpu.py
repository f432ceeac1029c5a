"""A model learning to call tools on the CPU (issue 12): the learning curve of the README's commands.

For each difficulty it runs exactly what a user runs (through the library, the same calls as the CLI)::

    fcdata synth -o easy.jsonl --difficulty easy --seed S
    fcdata train-eval easy.jsonl -o run --model tiny-mistral --full

and for ``normal`` the command of ``NORMAL_COMMAND`` below, and prints held-out exact tool-call accuracy
against wall time and optimizer step: every ``--every`` steps a callback generates and scores the first
``--curve-items`` held-out turns (same prompts, same greedy decoding, same scorer as the final report).
The time the curve itself takes is measured and taken out of the wall figures, so they are the times of
the plain command; the final line is the command's own report on every held-out turn.

Timing on a shared machine is inflated by other processes: every figure comes with the process CPU time
(all threads), the steps per second and the load average, so a quiet-machine figure can be judged.

    python benchmarks/bench_learn_cpu.py                       # easy (seed 0) and normal
    python benchmarks/bench_learn_cpu.py --only easy --seeds 0 1 2
    python benchmarks/bench_learn_cpu.py --only normal --out learn.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

EASY_COMMAND = ("synth --difficulty easy --seed {seed}", "train-eval --model tiny-mistral --full")
NORMAL_COMMAND = ("synth --difficulty normal --seed {seed}", "train-eval --model tiny-mistral --full --epochs 4")
"""The normal task's command: default sizes, four epochs (about 15 minutes of a 2-core CPU)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "n/a"


def _named(train_eval_args: str) -> dict[str, Any]:
    """The named options of a ``train-eval`` command line, as the CLI passes them."""
    words = train_eval_args.split()[1:]
    named: dict[str, Any] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--full":
            named["full"] = True
        elif word == "--model":
            named["model"] = words[i + 1]
            i += 1
        elif word == "--epochs":
            named["epochs"] = float(words[i + 1])
            i += 1
        else:
            raise ValueError(f"bench: unsupported option {word}")
        i += 1
    return named


def run_one(difficulty: str, seed: int, command: tuple[str, str], every: int, curve_items: int, work: str) -> dict[str, Any]:
    from transformers import TrainerCallback

    from fcdata.synth import SynthConfig, synth_records
    from fcdata.tokenizer import load_tokenizer
    from fcdata.train.config import build_config, resolve
    from fcdata.train.evaluate import eval_items, evaluate_model
    from fcdata.train.pipeline import train_eval
    from fcdata.write import write_jsonl

    data = os.path.join(work, f"{difficulty}-{seed}.jsonl")
    synth_cfg = SynthConfig(seed=seed, difficulty=difficulty)  # type: ignore[arg-type]
    records = list(synth_records(synth_cfg))
    write_jsonl(data, records)
    held = [r for r in records if r["metadata"]["split"] == "test"]
    cfg, notes = build_config(named=_named(command[1]))
    resolved = resolve(cfg)
    resolved.notes.extend(notes)
    tok = load_tokenizer()
    # the curve's items are the first held-out turns, prompts as train-eval builds them (after convert)
    from fcdata.train.pipeline import load_records

    converted, _, _ = load_records(data)
    items, _ = eval_items([r for r in converted if (r.get("metadata") or {}).get("split") == "test"], tok)
    subset = items[:curve_items]
    curve: list[dict[str, Any]] = []
    spent = [0.0]
    t0, c0 = time.perf_counter(), time.process_time()

    class Curve(TrainerCallback):
        def on_step_end(self, targs: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            if model is None or state.global_step % every:
                return
            start = time.perf_counter()
            result = evaluate_model(model, items=subset, tokenizer=tok, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.eval_batch_size, fill_ids=cfg.fill_ids)
            model.train()
            spent[0] += time.perf_counter() - start
            point = {
                "step": state.global_step,
                "wall_s": round(time.perf_counter() - t0 - spent[0], 1),
                "accuracy": result.accuracy,
                "name_accuracy": result.report.get("name_accuracy"),
                "argument_f1": (result.report.get("arguments") or {}).get("f1"),
            }
            curve.append(point)
            log(f"  [{difficulty} seed {seed}] step {point['step']:>5}  {point['wall_s']:>7.1f} s  held-out exact {100 * (point['accuracy'] or 0):5.1f}%  (first {len(subset)} turns)")

    log(f"[{difficulty} seed {seed}] {len(records) - len(held)} training / {len(held)} held-out records; {cfg.model}, full={cfg.full}, lr {cfg.learning_rate}, {cfg.epochs} epochs; load {loadavg()}")
    result = train_eval(data, os.path.join(work, f"run-{difficulty}-{seed}"), cfg, resolved=resolved, callbacks=[Curve()])
    wall = time.perf_counter() - t0 - spent[0]
    cpu = time.process_time() - c0
    report = result.report
    after, before, train = report["after"], report["before"], report["train"]
    out = {
        "difficulty": difficulty,
        "seed": seed,
        "command": [f"fcdata {command[0].format(seed=seed)} -o {difficulty}.jsonl", f"fcdata {command[1].split()[0]} {difficulty}.jsonl -o run {' '.join(command[1].split()[1:])}"],
        "records": {"train": report["split"]["train"], "held_out": report["split"]["held_out"], "held_out_turns": after.get("n")},
        "before_accuracy": before.get("accuracy"),
        "after_accuracy": after.get("accuracy"),
        "after_call_accuracy": after.get("call_accuracy"),
        "after_name_accuracy": after.get("name_accuracy"),
        "after_argument_f1": (after.get("arguments") or {}).get("f1"),
        "after_categories": {k: v.get("accuracy") for k, v in (after.get("categories") or {}).items()},
        "after_errors": {k: v for k, v in (after.get("errors") or {}).items() if v},
        "loss": {"heldout_before": before.get("loss"), "heldout_after": after.get("loss"), "train_first": train["loss"]["first"], "train_last": train["loss"]["last"]},
        "steps": train["steps"],
        "train_s": train["runtime_s"],
        "steps_per_s": round(train["steps"] / train["runtime_s"], 2) if train["runtime_s"] else None,
        "wall_s": round(wall, 1),
        "command_runtime_s": report["runtime_s"] - round(spent[0], 3),
        "cpu_s": round(cpu - 0.0, 1),
        "curve_s": round(spent[0], 1),
        "threads": train.get("threads"),
        "loadavg_end": loadavg(),
        "curve": curve,
    }
    log(
        f"[{difficulty} seed {seed}] held-out exact {100 * (out['after_accuracy'] or 0):.1f}% (before {100 * (out['before_accuracy'] or 0):.1f}%), "
        f"{out['steps']} steps in {out['train_s']:.0f} s, command {out['wall_s']:.0f} s wall, {out['cpu_s']:.0f} s CPU (curve included in CPU), load {out['loadavg_end']}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["easy", "normal"], default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--every", type=int, default=100, help="optimizer steps between curve points")
    parser.add_argument("--curve-items", type=int, default=64, help="held-out turns scored at each curve point")
    parser.add_argument("--out", default=None, help="write the figures as JSON")
    parser.add_argument("--work", default=None, help="folder for data and runs (default: a temporary one)")
    args = parser.parse_args(argv)

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fcdata-learn-") as tmp:
        work = args.work or tmp
        os.makedirs(work, exist_ok=True)
        for difficulty, command in (("easy", EASY_COMMAND), ("normal", NORMAL_COMMAND)):
            if args.only and args.only != difficulty:
                continue
            for seed in args.seeds:
                runs.append(run_one(difficulty, seed, command, args.every, args.curve_items, work))
    print("difficulty  seed  before  after   steps  train s  command wall s  CPU s   load at end")
    for r in runs:
        print(
            f"{r['difficulty']:<10}  {r['seed']:>4}  {100 * (r['before_accuracy'] or 0):5.1f}%  {100 * (r['after_accuracy'] or 0):5.1f}%  "
            f"{r['steps']:>6}  {r['train_s']:>7.0f}  {r['wall_s']:>14.0f}  {r['cpu_s']:>5.0f}   {r['loadavg_end']}"
        )
        for p in r["curve"]:
            print(f"    step {p['step']:>5}  {p['wall_s']:>7.1f} s  held-out exact {100 * (p['accuracy'] or 0):5.1f}%")
        print(f"    command: {' && '.join(r['command'])}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"runs": runs}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
