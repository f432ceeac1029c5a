"""Function declarations: from whatever shape a source writes them in to canonical ``tools``, with the
repairs and refusals every format shares, and call names resolved against them.

A :class:`ToolSet` is immutable and cached by the text it was built from (Glaive repeats the same system
prompt thousands of times), so its schemas are checked once and its JSON is written once.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .arguments import NonFinite, loads_finite, python_literal
from .encoding import ENCODER
from .outcome import Reject
from ..schema_check import SchemaCheck, schema_check
from ..schema_types import GORILLA_TO_OPENAPI, JSON_TYPES, NO_DEFAULT, TypeExpr, normalise_schema, read_type, value_fits

__all__ = ["ToolSet", "Declared", "declare", "toolset_of", "build_toolset", "toolset_from_declarations", "toolset_from_text", "read_declarations", "FUNCTION_NAME_RE", "PYTHON_TOOL", "EMPTY_TOOLSET"]

FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_BAD_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")
_ALIAS_DROP = re.compile(r"[^0-9a-z]+")

_ENCODER = ENCODER
_STRING = ENCODER.string  # a str as a JSON string literal

# What OpenAI's / functionary's built-in ``{"type": "code_interpreter"}`` tool stands for: a function
# named ``python`` whose single argument is the code (functionary calls it with the raw code as the
# arguments string; fcdata wraps that as {"code": ...}, see docs/convert.md).
PYTHON_TOOL: dict[str, Any] = {
    "name": "python",
    "description": "Run Python code in a stateful interpreter (a Jupyter-like session) and return what it prints or the value of its last expression.",
    "parameters": {
        "type": "object",
        "properties": {"code": {"type": "string", "description": "The Python code to run."}},
        "required": ["code"],
    },
}

_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
_FUNCTION_KEYS = ("name", "description", "parameters")


def _alias_key(name: str) -> str:
    """Spelling-insensitive key of a function name: ``create_to-do_list`` and ``Create_To_Do_List``
    share ``createtodolist``."""
    return _ALIAS_DROP.sub("", name.lower())


class ToolSet:
    """The canonical tools of a record and what is needed to check calls against them.

    ``tools`` must not be mutated (it is shared by every record built from the same declarations);
    ``json`` is ``tools`` as fcdata writes it. ``repairs`` are the codes of what was changed in the
    declarations (each record using the set records them). A plain class with slots rather than a
    frozen dataclass: one is built per distinct system prompt, and Glaive rarely repeats one.
    """

    __slots__ = ("tools", "json", "checks", "renamed", "repairs", "wraps_code", "_aliases")

    def __init__(
        self,
        tools: list[dict[str, Any]],
        json: str,
        checks: dict[str, SchemaCheck],
        renamed: dict[str, str] | None = None,
        repairs: tuple[str, ...] = (),
        wraps_code: frozenset[str] = frozenset(),
    ) -> None:
        self.tools = tools
        self.json = json
        self.checks = checks
        self.renamed = renamed or {}
        self.repairs = repairs
        self.wraps_code = wraps_code
        self._aliases: dict[str, str | None] | None = None

    @property
    def aliases(self) -> dict[str, str | None]:
        """Spelling-insensitive key -> declared name (``None`` where two names share a key); built on
        first use, since only misspelled calls need it."""
        if self._aliases is None:
            aliases: dict[str, str | None] = {}
            for name in self.checks:
                key = _alias_key(name)
                aliases[key] = None if key in aliases and aliases[key] != name else name
            for original, fixed in self.renamed.items():
                key = _alias_key(original)
                if key not in aliases:
                    aliases[key] = fixed
            self._aliases = aliases
        return self._aliases

    def resolve(self, name: Any, repairs: list[str], where: str) -> str:
        """The declared name a call to ``name`` means, recording a respelling; raises :class:`Reject`."""
        if not isinstance(name, str):
            raise Reject("wrong_type", f"{where}: the function name must be a string, got {json.dumps(name, ensure_ascii=False)[:60]}")
        if name in self.checks:
            return name
        if name in self.renamed:
            repairs.append("function_name_sanitized")
            return self.renamed[name]
        target = self.aliases.get(_alias_key(name))
        if target is not None:
            repairs.append("call_name_respelled")
            return target
        if self.checks:
            declared = ", ".join(sorted(self.checks))
            raise Reject("undeclared_function", f"{where}: calls {name!r}, which the record does not declare (declared: {declared})")
        raise Reject("undeclared_function", f"{where}: calls {name!r}, but the record declares no functions")

    def argument_errors(self, name: str, arguments: dict[str, Any]) -> list[str]:
        return self.checks[name].errors(arguments)


EMPTY_TOOLSET = ToolSet([], "[]", {})


def _function_of(item: Any, index: int, repairs: list[str], bare_ok: bool) -> dict[str, Any] | None:
    """The function definition inside one declaration, or None for a tool type that is dropped."""
    where = f"tools[{index}]"
    if not isinstance(item, dict):
        raise Reject("tool_not_object", f"{where}: a tool declaration must be an object, got {json.dumps(item, ensure_ascii=False)[:60]}")
    kind = item.get("type")
    if "function" in item and isinstance(item["function"], dict):
        if kind is None:
            repairs.append("tool_type_added")
        elif kind != "function":
            raise Reject("bad_value", f"{where}.type: expected 'function' for a function tool, got {kind!r}")
        extra = [k for k in item if k not in ("type", "function")]
        if extra:
            repairs.append("tool_extra_keys_dropped")
        return item["function"]
    if kind == "code_interpreter":
        repairs.append("code_interpreter_declared")
        return PYTHON_TOOL
    if isinstance(kind, str) and kind != "function" and "name" not in item:
        return None
    if "name" in item:
        if not bare_ok:
            repairs.append("tool_wrapped")
        if kind is not None and kind != "function":
            raise Reject("bad_value", f"{where}.type: expected 'function', got {kind!r}")
        return {k: v for k, v in item.items() if k != "type"} if kind is not None else item
    raise Reject("tool_name_missing", f"{where}: a tool declaration needs a function name (keys: {', '.join(map(str, item)) or 'none'})")


def _is_flat_parameters(params: dict[str, Any]) -> bool:
    """xLAM's ``parameters``: each key a parameter, each value ``{"type": "str, optional", "description",
    "default"}``, instead of a JSON Schema object."""
    if not params or "properties" in params or params.get("type") in ("object", "dict"):
        return False
    return all(isinstance(v, dict) and ("type" in v or "description" in v) for v in params.values())


def _build_parameters(params: dict[str, Any], where: str, repairs: list[str]) -> dict[str, Any]:
    """A JSON Schema object from xLAM's flat parameters: each type expression read
    (:func:`fcdata.schema_types.read_type`), ``required`` made of the parameters that are neither
    marked optional nor given a default (xLAM's answers leave those out), an empty or null default
    (xLAM's "no default") dropped (``empty_default_dropped``)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    emptied = False
    for name, spec in params.items():
        prop = {k: v for k, v in spec.items() if k != "type"}
        kind = spec.get("type")
        expr = read_type(kind) if kind is not None else TypeExpr({})
        if expr is None:
            raise Reject("schema_invalid", f"{where}.parameters.{name}.type: {kind!r} is neither a JSON Schema type nor a type expression fcdata reads (str, int, List[int], Dict[str, Any], 'str, optional'...)")
        default = prop.get("default", expr.default)
        if default in ("", None):
            emptied = emptied or "default" in prop
            prop.pop("default", None)
            default = NO_DEFAULT
        elif default is not NO_DEFAULT:
            prop["default"] = default
        properties[name] = {**expr.schema, **prop}
        if not expr.optional and default is NO_DEFAULT:
            required.append(name)
    repairs.append("parameters_schema_built")
    if emptied:
        repairs.append("empty_default_dropped")
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def _fix_defaults(params: dict[str, Any], repairs: list[str], only: frozenset[str] | None = None) -> dict[str, Any]:
    """Defaults that contradict their parameter's type, in declarations written in the xLAM/BFCL
    dialects: a number written as text (``"250"`` for an integer) read as the number
    (``default_coerced``); an integer parameter whose default is a fraction (xLAM's ``"int"`` latitude
    with default ``46.95828``) declared a number (``integer_type_widened``); any other default of the
    wrong type dropped (``default_dropped``), an empty one on a non-string parameter (xLAM's "no
    default") too (``empty_default_dropped``): a model shown a default the parameter cannot take learns a wrong value.
    ``only``: the parameters whose type was written as a Python name or expression of xLAM's (``int``,
    ``str``, ``List[int]``); defaults of parameters declared with JSON Schema types or BFCL's names are
    left as the source wrote them (BFCL's live schemas, which When2Call's test set shows the model, keep
    their ``"dontcare"`` defaults)."""
    props = params.get("properties")
    if not isinstance(props, dict):
        return params
    changed: dict[str, Any] = {}
    for name, prop in props.items():
        if only is not None and name not in only:
            continue
        if not isinstance(prop, dict) or "default" not in prop or not isinstance(prop.get("type"), str):
            continue
        default, kind = prop["default"], prop["type"]
        if value_fits(default, prop) or default is None:
            continue
        new = dict(prop)
        value = _literal_for(default, kind)
        if kind == "integer" and (isinstance(default, float) or isinstance(value, float)):
            new["type"] = "number"
            if isinstance(value, float):
                new["default"] = value
            repairs.append("integer_type_widened")
        elif value is not None and value_fits(value, prop):
            new["default"] = value
            repairs.append("default_coerced")
        else:
            del new["default"]
            repairs.append("empty_default_dropped" if default == "" else "default_dropped")
        changed[name] = new
    if not changed:
        return params
    return {**params, "properties": {k: changed.get(k, v) for k, v in props.items()}}


def _literal_for(default: Any, kind: str) -> Any:
    """``default`` read as a value of JSON type ``kind`` when it is text spelling one, else ``None``."""
    if not isinstance(default, str):
        return None
    text = default.strip()
    try:
        if kind in ("integer", "number"):
            number = float(text)
            if not math.isfinite(number):
                return None
            return int(number) if kind == "integer" and number.is_integer() and re.fullmatch(r"[+-]?\d+", text) else number
        if kind == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
    except ValueError:
        return None
    return None


def _normalise_parameters(fn: dict[str, Any], params: dict[str, Any], where: str, repairs: list[str]) -> dict[str, Any]:
    """``parameters`` as a JSON Schema object, from the shapes sets write: xLAM's flat parameters
    (``parameters_schema_built``), BFCL's and Python's type names at any depth (``dict``, ``float``,
    ``List[int]``...: ``schema_types_normalised``), ``required`` beside ``parameters`` instead of in it
    (When2Call: ``required_moved_into_parameters``), and the defaults of those dialects fixed."""
    if _is_flat_parameters(params):
        # built from read types: JSON Schema types already
        params = _build_parameters(params, where, repairs)
        typed_by_name: frozenset[str] | None = None  # every parameter's type was read from a name
    else:
        props = params.get("properties")
        typed_by_name = frozenset(k for k, v in props.items() if isinstance(v, dict) and isinstance(v.get("type"), str) and v["type"] not in JSON_TYPES and v["type"] not in GORILLA_TO_OPENAPI) if isinstance(props, dict) else frozenset()
        params, changed = normalise_schema(params)
        if changed:
            repairs.append("schema_types_normalised")
    outer = fn.get("required")
    if isinstance(outer, list) and "required" not in params and all(isinstance(r, str) for r in outer):
        repairs.append("required_moved_into_parameters")
        params = {**params, "required": outer}
    if typed_by_name is None or typed_by_name:
        params = _fix_defaults(params, repairs, typed_by_name)
    return params


def _normalise_function(fn: dict[str, Any], index: int, repairs: list[str], renamed: dict[str, str], dialects: bool = True) -> dict[str, Any]:
    where = f"tools[{index}]"
    name = fn.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Reject("tool_name_missing", f"{where}: the function has no name")
    if not FUNCTION_NAME_RE.match(name):
        fixed = _BAD_NAME_CHARS.sub("_", name.strip()).strip("_")
        if not fixed or len(fixed) > 64:
            raise Reject("function_name_format", f"{where}: function name {name!r} cannot be made a valid Mistral v0.3 name (^[a-zA-Z0-9_-]{{1,64}}$)")
        repairs.append("function_name_sanitized")
        renamed[name] = fixed
        name = fixed
    description = fn.get("description")
    if description is None:
        description = ""
    elif not isinstance(description, str):
        raise Reject("tool_bad_field", f"{where}: description must be a string, got {json.dumps(description, ensure_ascii=False)[:60]}")
    params = fn.get("parameters")
    if params is None:
        repairs.append("tool_parameters_added")
        params = _EMPTY_PARAMETERS
    elif not isinstance(params, dict):
        raise Reject("schema_invalid", f"{where}: parameters must be a JSON Schema object, got {json.dumps(params, ensure_ascii=False)[:60]}")
    else:
        if dialects:
            params = _normalise_parameters(fn, params, where, repairs)
        props, req = params.get("properties"), params.get("required")
        if isinstance(props, dict) and isinstance(req, list) and any(isinstance(r, str) and r not in props for r in req):
            # a required name that is no declared property is a typo in the declaration (functionary's
            # sample requires "get_car_price", the function's own name): every correct call would fail it
            repairs.append("required_unknown_dropped")
            params = {**params, "required": [r for r in req if not (isinstance(r, str) and r not in props)]}
    if any(k not in _FUNCTION_KEYS and not (k == "required" and "required_moved_into_parameters" in repairs) for k in fn):
        repairs.append("tool_extra_keys_dropped")
    return {"name": name, "description": description, "parameters": params}


class Declared:
    """One declaration, normalised: the canonical tool, its name and JSON, its schema check, what was
    repaired, a rename (original, fixed) if its name had to be fixed, and whether it is the code
    interpreter (whose raw-code arguments are wrapped)."""

    __slots__ = ("tool", "name", "json", "check", "repairs", "renamed", "wraps_code")

    def __init__(self, tool: dict[str, Any], name: str, json: str, check: SchemaCheck, repairs: tuple[str, ...], renamed: tuple[str, str] | None, wraps_code: bool) -> None:
        self.tool = tool
        self.name = name
        self.json = json
        self.check = check
        self.repairs = repairs
        self.renamed = renamed
        self.wraps_code = wraps_code


def declare(item: Any, index: int, *, bare_ok: bool = True, dialects: bool = True) -> Declared | None:
    """Normalise one declaration (``None`` for a tool type that is dropped); raises :class:`Reject`.

    ``dialects``: read the parameter dialects of xLAM, BFCL and Python type names
    (:func:`_normalise_parameters`). Glaive's converter turns it off: Glaive v2 declares JSON Schema,
    its quirk table refuses a type that is not one (``schema_invalid``), and its output stays what it
    was."""
    repairs: list[str] = []
    fn = _function_of(item, index, repairs, bare_ok)
    if fn is None:
        return None
    renamed: dict[str, str] = {}
    canon = _normalise_function(fn, index, repairs, renamed, dialects)
    name = canon["name"]
    try:
        params_text = _ENCODER.encode(canon["parameters"])
    except ValueError:
        raise Reject("non_finite_number", f"tools[{index}]: the declaration holds a number JSON cannot represent") from None
    except (TypeError, RecursionError):
        raise Reject("schema_invalid", f"tools[{index}] ({name}): parameters cannot be written as JSON") from None
    check = schema_check(params_text, canon["parameters"])
    if check.problem is not None:
        raise Reject("schema_invalid", f"tools[{index}] ({name}): parameters is not a valid JSON Schema: {check.problem}")
    tool = {"type": "function", "function": canon}
    # the same bytes as json.dumps(tool, ensure_ascii=False), without encoding the parameters twice
    text = '{"type": "function", "function": {"name": ' + _STRING(name) + ', "description": ' + _STRING(canon["description"]) + ', "parameters": ' + params_text + "}}"
    pair = next(iter(renamed.items())) if renamed else None
    return Declared(tool, name, text, check, tuple(repairs), pair, fn is PYTHON_TOOL)


def toolset_of(declared: list[Declared | None]) -> ToolSet:
    """Join normalised declarations into a :class:`ToolSet`: identical duplicates dropped
    (``duplicate_tool_dropped``), conflicting ones refused (``duplicate_tool_conflict``)."""
    repairs: list[str] = []
    renamed: dict[str, str] = {}
    tools: list[dict[str, Any]] = []
    texts: list[str] = []
    checks: dict[str, SchemaCheck] = {}
    definitions: dict[str, str] = {}
    wraps_code: set[str] = set()
    for index, d in enumerate(declared):
        if d is None:
            repairs.append("non_function_tool_dropped")
            continue
        repairs.extend(d.repairs)
        if d.renamed is not None:
            renamed[d.renamed[0]] = d.renamed[1]
        if d.name in definitions:
            if definitions[d.name] == d.json or json.loads(definitions[d.name]) == d.tool:
                repairs.append("duplicate_tool_dropped")
                continue
            raise Reject(
                "duplicate_tool_conflict",
                f"tools[{index}]: function {d.name!r} is declared twice with different definitions; the model could not know which one a call means",
            )
        if d.wraps_code:
            wraps_code.add(d.name)
        definitions[d.name] = d.json
        checks[d.name] = d.check
        tools.append(d.tool)
        texts.append(d.json)
    return ToolSet(tools, "[" + ", ".join(texts) + "]", checks, renamed, tuple(dict.fromkeys(repairs)) if repairs else (), frozenset(wraps_code) if wraps_code else _NO_CODE)


_NO_CODE: frozenset[str] = frozenset()


def build_toolset(declarations: Any, *, bare_ok: bool = True) -> ToolSet:
    """Canonical tools from a list of declarations in any of the shapes sources use: ``{"type":
    "function", "function": {...}}``, a bare ``{"name", "description", "parameters"}`` (Glaive, ShareGPT,
    legacy ``functions``), ``{"type": "code_interpreter"}``. Raises :class:`Reject`."""
    if declarations is None:
        return EMPTY_TOOLSET
    if not isinstance(declarations, list):
        raise Reject("wrong_type", f"tools must be a list, got {json.dumps(declarations, ensure_ascii=False)[:60]}")
    return toolset_of([declare(item, index, bare_ok=bare_ok) for index, item in enumerate(declarations)])


def read_declarations(value: Any, where: str, repairs: list[str], *, text_repair: str | None = "tools_json_string") -> Any:
    """Function declarations as formats give them, as a list (``None`` when absent or empty): a list of
    declaration objects, or of JSON texts of one (When2Call's test file: ``tool_declarations_decoded``);
    one declaration object; JSON text of either (ShareGPT, xLAM, LLaMA-Factory v1; ``text_repair`` is
    recorded where the format itself would give a list, e.g. ``tools_json_string`` in OpenAI records); or
    a Python repr of them (Hermes ``<tools>`` blocks: ``tools_python_literal``). Raises :class:`Reject`
    (``tool_declaration_not_json``)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        value = _decode_declarations(text, where, repairs)
        if text_repair is not None:
            repairs.append(text_repair)
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and any(isinstance(v, str) for v in value):
        repairs.append("tool_declarations_decoded")
        value = [_decode_declarations(v, f"{where}[{k}]", repairs) if isinstance(v, str) else v for k, v in enumerate(value)]
    return value or None


def _decode_declarations(text: str, where: str, repairs: list[str]) -> Any:
    try:
        return loads_finite(text)
    except NonFinite as exc:
        raise Reject("tool_declaration_not_json", f"{where}: a declaration holds a number JSON cannot represent ({exc})") from None
    except (ValueError, RecursionError) as exc:
        error = exc
    if text[:1] in "[{":
        try:
            value = python_literal(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
        else:
            repairs.append("tools_python_literal")
            return value
    raise Reject("tool_declaration_not_json", f"{where}: the JSON text of the tools does not decode ({error})")


# declarations' JSON text -> the ToolSet built from it (or the refusal), bounded like an LRU cache would
# be but filled from a value the caller may already hold decoded
_TOOLSETS: dict[tuple[str, bool], "ToolSet | Reject"] = {}
_TOOLSETS_SIZE = 2048
_UNDECODED = object()


def _cached(text: str, bare_ok: bool, value: Any = _UNDECODED) -> ToolSet | Reject:
    found = _TOOLSETS.get((text, bare_ok))
    if found is None:
        try:
            found = build_toolset(loads_finite(text) if value is _UNDECODED else value, bare_ok=bare_ok)
        except Reject as rej:
            found = rej
        if len(_TOOLSETS) >= _TOOLSETS_SIZE:
            _TOOLSETS.clear()
        _TOOLSETS[(text, bare_ok)] = found
    return found


def clear_cache() -> None:
    """Forget every ToolSet built (benchmarks measuring a cold start; long-lived processes)."""
    _TOOLSETS.clear()


def _raise_or_return(result: ToolSet | Reject) -> ToolSet:
    if isinstance(result, Reject):
        raise Reject(*result.reasons[0], *result.reasons[1:])
    return result


def toolset_from_declarations(declarations: Any, *, bare_ok: bool = True) -> ToolSet:
    """:func:`build_toolset`, cached by the declarations' JSON text (records of one source usually share
    their tools). Raises :class:`Reject`."""
    if declarations is None or declarations == []:
        return EMPTY_TOOLSET
    try:
        text = json.dumps(declarations, ensure_ascii=False)
    except (TypeError, ValueError):
        return build_toolset(declarations, bare_ok=bare_ok)
    return _raise_or_return(_cached(text, bare_ok, declarations))


def toolset_from_text(value: Any, where: str, repairs: list[str], *, text_repair: str | None = None, bare_ok: bool = True) -> ToolSet:
    """The ToolSet of declarations as a format gives them (:func:`read_declarations`); when they are the
    JSON text of a list, cached by that text as it is, so that a record whose tools repeat an earlier
    record's is neither decoded nor encoded again. Raises :class:`Reject`."""
    if isinstance(value, str) and value[:1] == "[":
        if text_repair is not None:
            repairs.append(text_repair)
        found = _TOOLSETS.get((value, bare_ok))
        if found is not None:
            return _raise_or_return(found)
        try:
            decoded = loads_finite(value)
        except (ValueError, RecursionError):
            repairs.pop() if text_repair is not None else None
        else:
            if isinstance(decoded, list) and decoded and not any(isinstance(d, str) for d in decoded):
                return _raise_or_return(_cached(value, bare_ok, decoded))
            if text_repair is not None:
                repairs.pop()
    declarations = read_declarations(value, where, repairs, text_repair=text_repair)
    return EMPTY_TOOLSET if declarations is None else toolset_from_declarations(declarations, bare_ok=bare_ok)
