"""``fcdata train``, ``fcdata eval`` and ``fcdata train-eval``: thin wrappers over :mod:`fcdata.train`."""

from __future__ import annotations

import os
from typing import Any, Callable

import click

from fcdata.convert import FORMATS

from .common import CONTEXT_SETTINGS, check_outputs, echo_err, format_table, stderr_is_terminal


def _library_progress(quiet: bool) -> None:
    """Progress bars of datasets / transformers / huggingface_hub only on a terminal, never with -q."""
    if not quiet and stderr_is_terminal():
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass


def _main_process() -> bool:
    """Only rank 0 talks under ``accelerate launch`` / torchrun."""
    return os.environ.get("RANK", "0") == "0"


# ---------------------------------------------------------------------------------------- options


def _training_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--model", "model", default=None, help="A built-in model (tiny-mistral, small-mistral, mistral-7b-random), a local Hugging Face model folder, or a hub id. Default: tiny-mistral."),
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="Settings file (.yaml/.toml/.json); a mistral-finetune YAML (7B_lora.yaml) is translated."),
        click.option("--set", "set_items", multiple=True, metavar="KEY=VALUE", help="Any setting, e.g. --set lora.r=16 --set warmup_ratio=0.1 (repeatable; see docs/training.md)."),
        click.option("--tokenizer", default=None, type=click.Path(exists=True), help="The model's tokenizer (tekken.json, tokenizer.model.vN, or a folder). Default: the one in the --model folder, else the v3 tokenizer shipped in mistral-common."),
        click.option("--full", is_flag=True, default=None, help="Train every weight instead of a LoRA adapter (small models, from-scratch runs)."),
        click.option("--qlora", is_flag=True, default=None, help="Load the base in 4-bit (nf4, double quantisation, bf16 compute) through bitsandbytes; needs a CUDA GPU."),
        click.option("--lr", "learning_rate", type=float, default=None, help="Learning rate [2e-4; 3e-3 from scratch: --full on a built-in model]."),
        click.option("--epochs", type=float, default=None, help="Epochs over the training samples [1; 4 from scratch]."),
        click.option("--max-steps", type=int, default=None, help="Stop after this many optimizer steps (overrides --epochs)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Rows (packs) per GPU per micro-step [2]."),
        click.option("--grad-accum", "gradient_accumulation_steps", type=click.IntRange(min=1), default=None, help="Micro-steps per optimizer step [4]."),
        click.option("--max-length", type=click.IntRange(min=16), default=None, help="Pack length / longest sample, in tokens [4096]."),
        click.option("--lora-r", type=click.IntRange(min=1), default=None, help="LoRA rank [32]."),
        click.option("--lora-alpha", type=int, default=None, help="LoRA alpha [64]."),
        click.option("--lora-dropout", type=float, default=None, help="LoRA dropout [0.05]."),
        click.option("--packing/--no-packing", default=None, help="Pack samples into rows of --max-length (default on)."),
        click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=None, help="Recompute activations in backward (default on)."),
        click.option("--bf16", type=click.Choice(["auto", "true", "false"]), default=None, help="bf16 mixed precision [auto: on a GPU that supports it]."),
        click.option("--optim", default=None, help="Optimizer name as the HF Trainer knows it [paged_adamw_8bit; adamw_torch_fused (else adamw_torch) on a CPU]."),
        click.option("--seed", type=int, default=None, help="Seed of weights init (built-in models), data order, split [0]."),
        click.option("--resume/--no-resume", default=None, help="Resume from the run folder's last checkpoint (default), or start over (old checkpoints are removed)."),
        click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads of torch [the CPUs this process may use, at most torch's default]."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _eval_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--max-new-tokens", type=click.IntRange(min=1), default=None, help="Longest reply generated [auto: twice the longest reference reply + 16]."),
        click.option("--eval-batch-size", type=click.IntRange(min=1), default=None, help="Prompts generated together [16]."),
        click.option("--fill-ids/--no-fill-ids", "fill_ids", default=None, help="The decoder writes call ids, whose characters fcdata never trains (default); --no-fill-ids: plain greedy decoding."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


_NAMED = ("model", "tokenizer", "full", "qlora", "learning_rate", "epochs", "max_steps", "batch_size", "gradient_accumulation_steps", "max_length", "packing", "gradient_checkpointing", "optim", "seed", "resume", "max_new_tokens", "eval_batch_size", "fill_ids", "eval_size", "eval_fraction", "threads")


def _build_config(kwargs: dict[str, Any]) -> tuple[Any, list[str]]:
    """The command line's options as :func:`fcdata.train.config.build_config` takes them."""
    from fcdata.train.config import build_config

    named = {key: kwargs.get(key) for key in _NAMED}
    for key, target in (("lora_r", "lora.r"), ("lora_alpha", "lora.alpha"), ("lora_dropout", "lora.dropout")):
        named[target] = kwargs.get(key)
    if kwargs.get("bf16") is not None:
        named["bf16"] = {"auto": "auto", "true": True, "false": False}[kwargs["bf16"]]
    return build_config(config_file=kwargs.get("config_file"), sets=kwargs.get("set_items") or (), named=named)


def _log_printer(quiet: bool) -> Callable[[dict[str, Any]], None] | None:
    if quiet or not _main_process():
        return None

    def show(entry: dict[str, Any]) -> None:
        if "loss" in entry:
            echo_err(f"step {entry['step']}/{entry.get('max_steps', '?')}  loss {entry['loss']:.4f}  lr {entry.get('learning_rate', 0):.3g}")

    return show


def _fmt_pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _fmt_gib(value: Any) -> str:
    return "n/a" if value is None else f"{value / 2**30:.2f} GiB"


# ---------------------------------------------------------------------------------------- train


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("data", type=click.Path(exists=True, allow_dash=True))
@click.option("-o", "--output", "run_dir", required=True, type=click.Path(file_okay=False), help="Run folder (adapter or model, config.yaml, metrics.json, loss_curve.png, checkpoints/).")
@_training_options
@click.option("--from", "--format", "source_format", type=click.Choice(FORMATS), default=None, help="Read raw DATA as this format (as `fcdata convert --from`; --format is the old spelling); default: detected per record.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def train(data: str, run_dir: str, source_format: str | None, quiet: bool, **kwargs: Any) -> None:
    """Fine-tune MODEL on DATA: prepared data (`fcdata prepare` output) or records in any supported format
    (converted, validated and prepared on the fly).

    Defaults: LoRA r 32, alpha 64, dropout 0.05 on q/k/v/o/gate/up/down; lr 2e-4; paged AdamW 8-bit; bf16;
    gradient checkpointing; packing. The loss covers exactly the trained tokens of the prepared data.
    Re-running into the same folder resumes from its last checkpoint. Runs under `accelerate launch`
    (several GPUs, DDP) unchanged.

    \b
    Examples:
      fcdata train prepared/ -o run/ --model ./Mistral-7B-Instruct-v0.3 --qlora
      fcdata train data.jsonl -o run/ --model tiny-mistral --max-steps 20
      fcdata train data.jsonl -o run/ --config examples/train.yaml --set lora.r=16
      fcdata train synth.jsonl -o run/ --model small-mistral --full --lr 1e-3
      accelerate launch --num_processes 2 -m fcdata.cli.main train prepared/ -o run/ --model ./Mistral-7B-v0.3
    """
    from fcdata.train.config import resolve
    from fcdata.train.pipeline import training_data
    from fcdata.train.trainer import train_model

    check_outputs(inputs=[data], run_folders={"-o": run_dir})
    _library_progress(quiet)
    cfg, notes = _build_config(kwargs)
    resolved = resolve(cfg)
    speak = not quiet and _main_process()
    dataset, prep = training_data(data, run_dir, cfg, source_format=source_format)
    if speak and prep is not None:
        echo_err(
            f"prepared {prep['read']} records: {prep['samples']} samples, {prep['rejected']} rejected "
            f"({os.path.join(run_dir, 'prepare_rejects.jsonl')}), {prep['dropped_for_length']} samples over max_length"
        )
    said = notes + resolved.notes
    if speak:
        for note in said:
            echo_err(f"note: {note}")
        echo_err(f"training {cfg.model} on {len(dataset)} samples -> {run_dir}")
    result = train_model(dataset, run_dir, cfg, resolved=resolved, on_log=_log_printer(quiet), extra_notes=notes)
    if not _main_process():
        return
    if speak:
        for note in result.notes:
            if note not in said:
                echo_err(f"note: {note}")
    click.echo(format_table(["metric", "value"], _train_rows(result.metrics, run_dir), align="ll"))


def _train_rows(m: dict[str, Any], run_dir: str) -> list[tuple[str, Any]]:
    if m.get("already_finished"):
        rate = "n/a (nothing trained: the run had already finished)"
    elif m.get("tokens_per_second") is None:
        rate = "n/a"
    else:
        rate = f"{m['tokens_per_second']:,.0f} ({m['trained_tokens_per_second']:,.0f})"
    steps = m["steps"] if m.get("steps_this_run") in (None, m["steps"]) else f"{m['steps']} ({m['steps_this_run']} in this call, resumed)"
    return [
        ("steps", steps),
        ("loss first -> last", f"{m['loss']['first']:.4f} -> {m['loss']['last']:.4f}" if m["loss"]["first"] is not None else "n/a"),
        ("tokens / trained tokens", f"{m['tokens']:,} / {m['trained_tokens']:,}"),
        ("tokens/s (trained tokens/s)", rate),
        ("peak memory", f"{_fmt_gib(m['peak_memory_bytes'])} ({m['peak_memory_kind']})"),
        ("run folder", run_dir),
    ]


# ---------------------------------------------------------------------------------------- eval


def _score_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("held-out assistant turns", str(report.get("n"))),
        ("exact accuracy, all turns", _fmt_pct(report.get("accuracy"))),
        ("exact accuracy, turns that call", _fmt_pct(report.get("call_accuracy"))),
        ("function-name accuracy", _fmt_pct(report.get("name_accuracy"))),
        ("call / no-call decision", _fmt_pct((report.get("decision") or {}).get("accuracy"))),
        ("argument F1", _fmt_pct((report.get("arguments") or {}).get("f1"))),
        ("parse failures", str(report.get("parse_failures"))),
        ("replies without </s>", str(report.get("unfinished_replies"))),
        ("loss on held-out replies", "n/a" if report.get("loss") is None else f"{report['loss']:.4f}"),
    ]


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("model_or_run")
@click.argument("data", type=click.Path(exists=True, allow_dash=True))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default=None, help="Where predictions.jsonl and report.json go [MODEL_OR_RUN/eval for a run folder].")
@click.option("--from", "--format", "source_format", type=click.Choice(FORMATS), default=None, help="Read DATA as this format (as `fcdata convert --from`; --format is the old spelling); default: detected per record.")
@click.option("--qlora", is_flag=True, help="Load a base MODEL in 4-bit (a run folder knows how it was trained).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of a built-in random-weight MODEL.")
@_eval_options
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def eval_cmd(model_or_run: str, data: str, out_dir: str | None, source_format: str | None, qlora: bool, seed: int, max_new_tokens: int | None, eval_batch_size: int | None, fill_ids: bool | None, quiet: bool) -> None:
    """Score MODEL_OR_RUN on DATA: one greedy reply for every assistant turn of DATA, generated from
    exactly the context mistral-common encodes at inference, scored with fcdata's scorer.

    MODEL_OR_RUN is a run folder (`fcdata train` output: adapter or full model) or a model (built-in name,
    folder, hub id). Writes predictions.jsonl (one line per turn, with its verdict) and report.json.

    \b
    Examples:
      fcdata eval run/ heldout.jsonl
      fcdata eval run/ run/data/heldout.jsonl -o run/eval2 --max-new-tokens 128
      fcdata eval ./Mistral-7B-Instruct-v0.3 heldout.jsonl -o base_eval/
    """
    from fcdata.train.evaluate import run_eval

    _library_progress(quiet)
    from fcdata.train.evaluate import EVAL_FILES, default_eval_dir

    target = out_dir or default_eval_dir(model_or_run)
    check_outputs(inputs=[data], files={name: os.path.join(target, name) for name in EVAL_FILES})
    progress = None
    if not quiet and stderr_is_terminal():
        progress = lambda done, total: echo_err(f"generated {done}/{total}")  # noqa: E731
    report, out = run_eval(
        model_or_run,
        data,
        out_dir,
        source_format=source_format,
        qlora=qlora,
        seed=seed,
        max_new_tokens=max_new_tokens,
        batch_size=eval_batch_size or 16,
        fill_ids=True if fill_ids is None else fill_ids,
        on_batch=progress,
    )
    click.echo(format_table(["metric", "value"], _score_rows(report), align="lr"))
    if not quiet:
        echo_err(f"wrote {os.path.join(out, 'predictions.jsonl')}, references.jsonl and report.json")


# ---------------------------------------------------------------------------------------- train-eval


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, allow_dash=True))
@click.option("-o", "--output", "run_dir", required=True, type=click.Path(file_okay=False), help="Run folder: report.md, report.json, predictions, model/adapter, loss curve.")
@_training_options
@_eval_options
@click.option("--eval-size", type=click.IntRange(min=1), default=None, help="Held-out records (default: --eval-fraction of them; records with metadata.split keep theirs).")
@click.option("--eval-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None, help="Share of records held out [0.1].")
@click.option("--from", "--format", "source_format", type=click.Choice(FORMATS), default=None, help="Read INPUT as this format (as `fcdata convert --from`; --format is the old spelling); default: detected per record.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def train_eval(input_path: str, run_dir: str, source_format: str | None, quiet: bool, **kwargs: Any) -> None:
    """The whole recipe in one command: convert INPUT if raw -> validate -> deterministic train/held-out
    split -> prepare -> score the base model -> train -> score the trained model -> report.md and
    report.json ({"before": ..., "after": ..., "train": ...}).

    \b
    Examples:
      fcdata train-eval examples/synth_sample.jsonl -o run/ --model tiny-mistral
      fcdata synth -o easy.jsonl --difficulty easy && fcdata train-eval easy.jsonl -o run/ --model tiny-mistral --full
      fcdata synth -o synth.jsonl && fcdata train-eval synth.jsonl -o run/ --model small-mistral --full --lr 1e-3
      fcdata train-eval data.jsonl -o run/ --model ./Mistral-7B-Instruct-v0.3 --qlora --eval-size 200
    """
    from fcdata.train.config import resolve
    from fcdata.train.pipeline import train_eval as run

    check_outputs(inputs=[input_path], run_folders={"-o": run_dir})
    _library_progress(quiet)
    cfg, notes = _build_config(kwargs)
    resolved = resolve(cfg)
    resolved.notes.extend(notes)
    speak = not quiet and _main_process()
    log_line = _log_printer(quiet)

    def on_event(stage: str, info: dict[str, Any]) -> None:
        if not speak:
            return
        if stage == "log":
            if log_line is not None:
                log_line(info)
        elif stage == "generating":
            if stderr_is_terminal():
                echo_err(f"  generated {info['done']}/{info['total']}")
        else:
            details = ", ".join(f"{k} {v}" for k, v in info.items() if not isinstance(v, (dict, list)))
            echo_err(f"[{stage}] {details}")

    result = run(input_path, run_dir, cfg, source_format=source_format, resolved=resolved, on_event=on_event)
    if not _main_process():
        return
    r = result.report
    b, a, t = r["before"], r["after"], r["train"]
    rows = [(label, vb, va) for (label, vb), (_, va) in zip(_score_rows(b), _score_rows(a))]
    click.echo(format_table(["held-out", "before", "after"], rows, align="lrr"))
    click.echo("")
    loss = t["loss"]
    if t.get("already_finished"):
        rate = "nothing trained (the run in this folder had already finished; --no-resume starts over)"
    else:
        rate = f"{t['tokens_per_second']:,.0f} tokens/s ({t['trained_tokens_per_second']:,.0f} trained)"
    click.echo(f"training: {t['steps']} steps, loss {loss['first']:.4f} -> {loss['last']:.4f}, {rate}, peak memory {_fmt_gib(t['peak_memory_bytes'])}")
    if speak:
        for note in r["config"].get("notes") or []:
            echo_err(f"note: {note}")
    click.echo(f"report: {os.path.join(run_dir, 'report.md')}")
