"""ToolAlpaca (tangqiaoyu/ToolAlpaca) evaluation rows: one API per row, with its OpenAPI document and
several instructions, each answered by a golden sequence of actions::

    {"Name": "Axolotl", "Documentation": "{\\"openapi\\": \\"3.0.0\\", \\"paths\\": {...}}", ...,
     "Instructions": ["Hey, can you show me a random picture of an axolotl?", ...],
     "Golden_Answers": [[{"Action": "getRandomAxolotlImage", "Action_Input": "{}"}], ...]}

A row holds one conversation per instruction, so it is split into one record per instruction before
conversion (:func:`split_row`; every stage then counts those records, ``read == kept + rejected``), each
carrying the API and its ``Instruction_Index``. Per record:

* Tools: every operation of the OpenAPI document is a function named by its ``operationId``; its query,
  path and header parameters and its JSON request body's properties are the parameters, their schemas
  taken as they are with ``$ref``\\ s to ``#/components`` resolved (``openapi_operations_as_tools``).
* The reply: golden steps of the first step's action are calls made together (one turn of parallel
  calls: three searches for three sizes) as long as each stands on its own. A step of another action
  ends the turn: the answer is a sequence, and whether that step waits for the first one's result is
  said only in words ("If its reputation score is normal, please report it"). So does a step whose input
  refers to an earlier step's output (``${animeId from searchAnime}``), a step marked ``[Optional]``, or
  ``getDetails`` after a call: Mistral's format needs the results of those calls first, which the row
  does not have. The steps left out are kept in ``metadata.dropped_steps`` (``later_steps_dropped``).
* ``getDetails`` first is ToolAlpaca's action for asking the user: the reply is its ``Question``, as text
  (``get_details_as_question``).
* An optional argument given as ``""`` where its schema refuses an empty string (``"gender": ""`` for
  an enum of ``male``/``female``) is ToolAlpaca's "not given": left out (``empty_optional_argument_dropped``).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from ..read import Item
from .arguments import arguments_object, loads_finite, parse_arguments_text
from .assemble import Context, assemble
from .encoding import KEY_ENCODER
from .finish import chat_outcome
from .outcome import Converted, Reject
from .tools import toolset_from_declarations
from .turns import Call, Turn

__all__ = ["convert_toolalpaca", "is_toolalpaca_row", "split_row"]

_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_ASK_USER = "getDetails"
_OPTIONAL_MARK = "[Optional]"


def is_toolalpaca_row(value: Any) -> bool:
    """A ToolAlpaca evaluation row: a list of instructions and their golden answers."""
    return isinstance(value, dict) and isinstance(value.get("Instructions"), list) and isinstance(value.get("Golden_Answers"), list)


def split_row(item: Item) -> Iterator[Item]:
    """One item per instruction of a ToolAlpaca row, each with the row's line and text (a reject shows
    the row verbatim) and a value holding the API, the instruction, its golden answer (``None`` where the
    row has fewer answers than instructions) and its index."""
    row = item.value
    if not row["Instructions"]:
        yield item  # refused by the converter, by name: nothing may vanish
        return
    api = {k: v for k, v in row.items() if k not in ("Instructions", "Golden_Answers")}
    answers = row["Golden_Answers"]
    for k, instruction in enumerate(row["Instructions"]):
        value = {"ToolAlpaca_API": api, "Instruction": instruction, "Golden_Answer": answers[k] if k < len(answers) else None, "Instruction_Index": k}
        yield Item(item.file, item.line, value, text=item.text)


# ------------------------------------------------------------------------------------------- tools


def _resolve(node: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """``node`` with every local ``$ref`` (``#/components/...``) replaced by what it points to."""
    if depth > 32:
        raise Reject("openapi_ref_unresolved", "Documentation: $ref nested more than 32 deep (a cycle?)")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/components/"):
                raise Reject("openapi_ref_unresolved", f"Documentation: a $ref outside the document ({ref!r})")
            target: Any = components
            for part in ref[len("#/components/") :].split("/"):
                if not isinstance(target, dict) or part not in target:
                    raise Reject("openapi_ref_unresolved", f"Documentation: $ref {ref!r} points at nothing")
                target = target[part]
            return _resolve(target, components, depth + 1)
        return {k: _resolve(v, components, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, components, depth + 1) for v in node]
    return node


def _operation_tool(path: str, method: str, op: dict[str, Any], shared: list[Any], components: dict[str, Any]) -> dict[str, Any]:
    name = op.get("operationId")
    if not isinstance(name, str) or not name:
        raise Reject("missing_field", f"Documentation: {method.upper()} {path} has no operationId to name its function")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in [*shared, *(op.get("parameters") or [])]:
        param = _resolve(param, components)
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) or param.get("in") == "cookie":
            continue
        schema = _resolve(param.get("schema"), components) if isinstance(param.get("schema"), dict) else {"type": "string"}
        if isinstance(param.get("description"), str) and "description" not in schema:
            schema = {**schema, "description": param["description"]}
        properties[param["name"]] = schema
        if param.get("required") or param.get("in") == "path":
            required.append(param["name"])
    body = op.get("requestBody")
    if isinstance(body, dict):
        body = _resolve(body, components)
        schema = ((body.get("content") or {}).get("application/json") or {}).get("schema")
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
            properties.update(schema["properties"])
            required += [r for r in schema.get("required") or [] if isinstance(r, str)]
        elif isinstance(schema, dict):
            properties["body"] = schema
            if body.get("required"):
                required += ["body"]
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = list(dict.fromkeys(required))
    description = op.get("description") or op.get("summary") or ""
    return {"type": "function", "function": {"name": name, "description": description if isinstance(description, str) else "", "parameters": parameters}}


def _declarations(api: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the API's OpenAPI document, as a chat tool."""
    text = api.get("Documentation")
    if not isinstance(text, str):
        raise Reject("missing_field", "Documentation: the API's OpenAPI document is missing")
    try:
        doc = loads_finite(text)  # a key given twice with two values: ConflictingKey (json_duplicate_key)
    except ValueError as exc:
        raise Reject("tool_declaration_not_json", f"Documentation: not JSON ({exc})") from None
    paths = doc.get("paths") if isinstance(doc, dict) else None
    if not isinstance(paths, dict):
        raise Reject("missing_field", "Documentation: an OpenAPI document needs its paths")
    components = doc.get("components") if isinstance(doc.get("components"), dict) else {}
    tools: list[dict[str, Any]] = []
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") if isinstance(item.get("parameters"), list) else []
        tools += [_operation_tool(path, m, item[m], shared, components) for m in _HTTP_METHODS if isinstance(item.get(m), dict)]
    return tools


# ------------------------------------------------------------------------------------------- reply


def _refuses_empty(schema: Any) -> bool:
    """Whether a parameter's schema refuses ``""`` (a type other than string, or an enum without it)."""
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if kind is not None and kind != "string" and not (isinstance(kind, list) and "string" in kind):
        return True
    return isinstance(schema.get("enum"), list) and "" not in schema["enum"]


def _call(step: dict[str, Any], where: str, declared: dict[str, dict[str, Any]], repairs: list[str]) -> Call:
    name, text = step["Action"], step.get("Action_Input", "{}")
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False)
    arguments = arguments_object(parse_arguments_text(text, repairs), repairs)
    params = (declared.get(name) or {}).get("parameters") or {}
    props, required = params.get("properties") or {}, set(params.get("required") or [])
    empty = [k for k, v in arguments.items() if v == "" and k not in required and _refuses_empty(props.get(k))]
    if empty:
        repairs.append("empty_optional_argument_dropped")
        arguments = {k: v for k, v in arguments.items() if k not in empty}
    return Call(name, arguments)


def _reply(answer: Any, declared: dict[str, dict[str, Any]], repairs: list[str], notes: dict[str, Any]) -> Turn:
    """The assistant turn a golden answer gives (see the module docstring); raises :class:`Reject`."""
    if not isinstance(answer, list) or not answer:
        raise Reject("missing_field", "Golden_Answers: no golden answer for this instruction")
    calls: list[Call] = []
    for k, step in enumerate(answer):
        where = f"Golden_Answers[{k}]"
        if not isinstance(step, dict) or not isinstance(step.get("Action"), str):
            raise Reject("wrong_type", f"{where}: a step needs its Action")
        action, text = step["Action"], step.get("Action_Input")
        if action == _ASK_USER and not calls:
            try:
                question = json.loads(text).get("Question") if isinstance(text, str) else None
            except (ValueError, AttributeError):
                question = None
            if not isinstance(question, str) or not question.strip():
                raise Reject("bad_value", f"{where}: getDetails asks the user, but holds no Question")
            repairs.append("get_details_as_question")
            if answer[k + 1 :]:
                repairs.append("later_steps_dropped")
                notes["dropped_steps"] = answer[k + 1 :]
            return Turn("assistant", question)
        if calls and action != answer[0].get("Action"):
            # a different action: the golden answer is a sequence, and whether this step waits for the
            # first one's result is said only in words ("If its reputation score is normal, please
            # report it"), so it is not made a parallel call; the first action is the right first reply
            repairs.append("later_steps_dropped")
            notes["dropped_steps"] = answer[k:]
            break
        if action == _ASK_USER or action.startswith(_OPTIONAL_MARK) or (isinstance(text, str) and "${" in text):
            if not calls:
                if action == _ASK_USER or action.startswith(_OPTIONAL_MARK):
                    raise Reject("bad_value", f"{where}: the answer starts with {action!r}, which is not a call to train")
                raise Reject("argument_placeholder", f"{where}: the first call holds a placeholder instead of a value ({text[:70]!r}): there is no call to train")
            repairs.append("later_steps_dropped")
            notes["dropped_steps"] = answer[k:]
            break
        calls.append(_call(step, where, declared, repairs))
    return Turn("assistant", None, calls)


def convert_toolalpaca(item: Item, value: dict[str, Any], fmt: str = "toolalpaca") -> Converted:
    """Convert one instruction of a ToolAlpaca row (as :func:`split_row` makes it); raises :class:`Reject`."""
    if is_toolalpaca_row(value):
        raise Reject("missing_field", "Instructions: the row holds no instruction")
    api, instruction = value.get("ToolAlpaca_API"), value.get("Instruction")
    if not isinstance(api, dict):
        raise Reject("wrong_type", "ToolAlpaca_API: expected the API's fields")
    if not isinstance(instruction, str) or not instruction.strip():
        raise Reject("empty_text", "Instructions: an empty instruction")
    repairs: list[str] = ["openapi_operations_as_tools"]
    notes: dict[str, Any] = {}
    declarations = _declarations(api)
    tools = toolset_from_declarations(declarations, bare_ok=False)
    declared = {d["function"]["name"]: d["function"] for d in declarations}
    reply = _reply(value.get("Golden_Answer"), declared, repairs, notes)
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"))
    ctx.repairs.extend(repairs)
    ctx.notes.update(notes)
    messages = assemble([Turn("user", instruction), reply], tools, ctx)
    extra = {k: v for k, v in api.items() if isinstance(v, str) and k in ("Name", "Description", "Link", "Category")}
    extra["Instruction_Index"] = value.get("Instruction_Index")
    return chat_outcome(item, fmt, messages, tools, ctx, extra)
