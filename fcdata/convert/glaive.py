"""Glaive function-calling v2, raw: ``{"system": "SYSTEM: ... -\\n{function}\\n\\n{function}\\n", "chat":
"USER: ...\\n\\n\\nASSISTANT: <functioncall> {...} <|endoftext|>\\n\\n\\nFUNCTION RESPONSE: ..."}``.

Reading it:

- ``system``: the prose before the first declaration becomes the system message (the ``SYSTEM:`` label
  removed); each pretty-printed JSON object after it is a function declaration. Rows that declare none
  ("with no access to external functions") become chats with no tools. System prompts and single
  declarations are cached by their text (a help where they repeat; in the full file most do not).
- ``chat``: a turn starts at ``USER:``, ``ASSISTANT:`` or ``FUNCTION RESPONSE:`` at the start of a line
  or right after ``<|endoftext|>``; ``<|endoftext|>`` ends assistant turns.
- a call is ``<functioncall> {"name": ..., "arguments": '<JSON text>'}``: the arguments are JSON text in
  single quotes (not JSON at all), decoded by :mod:`.arguments`; results link to calls by order.

Every quirk of the full 112,960-row file (tests/fixtures/shared/SOURCES.md) has a repair code or a
rejection code; docs/convert.md lists them with the reasoning.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any

from ..call_markup import find_call_markup
from ..read import Item
from .arguments import ARGS_DECODER, DECODER, ConflictingKey, NonFinite, arguments_field, arguments_object, conflicting_key_reject, parse_arguments_text
from .assemble import Context, assemble
from .turns import Call, Turn
from .encoding import ENCODER
from .finish import chat_outcome, fast_metadata_json, metadata_head, metadata_tail
from .ids import make_call_id
from .outcome import Converted, Reject
from .tools import Declared, ToolSet, declare, toolset_of

__all__ = ["convert_glaive", "parse_system", "split_turns", "parse_call"]

EOT = "<|endoftext|>"
CALL = "<functioncall>"

# a turn label at the start of the chat, after a newline, or right after <|endoftext|>
# a turn label starts the chat, follows a blank line, or follows <|endoftext|>; after a single line
# break it may be text quoting a dialogue, so such a chat is rejected rather than cut into turns
_MARKER = re.compile(r"(?:^|(?<=\n\n)|(?<=<\|endoftext\|>))[ \t]*(USER|ASSISTANT|FUNCTION RESPONSE):[ \t]?")
_LABEL_AFTER_ONE_NEWLINE = re.compile(r"(?:^|[^\n])\n[ \t]*(?:USER|ASSISTANT|FUNCTION RESPONSE):")
_INLINE_EOT = re.compile(r"[ \t]*<\|endoftext\|>[ \t]*(\n*)")
# the head of a call: {"name": "...", "arguments"|"parameters":
_HEAD = re.compile(r'\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"(arguments|parameters)"\s*:\s*')
_CLOSE_QUOTE = re.compile(r"'\s*\}")
_DECL_START = re.compile(r"(?:^|\n)[ \t]*\{")


# ------------------------------------------------------------------------------------------- system


class _System:
    """One Glaive ``system`` field, read once: its prose, declared tools, the digest of its text (part of
    the call ids' source), the system message as JSON, and the JSON around the messages of the plain
    rows that declare it (see :meth:`frame`)."""

    __slots__ = ("text", "tools", "digest", "hasher", "json", "_frames")

    def __init__(self, text: str, tools: ToolSet, digest: bytes, json_text: str) -> None:
        self.text = text
        self.tools = tools
        self.digest = digest
        # the call ids' hash, already fed the digest: a row's ids hash the digest, then the chat
        self.hasher = hashlib.blake2b(digest, digest_size=9)
        self.json = json_text
        self._frames: dict[tuple[str, int], tuple[str, str, list[str]]] = {}

    def frame(self, file: str, repair_bits: int) -> tuple[str, str, list[str]]:
        """What a plain row's line holds after its messages, split around its line number: ``(before,
        after, repairs)``, so that the line is ``'{"messages": [' + messages + before + str(line) +
        after``; the same bytes :func:`.finish.fast_metadata_json` writes, made once per file and set
        of repairs (``repair_bits``, an index into :data:`_PLAIN_REPAIRS`) instead of once per row."""
        found = self._frames.get((file, repair_bits))
        if found is None:
            tools = self.tools
            codes = _PLAIN_REPAIRS[repair_bits]
            rep = list(dict.fromkeys((*tools.repairs, *codes))) if tools.repairs else list(codes)
            found = ('], "tools": ' + tools.json + ', "metadata": ' + metadata_head(file), metadata_tail("glaive", tuple(rep)) + "}}", rep)
            self._frames[(file, repair_bits)] = found
        return found


@lru_cache(maxsize=8192)
def _system_cached(system: str) -> _System | Reject:
    """:func:`parse_system` and what the converter derives from it, cached: the full file repeats its
    system prompts thousands of times."""
    try:
        text, tools = parse_system(system)
    except Reject as rej:
        return rej
    digest = hashlib.blake2b(system.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return _System(text, tools, digest, ('{"role": "system", "content": ' + _S(text) + "}") if text else "")


@lru_cache(maxsize=16384)
def _declaration(text: str) -> Declared | None:
    """The declaration written as exactly ``text`` (one JSON object), cached by its text: Glaive reuses
    the same declarations across thousands of different system prompts. ``None`` when ``text`` is not
    exactly one object (the caller then decodes the system text itself) or the declaration is refused
    (recomputed by the caller to get the message)."""
    try:
        value, end = DECODER.raw_decode(text)
    except (ValueError, RecursionError):
        return None
    if end != len(text) or not isinstance(value, dict):
        return None
    try:
        return declare(value, 0, dialects=False)
    except Reject:
        return None


def parse_system(system: str) -> tuple[str, ToolSet]:
    """The system prose and the declared functions of a Glaive ``system`` field; raises :class:`Reject`."""
    text = system.strip()
    if text.startswith("SYSTEM:"):
        text = text[len("SYSTEM:") :].lstrip()
    prose: list[str] = []
    declared: list[Declared | None] = []
    pos = 0
    while True:
        m = _DECL_START.search(text, pos)
        if m is None:
            prose.append(text[pos:])
            break
        start = m.end() - 1
        prose.append(text[pos:start])
        # Glaive pretty-prints each declaration, so it normally ends at the first "}" at a line start
        close = text.find("\n}", start)
        d = _declaration(text[start : close + 2]) if close >= 0 else None
        if d is not None:
            declared.append(d)
            pos = close + 2
            continue
        try:
            value, end = DECODER.raw_decode(text, start)
        except NonFinite as exc:
            raise Reject("tool_declaration_not_json", f"system: a function declaration holds a number JSON cannot represent ({exc})") from None
        except (json.JSONDecodeError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise Reject("tool_declaration_not_json", f"system: the function declaration at character {start} is not valid JSON ({msg})") from None
        if not isinstance(value, dict):
            raise Reject("tool_declaration_not_json", "system: a function declaration is not a JSON object")
        declared.append(declare(value, len(declared), dialects=False))
        pos = end
    system_text = "\n\n".join(p.strip() for p in prose if p.strip())
    return system_text, toolset_of(declared)


# --------------------------------------------------------------------------------------------- chat


def split_turns(chat: str) -> list[tuple[str, str]]:
    """``(label, raw text)`` of each turn; text before the first label gets the label ``""``. Raises
    :class:`Reject` (``ambiguous_turn_label``) when a label follows a single line break.

    Fast path for the common layout (every turn starts right after ``\\n\\n\\n`` and no label text
    appears anywhere else): plain string splitting, several times faster than the regular expression,
    which handles everything else (labels after other line breaks or right after ``<|endoftext|>``)."""
    parts = chat.split("\n\n\n")
    if chat.count("USER:") + chat.count("ASSISTANT:") + chat.count("FUNCTION RESPONSE:") == len(parts):
        fast: list[tuple[str, str]] = [("", "")]
        for p in parts:
            if p.startswith("USER:"):
                fast.append(("USER", p[5:]))
            elif p.startswith("ASSISTANT:"):
                fast.append(("ASSISTANT", p[10:]))
            elif p.startswith("FUNCTION RESPONSE:"):
                fast.append(("FUNCTION RESPONSE", p[18:]))
            else:
                break
        else:
            return fast
    odd = _LABEL_AFTER_ONE_NEWLINE.search(chat)
    if odd is not None:
        at = odd.start() + (1 if chat[odd.start()] != "\n" else 0)
        raise Reject("ambiguous_turn_label", f"chat: {chat[at + 1 : at + 30].strip()!r} after a single line break at character {at}: a new turn, or text quoting a dialogue? (turns are separated by blank lines)")
    turns: list[tuple[str, str]] = []
    last_label = ""
    last_end = 0
    for m in _MARKER.finditer(chat):
        turns.append((last_label, chat[last_end : m.start()]))
        last_label = m.group(1)
        last_end = m.end()
    turns.append((last_label, chat[last_end:]))
    return turns


def _clean(body: str, label: str, repairs: list[str]) -> str:
    """The turn's text without whitespace around it and without ``<|endoftext|>`` (the normal end of an
    assistant turn; anywhere else a stray marker, recorded as ``stray_endoftext_removed``)."""
    body = body.strip()
    if EOT in body:
        if body.endswith(EOT):
            body = body[: -len(EOT)].rstrip()
            if label != "ASSISTANT":
                repairs.append("stray_endoftext_removed")
        if EOT in body:
            repairs.append("stray_endoftext_removed")
            body = _INLINE_EOT.sub(lambda m: "\n\n" if m.group(1) else " ", body).strip()
    return body


def _quick_json(text: str) -> Any:
    """The value of ``text`` when it is exactly one strict JSON value (no surrounding space), else
    :data:`_UNPARSED`; the C scanner alone, without ``json.loads``' Python wrapper."""
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError, RecursionError, ConflictingKey):
        return _UNPARSED  # (a key given twice with two values: parse_arguments_text names it)
    return value if end == len(text) else _UNPARSED


def _single_quoted(rest: str) -> tuple[str, Any, str]:
    """Split ``'<args>'} tail`` into the argument text, its value when it is plain JSON, and the tail
    after the call's closing brace. The closing quote is the first ``'`` followed by ``}`` after which
    the text is valid JSON (apostrophes inside the arguments are kept), else the last such quote."""
    if rest.endswith("'}"):
        body = rest[1:-2]
        value = _quick_json(body)
        if value is not _UNPARSED:
            return body, value, ""
    candidates = list(_CLOSE_QUOTE.finditer(rest, 1))
    if not candidates:
        raise Reject("call_truncated", "the call's arguments string never closes (the call is cut off)")
    for m in candidates:
        body = rest[1 : m.start()]
        try:
            return body, ARGS_DECODER.decode(body), rest[m.end() :]
        except (ValueError, RecursionError):
            continue
        except ConflictingKey:
            return body, _UNPARSED, rest[m.end() :]
    m = candidates[-1]
    return rest[1 : m.start()], _UNPARSED, rest[m.end() :]


_UNPARSED = object()
_SCAN = ARGS_DECODER.scan_once  # argument texts only: a key given twice with two values is refused
_S = ENCODER.string


def parse_call(payload: str, repairs: list[str]) -> tuple[Call, str]:
    """One ``<functioncall>`` payload: the call, and any text after it. Raises :class:`Reject`."""
    p = payload.strip()
    if not p:
        raise Reject("call_truncated", "an empty <functioncall>")
    if not p.startswith("{"):
        raise Reject("call_unparseable", f"a <functioncall> that is not a JSON object: {p[:60]!r}")
    m = _HEAD.match(p)
    if m is None:
        return _parse_call_json(p, repairs)
    raw_name = m.group(1)
    name = json.loads('"' + raw_name + '"') if "\\" in raw_name else raw_name
    if m.group(2) == "parameters":
        repairs.append("call_parameters_key")
    rest = p[m.end() :]
    if rest.startswith("'"):
        repairs.append("arguments_single_quoted")
        text, value, after = _single_quoted(rest)
        if value is _UNPARSED:
            value = parse_arguments_text(text, repairs)
        if "\n" in text:
            repairs.append("arguments_multiline")
    else:
        value, end = _decode_call_json(rest, name)
        if isinstance(value, dict):
            repairs.append("arguments_bare_object")
        elif isinstance(value, str):
            repairs.append("arguments_double_quoted")
            value = parse_arguments_text(value, repairs)
        tail = rest[end:].lstrip()
        if not tail.startswith("}"):
            if not tail:
                raise Reject("call_truncated", f"call {name!r}: the call ends before its closing brace")
            raise Reject("call_unparseable", f"call {name!r}: unexpected text after the arguments: {tail[:40]!r}")
        after = tail[1:]
    args = arguments_object(value, repairs)
    return Call(name, args), _after_call(after, repairs)


def _after_call(after: str, repairs: list[str]) -> str:
    tail = after.strip()
    if tail.startswith("}"):
        repairs.append("call_extra_brace")
        tail = tail.lstrip("}").strip()
    return tail


def _decode_call_json(text: str, name: str | None) -> tuple[Any, int]:
    """The JSON value at the start of ``text`` (the arguments of call ``name``, or with ``name``
    ``None`` a whole call) and where it ends. A value that runs to the end of the text, or a string left
    open, is a cut-off call (``call_truncated``); anything else that does not decode is
    ``call_unparseable``; NaN/Infinity are ``arguments_non_finite``. Messages are made only on failure."""
    try:
        # arguments (name given): a key twice with two values is refused; a whole call: plain JSON
        return (ARGS_DECODER if name is not None else DECODER).raw_decode(text)
    except ConflictingKey as exc:
        if name is None and exc.key in ("name", "arguments"):
            # the call object itself gives its name or its arguments twice: not an argument's key
            first, second = (json.dumps(v, ensure_ascii=False)[:60] for v in (exc.first, exc.second))
            raise Reject("json_duplicate_key", f"the call gives {exc.key!r} twice, {first} and {second}: which call was meant is unknown") from None
        raise conflicting_key_reject(exc) from None
    except NonFinite as exc:
        what = f"call {name!r}: arguments hold" if name is not None else "the call holds"
        raise Reject("arguments_non_finite", f"{what} a number JSON cannot represent ({exc})") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        if isinstance(exc, json.JSONDecodeError) and (exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated")):
            cut = f"call {name!r}: the call is cut off in its arguments" if name is not None else f"the call is cut off: {text[:60]!r}"
            raise Reject("call_truncated", cut) from None
        bad = f"call {name!r}: arguments are neither a quoted string nor JSON: {text[:60]!r}" if name is not None else f"the call is not JSON: {text[:60]!r}"
        raise Reject("call_unparseable", bad) from None


def _parse_call_json(p: str, repairs: list[str]) -> tuple[Call, str]:
    """A call that does not start with ``{"name": ..., "arguments":``: try it as plain JSON."""
    obj, end = _decode_call_json(p, None)
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise Reject("call_unparseable", f"the call has no function name: {p[:60]!r}")
    value = arguments_field(obj, repairs)
    if isinstance(value, dict):
        repairs.append("arguments_bare_object")
    elif isinstance(value, str):
        value = parse_arguments_text(value, repairs)
    return Call(obj["name"], arguments_object(value, repairs)), _after_call(p[end:], repairs)


_TRUNCATION = frozenset({"call_truncated", "arguments_truncated"})


def _assistant_turn(body: str, repairs: list[str], ctx: Context, last: bool) -> Turn | None:
    if CALL not in body:
        if not body:
            repairs.append("empty_turn_dropped")
            return None
        return Turn("assistant", body)
    pre, *payloads = body.split(CALL)
    calls: list[Call] = []
    local: list[str] = []  # repairs of this turn, kept only if the turn is
    tails: list[str] = []
    for payload in payloads:
        try:
            call, tail = parse_call(payload, local)
        except Reject as rej:
            if last and rej.reasons[0][0] in _TRUNCATION:
                # the chat was cut off inside its last call: drop that turn, keep what came before it
                repairs.append("truncated_call_dropped")
                ctx.note("dropped_text", {"message": None, "text": body})
                return None
            raise
        if tail:
            local.append("text_after_call_dropped")
            tails.append(tail)
        calls.append(call)
    repairs.extend(local)
    for tail in tails:
        ctx.note("dropped_text", {"message": None, "text": tail})
    return Turn("assistant", pre.strip() or None, calls)


# the states of _convert_plain: what the previous turn was
_AT_START, _AFTER_USER, _AFTER_TEXT, _AFTER_CALL, _AFTER_RESULT = range(5)


def _convert_plain(item: Item, value: dict[str, Any], chat: str, system: _System) -> Converted | None:
    """The common Glaive row, converted without the general machinery; ``None`` for anything else.

    A row is *plain* when its turns follow each other exactly as Mistral v0.3 wants them (user,
    assistant text or a single call written ``<functioncall> {"name": ..., "arguments": '<JSON>'}``,
    its function response, the next assistant turn...), it ends on an assistant turn or on the result
    of its last call (the row was cut off there: the result is dropped, ``trailing_tool_result_dropped``,
    as the general path does), and nothing else in it needs a repair beyond decoding the quoted
    arguments. Such a row gets exactly the output the general path (:func:`.assemble.assemble` and
    :func:`.finish.chat_outcome`) would give it; tests compare the two on every fixture and on generated
    chats. Anything else returns ``None`` and goes the general way. This path exists for speed: most of
    the 112,960 rows are plain, and the general path costs several times more per row: without this
    path ``convert`` took 2.2x the CPU time on the benchmark's repeated corpus (+119%, best of 7
    interleaved rounds of 50,000 records, 1.21 s against 2.65 s; wall time +77% to +121%), far above
    the 10% of the command's time a special case has to earn to stay.
    """
    parts = chat.split("\n\n\n")
    if chat.count("USER:") + chat.count("ASSISTANT:") + chat.count("FUNCTION RESPONSE:") != len(parts):
        return None
    # the messages are f-strings (one allocation each, cheaper than joining with +)
    to_json = _S
    tools = system.tools
    pieces = [system.json] if system.json else []  # each message's JSON, in order
    add = pieces.append
    repair_bits = 0  # which of _PLAIN_REPAIRS' codes apply: an index into it
    key: Any = None  # the call ids' hash of this row, made at its first call
    used: set[str] = set()
    n_calls = 0
    pending = ""  # name of the call waiting for its result
    pending_id = ""
    prev = _AT_START  # what the previous turn was
    for p in parts:
        first = p[:1]
        if first == "A" and p.startswith("ASSISTANT:"):
            if prev != _AFTER_USER and prev != _AFTER_RESULT:
                return None
            body = p[10:].strip()
            if body.endswith(EOT):
                body = body[:-13].rstrip()
            if not body or EOT in body:
                return None
            if body.startswith(CALL):
                # exactly <functioncall> {"name": "NAME", "arguments": '<JSON>'} (string operations; any
                # other spelling goes the general way, which reads it with a regular expression)
                call = body[14:].lstrip()
                j = call.find('", "arguments": \'', 10)
                if j < 0 or not call.startswith('{"name": "') or not call.endswith("'}") or CALL in call:
                    return None
                name = call[10:j]
                check = tools.checks.get(name)
                if check is None or '"' in name or "\\" in name:
                    return None
                text = call[j + 17 : -2]
                args = _quick_json(text)
                # the compiled check is trusted to say valid; anything else, the general path decides
                fast = check.fast
                if type(args) is not dict or fast is None or check.problem is not None:
                    return None
                try:
                    if not fast(args):
                        return None
                except (RecursionError, TypeError):
                    return None
                if key is None:
                    key = system.hasher.copy()
                    key.update(chat.encode("utf-8", "surrogatepass"))
                # the id CallIds gives the call at this position (a clash goes the general way)
                pending_id = make_call_id(key, n_calls)
                if pending_id in used:
                    return None
                used.add(pending_id)
                n_calls += 1
                pending = name
                repair_bits |= 3 if "\n" in text else 1
                add(f'{{"role": "assistant", "tool_calls": [{{"id": "{pending_id}", "type": "function", "function": {{"name": {to_json(name)}, "arguments": {ENCODER.encode(args)}}}}}]}}')
                prev = _AFTER_CALL
            elif CALL in body or find_call_markup(body) is not None:
                return None
            else:
                add(f'{{"role": "assistant", "content": {to_json(body)}}}')
                prev = _AFTER_TEXT
        elif first == "U" and p.startswith("USER:"):
            if prev != _AT_START and prev != _AFTER_TEXT:
                return None
            body = p[5:].strip()
            if not body or EOT in body:
                return None
            add(f'{{"role": "user", "content": {to_json(body)}}}')
            prev = _AFTER_USER
        elif first == "F" and p.startswith("FUNCTION RESPONSE:"):
            if prev != _AFTER_CALL:
                return None
            body = p[18:].strip()
            if EOT in body:
                return None
            add(f'{{"role": "tool", "content": {to_json(body)}, "tool_call_id": "{pending_id}", "name": {to_json(pending)}}}')
            prev = _AFTER_RESULT
        else:
            return None
    if prev == _AFTER_RESULT:
        # cut off after a call's result: the record ends on the call
        pieces.pop()
        repair_bits |= 4
    elif prev != _AFTER_TEXT and prev != _AFTER_CALL:
        return None
    if len(pieces) < 2:
        return None
    if len(value) != 2 or "system" not in value:
        # top-level keys beyond system and chat are kept as source_extra
        extra = {k: v for k, v in value.items() if k != "system" and k != "chat"}
        rep = list(_PLAIN_REPAIRS[repair_bits])
        rep = list(dict.fromkeys((*tools.repairs, *rep))) if tools.repairs else rep
        try:
            line = "".join(['{"messages": [', ", ".join(pieces), '], "tools": ', tools.json, ', "metadata": ', fast_metadata_json(item, "glaive", rep, extra), "}"])
        except (ValueError, TypeError, RecursionError):
            return None
    else:
        before, after, shared = system.frame(item.file, repair_bits)
        rep = list(shared)
        line = "".join(['{"messages": [', ", ".join(pieces), before, str(item.line), after])
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return Converted(item, "glaive", rep, line)


# the repairs a plain row can need, by a code of three bits: 1 arguments single-quoted, 2 multi-line, 4 a
# trailing result dropped
_PLAIN_REPAIRS: tuple[tuple[str, ...], ...] = tuple(
    tuple(code for bit, code in ((1, "arguments_single_quoted"), (2, "arguments_multiline"), (4, "trailing_tool_result_dropped")) if bits & bit)
    for bits in range(8)
)


def convert_glaive(item: Item, value: dict[str, Any]) -> Converted:
    """Convert one Glaive v2 raw row; raises :class:`Reject`."""
    system = value.get("system", "")
    chat = value.get("chat")
    if type(system) is not str:
        if system is None:
            system = ""
        elif not isinstance(system, str):
            raise Reject("wrong_type", f"system: expected a string, got {type(system).__name__}")
    if type(chat) is not str and not isinstance(chat, str):
        if chat is None:
            raise Reject("missing_field", "chat: a Glaive row needs a `chat` string")
        raise Reject("wrong_type", f"chat: expected a string, got {type(chat).__name__}")
    parsed = _system_cached(system)
    if type(parsed) is not _System:
        raise parsed
    fast = _convert_plain(item, value, chat, parsed)
    if fast is not None:
        return fast
    system_text, tools, system_digest = parsed.text, parsed.tools, parsed.digest

    ctx = Context(lambda: system_digest + chat.encode("utf-8", "surrogatepass"))
    repairs = ctx.repairs
    raw_turns = split_turns(chat)
    turns: list[Turn] = [Turn("system", system_text)] if system_text else []
    head = raw_turns[0][1].strip()
    if head:
        raise Reject("glaive_unlabelled_text", f"chat: text before the first USER:/ASSISTANT: label: {head[:60]!r}")
    n = len(raw_turns)
    for k in range(1, n):
        label, raw = raw_turns[k]
        body = _clean(raw, label, repairs)
        if label == "ASSISTANT":
            turn = _assistant_turn(body, repairs, ctx, last=k == n - 1)
            if turn is not None:
                turns.append(turn)
        elif label == "USER":
            if body:
                turns.append(Turn("user", body))
            else:
                repairs.append("empty_turn_dropped")
        else:
            turns.append(Turn("tool", body))
    if len(turns) == (1 if system_text else 0):
        raise Reject("empty_conversation", "chat: no USER:/ASSISTANT: turns")
    messages = assemble(turns, tools, ctx)
    extra = {k: v for k, v in value.items() if k not in ("system", "chat")} or None
    return chat_outcome(item, "glaive", messages, tools, ctx, extra)
