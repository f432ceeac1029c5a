"""``train-eval`` as one library call: convert if raw -> validate -> split -> prepare -> score the base
model -> train -> score the trained model -> ``report.md`` + ``report.json``.

Every input record is accounted for: converted or rejected by the converter (``rejects.jsonl`` with the
reasons), valid or rejected by the validator (errors; warnings are counted and kept), then in the
training split or the held-out split::

    records in = rejected (convert) + rejected (validate) + train + held out

The split is deterministic and needs no shuffling state:

- records that all carry ``metadata.split`` (``"train"``/``"test"``, as ``fcdata synth`` writes them)
  keep that split (held-out tools and values stay held out);
- otherwise each record gets a key, the SHA-256 of the seed and its canonical JSON without metadata and
  call ids (which converters make up per copy); the
  ``eval_size`` records (or ``eval_fraction`` of them) with the smallest keys are held out. A record's
  side depends only on its content and the seed, identical records always land on the same side (no
  leak of a duplicate into the held-out set), and input order is kept within each side.

The before/after scores use the same held-out items, the same prompts (mistral-common's inference
encoding) and the same greedy decoding; only the weights differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..paths import refuse_foreign_run_folder
from ..errors import InputError, NoRecordsError, UsageError
from ..reports import RecordCounts
from .config import Resolved, TrainConfig, resolve

__all__ = ["TrainEvalResult", "split_records", "load_records", "prepare_training_data", "training_data", "train_eval", "render_report_md"]

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class TrainEvalResult:
    run_dir: str
    report: dict[str, Any]


# ---------------------------------------------------------------------------------------- input


def load_records(path: str, *, source_format: str | None = None, rules: Any = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Read ``path`` and convert it to canonical records (canonical input passes through), then validate.

    Returns (valid records, rejects, counts: ``read``, ``kept``, ``rejected``, ``rejections``, ``rejected_by_stage``,
    ``warnings``, ``formats`` and ``repairs``, as in every stage report). A reject is the one rejects entry of :mod:`fcdata.rejects`
    (stage ``read``, ``convert`` or ``validate``); warnings do not reject a record.

    ``rules``: the normaliser rules of the model's tokenizer version (:class:`~fcdata.normalize.Rules`,
    default v3's), for the converter and the validator both, as ``fcdata prepare`` uses them: on v7+ a
    turn of text then calls is valid, and v3's repair would cut the text."""
    from ..convert import convert_records
    from ..read import read_items
    from ..rejects import reject_obj
    from ..validate import check_record

    if path != "-" and not os.path.exists(path):
        raise InputError("no such file or folder", file=path)
    records: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    # the vocabulary of every stage report (docs/architecture.md): read == kept + rejected
    read = 0
    by_stage: Counter[str] = Counter()
    rejections: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    repairs: Counter[str] = Counter()  # the converter's repairs of the kept records, by code
    for out in convert_records(read_items(path), source_format, rules=rules):
        read += 1
        if not out.ok:
            by_stage["convert" if out.item.ok else "read"] += 1
            rejections.update(out.codes)
            rejects.append(out.to_obj())
            continue
        formats[out.format] += 1
        meta = out.record.get("metadata") or {}
        _, findings = check_record(out.record, file=meta.get("source_file") or out.item.file, line=meta.get("source_line") or out.item.line, text=out.line, rules=rules)
        errors = [f for f in findings if f.severity == "error"]
        warnings.update(f.code for f in findings if f.severity != "error")
        if errors:
            by_stage["validate"] += 1
            rejections.update({f.code for f in errors})
            rejects.append(reject_obj(out.item, errors, stage="validate", format=out.format))
            continue
        repairs.update(out.repairs)
        records.append(out.record)
    counts = {
        **RecordCounts(read, len(records), read - len(records), dict(rejections)).counts(),
        "rejected_by_stage": dict(sorted(by_stage.items())),
        "warnings": dict(sorted(warnings.items())),
        "formats": dict(sorted(formats.items())),
        "repairs": dict(sorted(repairs.items())),
    }
    return records, rejects, counts


def _without_call_ids(message: Any) -> Any:
    """A message as the split compares it: without call ids (``tool_calls[].id``, ``tool_call_id``),
    which converters make up per copy and which are never trained nor scored."""
    if not isinstance(message, dict):
        return message
    out = {k: v for k, v in message.items() if k != "tool_call_id"}
    calls = out.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [{k: v for k, v in c.items() if k != "id"} if isinstance(c, dict) else c for c in calls]
    return out


def _content_key(record: dict[str, Any], seed: int) -> str:
    """The split's key of a record: its content without metadata and call ids, so that copies of one
    conversation (the same turns, other ids) land on the same side and none leaks into the held-out set."""
    body = {k: v for k, v in record.items() if k != "metadata"}
    if isinstance(body.get("messages"), list):
        body["messages"] = [_without_call_ids(m) for m in body["messages"]]
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{seed}\x1f{text}".encode("utf-8")).hexdigest()


def split_records(records: Sequence[dict[str, Any]], *, eval_size: int | None = None, eval_fraction: float = 0.1, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """(training records, held-out records, how the split was made); see the module docstring."""
    n = len(records)
    if n == 0:
        raise NoRecordsError("train-eval found no valid record (the input is empty, or every record was rejected)")
    if n < 2:
        raise UsageError(f"train-eval needs at least 2 valid records (one to train on, one to hold out), got {n}")
    splits = [(r.get("metadata") or {}).get("split") for r in records]
    if all(s in ("train", "test") for s in splits) and "train" in splits and "test" in splits:
        train = [r for r, s in zip(records, splits) if s == "train"]
        held = [r for r, s in zip(records, splits) if s == "test"]
        return train, held, {"method": "metadata.split", "train": len(train), "held_out": len(held)}
    want = eval_size if eval_size is not None else max(1, round(eval_fraction * n))
    if want >= n:
        raise UsageError(f"cannot hold out {want} of {n} records and still train; lower eval_size / eval_fraction")
    keys = [_content_key(r, seed) for r in records]
    order = sorted(range(n), key=lambda i: (keys[i], i))
    boundary = keys[order[want - 1]]
    held_idx = {i for i in order if keys[i] <= boundary}  # ties (identical records) stay together
    if len(held_idx) >= n:
        raise UsageError("every record is identical: nothing would be left to train on")
    train = [r for i, r in enumerate(records) if i not in held_idx]
    held = [r for i, r in enumerate(records) if i in held_idx]
    return train, held, {"method": "content hash", "seed": seed, "train": len(train), "held_out": len(held)}


# ---------------------------------------------------------------------------------------- preparing


def prepare_training_data(path: str, run_dir: str, cfg: TrainConfig, *, source_format: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Prepare the records of ``path`` (raw or canonical) with :func:`fcdata.prepare.prepare` into
    ``run_dir/prepared`` (rejects with reasons in ``run_dir/prepare_rejects.jsonl``) and load it.

    Samples are rendered with ``cfg.render_mode`` and at most ``cfg.max_length`` tokens (earliest turns
    trimmed, or the sample dropped and counted), so every sample fits a pack."""
    from ..prepare import prepare
    from ..tokenizer import model_tokenizer
    from ..write import write_json
    from .data import load_prepared

    out = os.path.join(run_dir, "prepared")
    report_path = os.path.join(run_dir, "prepare_report.json")

    def run() -> dict[str, Any]:
        report = prepare(
            path,
            out,
            tokenizer=model_tokenizer(cfg.model, cfg.tokenizer),
            mode=cfg.render_mode,
            max_length=cfg.max_length,
            source_format=source_format,
            rejects=os.path.join(run_dir, "prepare_rejects.jsonl"),
        ).to_obj()
        write_json(report_path, report)
        return report

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        report = run()
        return load_prepared(out), report
    # several processes (accelerate launch / torchrun): the main one prepares, the others wait and load
    from accelerate import PartialState

    state = PartialState()
    report = run() if state.is_main_process else {}
    state.wait_for_everyone()
    if not report:
        with open(report_path, encoding="utf-8") as fh:
            report = json.load(fh)
    return load_prepared(out), report


def training_data(data: str, run_dir: str, cfg: TrainConfig, *, source_format: str | None = None) -> tuple[Any, dict[str, Any] | None]:
    """What ``fcdata train DATA`` trains on: DATA itself when it is prepared data (``fcdata prepare``
    output), otherwise DATA's records converted, validated and prepared into ``run_dir/prepared``.
    Returns the data set and the prepare report (``None`` for prepared data)."""
    from .data import is_prepared, load_prepared

    if is_prepared(data):
        return load_prepared(data), None
    dataset, report = prepare_training_data(data, run_dir, cfg, source_format=source_format)
    if len(dataset) == 0:
        raise NoRecordsError(f"{data}: no training sample (see {os.path.join(run_dir, 'prepare_rejects.jsonl')})")
    return dataset, report


def is_main_process() -> bool:
    """Rank 0 of an ``accelerate launch`` / ``torchrun`` job, or a plain process."""
    return os.environ.get("RANK", "0") == "0"


# ---------------------------------------------------------------------------------------- the run


def _eval_summary(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "correct", "accuracy", "call_accuracy", "call_items", "loss", "name_accuracy", "parse_failures", "parse_failure_rate", "unfinished_replies", "categories", "errors", "decision", "arguments", "undeclared_tool_calls", "schema_failures", "generation", "skipped_turns")
    return {k: report[k] for k in keys if k in report}


def _score(model: Any, items: list[Any], held_records: list[dict[str, Any]], skipped: dict[str, int], tok: Any, cfg: TrainConfig, emit: Callable[..., None]) -> Any:
    """Generate and score every held-out item, and the held-out loss (the same for before and after)."""
    from .evaluate import evaluate_model, heldout_loss

    result = evaluate_model(model, items=items, tokenizer=tok, max_new_tokens=cfg.max_new_tokens, batch_size=cfg.eval_batch_size, fill_ids=cfg.fill_ids, on_batch=lambda d, t: emit("generating", done=d, total=t))
    result.skipped.update(skipped)
    result.report["skipped_turns"] = skipped
    result.report["loss"] = heldout_loss(model, held_records, tok, mode=cfg.render_mode, max_length=cfg.max_length)["loss"]
    return result


def _train_section(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("loss", "train_loss", "steps", "steps_this_run", "already_finished", "epochs", "tokens", "trained_tokens", "tokens_per_second", "trained_tokens_per_second", "runtime_s", "peak_memory_bytes", "peak_memory_kind", "warmup_steps", "threads", "data", "model")
    return {**{k: m.get(k) for k in keys}, "loss_curve": "loss_curve.png"}


def train_eval(
    input_path: str,
    run_dir: str,
    cfg: TrainConfig,
    *,
    source_format: str | None = None,
    resolved: Resolved | None = None,
    on_event: Event | None = None,
    callbacks: list[Any] | None = None,
) -> TrainEvalResult:
    """Run the whole recipe on ``input_path`` and write the run to ``run_dir``.

    Files written: ``data/train.jsonl`` and ``data/heldout.jsonl`` (the split, canonical records),
    ``rejects.jsonl`` (what convert/validate refused, with reasons), ``predictions_before.jsonl`` and
    ``predictions_after.jsonl`` (one line per held-out assistant turn, with its verdict),
    ``references.jsonl`` (the reference of each of those turns, under the prediction's id: ``fcdata
    score`` takes it as it is), the training artefacts (:func:`fcdata.train.trainer.train_model`),
    ``report.json`` and ``report.md``. ``on_event(stage, info)`` is called as stages start and end (the
    CLI prints them).
    """
    import torch

    from ..tokenizer import load_tokenizer, model_tokenizer
    from ..write import write_json, write_jsonl
    from .artifacts import plot_loss_curve, write_text
    from .evaluate import eval_items, write_eval
    from .threads import apply_threads
    from .trainer import load_model_for_training, train_model

    def emit(stage: str, **info: Any) -> None:
        if on_event is not None:
            on_event(stage, info)

    started = time.perf_counter()
    resolved = resolved or resolve(cfg)
    apply_threads(resolved.threads)
    refuse_foreign_run_folder(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    tok = load_tokenizer(model_tokenizer(cfg.model, cfg.tokenizer))  # the model folder's own, when it has one

    # 1. read, convert, validate; 2. split
    main = is_main_process()
    emit("read", path=input_path)
    from ..render.encoders import encoder_for

    records, rejects, counts = load_records(input_path, source_format=source_format, rules=encoder_for(tok).rules)
    if main:
        write_jsonl(os.path.join(run_dir, "rejects.jsonl"), rejects)
    emit("validated", read=counts["read"], kept=counts["kept"], rejected=counts["rejected"], **{f"rejected_by_{stage}": n for stage, n in counts["rejected_by_stage"].items()}, warnings=sum(counts["warnings"].values()))
    train_records, held_records, split_info = split_records(records, eval_size=cfg.eval_size, eval_fraction=cfg.eval_fraction, seed=cfg.seed)
    if main:
        write_jsonl(os.path.join(run_dir, "data", "train.jsonl"), train_records)
        write_jsonl(os.path.join(run_dir, "data", "heldout.jsonl"), held_records)
    emit("split", **split_info)

    # 3. prepare the training split
    items, skipped = eval_items(held_records, tok)
    if not items:
        raise UsageError("no held-out assistant turn can be predicted: the held-out records have no scorable assistant turn")
    dataset, prep_report = prepare_training_data(os.path.join(run_dir, "data", "train.jsonl"), run_dir, cfg)
    if len(dataset) == 0:
        raise UsageError(f"no training sample: {prep_report.get('rejected', 0)} record(s) rejected, {prep_report.get('dropped_for_length', 0)} sample(s) longer than max_length {cfg.max_length}")
    emit("prepared", **{k: prep_report[k] for k in ("read", "kept", "rejected", "samples", "tokens", "trained_tokens", "dropped_for_length") if k in prep_report})

    if not main:
        # under accelerate launch / torchrun the other processes only train (evaluation runs once, on rank 0)
        train_model(dataset, run_dir, cfg, resolved=resolved, callbacks=callbacks)
        return TrainEvalResult(run_dir=run_dir, report={})

    # 4. score the base model, exactly as training will load it
    emit("eval_before", items=len(items))
    base, _ = load_model_for_training(cfg, resolved)
    before = _score(base, items, held_records, skipped, tok, cfg, emit)
    write_eval(run_dir, before, predictions_name="predictions_before.jsonl")
    emit("scored_before", accuracy=before.accuracy)
    del base
    if resolved.device == "cuda":
        torch.cuda.empty_cache()

    # 5. train; 6. score the trained model
    emit("train", samples=len(dataset))
    result = train_model(dataset, run_dir, cfg, resolved=resolved, on_log=lambda e: emit("log", **e), callbacks=callbacks)
    emit("eval_after", items=len(items))
    after = _score(result.model, items, held_records, skipped, tok, cfg, emit)
    write_eval(run_dir, after, predictions_name="predictions_after.jsonl")
    emit("scored_after", accuracy=after.accuracy)

    # 7. report
    plot_loss_curve(result.log_history, os.path.join(run_dir, "loss_curve.png"), title=f"{cfg.model}: training loss", heldout_before=before.report.get("loss"), heldout_after=after.report.get("loss"))
    report = {
        "input": {"path": input_path, **counts},
        "split": split_info,
        "prepared": prep_report,
        "before": _eval_summary(before.report),
        "after": _eval_summary(after.report),
        "train": _train_section(result.metrics),
        "config": result.resolved.to_dict() | {"notes": result.notes},
        "runtime_s": round(time.perf_counter() - started, 3),
    }
    write_json(os.path.join(run_dir, "report.json"), report)
    write_text(os.path.join(run_dir, "report.md"), render_report_md(report))
    emit("done", run_dir=run_dir)
    return TrainEvalResult(run_dir=run_dir, report=report)


# ---------------------------------------------------------------------------------------- report.md


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _gib(n: Any) -> str:
    return "n/a" if n is None else f"{n / 2**30:.2f} GiB"


_MEANINGS = [
    ("exact accuracy, all turns", "held-out assistant turns answered exactly right: the same calls as the reference (function names and arguments compared as parsed JSON, parallel calls in any order), or, where the reference answers in text, a text reply that ends with `</s>`"),
    ("exact accuracy, turns that call a tool", "the same, counted only over turns whose reference calls a tool (text answers cannot lift it)"),
    ("function-name accuracy", "turns that call a tool where the reply calls exactly the right functions, whatever their arguments"),
    ("call / no-call decision", "turns where the reply's first move is right: `[TOOL_CALLS]` where the reference calls, text where it does not. It judges the decision only: a text reply that never ends is the right decision on a no-call turn but a wrong answer (`unfinished`), which is why this line can be far above the no_call row of the category table"),
    ("argument F1", "argument-level overlap of predicted and reference calls (a key with its exact value counts once), over all turns"),
    ("parse failures", "replies that start a call (`[TOOL_CALLS]`) whose JSON cannot be read: counted as wrong, never as a text answer"),
    ("replies without `</s>`", "replies cut by the generation limit (`max_new_tokens`) before they ended: always wrong"),
    ("loss on held-out replies", "mean cross-entropy per trained token of the held-out replies, the training loss's own measure on data never trained on: it moves long before exact answers do"),
]


def _by_stage(by_stage: dict[str, int]) -> str:
    """``{"convert": 1, "validate": 2}`` -> "1 by convert, 2 by validate" (every stage, in pipeline order)."""
    return ", ".join(f"{by_stage.get(stage, 0)} by {stage}" for stage in ("read", "convert", "validate") if stage != "read" or by_stage.get(stage))


def render_report_md(report: dict[str, Any]) -> str:
    """The human-readable report: before/after scores and what each line means, training figures, the
    loss curve."""
    b, a, t, inp, split = report["before"], report["after"], report["train"], report["input"], report["split"]
    model = t["model"]
    lines = [
        "# fcdata train-eval report",
        "",
        f"Input `{inp['path']}`: {inp['read']} records read, {inp['kept']} kept, {inp['rejected']} rejected "
        f"({_by_stage(inp.get('rejected_by_stage') or {})}; see `rejects.jsonl`).",
        f"Split ({split['method']}): {split['train']} records to train on, {split['held_out']} held out; "
        f"{b.get('n', 0)} held-out assistant turns scored, by the same scorer, before and after training.",
        "",
        "## Held-out tool-call accuracy",
        "",
        "| metric | before | after |",
        "|---|---:|---:|",
        f"| exact accuracy, all turns | {_pct(b.get('accuracy'))} | {_pct(a.get('accuracy'))} |",
        f"| exact accuracy, turns that call a tool | {_pct(b.get('call_accuracy'))} | {_pct(a.get('call_accuracy'))} |",
        f"| function-name accuracy | {_pct(b.get('name_accuracy'))} | {_pct(a.get('name_accuracy'))} |",
        f"| call / no-call decision | {_pct((b.get('decision') or {}).get('accuracy'))} | {_pct((a.get('decision') or {}).get('accuracy'))} |",
        f"| argument F1 | {_pct((b.get('arguments') or {}).get('f1'))} | {_pct((a.get('arguments') or {}).get('f1'))} |",
        f"| parse failures | {_num(b.get('parse_failures'))} | {_num(a.get('parse_failures'))} |",
        f"| replies without `</s>` | {_num(b.get('unfinished_replies'))} | {_num(a.get('unfinished_replies'))} |",
        f"| loss on held-out replies (per trained token) | {_num(b.get('loss'))} | {_num(a.get('loss'))} |",
        "",
    ]
    cats = sorted(set(b.get("categories") or {}) | set(a.get("categories") or {}))
    if cats:
        lines += ["Exact accuracy by kind of reference turn (`single`: one call, `parallel`: several, `no_call`: a text answer):", "", "| category | n | before | after |", "|---|---:|---:|---:|"]
        for c in cats:
            cb = (b.get("categories") or {}).get(c, {})
            ca = (a.get("categories") or {}).get(c, {})
            lines.append(f"| {c} | {cb.get('n', ca.get('n', 0))} | {_pct(cb.get('accuracy'))} | {_pct(ca.get('accuracy'))} |")
        lines.append("")
    errors = {k: v for k, v in (a.get("errors") or {}).items() if v}
    if errors:
        lines += ["Why the wrong answers after training were wrong (one reason per turn, the first that applies): " + ", ".join(f"{k} {v}" for k, v in errors.items()) + ".", ""]
    lines += ["What each line means:", ""] + [f"- **{name}**: {meaning}." for name, meaning in _MEANINGS] + [
        "",
        "Predictions: `predictions_before.jsonl`, `predictions_after.jsonl` (each turn with its verdict and error); "
        "`fcdata score predictions_after.jsonl --references references.jsonl` scores them again with the same scorer.",
        "",
    ]
    loss = t["loss"]
    finished_before = bool(t.get("already_finished"))
    now = t.get("steps_this_run")
    steps = f"{t['steps']}" if now in (None, t["steps"]) else f"{t['steps']} ({now} in this call, resumed)"
    rate = "n/a (nothing trained: the run had already finished)" if finished_before else f"{_num(t['tokens_per_second'], 5)} ({_num(t['trained_tokens_per_second'], 5)})"
    lines += [
        "## Training",
        "",
        f"Model `{model['name']}` ({model['parameters']:,} parameters, {model['trainable_parameters']:,} trained, weights {model['dtype']}).",
        "",
        "| | |",
        "|---|---:|",
        f"| optimizer steps | {steps} |",
        f"| training loss, first -> last logged step | {_num(loss.get('first'))} -> {_num(loss.get('last'))} |",
        f"| tokens (trained tokens) | {_num(t['tokens'])} ({_num(t['trained_tokens'])}) |",
        f"| tokens/s (trained tokens/s) | {rate} |",
        f"| peak memory ({t['peak_memory_kind']}) | {_gib(t['peak_memory_bytes'])} |",
        f"| training time | {_num(t['runtime_s'])} s |",
        f"| packing | {t['data'].get('mode')}, efficiency {_pct(t['data'].get('efficiency'))} |" if t["data"].get("mode") == "packed" else f"| packing | off ({t['data'].get('mode')}) |",
        "",
        "![loss curve](loss_curve.png)",
        "",
        "The curve is the training loss of each logged optimizer step; the two marked points are the loss on the held-out replies before and after training (the same measure, on data never trained on).",
        "",
    ]
    notes = report.get("config", {}).get("notes") or []
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    lines += [f"Total time: {_num(report.get('runtime_s'))} s.", ""]
    return "\n".join(lines)
