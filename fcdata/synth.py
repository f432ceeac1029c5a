"""Synthetic tool-calling conversations: a task on which a training run must visibly learn.

Real data cannot show that a trainer works: a small model trained for minutes on it stays near 0% exact
tool-call accuracy whether the trainer is right or wrong. This generator makes conversations whose
correct reply follows from the context alone, so that a correct trainer lifts held-out accuracy from about
0 to near 100% and a broken one (wrong mask, wrong context, labels off by one) does not.

What a record looks like (canonical records, ready for ``fcdata prepare``)::

    tools:  fetch_invoice(city: string, days: integer, urgent: boolean)   "fetch the invoice"
            book_flight(seats: integer, priority: "low"|"medium"|"high")  "book the flight"
    user:   Please fetch the invoice with city "Blue River" and days 42.
    assistant -> [TOOL_CALLS] [{"name": "fetch_invoice", "arguments": {"city": "Blue River", "days": 42}}]

Cases (``normal`` difficulty; ``easy`` is single calls with one tool declared):

- ``single``: one call to the tool the user names by its description words, with the arguments given;
- ``parallel``: two requests in one message, two calls in one turn (any order is correct);
- ``no_call``: a request no tool serves; the reply is text;
- ``multi_turn``: call -> tool result -> text reply -> a second request -> call (every assistant turn
  is scored).

Generalisation is what is measured, so the held-out records (``metadata.split == "test"``) use:

- held-out tools: verb/noun combinations (``track_invoice``) never declared in a training record, built
  from verbs and nouns that training records do use;
- held-out values: string values that are new combinations of known words (``"Silver Harbor"``), and
  numbers from a disjoint set.

Why the surface forms are what they are (the v3 SentencePiece tokenizer decides what a small model trained
from scratch can copy): a string value is quoted in the user's message (``city "Blue River"``), so it
tokenizes exactly as inside the call JSON (``"Blue`` + ``▁River``; unquoted it would start with ``▁Blue``,
another token). The tool's ``description`` repeats the words the user uses (``fetch the invoice``), and
the name the call must copy sits next to it in the tools block, tokenized as in the call. Every token a
held-out record needs also appears in training records, so the model can produce it.

Everything is deterministic: the same ``seed`` and sizes give the same records, byte for byte.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass
from typing import Any, Iterator, Literal

from .errors import UsageError

__all__ = ["DIFFICULTIES", "SynthConfig", "synth_records", "tool_universe"]

DIFFICULTIES = ("easy", "normal")

_VERBS = (
    "get", "fetch", "create", "delete", "update", "list", "find", "send", "check", "book",
    "cancel", "track", "search", "convert", "schedule", "rate", "share", "archive", "print", "verify",
)  # fmt: skip
_NOUNS = (
    "weather", "invoice", "order", "flight", "hotel", "ticket", "recipe", "stock", "movie", "song",
    "contact", "meeting", "package", "account", "playlist", "reminder", "document", "review", "route",
    "payment", "event", "coupon", "car", "restaurant", "course", "profile", "report", "balance",
    "parcel", "appointment",
)  # fmt: skip

# the most tools one record may declare: every declared tool may have a noun of its own, and one noun stays free
MAX_TOOLS = len(_NOUNS) - 1

# argument name -> JSON Schema type ("enum:a|b|c" for string enums)
_ARGUMENTS: dict[str, str] = {
    "city": "string", "name": "string", "title": "string", "code": "string", "address": "string",
    "category": "string", "location": "string", "query": "string", "author": "string", "brand": "string",
    "count": "integer", "days": "integer", "year": "integer", "quantity": "integer", "limit": "integer",
    "page": "integer", "seats": "integer", "rating": "integer",
    "price": "number", "amount": "number", "weight": "number", "distance": "number",
    "urgent": "boolean", "public": "boolean", "notify": "boolean", "refundable": "boolean",
    "unit": "enum:metric|imperial", "priority": "enum:low|medium|high", "sort": "enum:asc|desc",
    "size": "enum:small|medium|large",
}  # fmt: skip
_ARG_NAMES = tuple(_ARGUMENTS)

_WORDS_A = ("Blue", "Red", "Green", "Silver", "North", "Old", "New", "Little", "Golden", "Grand", "Quiet", "Bright", "Stone", "Iron", "Sunny", "Royal")  # fmt: skip
_WORDS_B = ("River", "Harbor", "Valley", "Garden", "Bridge", "Tower", "Lake", "Forest", "Park", "Hill", "Castle", "Market", "Station", "Island", "Meadow", "Square")  # fmt: skip

_TEMPLATES_EASY = ("Please {verb} the {noun} with {args}.",)
_TEMPLATES = (
    "Please {verb} the {noun} with {args}.",
    "Could you {verb} the {noun}? Use {args}.",
    "I need you to {verb} the {noun} for {args}.",
    "{Verb} the {noun}: {args}.",
    "Can you {verb} the {noun} using {args}?",
)
_NO_ARG_TEMPLATES = ("Please {verb} the {noun}.", "Could you {verb} the {noun}?", "{Verb} the {noun}, please.")
_PARALLEL = ("{first} Also {second}", "{first} Then {second}")
_NO_CALL_REQUESTS = (
    ("Tell me a joke about a {noun}.", "I can only use the tools I have, and none of them tells jokes."),
    ("What is your favourite {noun}?", "I have no favourites; I can help with the tools listed."),
    ("Thanks, that is all for the {noun}.", "You're welcome!"),
    ("Write a poem about the {noun}.", "None of my tools can write poems, sorry."),
    ("Who invented the {noun}?", "I cannot answer that with the available tools."),
)
_RESULT_REPLIES = ("Done: the {noun} is {status}.", "The {noun} request finished: {status}.", "Here you go, the {noun} is {status}.")
_STATUSES = ("ready", "confirmed", "updated", "on its way", "saved")
_SYSTEM = "You are a helpful assistant. Call a tool when one fits the request."
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _h(*parts: object) -> int:
    """A stable hash (the same in every process and Python version, unlike ``hash``)."""
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode("utf-8"))


@dataclass(frozen=True)
class _ToolSpec:
    verb: str
    noun: str
    arguments: tuple[str, ...]  # in schema order
    required: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.verb}_{self.noun}"

    def tool(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for arg in self.arguments:
            kind = _ARGUMENTS[arg]
            if kind.startswith("enum:"):
                props[arg] = {"type": "string", "enum": kind[5:].split("|")}
            else:
                props[arg] = {"type": kind}
        params: dict[str, Any] = {"type": "object", "properties": props, "required": list(self.required)}
        return {"type": "function", "function": {"name": self.name, "description": f"{self.verb} the {self.noun}", "parameters": params}}


def _spec(verb: str, noun: str) -> _ToolSpec:
    """The schema of ``verb_noun``: its arguments depend on the noun (so one noun always takes the same
    kinds of argument, like a real API family) and the verb (so names cannot be guessed from arguments)."""
    rng = random.Random(_h("tool", verb, noun))
    n = rng.randint(1, 4)
    args = tuple(rng.sample(_ARG_NAMES, n))
    n_required = rng.randint(1, n) if n > 1 else 1
    return _ToolSpec(verb, noun, args, args[:n_required])


def tool_universe(held_out_share: float = 0.2) -> tuple[list[_ToolSpec], list[_ToolSpec]]:
    """All tools, split into (training tools, held-out tools). A verb/noun pair is held out by a stable
    hash; every verb and every noun still occurs in some training tool."""
    train: list[_ToolSpec] = []
    held: list[_ToolSpec] = []
    for verb in _VERBS:
        for noun in _NOUNS:
            spec = _spec(verb, noun)
            (held if _h("held", verb, noun) % 1000 < held_out_share * 1000 else train).append(spec)
    return train, held


def _held_string(a: str, b: str) -> bool:
    return _h("value", a, b) % 5 == 0


def _held_int(v: int) -> bool:
    return _h("int", v) % 5 == 0


@dataclass(frozen=True)
class SynthConfig:
    """What to generate: ``n_train`` training and ``n_test`` held-out records.

    ``parallel``, ``no_call`` and ``multi_turn`` are the shares of those cases (``normal`` difficulty);
    ``max_tools`` the most tools declared in a record (distractors included).
    """

    n_train: int = 2000
    n_test: int = 200
    seed: int = 0
    difficulty: Literal["easy", "normal"] = "normal"
    parallel: float = 0.15
    no_call: float = 0.15
    multi_turn: float = 0.15
    max_tools: int = 4
    system_prompt: float = 0.3

    def check(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise UsageError(f"unknown difficulty {self.difficulty!r}; choose one of {', '.join(DIFFICULTIES)}")
        if self.n_train < 0 or self.n_test < 0:
            raise UsageError(f"record counts must be >= 0, got {self.n_train} train and {self.n_test} test")
        shares = {"parallel": self.parallel, "no_call": self.no_call, "multi_turn": self.multi_turn, "system_prompt": self.system_prompt}
        for key, value in shares.items():
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"{key} must be a share between 0 and 1, got {value}")
        if self.n_train + self.n_test == 0:
            raise UsageError("nothing to make: give -n (training records) or --test (held-out records) above 0")
        if self.difficulty == "easy":
            return  # one declared tool, one call: the shares and max_tools of normal difficulty do not apply
        if self.parallel + self.no_call + self.multi_turn > 1.0:
            raise UsageError("parallel + no_call + multi_turn must not exceed 1")
        if self.max_tools < 2:
            raise UsageError(f"max_tools must be at least 2 for normal difficulty, got {self.max_tools}")
        if self.max_tools > MAX_TOOLS:
            # distractors never share a called tool's noun, and a no-call request needs a noun no declared
            # tool serves: with more tools than nouns less one, records could not be made (it looped forever)
            raise UsageError(f"max_tools must be at most {MAX_TOOLS} (the task has {len(_NOUNS)} nouns, and a no-call request needs one that no declared tool serves), got {self.max_tools}")


class _Maker:
    """Builds one record from its own random stream (records do not depend on each other)."""

    def __init__(self, cfg: SynthConfig, rng: random.Random, held: bool, train_tools: list[_ToolSpec], held_tools: list[_ToolSpec]) -> None:
        self.cfg = cfg
        self.rng = rng
        self.held = held
        self.train_tools = train_tools
        self.held_tools = held_tools

    # ---------------------------------------------------------------------------------- values

    def value(self, arg: str) -> Any:
        kind = _ARGUMENTS[arg]
        rng = self.rng
        if kind == "string":
            while True:
                a, b = rng.choice(_WORDS_A), rng.choice(_WORDS_B)
                if _held_string(a, b) == self.held:
                    return f"{a} {b}"
        if kind == "integer":
            while True:
                v = rng.randint(1, 999)
                if _held_int(v) == self.held:
                    return v
        if kind == "number":
            while True:
                whole = rng.randint(1, 999)
                if _held_int(whole) == self.held:
                    return whole + rng.choice((0.25, 0.5, 0.75))
        if kind == "boolean":
            return rng.random() < 0.5
        choices = kind[5:].split("|")
        return rng.choice(choices)

    @staticmethod
    def phrase(arg: str, value: Any) -> str:
        """How the user says ``arg = value``: strings quoted (so they tokenize as in JSON), the rest as
        their JSON text."""
        if isinstance(value, str):
            return f'{arg} "{value}"'
        return f"{arg} {json.dumps(value)}"

    # ---------------------------------------------------------------------------------- pieces

    def call_for(self, spec: _ToolSpec) -> tuple[str, dict[str, Any]]:
        """A request sentence for ``spec`` and the call that answers it."""
        rng = self.rng
        optional = [a for a in spec.arguments if a not in spec.required]
        chosen = list(spec.required) + [a for a in optional if rng.random() < 0.5]
        arguments = {a: self.value(a) for a in spec.arguments if a in chosen}  # schema order
        spoken = list(arguments.items())
        if self.cfg.difficulty == "normal":
            rng.shuffle(spoken)
        parts = [self.phrase(k, v) for k, v in spoken]
        args_text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        templates = _TEMPLATES_EASY if self.cfg.difficulty == "easy" else _TEMPLATES
        text = rng.choice(templates).format(verb=spec.verb, Verb=spec.verb.capitalize(), noun=spec.noun, args=args_text)
        return text, {"name": spec.name, "arguments": arguments}

    def call_id(self) -> str:
        return "".join(self.rng.choice(_ID_CHARS) for _ in range(9))

    def pick_tools(self, n_called: int) -> tuple[list[_ToolSpec], list[_ToolSpec]]:
        """(tools to call, tools to declare): the called ones plus distractors, in shuffled order.

        Held-out records call held-out tools half of the time (new tools), seen tools otherwise (with
        held-out values); distractors come from the training tools."""
        rng = self.rng
        pool = self.held_tools if (self.held and rng.random() < 0.5) else self.train_tools
        called: list[_ToolSpec] = []
        while len(called) < n_called:
            spec = rng.choice(pool)
            if all(spec.name != c.name and spec.noun != c.noun for c in called):
                called.append(spec)
        if self.cfg.difficulty == "easy":
            return called, list(called)
        n_declared = rng.randint(max(2, n_called), max(2, n_called, self.cfg.max_tools))
        declared = list(called)
        while len(declared) < n_declared:
            spec = rng.choice(self.train_tools)
            # a distractor never shares the noun of a called tool: the request must single one out
            if all(spec.name != d.name for d in declared) and all(spec.noun != c.noun for c in called):
                declared.append(spec)
        rng.shuffle(declared)
        return called, declared

    # ---------------------------------------------------------------------------------- records

    def record(self) -> tuple[dict[str, Any], str]:
        cfg, rng = self.cfg, self.rng
        if cfg.difficulty == "easy":
            return self.single(), "single"
        r = rng.random()
        if r < cfg.parallel:
            return self.parallel(), "parallel"
        if r < cfg.parallel + cfg.no_call:
            return self.no_call(), "no_call"
        if r < cfg.parallel + cfg.no_call + cfg.multi_turn:
            return self.multi_turn(), "multi_turn"
        return self.single(), "single"

    def _start(self, declared: list[_ToolSpec]) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if self.cfg.difficulty == "normal" and self.rng.random() < self.cfg.system_prompt:
            messages.append({"role": "system", "content": _SYSTEM})
        return {"messages": messages, "tools": [s.tool() for s in declared]}

    def single(self) -> dict[str, Any]:
        called, declared = self.pick_tools(1)
        rec = self._start(declared)
        text, call = self.call_for(called[0])
        rec["messages"] += [
            {"role": "user", "content": text},
            {"role": "assistant", "tool_calls": [_tool_call(call)]},
        ]
        return rec

    def parallel(self) -> dict[str, Any]:
        called, declared = self.pick_tools(2)
        rec = self._start(declared)
        (t1, c1), (t2, c2) = self.call_for(called[0]), self.call_for(called[1])
        second = t2 if t2.startswith("I ") else t2[0].lower() + t2[1:]
        text = self.rng.choice(_PARALLEL).format(first=t1, second=second)
        rec["messages"] += [
            {"role": "user", "content": text},
            {"role": "assistant", "tool_calls": [_tool_call(c1), _tool_call(c2)]},
        ]
        return rec

    def no_call(self) -> dict[str, Any]:
        _, declared = self.pick_tools(1)
        rec = self._start(declared)
        # a noun no declared tool serves, so no tool fits the request
        nouns = [n for n in _NOUNS if all(d.noun != n for d in declared)]
        request, reply = self.rng.choice(_NO_CALL_REQUESTS)
        rec["messages"] += [
            {"role": "user", "content": request.format(noun=self.rng.choice(nouns))},
            {"role": "assistant", "content": reply},
        ]
        return rec

    def multi_turn(self) -> dict[str, Any]:
        called, declared = self.pick_tools(2)
        rec = self._start(declared)
        messages = rec["messages"]
        for k, spec in enumerate(called):
            text, call = self.call_for(spec)
            cid = self.call_id()
            status = self.rng.choice(_STATUSES)
            messages += [
                {"role": "user", "content": text},
                {"role": "assistant", "tool_calls": [_tool_call(call, cid)]},
                {"role": "tool", "tool_call_id": cid, "name": spec.name, "content": json.dumps({"status": status})},
            ]
            if k == 0 or self.rng.random() < 0.5:
                messages.append({"role": "assistant", "content": self.rng.choice(_RESULT_REPLIES).format(noun=spec.noun, status=status)})
        if messages[-1]["role"] == "tool":
            messages.append({"role": "assistant", "content": f"All done: the {called[-1].noun} is {json.loads(messages[-1]['content'])['status']}."})
        return rec


def _tool_call(call: dict[str, Any], cid: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
    if cid is not None:
        out = {"id": cid, **out}
    return out


def synth_records(config: SynthConfig | None = None, **overrides: Any) -> Iterator[dict[str, Any]]:
    """Yield ``n_train`` training records then ``n_test`` held-out ones, as canonical record dicts.

    Each record's ``metadata`` holds ``{"source": "synth", "split": "train"|"test", "case": ...,
    "seed": ..., "index": ...}``; ``fcdata train-eval`` uses ``split`` as the train/held-out split.
    Keyword arguments override fields of ``config`` (``synth_records(n_train=100, difficulty="easy")``).
    """
    cfg = config or SynthConfig()
    if overrides:
        cfg = SynthConfig(**{**cfg.__dict__, **overrides})
    cfg.check()
    train_tools, held_tools = tool_universe()
    total = cfg.n_train + cfg.n_test
    for index in range(total):
        held = index >= cfg.n_train
        rng = random.Random(f"fcdata-synth:{cfg.seed}:{cfg.difficulty}:{index}")
        record, case = _Maker(cfg, rng, held, train_tools, held_tools).record()
        record["metadata"] = {
            "source": "synth",
            "split": "test" if held else "train",
            "case": case,
            "difficulty": cfg.difficulty,
            "seed": cfg.seed,
            "index": index,
        }
        yield record
