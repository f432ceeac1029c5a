"""Rendering speed, side by side in one process, on the same >= 20,000 real-length records.

Contenders (tokens/s, all counted on the same basis: the ids of each record's whole conversation, i.e.
what ``encode_chat_completion`` returns, so the work asked is the same for all):

1. ``mistral-common encode_chat_completion``: record by record, fine-tuning mode (what users call today).
2. ``mistral-common per message + masks``: the mistral-finetune way: build the message objects, validate,
   then encode message by message with ``encode_user_message`` / ``encode_assistant_message`` /
   ``encode_tool_message`` and a mask per message.
3. ``tokenizer floor``: the plain tokenizer, single-threaded, each text segment of the conversation
   encoded once (SentencePiece's public ``encode``, or tiktoken's ``encode_ordinary`` for Tekken; no
   control ids, masks or JSON): the floor of a renderer built on that tokenizer.
4. ``fcdata.render_records``: mode single (one sample per record, like 1-3) and exact (one sample per
   user turn: more samples, more work), one process, batches of 256 records.
5. ``fcdata prepare``: the whole command on a JSON Lines file of the records (read, convert, validate,
   render, write a datasets folder), ``--num-proc 1`` and ``2``, modes single and exact.

Records: the shared samples (ShareGPT demo, Glaive raw rows, the mistral-finetune example) converted by
``fcdata.convert`` and varied: each copy gets its own user/assistant wording, numbers in tool results and
call ids, while tools blocks and system prompts recur across copies as they do in real data (Glaive v2
declares ~a few thousand distinct function sets across 113k rows).

Every tokenizer version (``--versions all``; Tekken files for v7/v11/v13 are built as the tests build
them, tests/tokenizer_files.py). Every record is distinct and each timed pass starts with cold caches.
Targets (issue 14): fcdata.render record by record >= 3x encode_chat_completion; prepare >= 0.8x the floor,
per version; --num-proc 2 close to 2x. (Issue 15: a run of this script with SentencePiece's private
``_EncodeAsIds`` binding against its public ``encode`` found no gain, and the binding went.)
Run: ``python benchmarks/bench_render.py [--versions all] [--records 20000] [--repeat 2] [--full] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import copy
import gc
import hashlib
import json
import os
import random
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "fixtures" / "shared"
ALNUM = string.ascii_letters + string.digits


# ------------------------------------------------------------------------------------------- records


def _bases() -> list[dict[str, Any]]:
    from fcdata.convert import convert_records
    from fcdata.read import read_items
    from fcdata.validate import check_record

    out = []
    for path in (
        SHARED / "sharegpt" / "glaive_toolcall_en_demo.json",
        SHARED / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl",
        SHARED / "messages" / "mistral_finetune_readme_function_calling_example.jsonl",
    ):
        for res in convert_records(read_items(str(path))):
            if res.ok and "messages" in res.record:
                model, _ = check_record(res.record)
                if model is not None:
                    rec = res.record
                    rec.pop("metadata", None)
                    out.append(rec)
    return out


def _cid(*parts: object) -> str:
    d = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "".join(ALNUM[b % len(ALNUM)] for b in d[:9])


def _vary_text(text: str, rng: random.Random, words: list[str]) -> str:
    toks = text.split(" ")
    for _ in range(max(1, len(toks) // 8)):
        k = rng.randrange(len(toks))
        toks[k] = rng.choice(words)
    return " ".join(toks)


def _vary_json(text: str, rng: random.Random) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text

    def walk(v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, (int, float)):
            return type(v)(v * rng.uniform(0.5, 1.5)) if v else v
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return json.dumps(walk(value), ensure_ascii=False)


def build_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    bases = _bases()
    rng = random.Random(seed)
    words = sorted({w for b in bases for m in b["messages"] if isinstance(m.get("content"), str) for w in m["content"].split() if w.isalpha()})
    out = []
    for i in range(n):
        rec = copy.deepcopy(bases[i % len(bases)])
        ids: dict[str, str] = {}
        for m in rec["messages"]:
            if m["role"] in ("user", "assistant") and m.get("content"):
                m["content"] = _vary_text(m["content"], rng, words)
            for k, call in enumerate(m.get("tool_calls") or []):
                new = _cid(i, k, call.get("id"))
                ids[call["id"]] = new
                call["id"] = new
            if m["role"] == "tool":
                m["content"] = _vary_json(m["content"], rng)
                m["tool_call_id"] = ids.get(m["tool_call_id"], m["tool_call_id"])
        out.append(rec)
    return out


# --------------------------------------------------------------------------------------- contenders


TOKENIZER: str | None = None  # the file of the version being measured (None: the shipped v3 model)


def mc_encode_chat_completion(records: list[dict[str, Any]]) -> int:
    from mistral_common.protocol.instruct.request import ChatCompletionRequest

    tok = _mistral_tokenizer()
    n = 0
    for rec in records:
        n += len(tok.encode_chat_completion(ChatCompletionRequest(messages=rec["messages"], tools=rec.get("tools") or None)).tokens)
    return n


def mc_per_message(records: list[dict[str, Any]]) -> int:
    """The mistral-finetune way: message objects, validation, then message-by-message encoding + masks
    (system prompt and tools handed to the last user message, as its TrainingInstructSample does)."""
    from mistral_common.protocol.instruct.messages import FinetuningAssistantMessage, ToolMessage, UserMessage
    from mistral_common.protocol.instruct.tool_calls import Function, FunctionCall, Tool, ToolCall
    from mistral_common.protocol.instruct.validator import MistralRequestValidatorV3, ValidationMode

    itok = _mistral_tokenizer().instruct_tokenizer
    validator = MistralRequestValidatorV3(ValidationMode.finetuning)
    n = 0
    for rec in records:
        tools = [Tool(function=Function(**t["function"])) for t in rec.get("tools") or []] or None
        system = None
        msgs: list[Any] = []
        for m in rec["messages"]:
            if m["role"] == "system":
                system = m["content"] if system is None else system + "\n\n" + m["content"]
            elif m["role"] == "user":
                msgs.append(UserMessage(content=m["content"]))
            elif m["role"] == "tool":
                msgs.append(ToolMessage(content=m["content"], tool_call_id=m["tool_call_id"]))
            else:
                calls = [ToolCall(id=c["id"], function=FunctionCall(name=c["function"]["name"], arguments=c["function"]["arguments"])) for c in m.get("tool_calls") or []] or None
                msgs.append(FinetuningAssistantMessage(content=m.get("content") or None, tool_calls=calls, weight=m.get("weight")))
        validator.validate_messages(msgs)
        validator._validate_tools(tools or [])
        users = [k for k, m in enumerate(msgs) if isinstance(m, UserMessage)]
        tokens: list[int] = itok.start()
        masks: list[bool] = [False]
        for k, m in enumerate(msgs):
            if isinstance(m, UserMessage):
                cur = itok.encode_user_message(m, tools, k == users[-1], k == users[0], system_prompt=system)[0]
                mask = [False] * len(cur)
            elif isinstance(m, ToolMessage):
                cur = itok.encode_tool_message(m, k < users[-1])[0]
                mask = [False] * len(cur)
            else:
                cur = itok.encode_assistant_message(m, False)
                mask = [m.weight != 0] * len(cur)
            tokens += cur
            masks += mask
        n += len(tokens)
    return n


def tokenizer_floor(records: list[dict[str, Any]]) -> int:
    """The plain tokenizer on the same segments: SentencePiece's public ``encode`` or tiktoken's
    ``encode_ordinary`` (what Tekken runs), one thread, no cache."""
    from fcdata.tokenizer import TekkenTokenizer, load_tokenizer

    tok = load_tokenizer(TOKENIZER)
    if isinstance(tok, TekkenTokenizer):
        encode = tok._model.encode_ordinary
    else:
        import sentencepiece as spm

        encode = spm.SentencePieceProcessor(model_file=tok.path).encode
    # the segments were listed outside the timed region (see _segments)
    n = 0
    for texts in _SEGMENTS:
        for t in texts:
            n += len(encode(t))
    return n


_SEGMENTS: list[list[str]] = []


def _segments(records: list[dict[str, Any]]) -> list[list[str]]:
    """The text segments of each whole conversation (what a renderer must encode), listed once."""
    from fcdata.records import parse_record
    from fcdata.render.planner import Plan
    from fcdata.tokenizer import load_tokenizer

    tok = load_tokenizer(TOKENIZER)
    return [Plan(parse_record(r), tok, "single", None).texts for r in records]


def fcdata_render(mode: str) -> Callable[[list[dict[str, Any]]], int]:
    def run(records: list[dict[str, Any]]) -> int:
        from fcdata.render import render_records
        from fcdata.tokenizer import load_tokenizer

        tok = load_tokenizer(TOKENIZER)
        tok.clear_caches()  # start cold, as a fresh process would
        n = 0
        for a in range(0, len(records), 256):
            for r in render_records(records[a : a + 256], tok, mode=mode):
                n += sum(s.length for s in r.samples)  # type: ignore[union-attr]
        return n

    return run


def fcdata_render_each(records: list[dict[str, Any]]) -> int:
    """``fcdata.render(record)`` called once per record, as a user's own loop would: no batching."""
    from fcdata.render import render
    from fcdata.tokenizer import load_tokenizer

    tok = load_tokenizer(TOKENIZER)
    tok.clear_caches()  # start cold, as a fresh process would
    n = 0
    for r in records:
        n += sum(s.length for s in render(r, tok, mode="single"))
    return n


def fcdata_prepare(path: str, mode: str, num_proc: int, work: str) -> Callable[[list[dict[str, Any]]], int]:
    """``prepare`` in this process (``num_proc`` 1) or with workers."""

    def run(records: list[dict[str, Any]]) -> int:
        from fcdata.prepare import prepare
        from fcdata.tokenizer import load_tokenizer

        load_tokenizer(TOKENIZER).clear_caches()  # start cold, as a fresh process would
        report = prepare([path], os.path.join(work, f"out-{mode}-{num_proc}"), mode=mode, num_proc=num_proc, tokenizer=TOKENIZER)
        return report.tokens

    return run


def _mistral_tokenizer() -> Any:
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    from fcdata.tokenizer import default_tokenizer_path

    return MistralTokenizer.from_file(TOKENIZER or default_tokenizer_path(), mode=ValidationMode.finetuning)


# -------------------------------------------------------------------------------------------- main


def _time(fn: Callable[[list[dict[str, Any]]], int], records: list[dict[str, Any]]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process and its finished children, tokens produced)."""
    import resource

    gc.collect()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = time.process_time()
    t = time.perf_counter()
    produced = fn(records)
    wall = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu0 + (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    return wall, cpu, produced


def _report(name: str, rs: list[tuple[float, float, int]], tokens: int) -> None:
    wall = min(r[0] for r in rs)
    cpu = min(r[1] for r in rs)
    print(
        f"{name:45s} {tokens / wall:>11,.0f} tok/s wall  {tokens / cpu:>11,.0f} tok/s CPU   walls {', '.join(f'{r[0]:.2f}' for r in rs)}  CPU {', '.join(f'{r[1]:.2f}' for r in rs)}",
        file=sys.stderr,
    )


FLOOR = "tokenizer floor (segments, 1 thread)"
MC, PM = "mistral-common encode_chat_completion", "mistral-common per message + masks"
EACH = "fcdata.render per record mode=single"


def measure(key: str, n_records: int, repeat: int, full: bool) -> dict[str, Any]:
    """Every contender on one tokenizer version (``key``: see tests/tokenizer_files.py)."""
    global TOKENIZER, _SEGMENTS
    sys.path.insert(0, str(ROOT / "tests"))
    from tokenizer_files import tokenizer_path

    TOKENIZER = tokenizer_path(key)
    t0 = time.perf_counter()
    records = build_records(n_records)
    basis = _mistral_tokenizer()
    from mistral_common.protocol.instruct.request import ChatCompletionRequest

    _SEGMENTS = _segments(records)
    distinct_tools = len({json.dumps(r.get("tools"), sort_keys=True) for r in records})
    print(f"== {key} ({TOKENIZER}): {len(records)} records built in {time.perf_counter() - t0:.1f}s; {distinct_tools} distinct tools blocks", file=sys.stderr)

    work = tempfile.mkdtemp(prefix="bench_render.")
    path = os.path.join(work, "records.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")

    # warm up: imports and first-use costs (datasets, pyarrow, jsonschema) are not what is measured
    warm = os.path.join(work, "warm.jsonl")
    with open(warm, "w", encoding="utf-8") as fh:
        for r in records[:50]:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    from fcdata.prepare import prepare

    prepare([warm], os.path.join(work, "warm-out"), tokenizer=TOKENIZER)
    fcdata_render("exact")(records[:50])

    slow: list[tuple[str, Callable[[list[dict[str, Any]]], int]]] = [(MC, mc_encode_chat_completion)]
    if full and key == "v3":
        slow.append((PM, mc_per_message))
    fast: list[tuple[str, Callable[[list[dict[str, Any]]], int]]] = [
        (FLOOR, tokenizer_floor),
        (EACH, fcdata_render_each),
        ("fcdata.render_records mode=single", fcdata_render("single")),
        ("fcdata prepare --mode single --num-proc 1", fcdata_prepare(path, "single", 1, work)),
        ("fcdata prepare --mode exact --num-proc 1", fcdata_prepare(path, "exact", 1, work)),
    ]
    if full:
        fast += [
            ("fcdata.render_records mode=exact", fcdata_render("exact")),
            ("fcdata prepare --mode single --num-proc 2", fcdata_prepare(path, "single", 2, work)),
            ("fcdata prepare --mode exact --num-proc 2", fcdata_prepare(path, "exact", 2, work)),
        ]
    # the common basis: tokens of each whole conversation, as encode_chat_completion gives them
    sample = records[: min(len(records), 2000)]
    tokens = sum(len(basis.encode_chat_completion(ChatCompletionRequest(messages=r["messages"], tools=r.get("tools") or None)).tokens) for r in sample)
    tokens = round(tokens * len(records) / len(sample))
    results: dict[str, Any] = {"version": key, "tokenizer": os.path.basename(TOKENIZER), "records": len(records), "basis_tokens": tokens, "distinct_tools_blocks": distinct_tools, "load_before": os.getloadavg()[0], "runs": {}}
    runs: dict[str, list[tuple[float, float, int]]] = {}
    for name, fn in slow:
        runs[name] = [_time(fn, records)]
        _report(name, runs[name], tokens)
    for _ in range(repeat):  # round robin, so that a burst of load from elsewhere hits all alike
        for name, fn in fast:
            runs.setdefault(name, []).append(_time(fn, records))
    for name, _ in fast:
        _report(name, runs[name], tokens)
    for name, rs in runs.items():
        wall = min(r[0] for r in rs)
        cpu = min(r[1] for r in rs)
        results["runs"][name] = {"wall_s": [r[0] for r in rs], "cpu_s": [r[1] for r in rs], "tokens_per_s": tokens / wall, "tokens_per_cpu_s": tokens / cpu, "tokens_produced": rs[0][2]}
    results["load_after"] = os.getloadavg()[0]
    r = results["runs"]

    def ratio(a: str, b: str, key: str = "tokens_per_s") -> float | None:
        return r[a][key] / r[b][key] if a in r and b in r else None

    pairs = {
        "render (record by record) / encode_chat_completion (target >= 3)": (EACH, MC),
        "render_records single / encode_chat_completion": ("fcdata.render_records mode=single", MC),
        "render_records exact / encode_chat_completion": ("fcdata.render_records mode=exact", MC),
        "render_records single / per-message (mistral-finetune way)": ("fcdata.render_records mode=single", PM),
        "render_records single / floor": ("fcdata.render_records mode=single", FLOOR),
        "prepare_single_np1 / floor (target >= 0.8)": ("fcdata prepare --mode single --num-proc 1", FLOOR),
        "prepare_exact_np1 / floor": ("fcdata prepare --mode exact --num-proc 1", FLOOR),
        "prepare_single np2 / np1 (target ~2)": ("fcdata prepare --mode single --num-proc 2", "fcdata prepare --mode single --num-proc 1"),
        "prepare_exact np2 / np1": ("fcdata prepare --mode exact --num-proc 2", "fcdata prepare --mode exact --num-proc 1"),
    }
    results["ratios"] = {k: ratio(a, b) for k, (a, b) in pairs.items()}
    results["ratios_cpu"] = {k: ratio(a, b, "tokens_per_cpu_s") for k, (a, b) in pairs.items()}
    # the machine is shared: when other work holds the cores, --num-proc 2 cannot show its speedup in
    # wall time; its CPU cost (workers + main process) against one process bounds what 2 idle cores give
    for mode in ("single", "exact"):
        one, two = f"fcdata prepare --mode {mode} --num-proc 1", f"fcdata prepare --mode {mode} --num-proc 2"
        if one in r and two in r:
            cpu1, cpu2 = min(runs[one], key=lambda x: x[1])[1], min(runs[two], key=lambda x: x[1])[1]
            k = f"prepare_{mode} np2 on 2 idle cores, bound from CPU cost (2 x cpu1/cpu2)"
            results["ratios"][k] = min(2.0, 2 * cpu1 / cpu2)
            results["ratios_cpu"][k] = None
    print(f"{'ratio':66s} {'wall':>7s} {'CPU':>7s}", file=sys.stderr)
    for k, v in results["ratios"].items():
        c = results["ratios_cpu"][k]
        if v is not None:
            print(f"{k:66s} {v:6.2f}x {'' if c is None else f'{c:6.2f}x'}", file=sys.stderr)
    print(f"load average before/after: {results['load_before']:.2f} / {results['load_after']:.2f} on {os.cpu_count()} CPUs", file=sys.stderr)
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=2, help="runs of the fast contenders (the best is reported); mistral-common runs once")
    ap.add_argument("--versions", default="v3", help="comma-separated version keys (v3, v3-tekken, v7, v7-tekken, v11, v13) or 'all'")
    ap.add_argument("--full", action="store_true", help="every contender (exact render, --num-proc 2, mistral-finetune's way); else the ones the targets compare")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    keys = ["v3", "v3-tekken", "v7", "v7-tekken", "v11", "v13"] if args.versions == "all" else args.versions.split(",")
    out = [measure(k, args.records, args.repeat, args.full) for k in keys]
    print(f"{'version':<10} {'render/mistral-common':>22} {'prepare single/floor':>21} {'prepare exact/floor':>20}", file=sys.stderr)
    for res in out:
        ra = res["ratios"]
        print(f"{res['version']:<10} {ra['render (record by record) / encode_chat_completion (target >= 3)']:>21.2f}x {ra['prepare_single_np1 / floor (target >= 0.8)']:>20.2f}x {ra['prepare_exact_np1 / floor']:>19.2f}x", file=sys.stderr)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
