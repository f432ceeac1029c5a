"""Turn a model's reply into what it said: plain text, tool calls, or a parse failure.

A Mistral assistant turn is text, tool calls, or (v7 and later) text then calls, then ``</s>``. Decoded
to text with its special tokens kept, a reply looks like one of::

    The weather in Paris is sunny.</s>
    [TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]</s>        v2-v7
    [TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{"city": "Paris"}</s>              v11
    [TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]f[ARGS]{}</s>           v11, v13

The rules mirror mistral-common's own decoder (``mistral_common.experimental.tools``:
``_split_content_and_tool_calls``, ``_decode_tool_calls_v2_up_to_v7``, ``_decode_tool_call_v11`` and
``..._with_call_id``): whatever comes before the first ``[TOOL_CALLS]`` is content; every
``[TOOL_CALLS]`` starts one payload. A payload that starts with ``[`` is the v2-v7 form: a JSON *list*
whose elements are objects with a string ``"name"`` and an object ``"arguments"``. Any other payload is
the v11 form: a function name, optionally ``[CALL_ID]`` and an id, then ``[ARGS]`` and a JSON object (a
function name never starts with ``[``, so the two forms cannot be mistaken for each other and no
version needs to be given). ``</s>`` (and anything generated after it) is not part of the reply. As in
mistral-common, ``arguments`` must be present and be an object: a model that writes
``"arguments": "{...}"`` (a string) has not produced a Mistral call.

A reply that claims a call (it holds ``[TOOL_CALLS]``) but breaks any of those rules is a *parse failure*:
reported as such, with the reason, and never taken for an abstention or for a wrong call. Scorers decide
what a parse failure is worth; this module only says what was written.

The generated token ids themselves can be parsed too (:func:`parse_reply_ids`, the exact form: the
control ids are found as ids, then each piece is decoded). Already-structured predictions
(``{"tool_calls": [...]}`` or ``{"content": ...}``) are read by :func:`reply_from_prediction`, with the
same rules for each call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal, Mapping, Sequence

from .bfcl import is_function_calling_format_output

__all__ = [
    "TOOL_CALLS",
    "EOS",
    "Call",
    "ParsedReply",
    "parse_reply",
    "parse_reply_ids",
    "reply_syntax",
    "SYNTAXES",
    "reply_from_calls",
    "reply_from_prediction",
    "bfcl_decode_result",
    "PredictionShapeError",
]

TOOL_CALLS = "[TOOL_CALLS]"
ARGS = "[ARGS]"
CALL_ID = "[CALL_ID]"
EOS = "</s>"
BOS = "<s>"

ReplyKind = Literal["text", "calls", "parse_failure"]

# the call syntax a tokenizer version writes: "json" (v2-v7: a JSON list of {"name", "arguments", "id"}),
# "v11" (name [CALL_ID] id [ARGS] {arguments}), "v13" (v13 and later: name [ARGS] {arguments}, no id)
Syntax = Literal["json", "v11", "v13"]
SYNTAXES: tuple[str, ...] = ("json", "v11", "v13")
_SYNTAX_FORMS = {"json": "a JSON list of calls", "v11": "name[CALL_ID]id[ARGS]{...}", "v13": "name[ARGS]{...}"}


def reply_syntax(tokenizer: Any) -> Syntax | None:
    """The call syntax of a tokenizer's version (an fcdata tokenizer's ``version``): what a model of that
    version writes, and all that the scorer accepts from it when given. ``None`` (no tokenizer): any form."""
    version = getattr(tokenizer, "version", None)
    if not isinstance(version, str):
        return None
    if version in ("v1", "v2", "v3", "v7"):
        return "json"
    return "v11" if version == "v11" else "v13"


def _syntax_error(where: str, syntax: Syntax | None, v11_form: bool, call_id: str | None = None) -> str | None:
    """Why a payload's form is not the one ``syntax`` writes (``None`` when it is, or for any form)."""
    if syntax is None:
        return None
    if syntax == "json" and v11_form:
        return f"{where}: the name[ARGS]{{...}} form, which this tokenizer version does not write (expected {_SYNTAX_FORMS['json']})"
    if syntax != "json" and not v11_form:
        return f"{where}: expected {_SYNTAX_FORMS[syntax]} (this tokenizer version's call syntax), not a JSON list"
    if syntax == "v13" and call_id is not None:
        return f"{where}: a [CALL_ID] id, which v13 and later versions never write"
    return None


@dataclass(frozen=True)
class Call:
    """One tool call as the model wrote it. ``arguments`` is the parsed JSON object."""

    name: str
    arguments: dict[str, Any]
    id: str | None = None

    def to_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"name": self.name, "arguments": self.arguments}
        if self.id is not None:
            obj["id"] = self.id
        return obj


@dataclass(frozen=True)
class ParsedReply:
    """What a reply says.

    ``kind`` is ``"text"`` (no call claimed), ``"calls"`` (every payload parsed; ``calls`` may be empty
    when the model wrote ``[TOOL_CALLS][]``) or ``"parse_failure"`` (a call was claimed but could not be
    read; ``error`` says why). ``text`` is the content: the whole reply for text, whatever came before
    the first ``[TOOL_CALLS]`` otherwise.
    """

    kind: ReplyKind
    text: str = ""
    calls: tuple[Call, ...] = field(default_factory=tuple)
    error: str | None = None
    # for a BFCL result line (``{"result": ...}``): what BFCL's Mistral handler decodes it to, when its
    # decode succeeds (``None`` otherwise, and for every other shape); the BFCL checker scores this
    bfcl_decoded: list[Any] | None = field(default=None, compare=False, repr=False)
    # False for a reply that hit the generation limit before </s> (a prediction's ``"finished": false``)
    finished: bool = field(default=True, compare=False, repr=False)

    @property
    def has_calls(self) -> bool:
        """True when the reply parsed and holds at least one call."""
        return self.kind == "calls" and len(self.calls) > 0

    @property
    def claims_call(self) -> bool:
        """True when the reply decided to call a tool: calls that parsed, or ones that did not."""
        return self.has_calls or self.kind == "parse_failure"

    def to_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"kind": self.kind}
        if self.kind == "calls":
            obj["calls"] = [c.to_obj() for c in self.calls]
        if self.text:
            obj["text"] = self.text
        if self.error is not None:
            obj["error"] = self.error
        return obj


class PredictionShapeError(ValueError):
    """A prediction object that has none (or more than one) of the accepted shapes."""


def _failure(text: str, reason: str) -> ParsedReply:
    return ParsedReply("parse_failure", text=text, error=reason)


def _call_from_obj(obj: Any, where: str) -> Call | str:
    """A :class:`Call` from one decoded call object, or the reason it is not one."""
    if not isinstance(obj, dict):
        return f"{where}: expected an object with \"name\" and \"arguments\", got {_kind(obj)}"
    name = obj.get("name")
    if "name" not in obj:
        return f"{where}: missing \"name\""
    if not isinstance(name, str) or not name:
        return f"{where}.name: expected a non-empty string, got {_kind(name)}"
    if "arguments" not in obj:
        return f"{where}: missing \"arguments\""
    arguments = obj["arguments"]
    if not isinstance(arguments, dict):
        return f"{where}.arguments: expected a JSON object, got {_kind(arguments)}"
    call_id = obj.get("id")
    return Call(name, arguments, call_id if isinstance(call_id, str) else None)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_DECODER = json.JSONDecoder()
_JSON_WS = " \t\n\r"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


def _strip_bos(text: str) -> str:
    stripped = text.lstrip()
    return stripped[len(BOS):] if stripped.startswith(BOS) else text


def _json_error(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at column {exc.colno})"
    return f"not JSON ({exc})"


def _calls_from_list(decoded: Any, where: str) -> list[Call] | str:
    """The calls of one decoded payload, or the reason it is not a list of calls."""
    if not isinstance(decoded, list):
        return f"{where}: expected a JSON list of calls, got {_kind(decoded)}"
    calls = []
    for position, obj in enumerate(decoded):
        call = _call_from_obj(obj, f"{where}[{position}]")
        if isinstance(call, str):
            return call
        calls.append(call)
    return calls


def parse_reply(text: str, *, require_marker: bool = True, syntax: Syntax | None = None) -> ParsedReply:
    """Parse one raw reply, decoded to text with its special tokens kept as text (e.g. Hugging Face
    ``tokenizer.decode(ids, skip_special_tokens=False)``; for token ids use :func:`parse_reply_ids`).

    >>> parse_reply('[TOOL_CALLS] [{"name": "f", "arguments": {"x": 1}}]</s>').calls
    (Call(name='f', arguments={'x': 1}, id=None),)
    >>> parse_reply("Hello!</s>").kind
    'text'
    >>> parse_reply('[TOOL_CALLS] [{"name": "f", "arguments": {"x": 1}').kind
    'parse_failure'

    Each payload is decoded as JSON where it starts, so a ``</s>`` or ``[TOOL_CALLS]`` *inside* a JSON
    string is data, not a control token (in text form the two cannot otherwise be told apart; the ids
    can, see :func:`parse_reply_ids`). After a payload only whitespace, ``</s>``, the end of the text or
    another ``[TOOL_CALLS]`` may follow.

    With ``require_marker=False`` a reply that is *nothing but* a JSON list of call objects also counts
    as calls (for text decoded with ``skip_special_tokens=True``, which drops ``[TOOL_CALLS]``); any other
    text stays text. Never raises on any string.

    ``syntax`` (:func:`reply_syntax` of the model's tokenizer): accept only the call form that version
    writes; another form is a parse failure (mistral-common's decoder for that version refuses it too).
    Default: either form.
    """
    if not isinstance(text, str):
        raise TypeError(f"a reply is a string, got {type(text).__name__}")
    eos = text.find(EOS)
    head = text if eos < 0 else text[:eos]
    marker = head.find(TOOL_CALLS)
    if marker < 0:
        body = _strip_bos(head)
        if not require_marker:
            bare = _bare_calls(text)
            if bare is not None:
                return bare
        return ParsedReply("text", text=body)
    content = _strip_bos(text[:marker])
    calls: list[Call] = []
    pos, number = marker, 0
    while True:
        number += 1
        where = f"[TOOL_CALLS] payload {number}" if number > 1 else "[TOOL_CALLS] payload"
        start = _skip_ws(text, pos + len(TOOL_CALLS))
        if start >= len(text) or text.startswith(EOS, start) or text.startswith(TOOL_CALLS, start):
            return _failure(content, f"{where}: empty (nothing after [TOOL_CALLS])")
        v11_form = _is_v11(text, start)
        wrong = _syntax_error(where, syntax, v11_form)
        if wrong is not None:
            return _failure(content, wrong)
        if v11_form:  # v11 form: name [CALL_ID] id [ARGS] {arguments}
            found_call, end = _v11_call(text, start, where)
            if isinstance(found_call, str):
                return _failure(content, found_call)
            wrong = _syntax_error(where, syntax, True, found_call.id)
            if wrong is not None:
                return _failure(content, wrong)
            calls.append(found_call)
        else:
            try:
                decoded, end = _DECODER.raw_decode(text, start)
            except (ValueError, RecursionError) as exc:
                return _failure(content, f"{where}: {_json_error(exc)}")
            found = _calls_from_list(decoded, where)
            if isinstance(found, str):
                return _failure(content, found)
            calls.extend(found)
        pos = _skip_ws(text, end)
        if pos >= len(text) or text.startswith(EOS, pos):
            return ParsedReply("calls", text=content, calls=tuple(calls))
        if not text.startswith(TOOL_CALLS, pos):
            return _failure(content, f"{where}: unexpected text after the {'arguments' if _is_v11(text, start) else 'JSON list'}: {text[pos:pos + 30]!r}")


def _is_v11(text: str, start: int) -> bool:
    """Whether the payload at ``start`` is in the v11 form: it does not open a JSON list or object, and
    an ``[ARGS]`` follows before the next ``[TOOL_CALLS]`` or ``</s>``."""
    start = _skip_ws(text, start)
    if start >= len(text) or text[start] in "[{":
        return False
    args_at = text.find(ARGS, start)
    if args_at < 0:
        return False
    stop = min((i for i in (text.find(TOOL_CALLS, start), text.find(EOS, start)) if i >= 0), default=len(text))
    return args_at < stop


def _v11_call(text: str, start: int, where: str) -> tuple[Call | str, int]:
    """One v11 call written as text from ``start`` (just after ``[TOOL_CALLS]``): the call or the
    reason it is not one, and where it ends."""
    args_at = text.find(ARGS, start)
    stop = min((i for i in (text.find(TOOL_CALLS, start), text.find(EOS, start)) if i >= 0), default=len(text))
    if args_at < 0 or args_at > stop:
        return f"{where}: no [ARGS] after the function name (v11 form: name[ARGS]{{...}})", stop
    head = text[start:args_at]
    call_id: str | None = None
    if CALL_ID in head:
        head, call_id = head.split(CALL_ID, 1)
        call_id = call_id.strip()
    name = head.strip()
    if not name:
        return f"{where}.name: expected a non-empty function name before [ARGS]", args_at
    arg_start = _skip_ws(text, args_at + len(ARGS))
    try:
        arguments, end = _DECODER.raw_decode(text, arg_start)
    except (ValueError, RecursionError) as exc:
        return f"{where}.arguments: {_json_error(exc)}", arg_start
    if not isinstance(arguments, dict):
        return f"{where}.arguments: expected a JSON object, got {_kind(arguments)}", end
    return Call(name, arguments, call_id or None), end


def _from_parts(content: str, payloads: list[str | Call], syntax: Syntax | None = None) -> ParsedReply:
    """Content and each ``[TOOL_CALLS]`` block (the token-id path): a v11-form call already cut at its
    control ids, or the text of a JSON-form block decoded on its own."""
    calls: list[Call] = []
    for index, payload in enumerate(payloads):
        where = f"[TOOL_CALLS] payload {index + 1}" if index else "[TOOL_CALLS] payload"
        if isinstance(payload, Call):
            wrong = _syntax_error(where, syntax, True, payload.id)
            if wrong is not None:
                return _failure(content, wrong)
            calls.append(payload)
            continue
        if payload.startswith(_FAILED):
            return _failure(content, payload[len(_FAILED) :])
        if not payload.strip():
            return _failure(content, f"{where}: empty (nothing after [TOOL_CALLS])")
        wrong = _syntax_error(where, syntax, False)
        if wrong is not None:
            return _failure(content, wrong)
        try:
            decoded = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            return _failure(content, f"{where}: {_json_error(exc)}")
        found = _calls_from_list(decoded, where)
        if isinstance(found, str):
            return _failure(content, found)
        calls.extend(found)
    return ParsedReply("calls", text=content, calls=tuple(calls))


# control token ids of the Mistral v3 SentencePiece tokenizer (mistral-v3-format.md), the default
BOS_ID, EOS_ID, TOOL_CALLS_ID = 1, 2, 5


@lru_cache(maxsize=1)
def _v3_text_tokenizer() -> Any:
    """mistral-common's SentencePiece tokenizer for the v3 model it ships (decodes ids to text)."""
    import os

    import mistral_common
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    path = os.path.join(os.path.dirname(mistral_common.__file__), "data", "mistral_instruct_tokenizer_240323.model.v3")
    return MistralTokenizer.from_file(path).instruct_tokenizer.tokenizer


_FAILED = "\x00failed:"  # a payload of the id path that could not be cut into a call: the reason follows


def _v11_call_ids(segment: list[int], decode: Any, args_id: int, call_id_id: int | None, where: str) -> Call | str:
    """A v11-form call from the ids after one ``[TOOL_CALLS]``, cut at the ``[ARGS]`` and ``[CALL_ID]``
    control ids as mistral-common's decoder cuts them (``_split_tokens_by_one_occurrence_control_token``):
    text that merely spells ``[ARGS]`` is part of the name or the arguments, never the control token."""
    k = segment.index(args_id)
    head, tail = segment[:k], segment[k + 1 :]
    if args_id in tail or (call_id_id is not None and call_id_id in tail):
        return f"{where}: a second [ARGS] or a [CALL_ID] after the arguments"
    call_id = None
    if call_id_id is not None and call_id_id in head:
        j = head.index(call_id_id)
        if call_id_id in head[j + 1 :]:
            return f"{where}: two [CALL_ID] tokens in one call"
        head, call_id = head[:j], decode(head[j + 1 :]).strip() if head[j + 1 :] else ""
    name = decode(head).strip() if head else ""
    if not name:
        return f"{where}.name: expected a non-empty function name before [ARGS]"
    text = decode(tail) if tail else ""
    try:
        arguments, end = _DECODER.raw_decode(text, _skip_ws(text, 0))
    except (ValueError, RecursionError) as exc:
        return f"{where}.arguments: {_json_error(exc)}"
    if text[end:].strip():
        return f"{where}: unexpected text after the arguments: {text[end:end + 30]!r}"
    if not isinstance(arguments, dict):
        return f"{where}.arguments: expected a JSON object, got {_kind(arguments)}"
    return Call(name, arguments, call_id or None)


def parse_reply_ids(ids: Sequence[int], tokenizer: Any = None, *, syntax: Syntax | None = None) -> ParsedReply:
    """Parse a reply given as the generated token ids, control tokens included.

    This is the exact form: the reply is cut at the first ``</s>``, split at every ``[TOOL_CALLS]`` as
    mistral-common's ``_split_content_and_tool_calls`` does, a v11 call's ``[CALL_ID]`` and ``[ARGS]``
    are found as ids too, and each piece is decoded to text on its own before the rules of
    :func:`parse_reply` apply. ``tokenizer`` needs a ``decode(ids) -> str`` that drops control tokens;
    an fcdata tokenizer (:func:`fcdata.tokenizer.load_tokenizer`) also gives the control ids of its
    version (Tekken's ``[TOOL_CALLS]`` is 9, not 5). Default: the v3 tokenizer shipped in
    mistral-common. Prefer this to text decoded with mistral-common's ``SpecialTokenPolicy.KEEP``, which
    yields SentencePiece pieces (``▁`` for spaces), not text. Ids outside the tokenizer's vocabulary (a
    prediction made with another tokenizer) raise :class:`PredictionShapeError`, never decoded as
    something else.
    ``syntax``: as :func:`parse_reply`.
    """
    ids = [int(i) for i in ids]
    bos, eos, tool_calls = (getattr(tokenizer, a, None) for a in ("bos_id", "eos_id", "tool_calls_id"))
    if not isinstance(tool_calls, int):
        bos, eos, tool_calls = BOS_ID, EOS_ID, TOOL_CALLS_ID
    args_id = getattr(tokenizer, "args_id", None)
    call_id_id = getattr(tokenizer, "call_id_id", None)
    if eos in ids:
        ids = ids[: ids.index(eos)]
    if ids and ids[0] == bos:
        ids = ids[1:]
    decoder = tokenizer if tokenizer is not None else _v3_text_tokenizer()
    size = getattr(decoder, "vocab_size", None)
    size = size if isinstance(size, int) else getattr(decoder, "n_words", None)
    if isinstance(size, int):
        outside = next((t for t in ids if not 0 <= t < size), None)
        if outside is not None:
            raise PredictionShapeError(f"token id {outside} is outside the tokenizer's vocabulary of {size}: the ids come from another tokenizer (score them with the model's: --tokenizer)")
    markers = {t: m for t, m in ((args_id, ARGS), (call_id_id, CALL_ID)) if isinstance(t, int)}
    segments: list[list[int]] = [[]]
    for token in ids:
        if token == tool_calls:
            segments.append([])
        else:
            segments[-1].append(token)

    def text_of(segment: list[int]) -> str:
        out, run = [], []
        for t in segment:
            if t in markers:
                out.append(decoder.decode(run) if run else "")
                out.append(markers[t])
                run = []
            else:
                run.append(t)
        out.append(decoder.decode(run) if run else "")
        return "".join(out)

    payloads: list[str | Call] = []
    for index, segment in enumerate(segments[1:]):
        if isinstance(args_id, int) and args_id in segment:
            where = f"[TOOL_CALLS] payload {index + 1}" if index else "[TOOL_CALLS] payload"
            call = _v11_call_ids(segment, decoder.decode, args_id, call_id_id if isinstance(call_id_id, int) else None, where)
            payloads.append(call if isinstance(call, Call) else _FAILED + call)
        elif segment and any(t in markers for t in segment):
            payloads.append(_FAILED + f"[TOOL_CALLS] payload {index + 1 if index else ''}".rstrip() + ": a [CALL_ID] with no [ARGS] control token")
        else:
            # the JSON form; a name followed by text that only spells "[ARGS]" is not a call either
            payloads.append(text_of(segment) if segment else "")
    content = text_of(segments[0]) if segments[0] else ""
    if not payloads:
        return ParsedReply("text", text=content)
    return _from_parts(content, payloads, syntax)


def _bare_calls(text: str) -> ParsedReply | None:
    """Calls from a reply that is only a JSON list of call objects (then ``</s>`` or the end)."""
    start = _skip_ws(text, 0)
    if not text.startswith("[", start):
        return None
    try:
        decoded, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    rest = _skip_ws(text, end)
    if rest < len(text) and not text.startswith(EOS, rest):
        return None
    found = _calls_from_list(decoded, "reply")
    if isinstance(found, str) or not found:
        return None
    return ParsedReply("calls", calls=tuple(found))


def reply_from_calls(tool_calls: Any) -> ParsedReply:
    """Structured calls: ``[{"name", "arguments"}]`` or OpenAI's ``[{"type": "function", "function":
    {"name", "arguments"}, "id"}]``. ``arguments`` may be an object or a string holding one (the OpenAI
    wire form); anything else is a parse failure, as in :func:`parse_reply`."""
    if tool_calls is None:
        return ParsedReply("calls")
    if not isinstance(tool_calls, list):
        return _failure("", f"tool_calls: expected a list, got {_kind(tool_calls)}")
    calls: list[Call] = []
    for position, obj in enumerate(tool_calls):
        where = f"tool_calls[{position}]"
        if isinstance(obj, dict) and isinstance(obj.get("function"), dict) and "name" not in obj:
            inner = dict(obj["function"])
            if "id" in obj and "id" not in inner:
                inner["id"] = obj["id"]
            obj, where = inner, where + ".function"
        if isinstance(obj, dict) and isinstance(obj.get("arguments"), str):
            raw = obj["arguments"]
            try:
                obj = {**obj, "arguments": json.loads(raw)}
            except (ValueError, RecursionError):
                return _failure("", f"{where}.arguments: a string that is not JSON: {raw[:60]!r}")
        call = _call_from_obj(obj, where)
        if isinstance(call, str):
            return _failure("", call)
        calls.append(call)
    return ParsedReply("calls", calls=tuple(calls))


# the keys that say which shape a prediction has, in the order they are looked for
SHAPE_KEYS = ("output", "tool_calls", "content", "result")


def reply_from_prediction(obj: Mapping[str, Any], *, require_marker: bool = True, tokenizer: Any = None) -> ParsedReply:
    """The reply held by one prediction object.

    Shapes (exactly one of these keys; ``id`` and other keys are ignored here):

    - ``{"output": "<raw generated text>"}``: parsed by :func:`parse_reply` (a list of token ids, by
      :func:`parse_reply_ids`);
    - ``{"tool_calls": [{"name", "arguments"}, ...]}``: structured calls (``[]``/``null`` = no call);
    - ``{"content": "..."}``: a text reply, taken as written (never searched for calls);
    - ``{"result": ...}``: a line of a BFCL result file, read exactly as BFCL's Mistral handler reads
      it (:func:`bfcl_decode_result`): a list of ``{name: "<arguments as a JSON string>"}`` objects, or
      the model's text (a string, taken as written, never searched for calls).

    ``{"tool_calls": null, "content": "..."}`` (an OpenAI message) is a text reply. ``"finished":
    false`` (as ``fcdata eval`` writes for a reply that hit its token limit before ``</s>``) is kept as
    :attr:`ParsedReply.finished`: the reference-mode comparison never counts such a reply as right. Raises
    :class:`PredictionShapeError` when no shape (or a conflicting pair) is present.

    ``tokenizer`` (the model's, :func:`fcdata.tokenizer.load_tokenizer`): token ids are decoded with it
    and its control ids, and ``output`` (ids or text) is held to its version's call syntax
    (:func:`reply_syntax`). Without it, ids are read as v3 SentencePiece ids and either syntax passes.
    """
    reply = _reply_of_shape(obj, require_marker=require_marker, tokenizer=tokenizer)
    if obj.get("finished") is False:
        return replace(reply, finished=False)
    return reply


def _reply_of_shape(obj: Mapping[str, Any], *, require_marker: bool, tokenizer: Any = None) -> ParsedReply:
    present = [k for k in SHAPE_KEYS if k in obj and not (k == "tool_calls" and obj[k] is None and "content" in obj)]
    if len(present) != 1:
        if not present:
            raise PredictionShapeError(f"needs one of {', '.join(repr(k) for k in SHAPE_KEYS)}")
        raise PredictionShapeError(f"has {' and '.join(repr(k) for k in present)}; give only one")
    key = present[0]
    value = obj[key]
    if key == "output":
        if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return parse_reply_ids(value, tokenizer, syntax=reply_syntax(tokenizer))
        if not isinstance(value, str):
            raise PredictionShapeError(f"'output' must be the raw generated text or its token ids, got {_kind(value)}")
        return parse_reply(value, require_marker=require_marker, syntax=reply_syntax(tokenizer))
    if key == "tool_calls":
        return reply_from_calls(value)
    if key == "content":
        if value is None:
            return ParsedReply("text")
        if not isinstance(value, str):
            raise PredictionShapeError(f"'content' must be a string, got {_kind(value)}")
        return ParsedReply("text", text=value)
    return _reply_from_bfcl_result(value)


def _bfcl_decode_failure(value: Any) -> str:
    """Why ``MistralHandler.decode_ast`` cannot decode ``value`` (only called once it has failed)."""
    if not isinstance(value, list):
        return f"result: expected a list of {{name: arguments}} objects, got {_kind(value)}"
    for position, item in enumerate(value):
        where = f"result[{position}]"
        if not isinstance(item, dict):
            return f"{where}: expected an object {{name: arguments}}, got {_kind(item)}"
        if not item:
            return f"{where}: an empty object (no function name)"
        name, arguments = next(iter(item.items()))
        if not isinstance(arguments, str):
            return f"{where}.{name}: arguments must be a string holding JSON (BFCL json.loads it), got {_kind(arguments)}"
        try:
            json.loads(arguments)
        except Exception as exc:  # noqa: BLE001 - whatever json.loads raises
            return f"{where}.{name}: arguments are {_json_error(exc)}"
    return "result: cannot be decoded"


def bfcl_decode_result(value: Any) -> list[Any]:
    """Decode a BFCL result value exactly as BFCL's ``MistralHandler.decode_ast`` does in
    function-calling mode: for each element, ``name = list(element.keys())[0]`` and ``params =
    json.loads(element[name])``, giving ``[{name: params}]``. Whatever that raises is raised (BFCL's
    runners catch any ``Exception`` as a decoding failure). So a string is iterated character by
    character (fails unless empty: ``""`` decodes to ``[]``), extra keys of an element are ignored, and
    arguments given as an object rather than a JSON string fail. The output may still not be in
    function-calling format (params that are not an object), which BFCL checks next.
    """
    decoded: list[Any] = []
    for invoked_function in value:
        name = list(invoked_function.keys())[0]
        params = json.loads(invoked_function[name])
        decoded.append({name: params})
    return decoded


def _reply_from_bfcl_result(value: Any) -> ParsedReply:
    """A BFCL result line read as BFCL reads it (:func:`bfcl_decode_result`): a string is the model's
    text; what decodes to well-formed calls is calls (an element's first key only); anything else is a
    parse failure. ``bfcl_decoded`` keeps BFCL's decoded output for the BFCL checker."""
    try:
        decoded: list[Any] | None = bfcl_decode_result(value)
    except Exception:  # noqa: BLE001 - BFCL's runners treat any exception as a decoding failure
        decoded = None
    if isinstance(value, str):
        return ParsedReply("text", text=value, bfcl_decoded=decoded)
    if decoded is None:
        return _failure("", _bfcl_decode_failure(value))
    if not is_function_calling_format_output(decoded):
        # every element of a decoded output is {name: params}; here some params are not an object
        position, name, params = next((i, n, p) for i, d in enumerate(decoded) for n, p in d.items() if type(p) is not dict)
        reason = f"result[{position}].{name}: arguments decode to {_kind(params)}, not an object"
        return ParsedReply("parse_failure", error=reason, bfcl_decoded=decoded)
    calls = tuple(Call(name, params) for item in decoded for name, params in item.items())
    return ParsedReply("calls", calls=calls, bfcl_decoded=decoded)
