"""OpenAI-style chats: ``{"messages", "tools"}`` (what mistral-finetune documents, and fcdata's own
canonical records), the legacy ``functions`` / ``function_call`` / role ``function`` form, and a
chat-completion request dumped with its reply (``{"request": {"messages", "tools"}, "message": {...}}``,
read as the request's messages followed by the reply as the final assistant turn).

Normalised here: content given as a list of parts (text parts joined), ``content: null``, tool calls
without ``type`` or without ids, ``call_...`` ids (remapped to 9 characters, in calls and results),
results linked by id, name or order, ``{"type": "code_interpreter"}`` tools (declared as a ``python``
function whose raw-code arguments are wrapped as ``{"code": ...}``), functionary's per-message
``metadata.masked`` (weight 0), Python reprs as tool results (written as JSON). Keys a canonical message
does not have are dropped with a repair code; the record's own ``metadata`` is kept.
"""

from __future__ import annotations

import json
from typing import Any

from ..read import Item
from .arguments import arguments_field, arguments_object, loads_finite, parse_arguments_text
from .assemble import Context, assemble
from .turns import Call, Turn
from .encoding import KEY_ENCODER
from .finish import chat_outcome
from .outcome import Converted, Reject
from .markup import calls_from_value
from ..call_markup import strip_leading_blank_lines
from .results import split_result_lists, tool_result_text
from .tools import EMPTY_TOOLSET, ToolSet, build_toolset, read_declarations, toolset_from_declarations

__all__ = ["convert_openai", "convert_messages", "text_of", "content_parts", "tool_result_text"]

_TEXT_PART_TYPES = ("text", "input_text", "output_text")
_ROLE_KEYS = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls", "weight"},
    "tool": {"role", "content", "tool_call_id", "name"},
}
_TOP_KEYS = {"messages", "tools", "functions", "metadata"}
# request settings that say nothing about the conversation itself
_REQUEST_SETTINGS = {"model", "tool_choice", "function_call", "parallel_tool_calls", "temperature", "top_p", "max_tokens", "stream", "n", "seed", "stop", "response_format", "user"}


_REASONING_PART_TYPES = ("reasoning", "thinking", "reasoning_content")


def text_of(content: Any, where: str, repairs: list[str]) -> str | None:
    """Message content as one string: a string as is, ``None`` as ``None``, a list of text parts joined
    (``content_parts_joined``); other part types (images, audio) are refused (``unsupported_content``)."""
    text, _, _ = content_parts(content, where, repairs)
    return text


def content_parts(content: Any, where: str, repairs: list[str]) -> tuple[str | None, list[str], list[Call]]:
    """Message content read into its text, its reasoning and its calls.

    A string is the text. A list of parts: text parts (``{"type": "text", "text"}``, LLaMA-Factory v1's
    ``{"type": "text", "value"}``, plain strings) are joined (``content_parts_joined``); reasoning parts
    (``reasoning``, ``thinking``) are returned apart, for the caller to drop from the trained text; v1
    ``tool_call`` parts (``value``: the JSON of ``{"name", "arguments"}``) are calls
    (``tool_call_parts_read``). Other part types (images, audio) are refused (``unsupported_content``)."""
    if content is None or isinstance(content, str):
        return content, [], []
    if not isinstance(content, list):
        raise Reject("wrong_type", f"{where}: content must be a string or a list of text parts, got {type(content).__name__}")
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[Call] = []
    for k, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
            continue
        kind = part.get("type", "text") if isinstance(part, dict) else None
        body = (part.get("text", part.get("value")) if kind in _TEXT_PART_TYPES else part.get("value", part.get(kind))) if isinstance(part, dict) else None
        if kind in _TEXT_PART_TYPES and isinstance(body, str):
            texts.append(body)
        elif kind in _REASONING_PART_TYPES and isinstance(body, str):
            reasoning.append(body)
        elif kind == "tool_call" and body is not None:
            repairs.append("tool_call_parts_read")
            calls.extend(calls_from_value(body, f"{where}[{k}].value", repairs))
        else:
            shown = kind if isinstance(part, dict) else type(part).__name__
            raise Reject("unsupported_content", f"{where}[{k}]: a {shown!r} content part; Mistral v0.3 (text only) cannot train on it")
    if texts or not (reasoning or calls):
        repairs.append("content_parts_joined")
    return ("".join(texts) if texts else None), reasoning, calls


def _call_of(raw: Any, where: str, repairs: list[str], tools: ToolSet) -> Call:
    if not isinstance(raw, dict):
        raise Reject("wrong_type", f"{where}: a tool call must be an object")
    kind = raw.get("type")
    if kind is None:
        repairs.append("call_type_added")
    elif kind != "function":
        raise Reject("bad_value", f"{where}.type: only 'function' calls exist in Mistral v0.3, got {kind!r}")
    fn = raw.get("function")
    if not isinstance(fn, dict):
        raise Reject("missing_field", f"{where}.function: a tool call needs a function object")
    cid = raw.get("id")
    if cid is not None and not isinstance(cid, str):
        repairs.append("call_id_remapped")
        cid = None
    return _function_call(fn, where + ".function", repairs, tools, cid)


def _function_call(fn: dict[str, Any], where: str, repairs: list[str], tools: ToolSet, cid: str | None) -> Call:
    name = fn.get("name")
    value = arguments_field(fn, repairs)
    if isinstance(value, str):
        if isinstance(name, str) and name in tools.wraps_code:
            try:
                parsed = loads_finite(value)
            except (ValueError, RecursionError):
                parsed = None
            if isinstance(parsed, dict):
                return Call(name, parsed, cid)
            # functionary's code interpreter takes the raw code as its arguments
            repairs.append("code_arguments_wrapped")
            return Call(name, {"code": value}, cid)
        try:
            value = parse_arguments_text(value, repairs)
        except Reject as rej:
            code, msg = rej.reasons[0]
            raise Reject(code, f"{where}.arguments: {msg}") from None
    try:
        args = arguments_object(value, repairs)
    except Reject as rej:
        code, msg = rej.reasons[0]
        raise Reject(code, f"{where}.arguments: {msg}") from None
    return Call(name, args, cid)


def _weight(m: dict[str, Any], where: str, repairs: list[str]) -> int | None:
    w = m.get("weight")
    if w is None and "loss_weight" in m:
        # LLaMA-Factory v1: loss_weight 0.0 / 1.0 per message
        lw = m["loss_weight"]
        if isinstance(lw, bool) or lw not in (0, 1):
            raise Reject("bad_value", f"{where}.loss_weight: Mistral v0.3 trains a turn or not (0 or 1), got {json.dumps(lw)}")
        if lw == 0:
            repairs.append("loss_weight_as_weight")
            return 0
        return None
    if w is None:
        meta = m.get("metadata")
        if isinstance(meta, dict) and meta.get("masked") is True:
            repairs.append("masked_as_weight0")
            return 0
        return None
    if isinstance(w, bool) or w not in (0, 1):
        raise Reject("bad_value", f"{where}.weight: must be 0 or 1, got {json.dumps(w)}")
    return int(w)


_REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")
# message keys read here though no canonical message has them (LLaMA-Factory v1's loss_weight, reasoning)
_HANDLED_KEYS = frozenset({"loss_weight", *_REASONING_KEYS})


def _turns(messages: Any, tools: ToolSet, repairs: list[str], notes: list[dict[str, Any]], dropped_keys: list[dict[str, Any]] | None = None) -> list[Turn]:
    if not isinstance(messages, list):
        raise Reject("wrong_type", f"messages: expected a list, got {type(messages).__name__}")
    turns: list[Turn] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise Reject("wrong_type", f"{where}: a message must be an object")
        role = m.get("role")
        if role == "function":
            repairs.append("legacy_function_role")
            role = "tool"
        elif role == "developer":
            repairs.append("developer_as_system")
            role = "system"
        if not isinstance(role, str) or role not in _ROLE_KEYS:
            raise Reject("bad_role", f"{where}.role: expected system, user, assistant, tool (or legacy function), got {json.dumps(role)}")
        allowed = _ROLE_KEYS[role]
        unknown = [k for k in m if k not in allowed and not (k in _HANDLED_KEYS and (k == "loss_weight" or role == "assistant")) and not (role == "assistant" and k == "function_call") and not (k == "name" and m.get("role") == "function")]
        if role == "assistant" and isinstance(m.get("metadata"), dict) and set(m["metadata"]) == {"masked"} and "metadata" in unknown:
            unknown.remove("metadata")  # functionary's masked flag, read as the turn's weight
        if unknown:
            repairs.append("unknown_keys_dropped")
            if dropped_keys is not None:  # not trained, but kept: metadata.dropped_message_keys
                dropped_keys.append({"message": i, "keys": {k: m[k] for k in unknown}})
        content, reasoning, part_calls = content_parts(m.get("content"), where + ".content", repairs)
        if role != "assistant" and (reasoning or part_calls):
            raise Reject("bad_value", f"{where}.content: reasoning or tool_call parts in a {role} message")
        if role != "assistant" and isinstance(m.get("loss_weight"), (int, float)) and m["loss_weight"] not in (0, False):
            repairs.append("loss_weight_dropped")
        if role == "assistant":
            for key in _REASONING_KEYS:
                if isinstance(m.get(key), str) and m[key].strip():
                    reasoning.append(m[key])
            if reasoning:
                # Mistral v0.3 has no reasoning channel: the reasoning is kept, but not trained
                repairs.append("reasoning_dropped")
                notes.append({"message": i, "text": "\n\n".join(reasoning)})
            if notes and content and content.strip():
                # a record whose reasoning was dropped: the blank lines a reasoning model writes between
                # its reasoning and its reply (Nemotron: "\n\nI've ...") are not part of the reply; only
                # whole blank lines go (a reply's first indentation, "    def f():", stays)
                stripped = strip_leading_blank_lines(content)
                if stripped != content:
                    repairs.append("reasoning_separator_stripped")
                    content = stripped
            calls: list[Call] = list(part_calls)
            raw_calls = m.get("tool_calls")
            if raw_calls is not None:
                if not isinstance(raw_calls, list):
                    raise Reject("wrong_type", f"{where}.tool_calls: expected a list")
                calls = [_call_of(c, f"{where}.tool_calls[{j}]", repairs, tools) for j, c in enumerate(raw_calls)]
            legacy = m.get("function_call")
            if legacy is not None:
                if not isinstance(legacy, dict):
                    raise Reject("wrong_type", f"{where}.function_call: expected an object")
                repairs.append("legacy_function_call")
                calls.append(_function_call(legacy, where + ".function_call", repairs, tools, None))
            turns.append(Turn("assistant", content or None, calls or None, weight=_weight(m, where, repairs)))
        elif role == "tool":
            if content is None:
                repairs.append("null_content_as_empty")
                content = ""
            tid = m.get("tool_call_id")
            if tid is not None and not isinstance(tid, str):
                raise Reject("wrong_type", f"{where}.tool_call_id: expected a string")
            name = m.get("name")
            turns.append(Turn("tool", tool_result_text(content, repairs), call_id=tid, name=name if isinstance(name, str) else None))
        else:
            if content is None:
                if role == "system":
                    raise Reject("wrong_type", f"{where}.content: a system message needs text")
                repairs.append("null_content_as_empty")
                content = ""
            turns.append(Turn(role, content))
    return turns


def _declarations(obj: dict[str, Any], repairs: list[str]) -> tuple[Any, bool]:
    tools = read_declarations(obj.get("tools"), "tools", repairs) if isinstance(obj.get("tools"), str) else obj.get("tools")
    functions = obj.get("functions")
    if functions is None:
        return tools, False
    if not isinstance(functions, list):
        raise Reject("wrong_type", f"functions: expected a list, got {type(functions).__name__}")
    if tools is None:
        return functions, True
    if not isinstance(tools, list):
        raise Reject("wrong_type", f"tools: expected a list, got {type(tools).__name__}")
    return [*tools, *functions], True


def convert_openai(item: Item, value: dict[str, Any], fmt: str = "openai") -> Converted:
    """Convert one OpenAI-style record (``fmt`` is ``openai`` or ``canonical``); raises :class:`Reject`."""
    obj = value
    reply: Any = None
    extra: dict[str, Any] = {}
    if "messages" not in value and isinstance(value.get("request"), dict):
        obj = value["request"]
        reply = value.get("message")
        if reply is None and isinstance(value.get("response"), dict):
            choices = value["response"].get("choices")
            if isinstance(choices, list) and choices and isinstance(choices[0], dict):
                reply = choices[0].get("message")
        if reply is None:
            raise Reject("missing_field", "message: a request dump needs the reply (`message`, or `response.choices[0].message`) to train on")
        if not isinstance(reply, dict):
            raise Reject("wrong_type", "message: the reply must be an object")
        extra = {k: v for k, v in value.items() if k not in ("request", "message", "response")}
    else:
        extra = {k: v for k, v in value.items() if k not in _TOP_KEYS}
    repairs: list[str] = []
    decls, legacy = _declarations(obj, repairs)
    messages = obj.get("messages")
    if messages is None:
        raise Reject("missing_field", "messages: an OpenAI-style record needs `messages`")
    notes: dict[str, Any] = {}
    if reply is not None:
        if not isinstance(messages, list):
            raise Reject("wrong_type", f"request.messages: expected a list, got {type(messages).__name__}")
        reply = {"role": "assistant", **{k: v for k, v in reply.items() if k != "role"}}
        messages = [*messages, reply]
        notes["source_shape"] = "request messages + reply message"
        extra = {k: v for k, v in extra.items() if k not in _REQUEST_SETTINGS}
    return convert_messages(item, value, fmt, messages, decls, legacy=legacy, repairs=repairs, extra=extra or None, notes=notes, own_metadata=value.get("metadata") if reply is None else None)


def convert_messages(
    item: Item,
    value: Any,
    fmt: str,
    messages: Any,
    declarations: Any,
    *,
    legacy: bool = False,
    repairs: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    notes: dict[str, Any] | None = None,
    own_metadata: Any = None,
) -> Converted:
    """OpenAI-style ``messages`` and their tool ``declarations`` (found wherever a format keeps them) ->
    a canonical record; ``value`` is the source record (call ids derive from it). Raises
    :class:`Reject`."""
    repairs = list(repairs or [])
    if legacy:
        repairs.append("legacy_functions")
    if declarations is None or declarations == []:
        tools = EMPTY_TOOLSET
    elif legacy:
        tools = build_toolset(declarations, bare_ok=True)
    else:
        tools = toolset_from_declarations(declarations, bare_ok=False)
    reasoning: list[dict[str, Any]] = []
    dropped_keys: list[dict[str, Any]] = []
    turns = split_result_lists(_turns(messages, tools, repairs, reasoning, dropped_keys), repairs)
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"), link_repair=True, name_results=False)
    ctx.repairs.extend(repairs)
    if reasoning:
        ctx.notes["reasoning"] = reasoning
    if dropped_keys:
        ctx.notes["dropped_message_keys"] = dropped_keys
    if notes:
        ctx.notes.update(notes)
    out = assemble(turns, tools, ctx)
    return chat_outcome(item, fmt, out, tools, ctx, extra, own_metadata)
