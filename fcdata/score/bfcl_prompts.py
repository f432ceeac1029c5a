"""BFCL questions as prompts for a Mistral v0.3 model: canonical records, and token ids.

A BFCL question is ``{"id", "question": [[{"role", "content"}, ...]], "function": [...]}`` with functions
in BFCL's own schema dialect (``"type": "dict"``, ``"float"``, ``"tuple"``, ``"any"``, dotted names). The
tools a Mistral model is shown are built the way BFCL's ``MistralHandler._compile_tools`` builds them
(``bfcl_eval/model_handler/api_inference/mistral.py`` at cd9429cc):

1. ``func_doc_language_specific_pre_processing`` (``model_handler/utils.py``): every function
   description gets `` Note that the provided function is in Python 3 syntax.`` appended;
2. ``convert_to_tool(functions, GORILLA_TO_OPENAPI, ModelStyle.Mistral)``: ``.`` in a function name
   becomes ``_`` (Mistral names must match ``^[a-zA-Z0-9_-]{1,64}$``); ``parameters.type`` becomes
   ``"object"``; every property type goes through the ``GORILLA_TO_OPENAPI`` table (fcdata's one type
   table, :mod:`fcdata.schema_types`, read with ``bfcl=True``; ``dict`` ->
   ``object``, ``float`` -> ``number``, ``tuple`` -> ``array``, ``any`` -> ``string``, unknown ->
   ``string``); a ``float`` property also gets ``"format": "float"`` and `` This is a float type
   value.`` at the end of its description; array item types (two levels) and nested object
   properties are mapped the same way (``_cast_to_openai_type``);
3. the result is wrapped as ``{"type": "function", "function": {...}}``.

The conversation is the question's first (and, for the single-turn categories, only) turn, unchanged.
The checker (:mod:`fcdata.score.bfcl`) expects the mapped names back, which is what a model shown these
tools can produce.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from fcdata.read import Item, read_items
from fcdata.schema_types import GORILLA_TO_OPENAPI, json_type

from .bfcl import category_of, check_supported, mapped_name

__all__ = [
    "GORILLA_TO_OPENAPI",
    "PYTHON_HINT",
    "FLOAT_NOTE",
    "bfcl_tools",
    "bfcl_record",
    "bfcl_records",
    "bfcl_prompt_ids",
    "BfclPrompt",
    "iter_bfcl_prompts",
]

PYTHON_HINT = " Note that the provided function is in Python 3 syntax."
FLOAT_NOTE = " This is a float type value."


def _map_type(type_name: Any, where: str) -> str:
    mapped = json_type(type_name, bfcl=True)
    if mapped is None:
        raise ValueError(f"{where}: type {type_name!r} is not in BFCL's GORILLA_TO_OPENAPI table")
    return mapped


def _cast_properties(properties: dict[str, Any], where: str) -> dict[str, Any]:
    """``_cast_to_openai_type``, on a copy: key order is kept (``format`` lands after the existing
    keys), because the JSON of the tools is part of the prompt."""
    for key, prop in properties.items():
        path = f"{where}.{key}"
        if "type" not in prop:
            prop["type"] = "string"
        else:
            original = prop["type"]
            if original == "float":
                prop["format"] = "float"
                prop["description"] = prop.get("description", "") + FLOAT_NOTE
            prop["type"] = json_type(original, bfcl=True) or "string"  # BFCL: unknown names become "string"
        if prop["type"] in ("array", "object"):
            if "properties" in prop:
                prop["properties"] = _cast_properties(prop["properties"], path)
            elif "items" in prop:
                items = prop["items"]
                items["type"] = _map_type(items.get("type"), path + ".items")
                if items["type"] == "array" and "items" in items:
                    items["items"]["type"] = _map_type(items["items"].get("type"), path + ".items.items")
                elif items["type"] == "object" and "properties" in items:
                    items["properties"] = _cast_properties(items["properties"], path + ".items")
    return properties


def bfcl_tools(functions: Iterable[dict[str, Any]], category: str = "simple", *, underscore_to_dot: bool = True) -> list[dict[str, Any]]:
    """Canonical tools (``{"type": "function", "function": {name, description, parameters}}``) for BFCL
    functions, as BFCL's Mistral FC handler sends them. The input is not modified.

    >>> bfcl_tools([{"name": "math.hypot", "description": "Norm.", "parameters": {"type": "dict",
    ...     "properties": {"x": {"type": "float", "description": "x."}}, "required": ["x"]}}])[0]["function"]
    {'name': 'math_hypot', 'description': 'Norm. Note that the provided function is in Python 3 syntax.', \
'parameters': {'type': 'object', 'properties': {'x': {'type': 'number', 'description': 'x. This is a float \
type value.', 'format': 'float'}}, 'required': ['x']}}
    """
    check_supported(category)
    tools = []
    for function in functions:
        item = copy.deepcopy(function)
        name = item.get("name")
        if not isinstance(name, str):
            raise ValueError(f"function without a string 'name': {str(function)[:80]}")
        parameters = item.get("parameters")
        if not isinstance(parameters, dict) or not isinstance(parameters.get("properties"), dict):
            raise ValueError(f"function {name!r}: 'parameters' must be an object with 'properties'")
        parameters["type"] = "object"
        parameters["properties"] = _cast_properties(parameters["properties"], f"{name}.parameters")
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": mapped_name(name, underscore_to_dot),
                    "description": str(item.get("description", "")) + PYTHON_HINT,
                    "parameters": parameters,
                },
            }
        )
    return tools


def bfcl_record(question: dict[str, Any], *, underscore_to_dot: bool = True) -> dict[str, Any]:
    """A canonical chat record (no assistant turn: it is a prompt) for one single-turn BFCL question.

    ``metadata`` carries ``id`` (the BFCL id, which is also how ``fcdata score --bfcl`` matches
    predictions), ``category`` and ``source: "bfcl"``. Raises ``ValueError`` for a question that is not
    single-turn or not in a Python category.
    """
    qid = question.get("id")
    if not isinstance(qid, str):
        raise ValueError("question without a string 'id'")
    category = category_of(qid)
    turns = question.get("question")
    if not isinstance(turns, list) or not turns:
        raise ValueError(f"{qid}: 'question' must be a non-empty list of turns")
    if len(turns) != 1:
        raise ValueError(f"{qid}: {len(turns)} turns; only single-turn questions become one prompt")
    messages = []
    for index, message in enumerate(turns[0]):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant") or not isinstance(message.get("content"), str):
            raise ValueError(f"{qid}: question[0][{index}] must be {{'role': system|user|assistant, 'content': str}}")
        messages.append({"role": message["role"], "content": message["content"]})
    functions = question.get("function")
    if not isinstance(functions, list):
        raise ValueError(f"{qid}: 'function' must be a list")
    return {
        "messages": messages,
        "tools": bfcl_tools(functions, category, underscore_to_dot=underscore_to_dot),
        "metadata": {"id": qid, "category": category, "source": "bfcl"},
    }


def bfcl_records(questions: Iterable[dict[str, Any]], *, underscore_to_dot: bool = True) -> Iterator[dict[str, Any]]:
    """:func:`bfcl_record` for each question, in order."""
    for question in questions:
        yield bfcl_record(question, underscore_to_dot=underscore_to_dot)


def bfcl_prompt_ids(record: dict[str, Any], tokenizer: Any = None) -> list[int]:
    """The token ids of a BFCL prompt record, through fcdata's renderer (``fcdata.render.render_prompt``:
    the ids mistral-common encodes at inference, ending with ``[/INST]``)."""
    from fcdata.render import render_prompt  # loaded only when ids are asked for (it loads the tokenizer)

    return list(render_prompt(record["messages"], record["tools"], tokenizer))


@dataclass(frozen=True)
class BfclPrompt:
    """One question read from a file: its prompt record (and token ids when asked for), or why not."""

    item: Item
    record: dict[str, Any] | None = None
    input_ids: list[int] | None = None
    error: str | None = None


def iter_bfcl_prompts(
    paths: Iterable[str | os.PathLike[str]],
    *,
    underscore_to_dot: bool = True,
    token_ids: bool = False,
    tokenizer: Any = None,
) -> Iterator[BfclPrompt]:
    """Every question of the BFCL files ``paths`` (JSON Lines), in order, as a :class:`BfclPrompt`.

    A question that cannot become a prompt (unreadable line, multi-turn, another language) comes back
    with ``error`` set; the run goes on. Token ids come from :func:`fcdata.render.render_prompt`.
    """
    for path in paths:
        for item in read_items(path):
            if not item.ok:
                yield BfclPrompt(item, error=item.error)
                continue
            if not isinstance(item.value, dict):
                yield BfclPrompt(item, error="a BFCL question is a JSON object")
                continue
            try:
                record = bfcl_record(item.value, underscore_to_dot=underscore_to_dot)
            except ValueError as exc:
                yield BfclPrompt(item, error=str(exc))
                continue
            ids = bfcl_prompt_ids(record, tokenizer) if token_ids else None
            yield BfclPrompt(item, record, ids)
