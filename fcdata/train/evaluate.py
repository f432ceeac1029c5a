"""Evaluation by generation: one prediction for every held-out assistant turn, scored by fcdata's scorer.

For each assistant turn of each record, the prompt is the conversation before that turn, encoded exactly
as mistral-common encodes it at inference (:func:`fcdata.render.render_prompt`: tools block and system
prompt before the LAST user message of the prompt, ``[TOOL_RESULTS]`` blocks, earlier calls with their
ids). The model continues greedily (:mod:`fcdata.train.generate`) and the reply is scored against that turn
with :func:`fcdata.score.score` (exact tool-call match, names, arguments, call/no-call decision)::

    record:  user -> assistant(call A) -> tool -> assistant(text) -> user -> assistant(call B)
    items:   #1: prompt [user]                    reference: call A
             #3: prompt [user, A, tool]           reference: the text turn
             #5: prompt [user, A, tool, text, user] reference: call B

Turns that cannot be an inference target are skipped and counted: an assistant turn right after another
assistant message (mistral-common merges them into one turn), a turn with ``weight`` 0 (not trained, not
scored), the first message of a conversation, and a prompt mistral-common would refuse.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from ..errors import FcdataError, RecordError, NoRecordsError, UsageError
from ..records import id_text

if TYPE_CHECKING:
    from ..tokenizer import MistralV3Tokenizer

__all__ = ["EvalItem", "EvalResult", "eval_items", "evaluate_model", "heldout_loss", "auto_max_new_tokens", "load_for_eval", "run_eval", "default_eval_dir", "write_eval"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalItem:
    """One assistant turn to predict.

    ``id`` is ``"<record>:<message index>"`` where ``<record>`` is the record's ``metadata.id`` when it has
    one, else its 1-based position among the evaluated records. ``reference`` is a canonical record that
    ends with the reference turn (what :func:`fcdata.score.score` scores against)."""

    id: str
    record_index: int
    message_index: int
    prompt_ids: list[int]
    reference: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalResult:
    """Predictions (one per item, in item order), the score report, and what was skipped."""

    predictions: list[dict[str, Any]]
    report: dict[str, Any]
    items: list[EvalItem]
    skipped: dict[str, int]
    generated_tokens: int = 0
    runtime_s: float = 0.0

    @property
    def accuracy(self) -> float | None:
        value = self.report.get("accuracy")
        return None if value is None else float(value)


def _as_obj(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    from ..records import record_to_obj

    return record_to_obj(record)


def eval_items(records: Iterable[Any], tokenizer: "MistralV3Tokenizer | None" = None) -> tuple[list[EvalItem], dict[str, int]]:
    """Every scorable assistant turn of ``records`` (canonical dicts or models), with its inference prompt.

    Returns the items and the counts of turns skipped, by reason."""
    from ..render import render_prompt
    from ..tokenizer import load_tokenizer

    tok = tokenizer or load_tokenizer()
    items: list[EvalItem] = []
    skipped: Counter[str] = Counter()
    used_ids: set[str] = set()
    for position, record in enumerate(records, start=1):
        obj = _as_obj(record)
        messages = obj.get("messages")
        if not isinstance(messages, list):
            skipped["text_record"] += 1
            continue
        metadata = obj.get("metadata") or {}
        # named as the scorer names a reference's id (2.0 from pandas is "2"); no usable id: its position.
        # A name already taken (a duplicate id, or an id that is another record's position) gets the
        # record's position appended: the scorer pairs by name, and two turns of one name would both be
        # rejected as duplicates.
        rec_id = id_text(metadata.get("id")) or str(position)
        if rec_id in used_ids:
            taken, rec_id = rec_id, f"{rec_id}@{position}"
            while rec_id in used_ids:
                rec_id += "@"
            log.warning("record %d: its id %r is taken by an earlier record; its turns are named %r", position, taken, rec_id)
        used_ids.add(rec_id)
        provenance = {k: metadata[k] for k in ("source_file", "source_line") if k in metadata}
        tools = obj.get("tools") or []
        for k, message in enumerate(messages):
            if message.get("role") != "assistant":
                continue
            if message.get("weight") == 0:
                skipped["weight_0"] += 1
                continue
            if k == 0:
                skipped["no_prompt"] += 1
                continue
            if messages[k - 1].get("role") == "assistant":
                skipped["after_assistant"] += 1
                continue
            try:
                prompt = render_prompt(messages[:k], tools, tok)
            except RecordError as exc:
                skipped["unrenderable_prompt"] += 1
                log.debug("record %s message %d: prompt refused: %s", rec_id, k, exc)
                continue
            item_id = f"{rec_id}:{k}"
            ref_meta: dict[str, Any] = {"id": item_id}
            reference = {"messages": list(messages[: k + 1]), "tools": tools, "metadata": ref_meta}
            items.append(EvalItem(item_id, position, k, prompt, reference, provenance))
    return items, dict(sorted(skipped.items()))


def evaluate_model(
    model: Any,
    records: Sequence[Any] | None = None,
    *,
    items: Sequence[EvalItem] | None = None,
    tokenizer: "MistralV3Tokenizer | None" = None,
    max_new_tokens: int | None = None,
    batch_size: int = 16,
    fill_ids: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Generate a reply for every item (or every scorable turn of ``records``) and score them.

    ``fill_ids``: the decoder writes the characters of call ids, which fcdata never trains (see
    :mod:`fcdata.train.generate`); ids are not scored. ``False``: plain greedy decoding throughout.
    ``max_new_tokens`` ``None``: :func:`auto_max_new_tokens` (room for twice the longest reference reply:
    a reply longer than that cannot be right, and an untrained model would otherwise run to the cap on
    every item).

    Each prediction is ``{"id", "output": "<reply text with [TOOL_CALLS] and </s>>", "record_index",
    "message_index", "prompt_tokens", "generated_tokens", "finished"}`` (``finished``: the reply ended with
    ``</s>`` within ``max_new_tokens``)."""
    import time

    from ..score import score
    from ..tokenizer import load_tokenizer
    from .generate import decode_reply, generate_replies

    tok = tokenizer or load_tokenizer()
    skipped: dict[str, int] = {}
    if items is None:
        if records is None:
            raise UsageError("give records or items to evaluate")
        items, skipped = eval_items(records, tok)
    items = list(items)
    if not items:
        raise UsageError("nothing to evaluate: no assistant turn can be predicted from these records")
    if max_new_tokens is None:
        max_new_tokens = auto_max_new_tokens(items, tok)
    start = time.perf_counter()
    total = len(items)
    generated = generate_replies(
        model,
        [it.prompt_ids for it in items],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        fill_ids=fill_ids,
        tokenizer=tok,
        on_batch=(lambda done: on_batch(done, total)) if on_batch is not None else None,
    )
    runtime = time.perf_counter() - start
    predictions: list[dict[str, Any]] = []
    for it, ids in zip(items, generated):
        predictions.append(
            {
                "id": it.id,
                "output": decode_reply(ids, tok),
                "record_index": it.record_index,
                "message_index": it.message_index,
                "prompt_tokens": len(it.prompt_ids),
                "generated_tokens": len(ids),
                "finished": bool(ids) and ids[-1] == tok.eos_id,
                **it.provenance,
            }
        )
    # scored from the ids, with the model's tokenizer: its control ids ([TOOL_CALLS], [ARGS], [CALL_ID])
    # are told from text that merely spells them, and its version's call syntax is the only one accepted
    report = score([{**p, "output": [int(t) for t in ids]} for p, ids in zip(predictions, generated)], [it.reference for it in items], tokenizer=tok)
    data = report.to_json()
    data["unfinished_replies"] = sum(1 for p in predictions if not p["finished"])
    data["skipped_turns"] = skipped
    data["generation"] = {"replies": len(predictions), "generated_tokens": sum(len(g) for g in generated), "runtime_s": round(runtime, 3), "max_new_tokens": max_new_tokens, "fill_ids": fill_ids}
    verdicts = {v.id: v for v in report.items}
    for p in predictions:
        v = verdicts.get(p["id"])
        if v is not None:
            p["correct"] = v.correct
            p["error"] = v.error
    return EvalResult(predictions=predictions, report=data, items=items, skipped=skipped, generated_tokens=sum(len(g) for g in generated), runtime_s=runtime)


def heldout_loss(
    model: Any,
    records: Sequence[Any],
    tokenizer: "MistralV3Tokenizer | None" = None,
    *,
    mode: str = "exact",
    max_length: int | None = None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Mean cross-entropy over the trained tokens of ``records`` (rendered as training renders them),
    without generating: how well the model predicts the held-out replies, token by token.

    Smooth where exact accuracy is all-or-nothing, so it shows learning long before replies are
    exactly right. Returns ``{"loss", "tokens", "samples"}`` (``loss`` ``None`` when nothing is trained)."""
    import torch

    from ..collate import PaddingCollator
    from ..render import render_records
    from ..tokenizer import load_tokenizer
    from .loss import token_loss

    tok = tokenizer or load_tokenizer()
    rows: list[dict[str, Any]] = []
    for rendered in render_records([_as_obj(r) for r in records], tok, mode=mode, max_length=max_length):
        if isinstance(rendered, Exception):
            continue
        rows.extend({"input_ids": s.input_ids, "assistant_masks": s.assistant_masks} for s in rendered.samples)
    rows.sort(key=lambda r: len(r["input_ids"]))
    collate = PaddingCollator(pad_to_multiple_of=8)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    count = 0
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            batch = {k: v.to(device) for k, v in collate(rows[start : start + batch_size]).items()}
            loss_sum, n = token_loss(model, batch)
            total += float(loss_sum)
            count += n
    if was_training:
        model.train()
    return {"loss": total / count if count else None, "tokens": count, "samples": len(rows)}


def auto_max_new_tokens(items: Sequence[EvalItem], tokenizer: "MistralV3Tokenizer") -> int:
    """``2 x`` the token count of the longest reference reply ``+ 16``, within 64..1024 (the reference
    reply rendered exactly as training renders it: its trained tokens, ``</s>`` included)."""
    from ..render import render

    longest = 0
    for it in items:
        samples = render(it.reference, tokenizer, mode="last")
        if samples:
            longest = max(longest, samples[-1].num_trained)
    return int(min(1024, max(64, 2 * longest + 16)))


# ---------------------------------------------------------------------------------------- loading


def load_for_eval(model_or_run: str, *, device: str | None = None, attn_implementation: str = "sdpa", seed: int = 0, qlora: bool = False) -> tuple[Any, dict[str, Any]]:
    """A model ready to generate, from a run folder (``fcdata train`` output) or a model spec.

    A run folder is recognised by its ``config.yaml``: the full model (``model/``) is loaded as it is; an
    adapter (``adapter/``) is put on its base — the saved ``base_model/`` of a built-in random-weight
    base, otherwise the base named in the config (loaded the way it was trained: 4-bit for QLoRA).
    Returns the model (eval mode, on ``device``) and a description for reports."""
    import torch

    from .models import load_base_model

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if qlora and device != "cuda":
        # as `train` refuses it: bitsandbytes' 4-bit kernels are CUDA's
        raise UsageError("--qlora loads the model in 4-bit with bitsandbytes, which needs a CUDA GPU; evaluate without --qlora on this machine")
    dtype = "bfloat16" if device == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    config_path = os.path.join(model_or_run, "config.yaml") if os.path.isdir(model_or_run) else None
    if config_path is None or not os.path.isfile(config_path):
        model, info = load_base_model(model_or_run, qlora=qlora, dtype=dtype, device=device, attn_implementation=attn_implementation, seed=seed)
        model.eval()
        return model, {"model": info.to_dict(), "run": None}
    import yaml

    with open(config_path, encoding="utf-8") as fh:
        saved = yaml.safe_load(fh) or {}
    full_dir = os.path.join(model_or_run, "model")
    adapter_dir = os.path.join(model_or_run, "adapter")
    attn = saved.get("attn_implementation") if device == "cuda" and saved.get("attn_implementation") else attn_implementation
    if os.path.isdir(full_dir):
        model, info = load_base_model(full_dir, dtype=dtype, device=device, attn_implementation=attn)
    elif os.path.isdir(adapter_dir):
        from peft import PeftModel

        base_dir = os.path.join(model_or_run, "base_model")
        if os.path.isdir(base_dir):
            base, info = load_base_model(base_dir, dtype=dtype, device=device, attn_implementation=attn)
        else:
            base, info = load_base_model(
                str(saved.get("model")),
                qlora=bool(saved.get("qlora")),
                dtype=dtype,
                device=device,
                attn_implementation=attn,
                model_config=saved.get("model_config") or None,
                seed=int(saved.get("seed", 0)),
            )
        with warnings.catch_warnings():
            # PEFT reads transformers' deprecated `is_gradient_checkpointing` alias (their FutureWarning)
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            model = PeftModel.from_pretrained(base, adapter_dir)
        model.to(device) if not saved.get("qlora") else None
    else:
        raise FcdataError(f"{model_or_run}: a run folder without model/ or adapter/ (did training finish?)")
    model.eval()
    return model, {"model": info.to_dict(), "run": os.path.abspath(model_or_run), "trained_from": saved.get("model")}


# ---------------------------------------------------------------------------------------- fcdata eval


def default_eval_dir(model_or_run: str) -> str:
    """``RUN/eval`` for a run folder; a model spec has no folder of its own to write into."""
    if not os.path.isfile(os.path.join(model_or_run, "config.yaml")):
        raise UsageError("give -o/--output (MODEL_OR_RUN is not a run folder)")
    return os.path.join(model_or_run, "eval")


def write_eval(out_dir: str, result: EvalResult, *, predictions_name: str = "predictions.jsonl") -> None:
    """Predictions and the references they were scored against, one line per scored turn each.

    ``references.jsonl`` holds, per turn, the conversation up to and including the reference turn with
    ``metadata.id`` = the prediction's id (``"<record>:<message index>"``): ``fcdata score PREDICTIONS
    --references references.jsonl`` reproduces the report with the same scorer (a held-out record can
    hold several scored turns, and the scorer scores a record's last one)."""
    from ..write import write_jsonl

    write_jsonl(os.path.join(out_dir, predictions_name), result.predictions)
    write_jsonl(os.path.join(out_dir, "references.jsonl"), [it.reference for it in result.items])


# what an eval writes into its output folder (an input of that name would be overwritten)
EVAL_FILES = ("predictions.jsonl", "references.jsonl", "report.json", "rejects.jsonl")


def run_eval(
    model_or_run: str,
    data: str,
    out_dir: str | None = None,
    *,
    source_format: str | None = None,
    qlora: bool = False,
    seed: int = 0,
    max_new_tokens: int | None = None,
    batch_size: int = 16,
    fill_ids: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], str]:
    """``fcdata eval`` as one call: read, convert and validate ``data``, load ``model_or_run`` (a run
    folder or a model), generate and score every scorable assistant turn, measure the held-out loss,
    and write ``OUT/predictions.jsonl``, ``OUT/references.jsonl``, ``OUT/report.json`` (and
    ``OUT/rejects.jsonl`` when records were refused). Returns (the report, the output folder)."""
    from ..write import write_json, write_jsonl
    from .pipeline import load_records
    from .threads import apply_threads, cpu_threads

    from ..render.encoders import encoder_for
    from ..tokenizer import load_tokenizer, model_tokenizer

    out = out_dir or default_eval_dir(model_or_run)
    tok = load_tokenizer(model_tokenizer(model_or_run))  # a run's recorded tokenizer, a model folder's own
    records, rejects, counts = load_records(data, source_format=source_format, rules=encoder_for(tok).rules)
    if not records:
        raise NoRecordsError(f"{data}: no valid record to evaluate on")
    import torch

    if not torch.cuda.is_available():
        apply_threads(cpu_threads(None)[0])
    model, desc = load_for_eval(model_or_run, qlora=qlora, seed=seed)
    result = evaluate_model(model, records, tokenizer=tok, max_new_tokens=max_new_tokens, batch_size=batch_size, fill_ids=fill_ids, on_batch=on_batch)
    mode, max_length = _run_rendering(model_or_run)
    report = {**result.report, "loss": heldout_loss(model, records, tok, mode=mode, max_length=max_length)["loss"], "model": desc, "input": {"path": data, **counts}}
    write_eval(out, result)
    write_json(os.path.join(out, "report.json"), report)
    rejects_path = os.path.join(out, "rejects.jsonl")
    if rejects:
        write_jsonl(rejects_path, rejects)
    elif os.path.isfile(rejects_path):
        os.unlink(rejects_path)  # an earlier eval's rejects would describe data this one did not read
    return report, out


def _run_rendering(model_or_run: str) -> tuple[str, int | None]:
    """The render mode and max length a run folder trained with (``config.yaml``), so that the held-out
    loss of ``fcdata eval RUN`` is the one ``train-eval`` reported; a plain model: exact, no limit."""
    path = os.path.join(model_or_run, "config.yaml")
    if not os.path.isfile(path):
        return "exact", None
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh) or {}
    except (OSError, yaml.YAMLError):
        return "exact", None
    mode = cfg.get("render_mode") if cfg.get("render_mode") in ("exact", "single", "last") else "exact"
    length = cfg.get("max_length")
    return mode, length if isinstance(length, int) and not isinstance(length, bool) else None
