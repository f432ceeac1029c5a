"""Exact mode stays linear in the tokens it writes (issue 17, item 7).

A record of many short exchanges cut for ``max_length`` gives one bounded sample per user turn; the work
per sample must not grow with the conversation before it (the old code re-walked every earlier turn for
each sample, and its trimming dropped exchanges one at a time: quadratic). Checked as a ratio of CPU
times in one process (4x the messages must cost about 4x, not 16x), which holds on a loaded machine;
the absolute figures are benchmarks/bench_exact.py's.
"""

from __future__ import annotations

import time

from fcdata.render import render_records
from fcdata.tokenizer import load_tokenizer


def _record(n: int) -> dict:
    return {"messages": [{"role": "user", "content": f"hi {i % 10}"} if i % 2 == 0 else {"role": "assistant", "content": "ok"} for i in range(n)]}


def _cpu(n: int) -> tuple[float, int]:
    tok = load_tokenizer()
    best = float("inf")
    for _ in range(2):
        t = time.process_time()
        [rendered] = render_records([_record(n)], tok, mode="exact", max_length=48)
        best = min(best, time.process_time() - t)
    return best, sum(s.length for s in rendered.samples)


def test_exact_mode_with_max_length_is_linear_in_the_conversation():
    small, small_tokens = _cpu(2000)
    big, big_tokens = _cpu(8000)
    assert 3.9 < big_tokens / small_tokens < 4.1  # the output grows 4x
    assert big / small < 8, f"4x the messages cost {big / small:.1f}x the time (quadratic would be ~16x)"


def test_nothing_moves_one_sample():
    """v7+ without tools (and v13 always) make a single exact sample: linear even without max_length."""
    from tokenizer_files import tokenizer_path

    [rendered] = render_records([_record(4000)], load_tokenizer(tokenizer_path("v7")), mode="exact")
    assert len(rendered.samples) == 1 and rendered.samples[0].num_trained == 2000 * 2
