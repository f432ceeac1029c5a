"""Padded vs packed training, side by side in one run: trained tokens/s, padding waste, peak memory.

The same model (same seed, same initial weights) trains on the same prepared real-length samples three
ways, one epoch each, ``--batch-size`` rows per step:

* ``padded-max``: every sample padded to ``--max-length`` (the plain recipe, ``padding="max_length"``);
* ``padded``: padded to the longest sample of the batch (TRL's default collator);
* ``packed``: best-fit-decreasing packs of ``--max-length`` (:func:`fcdata.pack.pack_dataset`) fed
  padding-free (:class:`fcdata.collate.PackingCollator`; one flat row with flash-attention, one row per
  pack with sdpa).

It also times the collators themselves against transformers' and TRL's padding-free collators.

On one H100 (bf16, flash-attention when installed, else sdpa)::

    python benchmarks/bench_packing_gpu.py --preset 1b --max-length 4096 --batch-size 2

CPU smoke run (a tiny model, a few dozen samples)::

    python benchmarks/bench_packing_gpu.py --device cpu --tiny --max-length 1024 --samples 48

Time-boxed (what ``benchmarks/gpu_proofs.sh`` runs): ``--seconds-per-mode S`` stops each mode after ``S``
timed seconds, and ``--deadline T`` (a ``time.time()`` value) shares the time left before ``T`` between
the modes still to run; a stopped mode reports the steps it made (``complete: false``) and its rates over
them. Batches are shuffled, so the steps made are a random sample of the epoch.

Data: ``--data DIR`` (a prepared data set from ``fcdata prepare``), or ``--records FILE`` (raw or
canonical records, converted and rendered here; default: the real Glaive-derived ShareGPT sample in
``tests/fixtures/shared``, 744 samples of 21 to 11,602 tokens).

Trained tokens are the targets of the loss (``labels != -100``), the same set in every mode; real tokens
are all non-padding tokens; waste = padding slots / all slots. Throughput counts the whole step
(collation, host-to-device copy, forward, backward, optimizer) after ``--warmup`` untimed steps.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RECORDS = os.path.join(ROOT, "tests", "fixtures", "shared", "sharegpt", "glaive_toolcall_en_demo.json")

PRESETS: dict[str, dict[str, int]] = {
    # Mistral-architecture shapes with the v0.3 vocabulary; random weights (nothing is downloaded)
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16),
    "small": dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=4, head_dim=64),
    "1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=16, num_attention_heads=16, num_key_value_heads=8, head_dim=128),
}


def prepared_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Rows in the prepared-data layout: from ``--data`` (``fcdata prepare`` output), or rendered here."""
    import datasets

    datasets.disable_progress_bars()
    if args.data:
        return list(datasets.load_from_disk(args.data).select_columns(["input_ids", "assistant_masks", "labels"]))
    from fcdata.convert import Converted, convert_records
    from fcdata.read import read_items
    from fcdata.render import render_records

    records = [out.record for out in convert_records(read_items(args.records)) if isinstance(out, Converted)]
    rows = []
    for rendered in render_records(records):
        if isinstance(rendered, Exception):
            continue
        for s in rendered.samples:
            rows.append({"input_ids": s.input_ids, "assistant_masks": s.assistant_masks, "labels": s.labels})
    return rows


def make_model_factory(args: argparse.Namespace, attn: str, dtype: Any, device: str) -> Callable[[], Any]:
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    shape = PRESETS["tiny" if args.tiny else args.preset]
    config = MistralConfig(vocab_size=32768, max_position_embeddings=32768, sliding_window=None, use_cache=False, **shape)

    def make() -> Any:
        torch.manual_seed(args.seed)
        model = MistralForCausalLM._from_config(config, attn_implementation=attn, dtype=dtype).to(device)
        if args.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        model.train()
        return model

    return make


def batches_for(mode: str, rows: list[dict[str, Any]], args: argparse.Namespace, attn: str) -> tuple[list[list[dict]], Any, dict[str, Any]]:
    """(batches of rows, collator, facts) of one mode; the same samples in every mode."""
    import random

    import datasets

    from fcdata.collate import PackingCollator, PaddingCollator
    from fcdata.pack import pack_dataset

    rng = random.Random(args.seed)
    if mode == "packed":
        packs, report = pack_dataset(datasets.Dataset.from_list(rows), args.max_length)
        units = list(packs.select_columns(["input_ids", "assistant_masks", "labels", "seq_lengths"]))
        collator: Any = PackingCollator(layout="flat" if "flash" in attn else "rows", pad_to_multiple_of=8)
        facts = {"packs": report.packs, "pack_efficiency": round(report.efficiency, 4), "layout": collator.layout}
    elif mode == "padded":
        units = list(rows)
        collator = PaddingCollator(pad_to_multiple_of=8)
        facts = {}
    elif mode == "padded-max":
        units = list(rows)
        collator = PaddingCollator(pad_to_multiple_of=args.max_length)
        facts = {}
    else:
        raise ValueError(mode)
    rng.shuffle(units)
    return [units[i : i + args.batch_size] for i in range(0, len(units), args.batch_size)], collator, facts


def train_mode(
    mode: str, rows: list[dict[str, Any]], args: argparse.Namespace, make: Callable[[], Any], attn: str, device: str, seconds: float | None = None
) -> dict[str, Any]:
    """One epoch of ``mode`` (or as many steps as fit in ``seconds`` of timed training)."""
    import torch

    from fcdata.collate import IGNORE_INDEX

    batches, collator, facts = batches_for(mode, rows, args, attn)
    cuda = device.startswith("cuda")
    model = make()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)

    def step(rows_of_batch: list[dict]) -> tuple[float, int, int, int]:
        batch = collator(rows_of_batch)
        labels = batch["labels"]
        trained = int((labels[:, 1:] != IGNORE_INDEX).sum())
        slots = labels.numel()
        real = int(batch["attention_mask"].sum()) if "attention_mask" in batch else sum(len(r["input_ids"]) for r in rows_of_batch)
        inputs = {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach()), trained, real, slots

    for b in batches[: args.warmup]:  # untimed: kernels load, allocator warms up
        step(b)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    totals = {"trained": 0, "real": 0, "slots": 0}
    losses: list[tuple[float, int]] = []
    start = time.perf_counter()
    for b in batches:
        loss, trained, real, slots = step(b)  # float(loss) waits for the GPU: the clock below is true
        totals["trained"] += trained
        totals["real"] += real
        totals["slots"] += slots
        losses.append((loss, trained))
        if seconds is not None and time.perf_counter() - start >= seconds:
            break
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    model = optimizer = None  # free the GPU for the next mode
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    weight = sum(n for _, n in losses) or 1
    return {
        "mode": mode,
        "steps": len(losses),
        "epoch_steps": len(batches),
        "complete": len(losses) == len(batches),
        "slots": totals["slots"],
        "real_tokens": totals["real"],
        "trained_tokens": totals["trained"],
        "padding_waste": round(1 - totals["real"] / totals["slots"], 4),
        "seconds": round(elapsed, 3),
        "real_tokens_per_s": round(totals["real"] / elapsed, 1),
        "trained_tokens_per_s": round(totals["trained"] / elapsed, 1),
        "peak_gib": round(peak, 2) if peak is not None else None,
        "mean_loss": round(sum(loss * n for loss, n in losses) / weight, 4),
        "first_loss": round(losses[0][0], 4) if losses else None,
        **facts,
    }


def time_collators(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Microseconds per batch: fcdata's collators next to transformers' and TRL's on the same rows."""
    import random

    from transformers import DataCollatorWithFlattening
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from fcdata.collate import PackingCollator, PaddingCollator

    rng = random.Random(args.seed)
    plain = [{"input_ids": list(r["input_ids"]), "labels": list(r["labels"]), "assistant_masks": list(r["assistant_masks"])} for r in rows]
    batch_size = min(16, len(plain))
    groups = [rng.sample(plain, batch_size) for _ in range(args.collator_groups)]
    contenders: list[tuple[str, Callable[[list[dict]], Any]]] = [
        ("fcdata PackingCollator (flat)", PackingCollator()),
        ("fcdata PackingCollator (flat, validate=False)", PackingCollator(validate=False)),
        ("transformers DataCollatorWithFlattening", DataCollatorWithFlattening(return_flash_attn_kwargs=True)),
        ("trl DataCollatorForLanguageModeling(padding_free)", DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)),
        ("fcdata PaddingCollator", PaddingCollator(pad_to_multiple_of=8)),
        ("trl DataCollatorForLanguageModeling (padded)", DataCollatorForLanguageModeling(pad_token_id=0, pad_to_multiple_of=8)),
    ]
    out = []
    for name, collate in contenders:
        # TRL's collator reads labels only; give every contender the same rows
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for g in groups:
                collate(g)
            times.append((time.perf_counter() - start) / len(groups))
        out.append({"collator": name, "us_per_batch": round(1e6 * statistics.median(times), 1), "batch": batch_size})
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="prepared data (a datasets folder from `fcdata prepare`)")
    parser.add_argument("--records", default=DEFAULT_RECORDS, help="raw/canonical records to render when --data is not given")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--tiny", action="store_true", help="a tiny model (CPU smoke runs)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="1b", help="model shape (random weights)")
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=2, help="rows per step: samples (padded) or packs (packed)")
    parser.add_argument("--samples", type=int, default=None, help="use this many samples (default: all that fit)")
    parser.add_argument("--modes", default="padded-max,padded,packed")
    parser.add_argument("--attn", default=None, help="attention implementation (default: flash_attention_2 if installed on a GPU, else sdpa)")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds-per-mode", type=float, default=None, help="stop each mode after this many timed seconds")
    parser.add_argument("--deadline", type=float, default=None, help="time.time() by which every mode and the collator timing are done")
    parser.add_argument("--collator-groups", type=int, default=50, help="batches per collator timing round")
    parser.add_argument("--json", help="also write the figures here as JSON")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The figures of every mode; ``progress`` receives the summary so far after each mode (a caller that
    may be stopped keeps what was measured)."""
    import importlib.util
    import random

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    if args.attn:
        attn = args.attn
    elif cuda and importlib.util.find_spec("flash_attn") is not None:
        attn = "flash_attention_2"
    else:
        attn = "sdpa"
    dtype = torch.bfloat16 if cuda else torch.float32

    rows = prepared_rows(args)
    n_all = len(rows)
    rows = [r for r in rows if len(r["input_ids"]) <= args.max_length]
    overlong = n_all - len(rows)
    if args.samples is not None:
        rows = random.Random(args.seed).sample(rows, min(args.samples, len(rows)))
    lengths = [len(r["input_ids"]) for r in rows]

    make = make_model_factory(args, attn, dtype, device)
    summary: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "model": "tiny" if args.tiny else args.preset,
        "dtype": str(dtype).replace("torch.", ""),
        "attention": attn,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "samples": len(rows),
        "overlong_left_out": overlong,
        "sample_tokens": {"mean": round(statistics.mean(lengths), 1), "median": statistics.median(lengths), "max": max(lengths)},
        "seconds_per_mode": args.seconds_per_mode,
        "results": [],
        "collators": [],
    }
    results = summary["results"]
    modes = args.modes.split(",")
    collator_reserve = 5.0  # seconds kept for the collator timing at the end
    for k, mode in enumerate(modes):
        cap = args.seconds_per_mode
        if args.deadline is not None:
            share = (args.deadline - time.time() - collator_reserve) / (len(modes) - k)
            # the model build and the warm-up steps come out of the share too (about a fifth of it)
            share = max(share * 0.8, 1.0)
            cap = share if cap is None else min(cap, share)
        results.append(train_mode(mode, rows, args, make, attn, device, seconds=cap))
        _speedups(results)
        if progress is not None:
            progress(summary)
    if args.deadline is None or time.time() < args.deadline - 1.0:
        summary["collators"] = time_collators(rows, args)
    if args.json:
        from fcdata.write import write_json

        write_json(args.json, summary)
    return summary


def _speedups(results: list[dict[str, Any]]) -> None:
    base = {r["mode"]: r["trained_tokens_per_s"] for r in results}
    for r in results:
        r["speedup_vs_padded"] = round(r["trained_tokens_per_s"] / base["padded"], 2) if "padded" in base else None
        r["speedup_vs_padded_max"] = round(r["trained_tokens_per_s"] / base["padded-max"], 2) if "padded-max" in base else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return run(parse_args(argv))


def print_table(summary: dict[str, Any]) -> None:
    head = (
        f"{summary['device']}  model={summary['model']} {summary['dtype']} attn={summary['attention']}  "
        f"max_length={summary['max_length']} batch={summary['batch_size']}  samples={summary['samples']} "
        f"(mean {summary['sample_tokens']['mean']}, max {summary['sample_tokens']['max']} tokens; "
        f"{summary['overlong_left_out']} longer than max_length left out)"
    )
    print(head)
    cols = ["mode", "steps", "slots", "real_tokens", "trained_tokens", "padding_waste", "seconds", "trained_tokens_per_s", "peak_gib", "mean_loss", "speedup_vs_padded", "speedup_vs_padded_max"]
    widths = [max(len(c), *(len(str(r.get(c))) for r in summary["results"])) for c in cols]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths)))
    for r in summary["results"]:
        print("  ".join(str(r.get(c)).rjust(w) for c, w in zip(cols, widths)))
    print()
    for c in summary["collators"]:
        print(f"{c['us_per_batch']:>10.1f} us/batch of {c['batch']}  {c['collator']}")


if __name__ == "__main__":
    result = main()
    print_table(result)
    if not all(math.isfinite(r["mean_loss"]) for r in result["results"]):
        sys.exit(1)
