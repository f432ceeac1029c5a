"""OpenAI Responses API requests: ``input`` items instead of chat ``messages``, as NVIDIA's Nemotron RL
tool-use sets (NeMo Gym's ``responses_create_params`` + ``expected_action``) and Responses-API logs
publish them::

    {"responses_create_params": {
        "input": [{"role": "system", "type": "message", "content": "You are ..."},
                  {"role": "user", "type": "message", "content": "Hello, ..."},
                  {"type": "reasoning", "summary": [{"type": "summary_text", "text": "..."}]},
                  {"type": "function_call", "name": "authenticate_user", "arguments": "{...}", "call_id": "fc_1"},
                  {"type": "function_call_output", "call_id": "fc_1", "output": "{\\"returns\\": true}"},
                  {"role": "assistant", "type": "message", "content": [{"type": "output_text", "text": "..."}]}],
        "tools": [{"type": "function", "name": "authenticate_user", "parameters": {...}, "strict": true}]},
     "expected_action": {"type": "function_call", "name": "...", "arguments": "{...}"}}

The items are read into OpenAI chat messages and converted by :func:`.openai.convert_messages`, so every
repair of the OpenAI path applies. What is particular to this shape:

* ``function_call`` items become an assistant message's calls; consecutive ones are one turn of parallel
  calls. ``function_call_output`` items are tool results, linked by ``call_id``.
* ``reasoning`` items (their ``summary`` and ``content`` text) belong to the assistant turn that follows;
  Mistral v0.3 has no reasoning channel, so they are not trained (``reasoning_dropped``, kept in
  ``metadata.reasoning``).
* ``instructions`` (the API's system prompt beside the input) becomes the system message
  (``instructions_as_system``); an ``input`` given as plain text is the user's message
  (``text_input_as_user``). Items may be typed (``{"type": "message", ...}``) or in the easy form
  (``{"role", "content"}``).
* Reasoning followed by a user message or a tool result (not by the assistant turn it leads to), and an
  ``expected_action`` after an input that already ends with an assistant reply (two replies would be
  trained as one) are refused (``bad_value``).
* ``expected_action`` (NeMo Gym) is the reply the row trains: appended as the last assistant turn.
* Tools in the Responses API's flat shape (``name`` beside ``type``, no nested ``function``) are nested
  as chat tools (``responses_tools_nested``); ``strict`` has no Mistral equivalent and is dropped.
* Other item types (web search, file search, computer use, images) cannot be trained on Mistral v0.3's
  text-only format: ``unsupported_content``.
"""

from __future__ import annotations

from typing import Any

from ..read import Item
from .openai import convert_messages
from .outcome import Converted, Reject

__all__ = ["convert_responses", "responses_request"]

_TEXT_PARTS = frozenset({"text", "input_text", "output_text", "summary_text", "reasoning_text"})
_ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")


def responses_request(value: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The Responses API request a record holds and where (``"responses_create_params"`` or ``""``:
    the record itself), or ``None``. A request is an object whose ``input`` is a list of items, at least
    one of them a Responses item (typed ``message``, ``function_call``, ``function_call_output`` or
    ``reasoning``, or the API's easy form ``{"role", "content"}``), or the API's plain-text input. Under
    ``responses_create_params`` any such input counts; at the top, a text input or items of the easy
    form only beside another key of the API (``instructions``, ``tools``, ``model``), so that other
    formats' ``input`` fields (alpaca's) are not mistaken for one."""
    nested = value.get("responses_create_params")
    for where, request in (("responses_create_params", nested), ("", value)):
        if not isinstance(request, dict) or "messages" in request:
            continue
        items = request.get("input")
        typed = isinstance(items, list) and any(isinstance(i, dict) and i.get("type") in _ITEM_TYPES for i in items)
        easy = isinstance(items, str) or (isinstance(items, list) and bool(items) and all(isinstance(i, dict) and "role" in i and "content" in i for i in items))
        if typed or (easy and (where or any(k in request for k in ("instructions", "tools", "model")))):
            return request, where
    return None


def _content(content: Any, where: str, repairs: list[str]) -> Any:
    """Item content as chat message content (a string or text parts; ``refusal`` parts are text)."""
    if isinstance(content, list):
        out: list[Any] = []
        for k, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if not isinstance(kind, (str, type(None))):
                raise Reject("wrong_type", f"{where}[{k}].type: expected a string, got {type(kind).__name__}")
            if kind == "refusal" or kind in _TEXT_PARTS:
                text = part.get("refusal" if kind == "refusal" else "text")
                if not isinstance(text, str):
                    raise Reject("wrong_type", f"{where}[{k}]: a {kind!r} part needs its text as a string")
                out.append({"type": "text", "text": text})
            else:
                shown = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise Reject("unsupported_content", f"{where}[{k}]: a {shown!r} content part; Mistral v0.3 (text only) cannot train on it")
        return out
    return content


def _reasoning_text(item: dict[str, Any], where: str, repairs: list[str]) -> str:
    texts: list[str] = []
    for key in ("summary", "content"):
        parts = item.get(key)
        if isinstance(parts, str):
            if parts.strip() and parts != "None":
                texts.append(parts)
        elif isinstance(parts, list):
            texts.extend(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"].strip())
        elif parts is not None:
            raise Reject("wrong_type", f"{where}.{key}: expected a list of text parts")
    return "\n\n".join(texts)


def _call(item: dict[str, Any], where: str) -> dict[str, Any]:
    name = item.get("name")
    if not isinstance(name, str):
        raise Reject("wrong_type", f"{where}.name: a function_call needs its function's name")
    if "arguments" not in item:
        raise Reject("missing_field", f"{where}.arguments: a function_call needs its arguments (the JSON text of an object)")
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": item["arguments"]}}
    call_id = item.get("call_id")
    if isinstance(call_id, str) and call_id not in ("", "None"):
        call["id"] = call_id
    return call


def _messages(items: list[Any], where: str, repairs: list[str]) -> list[dict[str, Any]]:
    """Responses input items -> OpenAI chat messages."""
    messages: list[dict[str, Any]] = []
    reasoning: list[str] = []  # reasoning items waiting for the assistant turn they lead to
    calls_open = False  # the last message is an assistant turn of calls that more function_calls join
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise Reject("wrong_type", f"{at}: an input item must be an object")
        kind = item.get("type", "message" if "role" in item else None)
        if reasoning and kind in ("message", "function_call_output") and item.get("role") != "assistant":
            raise Reject("bad_value", f"{at}: reasoning followed by a {item.get('role') or 'tool'} turn, not by the assistant turn it leads to")
        if kind == "message":
            role = item.get("role")
            message: dict[str, Any] = {"role": role, "content": _content(item.get("content"), at + ".content", repairs)}
            if role == "assistant" and reasoning:
                message["reasoning_content"] = "\n\n".join(reasoning)
                reasoning = []
            messages.append(message)
            calls_open = False
        elif kind == "reasoning":
            text = _reasoning_text(item, at, repairs)
            if text:
                reasoning.append(text)
        elif kind == "function_call":
            if not calls_open or reasoning:
                messages.append({"role": "assistant", "content": None, "tool_calls": []})
                if reasoning:
                    messages[-1]["reasoning_content"] = "\n\n".join(reasoning)
                    reasoning = []
            messages[-1]["tool_calls"].append(_call(item, at))
            calls_open = True
        elif kind == "function_call_output":
            output = item.get("output")
            if isinstance(output, list):
                output = _content(output, at + ".output", repairs)
            message = {"role": "tool", "content": output}
            if isinstance(item.get("call_id"), str):
                message["tool_call_id"] = item["call_id"]
            messages.append(message)
            calls_open = False
        else:
            raise Reject("unsupported_content", f"{at}: a {kind!r} item; Mistral v0.3 (text and function calls only) cannot train on it")
    if reasoning:
        raise Reject("bad_value", f"{where}: reasoning after the last assistant turn, with no reply it leads to")
    return messages


def _tools(tools: Any, repairs: list[str]) -> Any:
    """Responses-API tools ``{"type": "function", "name", "description", "parameters", "strict"}`` ->
    chat tools ``{"type": "function", "function": {...}}``; chat-shaped tools pass unchanged."""
    if not isinstance(tools, list):
        return tools
    out: list[Any] = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "function" and "function" not in tool and "name" in tool:
            if "responses_tools_nested" not in repairs:
                repairs.append("responses_tools_nested")
            out.append({"type": "function", "function": {k: v for k, v in tool.items() if k in ("name", "description", "parameters")}})
        else:
            out.append(tool)
    return out


def convert_responses(item: Item, value: dict[str, Any], fmt: str = "responses") -> Converted:
    """Convert one Responses API request (with NeMo Gym's ``expected_action`` as its reply); raises
    :class:`Reject`."""
    found = responses_request(value)
    if found is None:
        raise Reject("missing_field", "input: expected a list of Responses API items (under responses_create_params, or at the top)")
    request, where = found
    prefix = f"{where}.input" if where else "input"
    repairs: list[str] = []
    if isinstance(request["input"], str):
        items: list[Any] = [{"type": "message", "role": "user", "content": request["input"]}]
        repairs.append("text_input_as_user")
    else:
        items = list(request["input"])
    expected = value.get("expected_action")
    if expected is not None:
        if not isinstance(expected, dict):
            raise Reject("wrong_type", "expected_action: expected a Responses item (a function_call or a message)")
        last = next((i for i in reversed(items) if isinstance(i, dict) and i.get("type") != "reasoning"), None)
        if isinstance(last, dict) and last.get("role") == "assistant":
            # appending would merge two replies into one trained turn
            raise Reject("bad_value", "expected_action: the input already ends with an assistant reply")
        items.append(expected if "role" in expected or expected.get("type") != "message" else {**expected, "role": "assistant"})
        repairs.append("expected_action_as_reply")
    messages = _messages(items, prefix, repairs)
    instructions = request.get("instructions")
    if isinstance(instructions, str) and instructions.strip():
        # the Responses API's system prompt, given beside the input rather than as a message
        messages.insert(0, {"role": "system", "content": instructions})
        repairs.append("instructions_as_system")
    tools = _tools(request.get("tools"), repairs)
    # plain values beside the input (model, tool_choice, ids...) are kept, nested ones named, wherever the request sits
    used = ("responses_create_params", "input", "tools", "expected_action", "instructions")
    beside = {**({k: v for k, v in request.items() if k not in used} if where else {}), **{k: v for k, v in value.items() if k not in used}}
    plain = {k: v for k, v in beside.items() if isinstance(v, (str, int, float, bool))}
    dropped = [k for k, v in beside.items() if k not in plain and v is not None]
    notes: dict[str, Any] = {"source_shape": f"Responses API input under {where}" if where else "Responses API input"}
    if dropped:
        notes["dropped_keys"] = dropped
    return convert_messages(item, value, fmt, messages, tools, repairs=repairs, extra=plain or None, notes=notes)
