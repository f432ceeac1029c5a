"""``fcdata synth``: synthetic tool-calling conversations on which training must visibly learn."""

from __future__ import annotations

from collections import Counter

import click

from fcdata.synth import DIFFICULTIES, SynthConfig, synth_records
from fcdata.write import write_jsonl

from .common import CONTEXT_SETTINGS, check_outputs, echo_err, format_table


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True), help="JSONL file of canonical records (- = stdout).")
@click.option("-n", "--train", "n_train", default=2000, show_default=True, type=click.IntRange(min=0), help="Training records.")
@click.option("--test", "n_test", default=200, show_default=True, type=click.IntRange(min=0), help="Held-out records (held-out tools and values; metadata.split = test).")
@click.option("--difficulty", type=click.Choice(DIFFICULTIES), default="normal", show_default=True, help="easy: one declared tool, one call; normal: distractor tools, parallel, no-call and multi-turn cases.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same bytes.")
@click.option("--parallel", default=0.15, show_default=True, type=click.FloatRange(0, 1), help="Share of two-call requests (normal only).")
@click.option("--no-call", "no_call", default=0.15, show_default=True, type=click.FloatRange(0, 1), help="Share of requests no tool serves (normal).")
@click.option("--multi-turn", "multi_turn", default=0.15, show_default=True, type=click.FloatRange(0, 1), help="Share of call -> result -> reply conversations (normal).")
@click.option("--max-tools", default=4, show_default=True, type=click.IntRange(min=1), help="Most tools declared in one record (distractors included; normal, 2 to 29).")
def synth(output: str, n_train: int, n_test: int, difficulty: str, seed: int, parallel: float, no_call: float, multi_turn: float, max_tools: int) -> None:
    """Write synthetic tool-calling conversations: typed tool schemas; single, parallel, no-call and
    multi-turn cases; a held-out part with tools and values never seen in training.

    The held-out records carry metadata.split = "test", which `fcdata train-eval` uses as its split, so
    accuracy measures generalisation to new tools and values, not memory.

    \b
    Examples:
      fcdata synth -o synth.jsonl
      fcdata synth -o easy.jsonl -n 400 --test 40 --difficulty easy
      fcdata synth -o synth.jsonl -n 20000 --test 500 --seed 1
      fcdata train-eval synth.jsonl -o run/ --model small-mistral --full
    """
    check_outputs(files={"-o": output})
    cfg = SynthConfig(n_train=n_train, n_test=n_test, seed=seed, difficulty=difficulty, parallel=parallel, no_call=no_call, multi_turn=multi_turn, max_tools=max_tools)  # type: ignore[arg-type]
    cases: Counter[tuple[str, str]] = Counter()

    def counted():  # type: ignore[no-untyped-def]
        for record in synth_records(cfg):
            meta = record["metadata"]
            cases[(meta["split"], meta["case"])] += 1
            yield record

    written = write_jsonl(output, counted())
    rows = [(split, case, n) for (split, case), n in sorted(cases.items())]
    echo_err(format_table(["split", "case", "records"], rows))
    echo_err(f"wrote {written} records to {output}")
