"""GPU figures of fcdata's trainer (issue 7), in one command; ``benchmarks/gpu_proofs.sh`` runs both parts
time-boxed, beside the packing figures and the GPU tests (issue 16).

Parts (``--part``; default ``all``):

``synth``
    The synthetic tool-calling task (``fcdata synth``, 20,000 training records by default):
    ``small-mistral`` (59 M parameters, Mistral architecture, random init) trained from scratch with
    ``--full`` through ``train_eval`` (the library call behind ``fcdata train-eval``), every setting given
    explicitly (``synth_settings``: peak lr 1e-3, 8 packs of 2048 tokens a step, no checkpointing).
    Training is time-boxed: the learning rate follows the wall clock (warm-up, then a cosine to a tenth)
    over ``--synth-seconds`` or what ``--deadline`` leaves after the held-out evaluations, and stops early
    once a learning-curve point reaches ``--synth-stop-at``. Prints the held-out exact tool-call accuracy
    before and after, the learning curve (accuracy on ``--curve-items`` held-out turns every
    ``--curve-every`` steps, with training seconds) and the time to reach ``--target``.
    Target: from about 0 to >= 90% in under 10 minutes on one GPU.

``qlora``
    QLoRA on a Mistral-7B-v0.3-shaped model with random weights (``mistral-7b-random``, built from its
    config: nothing is downloaded) at 4096 context on real-length prepared data (the Glaive samples in
    tests/fixtures, rendered by fcdata), side by side in one process with the plain recipe: transformers +
    PEFT (``prepare_model_for_kbit_training``) + TRL's ``SFTTrainer`` with its defaults, padded batches of
    2 x 4096, same LoRA settings and optimizer. Prints peak GPU memory (``torch.cuda.max_memory_allocated``)
    and trained tokens/s (steady state: steps after the first ``--warmup-steps``), and ``fcdata plan``'s
    estimate next to each measured peak (for the layout that ran). Each side runs ``--steps`` steps or
    until its share of ``--deadline``.
    Targets: fcdata <= 16 GiB at 4096 context and >= 2.5x the plain recipe's trained tokens/s; estimates
    within 15% of the measured peaks.

Writes everything to ``--out`` (JSON) and prints a summary. Missing pieces degrade with a message:
no CUDA -> GPU parts are skipped (``--smoke`` runs a tiny CPU version of every code path instead);
no bitsandbytes -> the QLoRA part is skipped; no flash-attn -> PyTorch sdpa (said in the output).

On a GPU machine without network, run it through ``benchmarks/gpu_proofs.sh`` (which installs the carried
wheels first), or after installing them::

    python benchmarks/bench_train_gpu.py --out bench_train_gpu.json
    python benchmarks/bench_train_gpu.py --part synth --synth-seconds 240
    python benchmarks/bench_train_gpu.py --part qlora --steps 12
    python benchmarks/bench_train_gpu.py --smoke            # CPU: every code path, tiny sizes
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
import math
import traceback
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

GIB = 2**30
FIXTURE_INPUTS = [
    os.path.join(ROOT, "tests", "fixtures", "shared", "sharegpt", "glaive_toolcall_en_demo.json"),
    os.path.join(ROOT, "tests", "fixtures", "shared", "glaive_raw", "glaive_v2_first500_singleturn.jsonl"),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def environment() -> dict[str, Any]:
    import importlib.util

    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "bitsandbytes": importlib.util.find_spec("bitsandbytes") is not None,
        "flash_attn": importlib.util.find_spec("flash_attn") is not None,
    }
    for name in ("transformers", "peft", "trl", "accelerate", "datasets"):
        try:
            module = __import__(name)
            env[name] = getattr(module, "__version__", "?")
        except Exception as exc:  # a missing package is reported, not fatal here
            env[name] = f"missing ({exc.__class__.__name__})"
    return env


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def steady_rate(history: list[dict[str, Any]], key: str, warmup: int) -> float | None:
    """Tokens per second between the end of step ``warmup`` and the last logged step."""
    points = [e for e in history if key in e and "elapsed_s" in e]
    if len(points) < 2:
        return None
    start = next((e for e in points if e["step"] >= warmup), points[0])
    end = points[-1]
    if end is start or end["elapsed_s"] <= start["elapsed_s"]:
        start = points[0]
    dt = end["elapsed_s"] - start["elapsed_s"]
    return (end[key] - start[key]) / dt if dt > 0 else None


# ---------------------------------------------------------------------------------------- clocks


Progress = Callable[[dict[str, Any]], None]


def _trainer_callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


def deadline_callback(deadline: float | None) -> Any:
    """A ``TrainerCallback`` that ends training (cleanly: the Trainer finishes the step, logs and returns)
    once ``time.time()`` passes ``deadline``; ``None``: never."""

    class Deadline(_trainer_callback_base()):  # type: ignore[misc]
        stopped = False

        def on_step_end(self, targs: Any, state: Any, control: Any, **kw: Any) -> None:
            if deadline is not None and time.time() >= deadline:
                control.should_training_stop = True
                self.stopped = True

    return Deadline()


def wall_clock_schedule(peak_lr: float, warmup: float = 0.05, floor: float = 0.1) -> Any:
    """A ``TrainerCallback`` that sets the learning rate from wall time: linear warm-up over the first
    ``warmup`` of the training budget, then a cosine down to ``floor`` x ``peak_lr`` at its end, where
    training stops.

    Why: a time-boxed run cannot know beforehand how many steps fit its share of the GPU (nobody has timed
    this model on this GPU), and a step-based cosine either ends before the time does or stops half-way at
    a high learning rate. The budget is set (``start(budget_s)``) when training begins, from what is left of
    the part after the "before" evaluation and the time kept for the "after" one. The Trainer's own
    scheduler is ``constant``; this callback overwrites the rate just before each optimizer step."""

    class WallClock(_trainer_callback_base()):  # type: ignore[misc]
        def __init__(self) -> None:
            self.t0: float | None = None
            self.budget_s = float("inf")
            self.lr = 0.0
            self.stopped_by_clock = False

        def start(self, budget_s: float) -> None:
            self.budget_s = max(budget_s, 1.0)

        def on_train_begin(self, targs: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t0 = time.perf_counter()

        def fraction(self) -> float:
            return 0.0 if self.t0 is None else (time.perf_counter() - self.t0) / self.budget_s

        def on_pre_optimizer_step(self, targs: Any, state: Any, control: Any, optimizer: Any = None, **kw: Any) -> None:
            p = min(self.fraction(), 1.0)
            if p < warmup:
                self.lr = peak_lr * max(p / warmup, 0.01)
            else:
                q = (p - warmup) / (1.0 - warmup)
                self.lr = peak_lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * q)))
            if optimizer is not None:
                for group in optimizer.param_groups:
                    group["lr"] = self.lr

        def on_step_end(self, targs: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.fraction() >= 1.0:
                control.should_training_stop = True
                self.stopped_by_clock = True

    return WallClock()


# ---------------------------------------------------------------------------------------- synth


def synth_settings(args: argparse.Namespace, smoke: bool, cuda: bool) -> dict[str, Any]:
    """Every training setting of the synthetic run, explicit: nothing here depends on fcdata's CPU-tuned
    defaults (``fcdata train``'s preset, learning rate and epochs)."""
    return {
        "model": "tiny-mistral" if smoke else args.synth_model,
        "full": True,
        "learning_rate": args.synth_lr,
        "lr_scheduler": "constant",  # the wall-clock schedule sets the rate (wall_clock_schedule)
        "warmup_ratio": 0.0,
        "weight_decay": 0.0,
        "max_grad_norm": 1.0,
        "optim": "adamw_torch_fused" if cuda else "adamw_torch",
        "bf16": "auto",
        # 59 M parameters leave the GPU nearly empty: recomputing activations would only cost time
        "gradient_checkpointing": False,
        "packing": True,
        "max_length": 512 if smoke else 2048,
        "batch_size": 2 if smoke else args.synth_batch,
        "gradient_accumulation_steps": 1,
        "epochs": 1.0 if smoke else args.synth_epochs,  # an upper bound: the clock ends training first
        "max_steps": -1,
        "logging_steps": 2 if smoke else 20,
        "save_steps": 10**9,
        "seed": args.seed,
        "render_mode": "exact",
        "max_new_tokens": 48 if smoke else 192,
        "eval_batch_size": 8 if smoke else 128,
    }


def part_synth(args: argparse.Namespace, work: str, deadline: float | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """From random weights to held-out exact tool-call accuracy, through ``train_eval`` (the library call
    behind ``fcdata train-eval``), inside ``deadline``."""
    import torch

    from fcdata.synth import synth_records
    from fcdata.tokenizer import load_tokenizer
    from fcdata.train.config import TrainConfig, merge_overrides, resolve
    from fcdata.train.evaluate import eval_items, evaluate_model
    from fcdata.train.pipeline import train_eval
    from fcdata.write import write_jsonl

    part_start = time.perf_counter()
    cuda = torch.cuda.is_available()
    smoke = args.smoke or not cuda
    n_train, n_test = (40, 8) if smoke else (args.synth_train, args.synth_test)
    difficulty = "easy" if smoke else args.synth_difficulty
    data = os.path.join(work, "synth.jsonl")
    os.makedirs(work, exist_ok=True)
    records = list(synth_records(n_train=n_train, n_test=n_test, seed=args.seed, difficulty=difficulty))
    write_jsonl(data, records)
    held = [r for r in records if r["metadata"]["split"] == "test"]
    tok = load_tokenizer()
    items, _ = eval_items(held, tok)
    subset = items[: (4 if smoke else args.curve_items)]
    settings = synth_settings(args, smoke, cuda)
    cfg = merge_overrides(TrainConfig(), settings)
    resolved = resolve(cfg)
    schedule = wall_clock_schedule(args.synth_lr)
    curve: list[dict[str, Any]] = []
    stages: dict[str, float] = {}
    every = 2 if smoke else args.curve_every
    out: dict[str, Any] = {
        "model": cfg.model,
        "settings": settings,
        "records": {"train": n_train, "held_out": n_test, "difficulty": difficulty, "held_out_turns": len(items)},
        "curve": curve,
        "target": args.target,
    }

    class Curve(_trainer_callback_base()):  # type: ignore[misc]
        def on_train_begin(self, targs: Any, state: Any, control: Any, **kw: Any) -> None:
            # what is left of the part, less the "after" evaluation (timed as long as the "before" one,
            # whose untrained model generates to the token limit: the slowest case) and a margin
            now = time.perf_counter()
            before = stages.get("train", now) - stages.get("eval_before", now)
            left = (deadline - time.time()) - 1.2 * before - 10.0 if deadline is not None else float("inf")
            schedule.start(min(left, 30.0 if smoke else args.synth_seconds))  # smoke: its few steps end first
            out["train_budget_s"] = round(schedule.budget_s, 1) if math.isfinite(schedule.budget_s) else None

        def on_step_end(self, targs: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            if state.global_step % every != 0 or model is None:
                return
            t = time.perf_counter()
            result = evaluate_model(model, items=subset, tokenizer=tok, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.eval_batch_size)
            model.train()
            point = {
                "step": state.global_step,
                "train_elapsed_s": round(time.perf_counter() - (schedule.t0 or t), 1),
                "lr": schedule.lr,
                "accuracy": result.accuracy,
                "items": len(subset),
                "eval_s": round(time.perf_counter() - t, 2),
            }
            curve.append(point)
            log(f"  [synth] step {point['step']}: held-out subset accuracy {point['accuracy']:.3f} at {point['train_elapsed_s']} s (lr {point['lr']:.2e})")
            if progress is not None:
                progress(out)
            if (point["accuracy"] or 0.0) >= args.synth_stop_at:
                control.should_training_stop = True
                out["stopped_at_accuracy"] = point["accuracy"]

    def on_event(stage: str, info: dict[str, Any]) -> None:
        stages.setdefault(stage, time.perf_counter())
        if stage in ("validated", "prepared", "scored_before", "train", "scored_after"):
            log(f"  [synth] {stage} at {time.perf_counter() - part_start:.1f} s")

    log(f"[synth] {n_train} train / {n_test} held-out records ({difficulty}), model {cfg.model}, {len(items)} held-out turns")
    result = train_eval(data, os.path.join(work, "synth_run"), cfg, resolved=resolved, callbacks=[schedule, Curve()], on_event=on_event)
    wall = time.perf_counter() - part_start
    report = result.report
    reached = next((p for p in curve if (p["accuracy"] or 0) >= args.target), None)
    after = report["after"].get("accuracy") or 0.0

    def call_turns(side: dict[str, Any]) -> float | None:
        # turns whose reference is a call (no-call turns count any text reply as right: the untrained
        # model gets those for free)
        cats = side.get("categories") or {}
        n = sum(c["n"] for k, c in cats.items() if k != "no_call")
        return sum(c["correct"] for k, c in cats.items() if k != "no_call") / n if n else None

    def since(a: str, b: str) -> float | None:
        return round(stages[b] - stages[a], 1) if a in stages and b in stages else None

    out.update(
        {
            "before_accuracy": report["before"].get("accuracy"),
            "after_accuracy": after,
            "before_call_turn_accuracy": call_turns(report["before"]),
            "after_call_turn_accuracy": call_turns(report["after"]),
            "before_loss": report["before"].get("loss"),
            "after_loss": report["after"].get("loss"),
            "after": {k: report["after"].get(k) for k in ("accuracy", "name_accuracy", "decision", "parse_failures", "categories")},
            "train": {k: report["train"].get(k) for k in ("steps", "epochs", "loss", "tokens_per_second", "trained_tokens_per_second", "runtime_s", "peak_memory_bytes", "tokens", "trained_tokens")},
            "stopped_by_clock": schedule.stopped_by_clock,
            "stage_s": {"data": since("read", "eval_before"), "eval_before": since("eval_before", "train"), "train": since("train", "eval_after"), "eval_after": since("eval_after", "done")},
            "wall_s": round(wall, 1),
            "time_to_target_s": reached["train_elapsed_s"] if reached else None,
            "target_met": bool(after >= args.target and (call_turns(report["after"]) or 0.0) >= args.target and wall < 600),
            "notes": report["config"].get("notes"),
        }
    )
    out["plan"] = estimate_vs_measured(
        "small-mistral" if not smoke else "tiny-mistral",
        report["train"]["peak_memory_bytes"] if cuda else None,
        quant="fp32",
        full=True,
        # the layout that ran: with sdpa the trainer packs shorter rows, more of them (trainer._pack_layout)
        seq_len=int((report["train"].get("data") or {}).get("pack_length") or cfg.max_length),
        batch=int((report["train"].get("data") or {}).get("rows_per_step") or cfg.batch_size),
        optim=resolved.optim if resolved.optim in ("adamw_torch", "adamw_torch_fused", "paged_adamw_8bit") else "adamw_torch",
        gradient_checkpointing=cfg.gradient_checkpointing,
        trained_share=max(min(report["train"]["trained_tokens"] / max(report["train"]["tokens"], 1), 1.0), 0.01),
        attention="flash" if resolved.attn_implementation.startswith("flash") else "sdpa",
    )
    return out


# ---------------------------------------------------------------------------------------- qlora


def estimate_vs_measured(model: str, measured: int | None, **settings: Any) -> dict[str, Any]:
    from fcdata.train.plan import estimate_memory

    est = estimate_memory(model, **settings)
    out: dict[str, Any] = {"estimate_gib": round(est.peak_allocated / GIB, 3), "components_gib": {k: round(v / GIB, 3) for k, v in est.components.items()}, "settings": settings}
    if measured:
        out["measured_gib"] = round(measured / GIB, 3)
        out["ratio_estimate_to_measured"] = round(est.peak_allocated / measured, 3)
        out["within_15_percent"] = abs(est.peak_allocated / measured - 1.0) <= 0.15
    return out


def _prepared(work: str, max_length: int, inputs: list[str] | None = None) -> Any:
    from fcdata.prepare import prepare
    from fcdata.train.trainer import load_prepared

    out = os.path.join(work, "prepared")
    report = prepare(inputs or FIXTURE_INPUTS, out, max_length=max_length, rejects=os.path.join(work, "prepare_rejects.jsonl"))
    log(f"[qlora] prepared {report.read} records -> {report.samples} samples, {report.tokens} tokens ({report.trained_tokens} trained)")
    return load_prepared(out)


def _stand_in_tokenizer() -> Any:
    """A Hugging Face tokenizer object with the v3 vocabulary, for TRL's constructor (it needs one for the
    pad and eos ids). The data is already tokenized by fcdata; this object never tokenizes text."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from fcdata.tokenizer import load_tokenizer

    sp = load_tokenizer()
    vocab = {sp.id_to_piece(i): i for i in range(sp.vocab_size)}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")), bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<unk>")


def run_plain_recipe(dataset: Any, model_name: str, qlora: bool, steps: int, seq_len: int, work: str, smoke: bool, deadline: float | None = None) -> dict[str, Any]:
    """transformers + PEFT + TRL SFTTrainer defaults; padded batches of 2 x seq_len; ``steps`` steps or
    until ``deadline``."""
    import torch
    from peft import LoraConfig, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from fcdata.train.models import _dtype_kwarg, _materialise, load_base_model

    cuda = torch.cuda.is_available()
    if qlora:
        folder = _materialise(model_name, {}, 0)
        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=bnb, device_map={"": 0}, **_dtype_kwarg(torch.bfloat16))
        model = prepare_model_for_kbit_training(model)
    else:
        model, _ = load_base_model(model_name, dtype="bfloat16" if cuda else "float32", device="cuda" if cuda else "cpu")
    lora = LoraConfig(r=32, lora_alpha=64, lora_dropout=0.05, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], task_type="CAUSAL_LM")
    rows = dataset.select_columns(["input_ids", "labels"])
    config = SFTConfig(
        output_dir=os.path.join(work, "plain"),
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        max_length=seq_len,
        pad_to_multiple_of=seq_len,
        learning_rate=2e-4,
        optim="paged_adamw_8bit" if (cuda and qlora) else "adamw_torch",
        bf16=cuda,
        use_cpu=not cuda,
        gradient_checkpointing=True,
        max_steps=steps,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=rows, processing_class=_stand_in_tokenizer(), peft_config=lora)
    counts = {"tokens": 0, "trained": 0}
    collate = trainer.data_collator

    def counting(batch: Any) -> Any:
        out = collate(batch)
        counts["tokens"] += int(out["attention_mask"].sum())
        counts["trained"] += int((out["labels"][:, 1:] != -100).sum())
        return out

    trainer.data_collator = counting
    history: list[dict[str, Any]] = []
    t0 = [0.0]

    class Clock(TrainerCallback):
        def on_train_begin(self, *a: Any, **k: Any) -> None:
            t0[0] = time.perf_counter()

        def on_step_end(self, targs: Any, state: Any, control: Any, **k: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
            history.append({"step": state.global_step, "elapsed_s": time.perf_counter() - t0[0], "tokens_seen": counts["tokens"], "trained_tokens_seen": counts["trained"]})

    trainer.add_callback(Clock())
    trainer.add_callback(deadline_callback(deadline))
    shape = None
    probe = collate([rows[0], rows[1]])
    shape = list(probe["input_ids"].shape)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    peak = int(torch.cuda.max_memory_allocated()) if cuda else None
    result = {
        "batch_shape": shape,
        "steps": int(trainer.state.global_step),
        "peak_memory_bytes": peak,
        "tokens": counts["tokens"],
        "trained_tokens": counts["trained"],
        "history": history,
    }
    del trainer, model
    free_memory()
    return result


def loss_memory(model: Any, batch: dict[str, Any]) -> dict[str, Any]:
    """Peak memory of one forward + backward above what is already allocated, with fcdata's loss
    (logits only at trained positions) and with the model's own loss (``labels=``: full-vocabulary logits at
    every position, upcast to fp32), same batch, same model. CUDA only."""
    import torch

    from fcdata.train.trainer import token_loss

    device = next(model.parameters()).device
    batch = {k: (v.to(device) if hasattr(v, "to") else v) for k, v in batch.items()}
    model.train()
    out: dict[str, Any] = {"batch_shape": list(batch["input_ids"].shape), "trained_targets": int((batch["labels"][:, 1:] != -100).sum())}
    for mode in ("fcdata_trained_positions", "full_vocabulary_logits"):
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            if mode == "fcdata_trained_positions":
                loss_sum, n = token_loss(model, batch)
                loss = loss_sum / n
            else:
                loss = model(**{k: v for k, v in batch.items()}).loss
        loss.backward()
        torch.cuda.synchronize()
        out[mode + "_gib"] = round((torch.cuda.max_memory_allocated() - base) / GIB, 3)
        del loss
    model.zero_grad(set_to_none=True)
    return out


def run_fcdata(dataset: Any, model_name: str, qlora: bool, steps: int, seq_len: int, work: str, smoke: bool, deadline: float | None = None) -> dict[str, Any]:
    """fcdata's trainer (packed, logits at trained positions only), ``steps`` steps or until ``deadline``."""
    import torch

    from fcdata.train.config import TrainConfig, merge_overrides, resolve
    from fcdata.train.trainer import train_model

    cuda = torch.cuda.is_available()
    cfg = merge_overrides(
        TrainConfig(),
        {
            "model": model_name,
            "qlora": qlora,
            "max_length": seq_len,
            "batch_size": 2,
            "gradient_accumulation_steps": 1,
            "max_steps": steps,
            "logging_steps": 1,
            "save_steps": 10**9,
            # the user's recipe, spelled out (fcdata's defaults may be tuned for CPU runs elsewhere)
            "learning_rate": 2e-4,
            "lr_scheduler": "cosine",
            "warmup_ratio": 0.03,
            "optim": "paged_adamw_8bit",
            "gradient_checkpointing": True,
            "packing": True,
            "lora.r": 32,
            "lora.alpha": 64,
            "lora.dropout": 0.05,
            "bf16": "auto",
        },
    )
    resolved = resolve(cfg)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    result = train_model(dataset, os.path.join(work, "fcdata_run"), cfg, resolved=resolved, callbacks=[deadline_callback(deadline)])
    m = result.metrics
    out = {
        "batch": (
            f"{m['data'].get('rows_per_step')} packs of {m['data'].get('pack_length')} (rows layout, sdpa)"
            if not resolved.attn_implementation.startswith("flash")
            else f"{m['data'].get('rows_per_step')} packs of {m['data'].get('pack_length')} flattened (flash-attention varlen)"
        ),
        "attn_implementation": resolved.attn_implementation,
        "steps": m["steps"],
        "peak_memory_bytes": m["peak_memory_bytes"] if cuda else None,
        "tokens": m["tokens"],
        "trained_tokens": m["trained_tokens"],
        "packing": m["data"],
        "history": [{k: e[k] for k in ("step", "elapsed_s", "tokens_seen", "trained_tokens_seen", "loss") if k in e} for e in result.log_history if "loss" in e],
        "notes": m["notes"],
    }
    if cuda and (deadline is None or time.time() < deadline - 10):
        from fcdata.collate import PackingCollator
        from fcdata.pack import pack_dataset

        packs, _ = pack_dataset(dataset, seq_len, overlong="drop")
        batch = PackingCollator(layout="rows", return_flash_kwargs=False)([packs[0], packs[1]])
        try:
            out["loss_memory"] = loss_memory(result.model, batch)
        except Exception as exc:  # the figure is extra; never lose the run's numbers over it
            out["loss_memory"] = {"error": f"{exc.__class__.__name__}: {exc}"}
    del result
    free_memory()
    return out


def part_qlora(args: argparse.Namespace, work: str, deadline: float | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """fcdata and the plain recipe side by side, same model and data; the time left before ``deadline`` is
    shared: fcdata's run (which also writes the random 7B weights once) gets the larger half."""
    import torch

    cuda = torch.cuda.is_available()
    smoke = args.smoke or not cuda
    if not smoke:
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            return {"skipped": "bitsandbytes is not installed: QLoRA cannot run (pip install bitsandbytes)"}
    model = "tiny-mistral" if smoke else "mistral-7b-random"
    seq_len = 256 if smoke else 4096
    steps = 3 if smoke else args.steps
    qlora = not smoke
    dataset = _prepared(work, seq_len, FIXTURE_INPUTS[:1] if smoke else None)
    out: dict[str, Any] = {"model": model, "seq_len": seq_len, "steps": steps}
    first_deadline = None if deadline is None else time.time() + 0.58 * (deadline - time.time())
    log(f"[qlora] fcdata: {model}, {'4-bit' if qlora else 'bf16/fp32'}, packs of {seq_len}, batch 2, {steps} steps")
    ours = run_fcdata(dataset, model, qlora, steps, seq_len, work, smoke, first_deadline)
    out["fcdata"] = ours
    warm = args.warmup_steps if not smoke else 1
    ours["trained_tokens_per_second"] = steady_rate(ours["history"], "trained_tokens_seen", warm)
    ours["tokens_per_second"] = steady_rate(ours["history"], "tokens_seen", warm)
    if progress is not None:
        progress(out)
    log(f"[qlora] plain recipe (transformers + PEFT + TRL SFTTrainer): padded 2 x {seq_len}, {steps} steps")
    try:
        plain: dict[str, Any] = run_plain_recipe(dataset, model, qlora, steps, seq_len, work, smoke, deadline)
    except Exception as exc:  # report the baseline's failure, keep fcdata's figures
        plain = {"error": f"{exc.__class__.__name__}: {exc}", "traceback": traceback.format_exc(limit=5)}
    out["plain"] = plain
    if "history" in plain:
        plain["trained_tokens_per_second"] = steady_rate(plain["history"], "trained_tokens_seen", warm)
        plain["tokens_per_second"] = steady_rate(plain["history"], "tokens_seen", warm)
    share = ours["trained_tokens"] / max(ours["tokens"], 1)
    attention = "flash" if ours["attn_implementation"].startswith("flash") else "sdpa"
    shape = "7b" if not smoke else "tiny-mistral"
    packing = ours.get("packing") or {}
    # the layout that ran: with sdpa the trainer packs rows of max(1024, longest sample) (trainer._pack_layout)
    rows, pack_len = int(packing.get("rows_per_step") or 2), int(packing.get("pack_length") or seq_len)
    out["plan_fcdata"] = estimate_vs_measured(shape, ours["peak_memory_bytes"], quant="nf4" if qlora else "bf16", lora_r=32, seq_len=pack_len, batch=rows, logits="trained", trained_share=share, attention=attention)
    out["plan_plain"] = estimate_vs_measured(shape, plain.get("peak_memory_bytes"), quant="nf4" if qlora else "bf16", lora_r=32, seq_len=seq_len, batch=2, logits="full", fp32_non_quantized=qlora, attention="sdpa")
    if ours.get("trained_tokens_per_second") and plain.get("trained_tokens_per_second"):
        out["speedup_trained_tokens"] = round(ours["trained_tokens_per_second"] / plain["trained_tokens_per_second"], 2)
    if ours.get("peak_memory_bytes"):
        out["fcdata_peak_gib"] = round(ours["peak_memory_bytes"] / GIB, 2)
        out["memory_target_met"] = ours["peak_memory_bytes"] <= 16 * GIB
    if plain.get("peak_memory_bytes"):
        out["plain_peak_gib"] = round(plain["peak_memory_bytes"] / GIB, 2)
    if "speedup_trained_tokens" in out:
        out["speed_target_met"] = out["speedup_trained_tokens"] >= 2.5
    return out


# ---------------------------------------------------------------------------------------- main


def summary(results: dict[str, Any]) -> str:
    lines = ["", "== fcdata trainer GPU benchmark ==", f"device: {results['environment'].get('gpu') or 'CPU (smoke)'}"]
    s = results.get("synth")
    if s and "error" not in s and "skipped" not in s:
        lines += [
            f"synthetic task ({s['model']}, from scratch, {s['records']['train']} train records): held-out exact accuracy "
            f"{100 * (s['before_accuracy'] or 0):.1f}% -> {100 * (s['after_accuracy'] or 0):.1f}% in {s['wall_s']:.0f} s wall "
            f"(target >= {100 * s['target']:.0f}% in < 600 s: {'met' if s['target_met'] else 'NOT met'})",
            f"  call turns only: {100 * (s['before_call_turn_accuracy'] or 0):.1f}% -> {100 * (s['after_call_turn_accuracy'] or 0):.1f}%; "
            f"held-out loss {s['before_loss']:.3f} -> {s['after_loss']:.3f}",
            "  curve: " + ", ".join(f"{p['step']} steps/{p['train_elapsed_s']:.0f}s={100 * (p['accuracy'] or 0):.0f}%" for p in s["curve"]),
        ]
    elif s:
        lines.append(f"synthetic task: {s.get('error') or s.get('skipped')}")
    q = results.get("qlora")
    if q and "error" not in q and "skipped" not in q:
        f, p = q["fcdata"], q["plain"]

        def gib(x: Any) -> str:
            return "n/a" if not x else f"{x / GIB:.2f} GiB"

        def rate(x: Any) -> str:
            return "n/a" if not x else f"{x:,.0f}"

        lines += [
            f"QLoRA {q['model']} at {q['seq_len']} context, {q['steps']} steps:",
            f"  {'':22s} {'peak memory':>12s} {'trained tok/s':>14s} {'tokens/s':>10s}  plan estimate",
            f"  {'fcdata (packed)':22s} {gib(f.get('peak_memory_bytes')):>12s} {rate(f.get('trained_tokens_per_second')):>14s} {rate(f.get('tokens_per_second')):>10s}  {q['plan_fcdata']['estimate_gib']:.2f} GiB",
            f"  {'plain recipe (2x' + str(q['seq_len']) + ')':22s} {gib(p.get('peak_memory_bytes')):>12s} {rate(p.get('trained_tokens_per_second')):>14s} {rate(p.get('tokens_per_second')):>10s}  {q['plan_plain']['estimate_gib']:.2f} GiB",
        ]
        if "error" in p:
            lines.append(f"  plain recipe failed: {p['error']}")
        if "speedup_trained_tokens" in q:
            lines.append(f"  speed-up (trained tokens/s): {q['speedup_trained_tokens']}x (target >= 2.5x: {'met' if q.get('speed_target_met') else 'NOT met'})")
        if "memory_target_met" in q:
            lines.append(f"  fcdata peak <= 16 GiB: {'met' if q['memory_target_met'] else 'NOT met'}")
        lm = f.get("loss_memory") or {}
        if "fcdata_trained_positions_gib" in lm:
            lines.append(
                f"  one step's extra memory, batch {lm['batch_shape']}: fcdata loss {lm['fcdata_trained_positions_gib']:.2f} GiB vs "
                f"full-vocabulary logits {lm['full_vocabulary_logits_gib']:.2f} GiB"
            )
        for key in ("plan_fcdata", "plan_plain"):
            if "ratio_estimate_to_measured" in q[key]:
                lines.append(f"  {key}: estimate/measured = {q[key]['ratio_estimate_to_measured']} (within 15%: {q[key]['within_15_percent']})")
        for note in f.get("notes") or []:
            lines.append(f"  note: {note}")
    elif q:
        lines.append(f"QLoRA: {q.get('error') or q.get('skipped')}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "synth", "qlora"], default="all")
    parser.add_argument("--out", default="bench_train_gpu.json", help="JSON results file")
    parser.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--cache", default=None, help="where the random-weight 7B model is written once (FCDATA_CACHE)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on any device (checks every code path)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=16, help="QLoRA steps for each of fcdata and the plain recipe")
    parser.add_argument("--warmup-steps", type=int, default=3, help="steps left out of the steady-state throughput")
    parser.add_argument("--synth-model", default="small-mistral")
    parser.add_argument("--synth-train", type=int, default=20000)
    parser.add_argument("--synth-test", type=int, default=400)
    parser.add_argument("--synth-difficulty", default="normal", choices=["easy", "normal"])
    parser.add_argument("--synth-epochs", type=float, default=20.0, help="an upper bound: the wall-clock schedule normally ends training first")
    parser.add_argument("--synth-seconds", type=float, default=300.0, help="training seconds of the wall-clock schedule (less when --deadline leaves less)")
    parser.add_argument("--synth-batch", type=int, default=8, help="packs of 2048 tokens per step")
    parser.add_argument("--synth-lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--synth-stop-at", type=float, default=0.97, help="stop training once a learning-curve point reaches this accuracy")
    parser.add_argument("--curve-every", type=int, default=200, help="steps between learning-curve points")
    parser.add_argument("--curve-items", type=int, default=128, help="held-out turns per learning-curve point")
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--deadline", type=float, default=None, help="time.time() by which each part has stopped (shared between the parts)")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    if args.cache:
        os.environ["FCDATA_CACHE"] = args.cache
    elif "FCDATA_CACHE" not in os.environ:
        os.environ["FCDATA_CACHE"] = os.path.join(tempfile.gettempdir(), "fcdata-bench-cache")
    import torch

    if not torch.cuda.is_available() and not args.smoke:
        log("no CUDA GPU here: running the --smoke sizes on the CPU (figures are not the GPU figures)")
        args.smoke = True
    if args.smoke:
        torch.set_num_threads(1)
    results: dict[str, Any] = {"environment": environment(), "args": vars(args)}
    if not results["environment"]["flash_attn"] and results["environment"]["cuda"]:
        log("flash-attn is not installed: attention runs on PyTorch sdpa (memory-efficient kernel)")
    work = args.work or tempfile.mkdtemp(prefix="fcdata-bench-")
    os.makedirs(work, exist_ok=True)
    parts = ["synth", "qlora"] if args.part == "all" else [args.part]
    for k, part in enumerate(parts):
        started = time.perf_counter()
        deadline = None if args.deadline is None else time.time() + (args.deadline - time.time()) / (len(parts) - k)
        try:
            results[part] = (part_synth if part == "synth" else part_qlora)(args, os.path.join(work, part), deadline)
        except Exception as exc:
            results[part] = {"error": f"{exc.__class__.__name__}: {exc}", "traceback": traceback.format_exc(limit=8)}
            log(results[part]["traceback"])
        results[part]["part_wall_s"] = round(time.perf_counter() - started, 1)
        free_memory()
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, default=str)
    print(summary(results))
    print(f"\nresults: {os.path.abspath(args.out)}")
    return 0 if all("error" not in results[p] for p in parts) else 1


if __name__ == "__main__":
    sys.exit(main())
