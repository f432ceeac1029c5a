"""Records for the renderer's tests: canonical records built from the shared samples, and hypothesis
strategies for valid Mistral v0.3 conversations (the shapes mistral-common accepts in fine-tuning mode).

The strategies aim at what breaks renderers: parallel calls, several user turns and system messages,
consecutive messages that merge, leading/trailing whitespace, unicode, control-token strings in text,
JSON and non-JSON tool output, empty arguments, weights, a conversation that starts with the assistant.
"""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

SHARED = Path(__file__).resolve().parent / "fixtures" / "shared"
ALNUM = string.ascii_letters + string.digits


def call_id(*parts: object) -> str:
    """A deterministic 9-character [a-zA-Z0-9] id."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "".join(ALNUM[b % len(ALNUM)] for b in digest[:9])


def sharegpt_to_canonical(obj: dict[str, Any], index: int) -> dict[str, Any]:
    """The LLaMA-Factory ShareGPT demo rows as canonical records (a test helper, not the converter)."""
    tools = [{"type": "function", "function": f} for f in json.loads(obj["tools"] or "[]")]
    messages: list[dict[str, Any]] = []
    pending: list[str] = []
    n = 0
    for turn in obj["conversations"]:
        kind, value = turn["from"], turn["value"]
        if kind == "human":
            messages.append({"role": "user", "content": value})
        elif kind == "gpt":
            messages.append({"role": "assistant", "content": value})
        elif kind == "function_call":
            calls = json.loads(value)
            calls = calls if isinstance(calls, list) else [calls]
            pending = []
            tool_calls = []
            for c in calls:
                cid = call_id(index, n)
                n += 1
                pending.append(cid)
                tool_calls.append({"id": cid, "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["arguments"], ensure_ascii=False)}})
            messages.append({"role": "assistant", "tool_calls": tool_calls})
        elif kind == "observation":
            messages.append({"role": "tool", "content": value, "tool_call_id": pending.pop(0) if pending else call_id(index, "x")})
    return {"messages": messages, "tools": tools}


def sharegpt_records() -> list[dict[str, Any]]:
    data = json.loads((SHARED / "sharegpt" / "glaive_toolcall_en_demo.json").read_text(encoding="utf-8"))
    return [sharegpt_to_canonical(obj, i) for i, obj in enumerate(data)]


def readme_record() -> dict[str, Any]:
    path = SHARED / "messages" / "mistral_finetune_readme_function_calling_example.jsonl"
    return json.loads(path.read_text(encoding="utf-8").splitlines()[0])


# ------------------------------------------------------------------------------------ hypothesis

_TRICKY = [
    "[INST] hi [/INST]", "<s>", "</s>", "[TOOL_CALLS] [", "[AVAILABLE_TOOLS]", "[TOOL_RESULTS]{}", "  leading spaces",
    "trailing spaces   ", " both ", "\n\nnewlines\n", "a\n\nb", "\t tab", "▁ lower one eighth block", "é vs é",
    "日本語のテキスト", "emoji 😀👍🏽", "quote \" and backslash \\", "null", "{\"json\": \"looking\"}", "\u00a0nbsp\u200bzw",
    "What's the weather in Paris?", "Sure! Let me check that for you.", "", " ", "3.5", "\x00\x01control",
]
# drawing is the cost of these tests (~100 us a choice): whole strings from a pool are one choice each
texts = st.one_of(st.sampled_from(_TRICKY), st.text(max_size=12))
nonempty_texts = texts.filter(lambda s: s != "")
names = st.one_of(  # ^[a-zA-Z0-9_-]{1,64}$
    st.sampled_from(["get_weather", "search", "f", "calculate_tip", "x-1", "A" * 64, "_", "generate_anagram"]),
    st.text(alphabet=ALNUM + "_-", min_size=1, max_size=12),
)
ID_POOL = [call_id("pool", i) for i in range(48)] + ["000000000", "aaaaaaaaa", "ZZZZZZZZZ"]
ids = st.sampled_from(ID_POOL)

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32), texts)
json_values = st.one_of(_scalars, st.lists(st.integers(-5, 5) | texts, max_size=3), st.sampled_from([{}, {"a": [1, {"b": None}]}, {"é": "日本"}, [[]]]))
_objects = st.dictionaries(st.sampled_from(["word", "location", "unit", "n", "nested", "日本", "", "with space"]), json_values, max_size=2)
arguments = st.one_of(
    _objects,  # an object
    _objects.map(lambda d: json.dumps(d, ensure_ascii=False)),  # its JSON string
    _objects.map(lambda d: json.dumps(d, indent=2)),  # pretty, ASCII-escaped JSON
    st.sampled_from(["", "{}", "null", "[1, 2]", "not json {", '"a string"', " {\"padded\": 1} "]),  # empty -> {}, scalars, text
    texts,
)
tool_outputs = st.one_of(
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
    texts,
)
schemas = st.one_of(
    st.just({}),
    st.just({"type": "object", "properties": {}}),
    st.dictionaries(names, st.sampled_from([{"type": "string"}, {"type": "integer", "description": "n"}, {"type": "array", "items": {"type": "string"}}]), max_size=3).map(
        lambda p: {"type": "object", "properties": p, "required": list(p)[:1]}
    ),
)
tools_strategy = st.lists(
    st.builds(lambda n, d, p: {"type": "function", "function": {"name": n, "description": d, "parameters": p}}, names, texts, schemas),
    max_size=3,
)


@st.composite
def conversations(draw: st.DrawFn, *, max_exchanges: int = 3) -> dict[str, Any]:
    """A valid (mistral-common fine-tuning mode) canonical chat record."""
    used: set[str] = set()

    def new_id() -> str:
        i = draw(ids)
        if i in used:  # keep one choice per id: take the next free one of the pool
            i = next(x for x in ID_POOL if x not in used)
        used.add(i)
        return i

    tools = draw(tools_strategy)
    messages: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):
        messages.append({"role": "system", "content": draw(texts)})
    n_ex = draw(st.integers(1, max_exchanges))
    starts_with_assistant = draw(st.integers(0, 9)) == 0 and messages != []
    for ex in range(n_ex):
        if not (ex == 0 and starts_with_assistant):
            messages.append({"role": "user", "content": draw(texts)})
            if draw(st.integers(0, 5)) == 0:  # a second user message: merged, or split by a system message
                if draw(st.booleans()):
                    messages.append({"role": "system", "content": draw(texts)})
                messages.append({"role": "user", "content": draw(texts)})
            if draw(st.integers(0, 7)) == 0:
                messages.append({"role": "system", "content": draw(texts)})
        last_exchange = ex == n_ex - 1
        n_replies = draw(st.integers(1, 3))
        prev_kind: str | None = None
        prev_weight: Any = "unset"
        for r in range(n_replies):
            final = last_exchange and r == n_replies - 1
            weight = draw(st.sampled_from([None, None, None, 0, 1]))
            want_calls = draw(st.booleans())
            if prev_kind == "text" and want_calls and weight == prev_weight:
                weight = 1 if weight != 1 else 0  # text then calls with one weight merge into an invalid turn
            if want_calls:
                calls = []
                for _ in range(draw(st.integers(1, 3))):
                    cid: str | None = new_id()
                    if final and draw(st.integers(0, 4)) == 0:
                        cid = None  # the last message may leave its ids out
                    call: dict[str, Any] = {"type": "function", "function": {"name": draw(names), "arguments": draw(arguments)}}
                    if cid is not None:
                        call["id"] = cid
                    calls.append(call)
                msg: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
                if draw(st.integers(0, 4)) == 0:
                    msg["content"] = ""
                if weight is not None:
                    msg["weight"] = weight
                messages.append(msg)
                if not final:
                    order = list(range(len(calls)))
                    if len(calls) > 1 and draw(st.integers(0, 2)) == 0:  # results in any order: mistral-common accepts it
                        order = draw(st.permutations(order))
                    for k in order:
                        messages.append({"role": "tool", "content": draw(tool_outputs), "tool_call_id": calls[k].get("id") or new_id()})
                prev_kind = "calls_done"
            else:
                msg = {"role": "assistant", "content": draw(nonempty_texts)}
                if weight is not None:
                    msg["weight"] = weight
                messages.append(msg)
                prev_kind = "text"
            prev_weight = weight
            if final:
                break
        if not last_exchange and messages[-1]["role"] == "assistant" and messages[-1].get("tool_calls"):
            messages.append({"role": "assistant", "content": draw(nonempty_texts)})
    # fine-tuning mode: the conversation ends with an assistant message
    assert messages[-1]["role"] == "assistant"
    return {"messages": messages, "tools": tools}


# ------------------------------------------------------------------------------- seeded generator
# Hypothesis spends ~16 ms drawing one conversation; thousands per version are drawn here instead, from a
# seeded random.Random (the same conversations every run), with long texts as well as short ones.

_WORDS = ["the", "weather", "in", "Paris", "is", "sunny", "call", "function", "résumé", "日本", "😀", "{", "}", '"', "\\", "\n", "\n\n", "  ", "\t", "[INST]", "</s>", "▁", "null", "42", "3.14"]


def _random_text(rng, *, allow_empty: bool = True) -> str:
    roll = rng.random()
    if roll < 0.35:
        text = rng.choice(_TRICKY)
    elif roll < 0.6:
        text = "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0xA0, 0x2FF), rng.randint(0x3040, 0x30FF), rng.randint(0x1F600, 0x1F64F), 10, 32])) for _ in range(rng.randint(0, 16)))
    elif roll < 0.97:
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 40)))
    else:  # long: a few hundred to several thousand characters
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(200, 800)))
    if not allow_empty and not text:
        text = "x"
    return text


def _random_arguments(rng) -> Any:
    obj = {rng.choice(["word", "location", "unit", "n", "日本", "", "with space"]): rng.choice([None, True, 7, -1.5, _random_text(rng), [1, "a"], {"b": None}]) for _ in range(rng.randint(0, 3))}
    roll = rng.random()
    if roll < 0.4:
        return obj
    if roll < 0.7:
        return json.dumps(obj, ensure_ascii=False)
    if roll < 0.8:
        return json.dumps(obj, indent=2)
    return rng.choice(["", "{}", "null", "[1, 2]", "not json {", '"a string"', " {\"padded\": 1} ", _random_text(rng)])


def random_conversation(rng, version: str) -> dict[str, Any]:
    """A conversation mistral-common accepts in fine-tuning mode for a tokenizer ``version`` (v3, v7,
    v11, v13, v15): v7+ may put text and calls in one turn; v11+ answers calls by id; v13+ gives every
    call an id."""
    modern = version != "v3"
    used: set[str] = set()

    def new_id() -> str:
        while True:
            cid = "".join(rng.choice(ALNUM) for _ in range(9))
            if cid not in used:
                used.add(cid)
                return cid

    tools = [{"type": "function", "function": {"name": rng.choice(["get_weather", "search", "f", "x-1", "A" * 63, "_"]) + str(k), "description": _random_text(rng), "parameters": rng.choice([{}, {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}])}} for k in range(rng.choice([0, 0, 1, 2, 3]))]
    messages: list[dict[str, Any]] = []
    for _ in range(rng.choice([0, 0, 1, 2])):
        messages.append({"role": "system", "content": _random_text(rng)})
    n_ex = rng.randint(1, 4)
    starts_with_assistant = messages != [] and rng.random() < 0.1
    for ex in range(n_ex):
        if not (ex == 0 and starts_with_assistant):
            messages.append({"role": "user", "content": _random_text(rng)})
            if rng.random() < 0.15:
                if rng.random() < 0.5:
                    messages.append({"role": "system", "content": _random_text(rng)})
                messages.append({"role": "user", "content": _random_text(rng)})
        last_exchange = ex == n_ex - 1
        n_replies = rng.randint(1, 3)
        prev = None
        for r in range(n_replies):
            final = last_exchange and r == n_replies - 1
            weight = rng.choice([None, None, None, 0, 1])
            if rng.random() < 0.5:
                calls = []
                for _ in range(rng.randint(1, 3)):
                    call: dict[str, Any] = {"type": "function", "function": {"name": rng.choice(["get_weather", "search", "f", "x-1", "generate_anagram", "A" * 64]), "arguments": _random_arguments(rng)}}
                    if not (final and version in ("v3", "v7") and rng.random() < 0.2):  # v11+ refuse a call without id (two would share "null")
                        call["id"] = new_id()
                    calls.append(call)
                msg: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
                if modern and rng.random() < 0.3:
                    msg["content"] = _random_text(rng, allow_empty=False)
                if not modern and prev == ("text", weight):
                    weight = 1 if weight != 1 else 0  # v3: text then calls of one weight merge into a turn it refuses
                if weight is not None:
                    msg["weight"] = weight
                messages.append(msg)
                if not final:
                    order = list(range(len(calls)))
                    if rng.random() < 0.3:
                        rng.shuffle(order)
                    for k in order:
                        messages.append({"role": "tool", "content": rng.choice([json.dumps(_random_arguments(rng), ensure_ascii=False), _random_text(rng)]), "tool_call_id": calls[k]["id"]})
                prev = ("calls", weight)
            else:
                msg = {"role": "assistant", "content": _random_text(rng, allow_empty=False)}
                if weight is not None:
                    msg["weight"] = weight
                messages.append(msg)
                prev = ("text", weight)
            if final:
                break
        if not last_exchange and messages[-1].get("tool_calls"):
            messages.append({"role": "assistant", "content": _random_text(rng, allow_empty=False)})
    return {"messages": messages, "tools": tools}
