"""Gorilla OpenFunctions v1 (ShishirPatil/gorilla ``openfunctions/openfunctions-v1``): a question, the
function it may call, and the answer as a Python call::

    {"question": "Find a coffee shop near me with free Wi-Fi in San Francisco.",
     "function": {"name": "Coffee Shop Locator", "api_call": "coffee_shop.find_nearby",
                  "description": "...", "parameters": {"type": "object", "properties": {...}}},
     "model_answer": "coffee_shop.find_nearby(location=\\"San Francisco\\", amenities=\\"Wi-Fi\\")"}

``function`` is one declaration or a list; its ``name`` is a title in words and ``api_call`` the name
the answer calls, so the function is declared under ``api_call`` (``api_call_as_name``: dots become
``_`` like every invalid name, ``function_name_sanitized``; the titles kept in
``metadata.function_titles``). The answer is read with :mod:`.pycall` (``python_call_syntax_parsed``).
"""

from __future__ import annotations

from typing import Any

from ..read import Item
from .assemble import Context, assemble
from .encoding import KEY_ENCODER
from .finish import chat_outcome
from .outcome import Converted, Reject
from .pycall import read_python_calls
from .tools import toolset_from_declarations
from .turns import Turn

__all__ = ["convert_gorilla"]


def convert_gorilla(item: Item, value: dict[str, Any], fmt: str = "gorilla") -> Converted:
    """Convert one Gorilla OpenFunctions v1 row; raises :class:`Reject`."""
    question, functions, answer = value.get("question"), value.get("function"), value.get("model_answer")
    if not isinstance(question, str):
        raise Reject("wrong_type", "question: expected a string")
    if not isinstance(answer, str):
        raise Reject("wrong_type", "model_answer: expected the answer as a Python call")
    functions = [functions] if isinstance(functions, dict) else functions
    if not isinstance(functions, list):
        raise Reject("wrong_type", "function: expected a function declaration or a list of them")
    repairs: list[str] = []
    declarations: list[Any] = []
    titles: dict[str, str] = {}
    for fn in functions:
        if isinstance(fn, dict) and isinstance(fn.get("api_call"), str):
            if isinstance(fn.get("name"), str):
                titles[fn["api_call"]] = fn["name"]
            declarations.append({"name": fn["api_call"], **{k: v for k, v in fn.items() if k not in ("name", "api_call")}})
            if "api_call_as_name" not in repairs:
                repairs.append("api_call_as_name")
        else:
            declarations.append(fn)
    tools = toolset_from_declarations(declarations)
    calls = read_python_calls(answer, "model_answer", repairs)
    if calls is None:
        raise Reject("call_unparseable", f"model_answer: not a Python call: {answer[:60]!r}")
    if not calls:
        raise Reject("empty_call_list", "model_answer: an empty list of calls: there is no reply to train on")
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"))
    ctx.repairs.extend(repairs)
    if titles:
        ctx.notes["function_titles"] = titles
    messages = assemble([Turn("user", question), Turn("assistant", None, calls)], tools, ctx)
    extra = {k: v for k, v in value.items() if k not in ("question", "function", "model_answer")} or None
    return chat_outcome(item, fmt, messages, tools, ctx, extra)
