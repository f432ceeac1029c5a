"""Validation of canonical records: every problem that would break or silently spoil a Mistral v0.3
fine-tune, found in one pass and reported as :class:`~fcdata.findings.Finding`s.

Two layers, both run on every record so that one pass reports everything:

1. *Shape*: the Pydantic models of :mod:`fcdata.records` (types, required and unknown keys, roles).
2. *Meaning*: checks written against the raw decoded JSON (defensively, so they still run when the shape
   is wrong elsewhere in the record): mistral-common's v3 rules in fine-tuning mode (role order, call ids,
   function names, calls answered before the next assistant turn, content or calls but not both, the
   merge of consecutive assistant messages, a final assistant turn) and the rules that keep training data
   right (calls only to declared functions, arguments that are JSON objects valid against their own
   ``parameters`` schema, schemas that are themselves valid, one definition per function name).

Which rules mistral-common enforces is mirrored from its ``MistralRequestValidatorV3`` (fine-tuning mode)
and ``InstructRequestNormalizer`` (merging); a property test checks that records without error findings
encode there without exception.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from pydantic import ValidationError

from .call_markup import CALL_MARKUP, find_call_markup, find_reasoning_markup, is_python_call_list
from .errors import format_path
from .findings import CODES, Finding
from .rejects import reject_obj
from .read import ConflictingKey, Item, loads_strict, read_items, unique_pairs
from .reports import RecordCounts
from .normalize import NEXT_ROLES, Rules, merges_with
from .records import ChatRecord, TextRecord, parse_record
from .schema_check import schema_check
from .schema_guard import begin_record, end_record
from .write import dumps_line

__all__ = [
    "reject_line",
    "FindingsSpool",
    "check_record",
    "validate_records",
    "validate_files",
    "ValidationReport",
    "CALL_ID_RE",
    "FUNCTION_NAME_RE",
]

CALL_ID_RE = re.compile(r"^[a-zA-Z0-9]{9}$")
FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

_NEXT_ROLES = NEXT_ROLES
_ROLES = frozenset(_NEXT_ROLES)

_CONTROL_STRINGS = ("[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "<s>", "</s>")
_RESIDUE_MARKERS = ("<|endoftext|>", "<functioncall>", "USER:", "ASSISTANT:", "FUNCTION RESPONSE:", "SYSTEM:")
# a marker at the start of a line, after nothing but whitespace. Line starts come from MULTILINE ``^`` and
# the whitespace before the marker may not hold a newline (``[^\S\n]``): ``(?:^|\n)\s*`` matched the same
# texts but backtracked through every newline of a long whitespace run, quadratically (24 s on 120 kB)
_RESIDUE_RE = re.compile(r"<\|endoftext\|>|<functioncall>|^[^\S\n]*(?:USER|ASSISTANT|FUNCTION RESPONSE|SYSTEM):", re.M)
_FOREIGN_FORMATS = (
    (("system", "chat"), "Glaive function-calling v2 raw data"),
    (("conversations",), "ShareGPT data"),
    (("interactions",), "legacy Mistral hackathon data"),
    (("request",), "a chat-completion request dump"),
    (("query", "answers"), "xLAM / APIGen data"),
    (("question", "model_answer"), "Gorilla OpenFunctions data"),
    (("question", "correct_answer"), "When2Call's MCQ test file"),
    (("traj",), "a trajectory dump"),
    (("answer_generation",), "ToolBench data"),
)
_CONVERT_HINT = "run `fcdata convert FILE -o canonical.jsonl` first"


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Collector:
    """Collects the findings of one record with its location."""

    def __init__(self, file: str | None, line: int | None) -> None:
        self.file = file
        self.line = line
        self.findings: list[Finding] = []

    def add(self, code: str, path: Iterable[Any] | str, message: str) -> None:
        p = path if isinstance(path, str) else format_path(list(path))
        self.findings.append(Finding.make(code, p, message, file=self.file, line=self.line))


# ---------------------------------------------------------------------------------------------- shape


_UNION_TAGS = frozenset({"str", "dict[str,any]", "chat", "text"})


def _clean_loc(loc: tuple[Any, ...]) -> list[Any]:
    """Drop Pydantic's discriminator and union-member tags from an error location."""
    parts = list(loc)
    if parts and parts[0] in ("chat", "text"):
        parts = parts[1:]
    out: list[Any] = []
    for i, part in enumerate(parts):
        prev = parts[i - 1] if i else None
        if isinstance(prev, int) and part in _ROLES and i >= 2 and parts[i - 2] == "messages":
            continue  # role tag of the message union
        if prev == "arguments" and part in _UNION_TAGS:
            continue
        out.append(part)
    return out


def _shape_findings(err: ValidationError, c: _Collector, covered: set[str]) -> None:
    seen: set[tuple[str, str]] = set()
    for e in err.errors():
        loc = _clean_loc(e["loc"])
        path = format_path(loc)
        if any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in covered):
            continue  # a more specific finding already explains this place
        kind = e["type"]
        got = e.get("input")
        if kind == "missing":
            code, msg = "missing_field", "required field is missing"
            if loc == ["messages"]:
                msg += " (a chat record needs `messages`; a pretraining record needs `text`)"
        elif kind == "extra_forbidden":
            code, msg = "unknown_field", f"unknown field (value {_short(got)}); remove it, or move it into the record's top-level `metadata` object"
        elif kind == "invalid_role":
            role = got.get("role") if isinstance(got, dict) else None
            if not isinstance(got, dict):
                code, msg = "wrong_type", f"a message must be an object, got {_short(got)}"
            else:
                code, msg = "bad_role", f"role must be one of system, user, assistant, tool; got {_short(role)}"
        elif kind == "literal_error":
            code = "bad_value"
            msg = f"{e['msg'].replace('Input should be', 'must be')}; got {_short(got)}"
        else:
            code = "wrong_type"
            want = e["msg"].replace("Input should be a valid ", "").replace("Input should be ", "")
            if loc and loc[-1] == "arguments":
                want = "JSON object or a string holding one"
            msg = f"expected {_article(want)} {want}, got {_short(got)}; give the field that type (see `fcdata schema record`)"
        key = (path, code)
        if key in seen:
            continue
        seen.add(key)
        c.add(code, path, msg)


# -------------------------------------------------------------------------------------------- meaning


_UNIQUE_DECODER = json.JSONDecoder(object_pairs_hook=unique_pairs)


def _conflicting_key(text: str) -> str | None:
    """The first key a JSON text gives twice with two values (``None`` when none, or not JSON)."""
    try:
        _UNIQUE_DECODER.decode(text)
    except ConflictingKey as exc:
        return exc.key
    except (ValueError, RecursionError):
        pass
    return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _schema_key(schema: Any) -> str | None:
    try:
        return json.dumps(schema, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None


def _text_checks(text: str, path: list[Any], c: _Collector, role: str) -> None:
    if role == "assistant":
        marker = find_call_markup(text)
        if marker is not None:
            c.add("call_markup_text", path, f"assistant text holds the call markup {marker!r} ({CALL_MARKUP.get(marker, 'a tool-calling template')}), which is trained as plain text: the model would learn to print it instead of calling; make the calls `tool_calls` (`fcdata convert` reads this markup) or drop the record")
            return
        if is_python_call_list(text):
            c.add("call_markup_text", path, "the assistant text is a list of calls in Python syntax (ToolACE's `[Func(a=1)]`), which is trained as plain text: the model would learn to print it instead of calling; make the calls `tool_calls` (`fcdata convert --from toolace` reads this syntax) or drop the record")
            return
        tag = find_reasoning_markup(text) if ("<" in text or "[" in text) else None
        if tag is not None:
            c.add("reasoning_markup_text", path, f"assistant text holds the reasoning tag {tag!r}: Mistral v0.3 has no reasoning channel, so the tags and what they enclose are trained as reply text; drop the reasoning (`fcdata convert` drops a leading <think> block and stray tags) unless printing it is what the model should learn")
    # substring tests first (C speed); the regular expression only runs on texts that may match
    if any(m in text for m in _RESIDUE_MARKERS) and _RESIDUE_RE.search(text):
        c.add("conversion_residue", path, "leftover source-format markers (<|endoftext|>, <functioncall>, USER:/ASSISTANT:); the model would learn them — clean the conversion")
    elif role in ("user", "system", "assistant") and ("[" in text or "<" in text):
        found = next((s for s in _CONTROL_STRINGS if s in text), None)
        if found is not None:
            c.add("control_token_text", path, f"contains {found!r}, which is encoded as plain text (never as a control token); strip it if it comes from a prompt template")


def _check_tools(rec: dict[str, Any], c: _Collector) -> dict[str, tuple[Any, str | None]]:
    """Check the declared tools; returns name -> (parameters schema, its cache key); the first
    definition of a name wins."""
    declared: dict[str, tuple[Any, str | None]] = {}
    definitions: dict[str, Any] = {}
    tools = rec.get("tools")
    if not isinstance(tools, list):
        return declared
    for t, tool in enumerate(tools):
        if not isinstance(tool, dict):
            continue
        fn = tool.get("function")
        if not isinstance(fn, dict):
            continue
        name = fn.get("name")
        if not isinstance(name, str):
            continue
        if not FUNCTION_NAME_RE.match(name):
            c.add("function_name_format", ["tools", t, "function", "name"], f"{_short(name)} is not a valid Mistral v0.3 function name (^[a-zA-Z0-9_-]{{1,64}}$); rename it (e.g. replace '.' and spaces with '_') in the tool and in its calls")
        if name in definitions:
            if definitions[name] == fn:
                c.add("duplicate_tool", ["tools", t], f"function {name!r} is declared twice identically; drop the copy")
            else:
                c.add("duplicate_tool_conflict", ["tools", t], f"function {name!r} is declared twice with different definitions; keep one (the model cannot know which applies)")
            continue
        definitions[name] = fn
        if "parameters" not in fn:
            c.add("parameters_missing", ["tools", t, "function"], f"function {name!r} has no 'parameters' (mistral-common requires the field); for a function without arguments write \"parameters\": {{\"type\": \"object\", \"properties\": {{}}}}")
        params = fn.get("parameters", {})
        key = _schema_key(params) if isinstance(params, dict) else None
        if isinstance(params, dict):
            if key is None:
                c.add("schema_invalid", ["tools", t, "function", "parameters"], "the parameters schema is nested too deeply to be written as JSON or checked; flatten it")
            else:
                check = schema_check(key, params)
                if check.problem:
                    c.add("schema_invalid", ["tools", t, "function", "parameters"], f"not a valid JSON Schema: {check.problem}; fix the schema (mistral-common refuses it)")
                elif check.unsupported:
                    c.add("pattern_unsupported", ["tools", t, "function", "parameters"], f"{check.unsupported}; the calls of {name!r} are not checked against its schema (rewrite the pattern without lookarounds or backreferences to have them checked)")
            if params and params.get("type") not in ("object", None) and "properties" not in params:
                c.add("parameters_not_object", ["tools", t, "function", "parameters"], f"parameters should describe an object (type 'object'); got type {_short(params.get('type'))}")
        declared[name] = (params, key)
    return declared


def _check_arguments(args: Any, schema_key: str | None, path: list[Any], c: _Collector) -> None:
    value = args
    if isinstance(args, str):
        try:
            value = loads_strict(args)
        except (ValueError, RecursionError):
            c.add("arguments_not_json", path, f"arguments string is not JSON: {_short(args)}; write the arguments as a JSON object")
            return
    if not isinstance(value, dict):
        c.add("arguments_not_object", path, f"arguments must be a JSON object, got {_short(value)}; wrap the values in an object keyed by parameter name (`{{}}` for no arguments)")
        return
    if schema_key is None:
        return
    check = schema_check(schema_key)
    if check.problem is not None or check.unsupported is not None:
        return  # reported under tools (schema_invalid, pattern_unsupported); its calls are not checked against it
    verdict = check.is_valid(value)
    if verdict:
        return
    if verdict is None:
        reason = check.unusable_reason(value)
        if "budget" in reason:
            # the cost is the record's many calls as much as the schema: say so, not "fix the schema"
            c.add("schema_unusable", path, f"the arguments cannot be checked: checking this record's calls against their schemas takes more than the record's budget ({reason}); split the conversation into shorter records, or simplify the schema")
        else:
            c.add("schema_unusable", path, f"the arguments cannot be checked: the function's parameters schema is valid on its face but cannot be applied ({reason}); fix the schema")
        return
    errors = check.validation_errors(value)
    if not errors:
        c.add("arguments_schema", path, "the arguments could not be checked against the parameters schema (nested too deeply to evaluate); simplify the schema or the arguments")
    for err in errors:
        c.add("arguments_schema", [*path, *err.absolute_path], f"{err.message} (schema rule {err.validator!r}); fix the call or the declared parameters")


def _meaning_findings(rec: dict[str, Any], c: _Collector, rules: Rules) -> None:
    """What the conversation means, as mistral-common reads it: turn order, merges, calls and their
    results, ids, names, arguments against their tool's schema, and how it ends (``rules``: what the
    target tokenizer version's normaliser allows, :class:`~fcdata.normalize.Rules`)."""
    messages = rec.get("messages")
    declared = _check_tools(rec, c)
    if not isinstance(messages, list):
        return
    if not messages:
        c.add("empty_conversation", ["messages"], "the conversation has no messages; drop the record")
        return
    if len(messages) == 1 and isinstance(messages[0], dict) and isinstance(messages[0].get("role"), str) and messages[0]["role"] in _ROLES:
        c.add("single_message", ["messages"], "the conversation has a single message; a training record needs a user turn followed by an assistant reply")
        return
    _Conversation(messages, declared, isinstance(rec.get("tools"), list), c, rules).check()


class _Conversation:
    """One pass over a record's messages, in order, with the call-pairing state mistral-common keeps:
    the calls of the latest assistant turn are pending until their results arrive."""

    def __init__(self, messages: list[Any], declared: dict[str, Any], has_tools_list: bool, c: _Collector, rules: Rules = Rules()) -> None:
        self.messages = messages
        self.rules = rules
        self.declared = declared
        self.has_tools_list = has_tools_list
        self.c = c
        self.roles: list[str | None] = []
        for m in messages:
            r = m.get("role") if isinstance(m, dict) else None
            self.roles.append(r if isinstance(r, str) and r in _ROLES else None)
        self.seen_ids: dict[str, list[Any]] = {}
        self.pending: dict[str, tuple[int, int, str]] = {}  # id -> (message index, call index, function name)
        self.answered: set[str] = set()
        self.earlier_calls: dict[str, int] = {}  # id -> message index of a call from an earlier assistant turn
        self.last_assistant = max((i for i, r in enumerate(self.roles) if r == "assistant"), default=-1)
        self.trained_turns = 0

    def check(self) -> None:
        prev: str | None = None
        for i, m in enumerate(self.messages):
            role = self.roles[i]
            if role is None or not isinstance(m, dict):
                prev = None
                continue
            self._order(i, role, prev)
            self._text(i, m, role)
            if role == "assistant":
                self._assistant(i, m, prev)
            elif role == "tool":
                self._tool_result(i, m)
            prev = role
        self._ending()

    def _order(self, i: int, role: str, prev: str | None) -> None:
        c = self.c
        if prev is not None and role not in _NEXT_ROLES[prev]:
            c.add("role_order", ["messages", i, "role"], f"{_article(role)} {role} message cannot follow {_article(prev)} {prev} message (mistral-common refuses it); allowed after {prev}: {', '.join(sorted(_NEXT_ROLES[prev]))}")
        if i == 0 and role == "assistant":
            c.add("starts_with_assistant", ["messages", 0], "the conversation starts with an assistant message; mistral-common inserts an empty user message before it")
            first = self.messages[0]
            if isinstance(first, dict) and first.get("tool_calls") and len(self.messages) > 1 and self.roles[1] == "tool":
                # mistral-common's call/result count skips messages[0], so the result makes it -1
                c.add("opens_with_calls", ["messages", 0, "tool_calls"], "the conversation opens with tool calls whose results follow; mistral-common does not count the first message's calls and refuses the results (\"Not the same number of function calls and responses\"); put the user request before the calls")
        if role == "user" and prev == "user":
            c.add("merged_user", ["messages", i], "consecutive user messages are merged into one turn joined by a blank line; merge them yourself if that is not intended")

    def _text(self, i: int, m: dict[str, Any], role: str) -> None:
        content = m.get("content")
        if isinstance(content, str) and role in ("user", "system", "assistant"):
            _text_checks(content, ["messages", i, "content"], self.c, role)
        if role == "user" and content == "":
            self.c.add("empty_user", ["messages", i, "content"], "empty user message")

    def _assistant(self, i: int, m: dict[str, Any], prev: str | None) -> None:
        c = self.c
        # every call of the previous assistant turn must be answered before this one
        for cid, (mi, ci, _) in self.pending.items():
            if cid not in self.answered:
                c.add("call_unanswered", ["messages", mi, "tool_calls", ci], f"call {cid!r} gets no tool result before the next assistant turn (messages[{i}]); add its result or drop the call")
        for cid in self.pending:
            self.earlier_calls[cid] = i
        self.pending = {}
        self.answered = set()

        content = m.get("content")
        calls = m.get("tool_calls")
        has_calls = isinstance(calls, list) and len(calls) > 0
        has_text = isinstance(content, str) and content != ""
        if has_calls and has_text and not self.rules.content_with_calls:
            c.add("content_and_tool_calls", ["messages", i], "an assistant message has both text and tool calls, which Mistral v0.3 cannot encode; drop the text (or move it to its own turn after the results), or check against a v7+ tokenizer that encodes it (`--tokenizer`)")
        elif not has_calls and not has_text and "function_call" not in m:
            c.add("empty_assistant", ["messages", i], "an assistant message needs text or tool calls (mistral-common refuses an empty one); drop it")
        if m.get("weight") != 0:
            self.trained_turns += 1
        if prev == "assistant" and isinstance(self.messages[i - 1], dict):
            self._merge_with_previous(i, m, has_calls, has_text)
        if isinstance(calls, list):
            is_last = i == self.last_assistant and i == len(self.messages) - 1
            for j, call in enumerate(calls):
                if isinstance(call, dict):
                    self._call(i, j, call, is_last)

    def _merge_with_previous(self, i: int, m: dict[str, Any], has_calls: bool, has_text: bool) -> None:
        """Two assistant messages in a row: mistral-common merges them into one turn when their weights
        agree, which can make a turn it refuses (text and calls) or join two replies."""
        before = self.messages[i - 1]
        same_weight = merges_with("assistant", before.get("weight"), "assistant", m.get("weight"))
        before_calls = isinstance(before.get("tool_calls"), list) and bool(before.get("tool_calls"))
        before_text = isinstance(before.get("content"), str) and before.get("content") != ""
        if same_weight and ((before_text and has_calls) or (before_calls and has_text)):
            if self.rules.content_with_calls:
                return  # v7+: one turn of text and calls is what the tokenizer encodes
            self.c.add("merged_content_and_calls", ["messages", i], "this assistant message follows another; mistral-common merges them into one turn holding text and tool calls and refuses it; drop the text turn (a preamble before a call teaches the model to stop before calling)")
        elif same_weight and before_text and has_text:
            self.c.add("merged_assistant", ["messages", i], "consecutive assistant messages are merged into one turn joined by a blank line; merge them yourself (or put a user turn between them) if that is not intended")

    def _call(self, i: int, j: int, call: dict[str, Any], is_last: bool) -> None:
        c = self.c
        where = ["messages", i, "tool_calls", j]
        cid = call.get("id")
        fn = call.get("function") if isinstance(call.get("function"), dict) else {}
        name = fn.get("name")
        if cid is None or cid == "null":
            if not is_last:
                c.add("call_id_missing", where, "tool call has no id; Mistral v0.3 needs a 9-character [a-zA-Z0-9] id that its result names (`fcdata convert` assigns deterministic ids)")
        elif isinstance(cid, str):
            if not CALL_ID_RE.match(cid):
                c.add("call_id_format", [*where, "id"], f"must be 9 letters/digits for Mistral v0.3, got {_short(cid)}; remap ids consistently in calls and results (`fcdata convert` does)")
            if cid in self.seen_ids:
                c.add("call_id_duplicate", [*where, "id"], f"call id {cid!r} was already used at {format_path(self.seen_ids[cid])}; ids must be unique in a record")
            else:
                self.seen_ids[cid] = list(where)
            self.pending[cid] = (i, j, name if isinstance(name, str) else "")
        if not isinstance(name, str):
            return
        if not FUNCTION_NAME_RE.match(name):
            c.add("function_name_format", [*where, "function", "name"], f"{_short(name)} is not a valid Mistral v0.3 function name (^[a-zA-Z0-9_-]{{1,64}}$)")
        schema_key: str | None = None
        if name not in self.declared:
            known = "the record declares no tools" if not self.has_tools_list or not self.declared else f"declared: {', '.join(sorted(self.declared))}"
            c.add("undeclared_function", [*where, "function", "name"], f"calls {name!r}, which the record's tools do not declare ({known}); declare it or fix the name")
        else:
            schema_key = self.declared[name][1]
        if "arguments" in fn:
            _check_arguments(fn["arguments"], schema_key, [*where, "function", "arguments"], c)

    def _tool_result(self, i: int, m: dict[str, Any]) -> None:
        c = self.c
        content = m.get("content")
        if isinstance(content, str) and content[:1] in ("{", "[") and '"' in content:
            key = _conflicting_key(content)
            if key is not None:
                c.add("json_duplicate_key", ["messages", i, "content"], f"the tool result gives {key!r} twice with two values; the renderer parses it as JSON, as mistral-common does, and keeps only the last: keep one")
        tid = m.get("tool_call_id")
        if tid is None:
            c.add("tool_result_no_id", ["messages", i], "tool result has no tool_call_id; set it to the id of the call it answers (`fcdata convert` links results to calls by order)")
        elif isinstance(tid, str):
            if not CALL_ID_RE.match(tid):
                c.add("call_id_format", ["messages", i, "tool_call_id"], f"must be 9 letters/digits for Mistral v0.3, got {_short(tid)}; remap ids consistently in calls and results (`fcdata convert` does)")
            if tid in self.pending:
                if tid in self.answered:
                    c.add("tool_result_duplicate", ["messages", i, "tool_call_id"], f"call {tid!r} already has a result; drop the duplicate")
                self.answered.add(tid)
                called = self.pending[tid][2]
                tname = m.get("name")
                if isinstance(tname, str) and called and tname != called:
                    c.add("tool_result_name_mismatch", ["messages", i, "name"], f"result names {tname!r} but answers a call to {called!r}; fix the result's `name` (or drop it: the call id links the result)")
            elif tid in self.earlier_calls:
                c.add("call_answered_late", ["messages", i, "tool_call_id"], f"answers call {tid!r} after the next assistant turn (messages[{self.earlier_calls[tid]}]); move the result right after its call")
            else:
                c.add("tool_result_unlinked", ["messages", i, "tool_call_id"], f"no pending call has id {tid!r}; link the result to its call")
        tname = m.get("name")
        if isinstance(tname, str) and not FUNCTION_NAME_RE.match(tname):
            c.add("function_name_format", ["messages", i, "name"], f"{_short(tname)} is not a valid Mistral v0.3 function name")

    def _ending(self) -> None:
        last, role = self.messages[-1], self.roles[-1]
        if role is not None and role != "assistant":
            self.c.add("last_not_assistant", ["messages", len(self.messages) - 1], f"a training record must end with an assistant turn, this one ends with {role!r}; drop the trailing turns or add the reply")
        elif role == "assistant" and self.trained_turns == 0 and isinstance(last, dict):
            self.c.add("no_trainable_turn", ["messages"], "every assistant turn has weight 0, so nothing is trained; drop the record or set weight 1 on the turns to learn")


def _legacy_findings(rec: dict[str, Any], c: _Collector, covered: set[str]) -> None:
    """OpenAI's legacy functions form and non-function tools: one clear finding per place instead of a
    cascade of shape errors."""
    tools = rec.get("tools")
    if isinstance(tools, list):
        for t, tool in enumerate(tools):
            if isinstance(tool, dict) and isinstance(tool.get("type"), str) and tool["type"] != "function":
                c.add("bad_value", ["tools", t, "type"], f"tool type {tool['type']!r} is not supported: Mistral v0.3 declares only function tools; drop it, or declare the function it stands for")
                covered.add(format_path(["tools", t]))
    if "functions" in rec:
        c.add("legacy_functions", ["functions"], f"OpenAI's legacy `functions` list; canonical records declare `tools: [{{\"type\": \"function\", \"function\": ...}}]` — {_CONVERT_HINT}")
        covered.add("functions")
    messages = rec.get("messages")
    if isinstance(messages, list):
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                continue
            if "function_call" in m:
                c.add("legacy_functions", ["messages", i, "function_call"], f"legacy `function_call`; canonical assistant turns use `tool_calls` with ids — {_CONVERT_HINT}")
                covered.add(format_path(["messages", i, "function_call"]))
            if m.get("role") == "function":
                c.add("legacy_functions", ["messages", i, "role"], f"legacy role 'function'; canonical results are role 'tool' with `tool_call_id` — {_CONVERT_HINT}")
                covered.add(format_path(["messages", i]))


# ---------------------------------------------------------------------------------------------- API


def _unicode_findings(obj: dict[str, Any], c: _Collector) -> None:
    """Strings holding a lone surrogate (JSON can carry ``"\\ud800"``; UTF-8, SentencePiece and
    mistral-common cannot). One C-speed encoding pass answers for the whole record; only a record that
    fails it is walked to name the places."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass
    except (ValueError, TypeError, RecursionError):
        return  # not this check's business (other checks report the shape)
    found = 0
    stack: list[tuple[Any, list[Any]]] = [(obj, [])]
    while stack and found < 5:
        value, path = stack.pop()
        if isinstance(value, dict):
            for k, v in reversed(list(value.items())):
                if isinstance(k, str) and not _utf8_ok(k):
                    c.add("invalid_unicode", path, f"a key holds a lone surrogate ({_short(k)}): text must be valid Unicode; fix the source's escapes (a \\ud800-\\udfff escape without its pair)")
                    found += 1
                stack.append((v, [*path, k]))
        elif isinstance(value, list):
            stack.extend((v, [*path, i]) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, str) and not _utf8_ok(value):
            c.add("invalid_unicode", path, f"text holds a lone surrogate ({_short(value)}): UTF-8 cannot encode it and mistral-common refuses it; fix the source's escapes (a \\ud800-\\udfff escape without its pair)")
            found += 1


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


# warnings about what the converter repairs (reasoning written as reply text: dropped or refused there):
# a canonical record with one goes through the converter in prepare, train-eval and inspect, never as is
REPAIRED_BY_CONVERTER = frozenset({"reasoning_markup_text"})


def check_record(obj: Any, *, file: str | None = None, line: int | None = None, text: str | None = None, rules: Rules | None = None) -> tuple[ChatRecord | TextRecord | None, list[Finding]]:
    """Check one decoded record; returns the parsed model (``None`` when its shape is wrong) and every
    finding. Never raises on bad data.

    ``rules``: the normaliser rules of the tokenizer version the data is for (``encoder_for(tok).rules``);
    ``None`` is Mistral v0.3's, the strictest, which every version can encode. From v7 on an assistant turn
    may hold text then calls, so ``content_and_tool_calls`` and ``merged_content_and_calls`` are not
    findings there: ``fcdata prepare --tokenizer`` a v7+ file must keep such text, not repair it away.

    ``text``: the JSON text the record was decoded from, when the caller has it. It only saves time: a
    lone surrogate can only come from a ``\\ud800``-style escape, so a text without one needs no search."""
    c = _Collector(file, line)
    if isinstance(obj, (ChatRecord, TextRecord)):
        model: ChatRecord | TextRecord | None = obj
        obj = obj.model_dump(mode="json", exclude_none=True)
    else:
        model = None
    if not isinstance(obj, dict):
        c.add("not_object", [], f"a record must be a JSON object, got {_short(obj)}")
        return None, c.findings
    if "messages" not in obj and "text" not in obj:
        for keys, name in _FOREIGN_FORMATS:
            if all(k in obj for k in keys):
                c.add("not_canonical", [], f"this looks like {name}, not a canonical record; {_CONVERT_HINT}")
                return None, c.findings
    if text is None or "\\ud" in text or "\\uD" in text:
        _unicode_findings(obj, c)
    covered: set[str] = set()
    if "text" not in obj or "messages" in obj:
        _legacy_findings(obj, c, covered)
    if model is None:
        try:
            model = parse_record(obj)
        except ValidationError as err:
            _shape_findings(err, c, covered)
        except RecursionError:
            c.add("json_too_deep", [], "record nested too deeply to check")
            return None, c.findings
    try:
        if isinstance(model, TextRecord) or ("text" in obj and "messages" not in obj):
            text = obj.get("text")
            if text == "":
                c.add("empty_text", ["text"], "empty text trains nothing; drop the record")
            elif isinstance(text, str):
                _text_checks(text, ["text"], c, "text")
        else:
            budget = begin_record()  # one bound on the schema work of the whole record
            try:
                _meaning_findings(obj, c, rules or Rules())
            finally:
                end_record(budget)
    except RecursionError:
        c.add("json_too_deep", [], "record nested too deeply to check")
    if any(f.severity == "error" for f in c.findings):
        model = None
    return model, c.findings


@dataclass
class ValidationReport(RecordCounts):
    """Totals of a validation run, in the vocabulary every stage report shares (docs/architecture.md,
    "Rejects and reports"), plus the findings kept in memory.

    ``read == kept + rejected``: a record is rejected when it has an error finding (with ``strict``, any
    finding). ``rejections`` counts rejected records by code (a record once per code); ``errors`` and
    ``warnings`` count findings by code, every record's (``empty_file``, an input with no record, is an
    error of no record). ``findings`` holds every finding unless the run was told not to keep them (the
    CLI streams them to disk instead, so validating a multi-GB file keeps memory flat).
    """

    inputs: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    empty_inputs: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    strict: bool = False
    rejects: str | None = None

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def warning_count(self) -> int:
        return sum(self.warnings.values())

    @property
    def ok(self) -> bool:
        """True when nothing fails: no errors (and, with ``strict``, no warnings)."""
        return self.error_count == 0 and (not self.strict or self.warning_count == 0)

    def summary(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "errors": dict(sorted(self.errors.items())),
            "warnings": dict(sorted(self.warnings.items())),
            "strict": self.strict,
            "empty_inputs": list(self.empty_inputs),
            "inputs": list(self.inputs),
            "rejects": self.rejects,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "findings": [f.to_obj() for f in self.findings]}


def _as_item(rec: Any, index: int, file: str | None) -> Item:
    if isinstance(rec, Item):
        return rec
    return Item(file or "<records>", index, rec)


def validate_records(
    records: Iterable[Any],
    *,
    file: str | None = None,
    strict: bool = False,
    keep_findings: bool = True,
    on_record: Callable[[Item, list[Finding], bool], None] | None = None,
    report: ValidationReport | None = None,
    rules: Rules | None = None,
) -> ValidationReport:
    """Validate records (decoded JSON values, :class:`~fcdata.read.Item`s or models) in one pass.

    ``on_record(item, findings, failed)`` is called for every record (the CLI uses it to stream findings
    and rejects to disk); with ``keep_findings=False`` the report keeps only totals. A record *fails* when
    it has an error finding, or any finding with ``strict``. ``rules``: as :func:`check_record`.
    """
    rep = report or ValidationReport(strict=strict)
    rep.strict = strict
    if file and file not in rep.inputs:
        rep.inputs.append(file)
    errors: Counter[str] = Counter(rep.errors)
    warnings: Counter[str] = Counter(rep.warnings)
    rejections: Counter[str] = Counter(rep.rejections)
    for index, rec in enumerate(records, start=1):
        item = _as_item(rec, index, file)
        if item.file not in rep.inputs:
            rep.inputs.append(item.file)
        if not item.ok:
            code = item.code if item.code in CODES else "not_json"
            findings = [Finding.make(code, "$", f"{item.error}; fix or remove the line", file=item.file, line=item.line)]
        else:
            _, findings = check_record(item.value, file=item.file, line=item.line, text=item.text, rules=rules)
        rep.read += 1
        error_codes = [f.code for f in findings if f.severity == "error"]
        warning_codes = [f.code for f in findings if f.severity != "error"]
        errors.update(error_codes)
        warnings.update(warning_codes)
        failed = bool(error_codes) or (strict and bool(warning_codes))
        if failed:
            rep.rejected += 1
            rejections.update(set(error_codes) | (set(warning_codes) if strict else set()))
        else:
            rep.kept += 1
        if keep_findings:
            rep.findings.extend(findings)
        if on_record is not None:
            on_record(item, findings, failed)
    rep.errors, rep.warnings, rep.rejections = dict(errors), dict(warnings), dict(rejections)
    return rep


def validate_files(
    paths: Iterable[str],
    *,
    strict: bool = False,
    keep_findings: bool = True,
    on_record: Callable[[Item, list[Finding], bool], None] | None = None,
    on_file_finding: Callable[[Finding], None] | None = None,
    rules: Rules | None = None,
) -> ValidationReport:
    """Validate every record of every file (``-`` = stdin), streaming; see :func:`validate_records`.

    A file that holds no record at all is an ``empty_file`` error (not tied to a record, so it is passed
    to ``on_file_finding``). Raises :class:`~fcdata.errors.InputError` for a file that cannot be opened.
    """
    rep = ValidationReport(strict=strict)
    for path in paths:
        shown = "<stdin>" if path == "-" else path
        before = rep.read
        items: Iterator[Item] = read_items(path)
        validate_records(items, file=shown, strict=strict, keep_findings=keep_findings, on_record=on_record, report=rep, rules=rules)
        if rep.read == before:
            finding = Finding.make("empty_file", "$", "the file holds no record; check the path (or the export that wrote it)", file=shown)
            rep.errors["empty_file"] = rep.errors.get("empty_file", 0) + 1
            rep.empty_inputs.append(shown)
            if keep_findings:
                rep.findings.append(finding)
            if on_file_finding is not None:
                on_file_finding(finding)
    return rep


def reject_line(item: Item, findings: Sequence[Finding]) -> str:
    """The rejects-file line of a failing record, in the one shape of :mod:`fcdata.rejects`: its findings
    are the reasons (with severity and JSON path), stage ``read`` when it could not be decoded, else
    ``validate``."""
    return dumps_line(reject_obj(item, findings, stage="validate" if item.ok else "read", format="canonical"))


class FindingsSpool:
    """Every finding of a run, kept in a temporary file rather than in memory, until the JSON report is
    written (:meth:`write_report`): a multi-GB input can have millions of findings, and the report
    lists them all while memory stays flat."""

    def __init__(self) -> None:
        import tempfile

        self._fh = tempfile.TemporaryFile("w+", encoding="utf-8")

    def add(self, finding: Finding) -> None:
        self._fh.write(dumps_line(finding.to_obj()))

    def write_report(self, path: str, report: ValidationReport) -> None:
        """Write ``{...report.summary(), "findings": [...]}`` to ``path`` atomically (``-``: stdout),
        streaming the findings, and close the spool."""
        from .write import atomic_open

        self._fh.seek(0)
        with atomic_open(path) as out:
            out.write("{\n")
            for key, value in report.summary().items():
                out.write(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
            out.write('  "findings": [')
            first = True
            for line in self._fh:
                out.write(("\n    " if first else ",\n    ") + line.rstrip("\n"))
                first = False
            out.write("\n  ]\n}\n" if not first else "]\n}\n")
        self.close()

    def close(self) -> None:
        self._fh.close()
