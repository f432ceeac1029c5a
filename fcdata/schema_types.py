"""Parameter types as tool-calling sets write them, read as JSON Schema: one table and one reader for every
converter and for the scorer.

JSON Schema has seven type names (``string``, ``integer``, ``number``, ``boolean``, ``array``,
``object``, ``null``). Published sets use others:

- BFCL and the sets built from its questions (When2Call, ToolACE): ``dict``, ``float``, ``tuple``,
  ``any``, and Java/JavaScript names. BFCL's own table, ``GORILLA_TO_OPENAPI``
  (``bfcl_eval/constants/type_mappings.py`` at cd9429cc), is reproduced below as it is; the scorer's
  BFCL prompts use it alone (:func:`json_type` with ``bfcl=True``), so that they stay BFCL's;
- xLAM / APIGen (and Hammer, built from it), When2Call's tools: Python type expressions, with the
  parameter's optionality and default after them: ``str``, ``int, optional``, ``List[int]``,
  ``Dict[str, Any]``, ``Optional[str]``, ``Union[int, str]``, ``Tuple[float, float]``,
  ``int, default 5``, ``Literal['a', 'b']``.

:func:`read_type` reads one such expression into a JSON Schema fragment; :func:`normalise_schema`
rewrites every ``type`` of a schema (nested properties, items, ``anyOf``...) that is not a JSON Schema
type; :func:`json_type` is the name table both use.

    >>> read_type("List[int], optional")
    TypeExpr(schema={'type': 'array', 'items': {'type': 'integer'}}, optional=True, default=<no default>)
    >>> read_type("int, default 5").default
    5
    >>> normalise_schema({"type": "dict", "properties": {"x": {"type": "float"}, "t": {"type": "tuple"}}})
    ({'type': 'object', 'properties': {'x': {'type': 'number'}, 't': {'type': 'array'}}}, True)
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["GORILLA_TO_OPENAPI", "JSON_TYPES", "NO_DEFAULT", "TypeExpr", "json_type", "read_type", "normalise_schema", "value_fits"]

JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})

# bfcl_eval/constants/type_mappings.py GORILLA_TO_OPENAPI (cd9429cc), as BFCL has it
GORILLA_TO_OPENAPI: dict[str, str] = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "double": "number",
    "char": "string",
    "ArrayList": "array",
    "Array": "array",
    "HashMap": "object",
    "Hashtable": "object",
    "Queue": "array",
    "Stack": "array",
    "Any": "string",
    "String": "string",
    "Bigint": "integer",
}

# Python and typing names (matched without case), as xLAM, When2Call and ToolACE write them; None: any
# value (no type constraint). In training data "any" means any value, not BFCL's prompt choice "string".
_PYTHON_NAMES: dict[str, str | None] = {
    "str": "string",
    "string": "string",
    "text": "string",
    "int": "integer",
    "integer": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
    "number": "number",
    "decimal": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "tuple": "array",
    "set": "array",
    "sequence": "array",
    "iterable": "array",
    "dict": "object",
    "object": "object",
    "mapping": "object",
    "map": "object",
    "none": "null",
    "nonetype": "null",
    "null": "null",
    "any": None,
}
_ARRAY_GENERICS = frozenset({"list", "sequence", "set", "tuple", "iterable", "array"})
_OBJECT_GENERICS = frozenset({"dict", "mapping", "map"})


class _NoDefault:
    def __repr__(self) -> str:
        return "<no default>"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class TypeExpr:
    """A type expression read: its JSON Schema fragment (``{}`` for any value), whether it said
    ``optional`` (or ``Optional[...]``), and the default it gave (:data:`NO_DEFAULT` when none)."""

    schema: dict[str, Any]
    optional: bool = False
    default: Any = NO_DEFAULT


def json_type(name: Any, *, bfcl: bool = False) -> str | None:
    """The JSON Schema type a type name stands for; ``None`` for any value and for unknown names.

    ``bfcl=True`` reads BFCL's ``GORILLA_TO_OPENAPI`` table alone, exactly (``any`` is ``string``
    there; names outside it are unknown), as the scorer needs to build BFCL's own prompts."""
    if not isinstance(name, str):
        return None
    if bfcl:
        return GORILLA_TO_OPENAPI.get(name)
    if name in JSON_TYPES:
        return name
    return _PYTHON_NAMES.get(name.strip().lower())


def _split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside brackets and quotes."""
    if sep not in text:
        return [text.strip()]
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


_GENERIC = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\s*\[(.*)\]$", re.S)
_DEFAULT = re.compile(r"^default\s*(?:[:=]\s*|\s+|(?=['\"\[{(\-0-9]))(.*)$", re.S | re.I)


def _literal(text: str) -> Any:
    """A default written after ``default``: a Python/JSON literal when it is one, else the text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _schema_of(text: str) -> dict[str, Any] | None:
    """The JSON Schema fragment of one type (no modifiers), or ``None`` when it cannot be read."""
    text = text.strip()
    if not text:
        return None
    alternatives = _split_top(text, "|")
    if len(alternatives) == 1 and re.search(r"\s+or\s+", text) and "[" not in text:
        alternatives = [a.strip() for a in re.split(r"\s+or\s+", text)]
    if len(alternatives) > 1:
        return _union([_schema_of(a) for a in alternatives])
    m = _GENERIC.match(text)
    if m is None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", text):
            return None
        name = text.rsplit(".", 1)[-1].lower()  # typing.List, builtins.str
        if name not in _PYTHON_NAMES:
            return None
        kind = _PYTHON_NAMES[name]
        return {} if kind is None else {"type": kind}
    head, inner = m.group(1).rsplit(".", 1)[-1].lower(), m.group(2)
    args = _split_top(inner)
    if head == "optional" and len(args) == 1:
        return _schema_of(args[0])
    if head == "union":
        return _union([_schema_of(a) for a in args])
    if head == "literal":
        values = [_literal(a) for a in args]
        return {"enum": values}
    if head in _ARRAY_GENERICS:
        out: dict[str, Any] = {"type": "array"}
        if head == "tuple" and len(args) == 2 and args[1] == "...":
            args = args[:1]
        items = [_schema_of(a) for a in args if a]
        if any(i is None for i in items):
            return None
        if len(items) > 1 and any(i != items[0] for i in items):
            return out  # a tuple of different types: an array (its positions are not kept)
        item = items[0] if items else {}
        if item is None:
            return None
        if item:
            out["items"] = item
        return out
    if head in _OBJECT_GENERICS:
        out = {"type": "object"}
        if len(args) == 2:
            value = _schema_of(args[1])
            if value is None:
                return None
            if value:
                out["additionalProperties"] = value
        return out
    return None


def _union(members: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    if any(m is None for m in members):
        return None
    schemas = [m for m in members if m is not None]
    if any(not m for m in schemas):
        return {}  # one alternative is any value
    if all(set(m) == {"type"} for m in schemas):
        types = list(dict.fromkeys(m["type"] for m in schemas))
        return {"type": types[0] if len(types) == 1 else types}
    return {"anyOf": schemas}


def read_type(text: Any) -> TypeExpr | None:
    """Read a type expression (``"str, optional"``, ``"List[int]"``, ``"int, default 5"``,
    ``"Optional[Dict[str, Any]]"``...); ``None`` when it is not one. Cached by the text (sets repeat a
    few dozen expressions over thousands of parameters): the returned schema is shared and must not
    be modified."""
    if not isinstance(text, str):
        return None
    return _read_type(text)


@lru_cache(maxsize=4096)
def _read_type(text: str) -> TypeExpr | None:
    parts = _split_top(text) if ("," in text or "|" in text) else [text.strip()]
    schema = _schema_of(parts[0])
    if schema is None:
        return None
    optional = parts[0].strip().lower().startswith("optional[")
    default: Any = NO_DEFAULT
    for mod in parts[1:]:
        low = mod.lower()
        if low in ("optional", "optional."):
            optional = True
        elif low == "required":
            optional = False
        elif (d := _DEFAULT.match(mod)) is not None and d.group(1).strip():
            default = _literal(d.group(1).strip())
            optional = True
        else:
            return None
    return TypeExpr(schema, optional, default)


_SUBSCHEMA_KEYS = frozenset({"items", "additionalProperties", "additionalItems", "not", "contains", "propertyNames", "if", "then", "else", "anyOf", "oneOf", "allOf", "prefixItems"})
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs"})


def normalise_schema(schema: Any) -> tuple[Any, bool]:
    """``schema`` with every ``type`` that is not a JSON Schema type read as one (BFCL's ``dict``,
    ``float``, ``tuple``, ``any``; Python names and expressions such as ``List[int]``), at any depth;
    and whether anything changed. The input is never modified (converters share declarations); an
    unchanged schema is returned as the same object. A type that cannot be read is left as it is (the
    schema check then reports it)."""
    if not isinstance(schema, dict):
        return schema, False
    out: dict[str, Any] | None = None
    kind = schema.get("type")
    if kind is not None and not (type(kind) is str and kind in JSON_TYPES):
        replaced = _read_type_value(kind)
        if replaced is not None:
            out = {}
            for k, v in schema.items():
                if k == "type":
                    out.update(replaced)
                elif k not in replaced or k == "items":
                    out[k] = v  # the schema's own keywords (its items) say more than the type name
    for key, sub in schema.items():
        if key in _SUBSCHEMA_KEYS:
            if isinstance(sub, dict):
                new, changed = normalise_schema(sub)
            elif isinstance(sub, list):
                pairs = [normalise_schema(x) for x in sub]
                changed = any(c for _, c in pairs)
                new = [x for x, _ in pairs]
            else:
                continue
        elif key in _SUBSCHEMA_MAPS and isinstance(sub, dict):
            new, changed = _normalise_map(sub)
        else:
            continue
        if changed:
            if out is None:
                out = dict(schema)
            out[key] = new
    return (out, True) if out is not None else (schema, False)


def _normalise_map(subs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    results = {k: normalise_schema(v) for k, v in subs.items()}
    if not any(changed for _, changed in results.values()):
        return subs, False
    return {k: v for k, (v, _) in results.items()}, True


def _read_type_value(kind: Any) -> dict[str, Any] | None:
    """The keywords replacing a ``type`` value that is not a JSON Schema type, or ``None`` if unreadable."""
    if isinstance(kind, list):
        names = [json_type(k) if isinstance(k, str) else None for k in kind]
        if any(n is None for n in names):
            return {} if any(isinstance(k, str) and k.strip().lower() == "any" for k in kind) else None
        unique = list(dict.fromkeys(names))
        return {"type": unique[0] if len(unique) == 1 else unique}
    simple = json_type(kind)
    if simple is not None:
        return {"type": simple}
    if isinstance(kind, str) and kind.strip().lower() == "any":
        return {}
    expr = read_type(kind)
    # "str, optional" inside a JSON Schema: the parent's "required" says whether it may be left out
    return None if expr is None else expr.schema


_FITS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def value_fits(value: Any, schema: dict[str, Any]) -> bool:
    """Whether ``value`` has the type ``schema`` names (only ``type`` and ``enum`` are looked at)."""
    if "enum" in schema and isinstance(schema["enum"], list):
        return value in schema["enum"]
    kind = schema.get("type")
    if kind is None:
        return True
    kinds = kind if isinstance(kind, list) else [kind]
    return any(k in _FITS and _FITS[k](value) for k in kinds)
