"""jsonschema made safe for untrusted tool schemas: nothing is fetched or read, no pattern backtracks, and
the work spent on one record is bounded.

A tool's ``parameters`` schema comes from the data, so it is hostile input. Three things jsonschema does
by default are unsafe with it, and this module is where fcdata builds every jsonschema validator so that
none of them happens:

- **references**: jsonschema resolves a ``$ref`` it does not find in the schema by fetching it
  (``http://...``) or opening it (``file://...``), then uses what it read as the schema, so a finding could
  echo a local file, and a host that never answers hangs the run. Here only fragment references
  (``#/definitions/x``, ``#/$defs/x``, ``#anchor``) are followed; :func:`static_problems` calls any other
  one unusable before anything runs, and the validator's ``referencing`` registry refuses every retrieval
  as a second guard (the JSON Schema metaschemas that jsonschema bundles stay resolvable from memory).
- **patterns**: ``pattern``, ``patternProperties`` and the ``additionalProperties`` that depends on them
  run on RE2 with their ECMA-262 meaning (:mod:`fcdata.ecma_regex`), never on Python's backtracking
  ``re``. A pattern that cannot be run so is reported by :func:`static_problems`. Two constructs would
  let jsonschema reach Python's ``re`` behind the replaced keywords, so a schema that has patterns and
  uses one of them is reported the same way: a ``$schema`` below the root (jsonschema switches to its
  stock validator class for that subschema) and ``unevaluatedProperties`` beside ``patternProperties``.
- **cost**: every keyword evaluation spends one step of a budget, :data:`STEPS_PER_RECORD` for one
  record (:func:`record_budget`) or for one evaluation when no record budget is open. Steps, not seconds,
  so that the verdict is the same on every machine and for any ``--num-proc``. ``uniqueItems`` is
  checked in linear time (jsonschema compares every pair of objects).

Every validator adds about 10% to jsonschema's own time (200 µs a call measured on a small ``anyOf``
schema); the common schemas never get here, :mod:`fcdata.schema_check` checks them itself.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import lru_cache
from typing import Any, Callable, Iterator

from .ecma_regex import PatternUnsupported, compile_pattern, search

__all__ = ["SchemaLimit", "STEPS_PER_RECORD", "record_budget", "begin_record", "end_record", "metered", "make_validator", "static_problems"]

# Steps (keyword evaluations) allowed per record. A call of an ordinary schema takes tens; running out
# took 0.46 s on this project's (shared, 2-core) machine, on a schema whose anyOf of $refs doubles at
# every level (tests/test_hostile.py has it).
STEPS_PER_RECORD = 20_000


class SchemaLimit(Exception):
    """The step budget ran out before the arguments were checked."""


class _Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps


_BUDGET: ContextVar[_Budget | None] = ContextVar("fcdata_schema_budget", default=None)


@contextmanager
def record_budget(steps: int = STEPS_PER_RECORD) -> Iterator[None]:
    """Every schema evaluation inside the block shares one budget of ``steps`` (one record's checks)."""
    token = begin_record(steps)
    try:
        yield
    finally:
        end_record(token)


def begin_record(steps: int = STEPS_PER_RECORD) -> Token[_Budget | None]:
    """:func:`record_budget` without the ``with`` (a tenth of its cost, for per-record hot loops):
    pass the token to :func:`end_record`."""
    return _BUDGET.set(_Budget(steps))


def end_record(token: Token[_Budget | None]) -> None:
    _BUDGET.reset(token)


@contextmanager
def metered() -> Iterator[None]:
    """One evaluation: spends the open record budget, or a fresh one when none is open; raises
    :class:`SchemaLimit` (from the keywords) when it runs out."""
    if _BUDGET.get() is not None:
        yield
        return
    token = _BUDGET.set(_Budget(STEPS_PER_RECORD))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _charged(fn: Callable[..., Any]) -> Callable[..., Any]:
    def keyword(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.left -= 1
            if budget.left < 0:
                raise SchemaLimit
        return fn(validator, value, instance, schema)

    return keyword


# ------------------------------------------------------------------------------------------ keywords
# The regex keywords of jsonschema (its messages kept), with RE2 in place of Python's re.


def _pattern(validator: Any, patrn: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not search(patrn, instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for k, v in instance.items():
            if search(pattern, k):
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


def _additional(instance: Any, schema: Any) -> list[Any]:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [k for k in instance if k not in properties and not any(search(p, k) for p in patterns)]


def _additional_properties(validator: Any, aP: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    extras = set(_additional(instance, schema))
    if validator.is_type(aP, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], aP, path=extra)
    elif not aP and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            listed = sorted(extras, key=str)
            verb = "was" if len(listed) == 1 else "were"
            yield ValidationError(f"Additional properties are not allowed ({', '.join(repr(e) for e in listed)} {verb} unexpected)")


def _key(x: Any) -> Any:
    """A hashable stand-in for a JSON value under jsonschema's equality (``1 == 1.0``, ``True != 1``,
    key order ignored)."""
    if isinstance(x, bool):
        return ("b", x)
    if isinstance(x, (int, float)):
        return ("n", x)
    if isinstance(x, str):
        return ("s", x)
    if isinstance(x, list):
        return ("l", tuple(_key(v) for v in x))
    if isinstance(x, dict):
        return ("d", frozenset((k, _key(v)) for k, v in x.items()))
    return ("o", x)


def _unique_items(validator: Any, uI: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if uI and validator.is_type(instance, "array"):
        seen = set()
        for item in instance:
            k = _key(item)
            if k in seen:
                yield ValidationError(f"{instance!r} has non-unique elements")
                return
            seen.add(k)


_OWN: dict[str, Callable[..., Any]] = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "uniqueItems": _unique_items,
}


@lru_cache(maxsize=None)
def _validator_class(base: Any) -> Any:
    """``base`` (a jsonschema draft's validator class) with the keywords above and every keyword charged
    to the budget. ``extend`` with no version: the class is not registered, so ``validator_for`` and
    other users of jsonschema in the process are unaffected."""
    from jsonschema import validators

    table = {kw: _charged(_OWN.get(kw, fn)) for kw, fn in base.VALIDATORS.items()}
    return validators.extend(base, table)


def _refuse(uri: str) -> Any:
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)


@lru_cache(maxsize=1)
def _registry() -> Any:
    from referencing import Registry

    return Registry(retrieve=_refuse)  # type: ignore[call-arg]


def validator_class_for(schema: Any) -> Any:
    """The stock jsonschema class tool schemas are read with: Draft 7, whatever their ``$schema`` says.

    mistral-common checks every tool schema with ``Draft7Validator.check_schema``, so Draft 7 decides
    which schemas it refuses; honouring ``$schema`` let a draft-04 schema it refuses through and refused
    a draft 2020-12 one it encodes. It also took any ``$schema`` value to jsonschema's registry, which
    raised on a list, an object, a number or a malformed URI (a traceback that stopped validate)."""
    import jsonschema

    return jsonschema.Draft7Validator


def make_validator(schema: Any) -> Any:
    """A jsonschema validator for ``schema`` that follows no reference outside it, runs patterns on RE2
    and spends the step budget (use it inside :func:`metered`). The draft is Draft 7; the root's
    ``$schema`` is left out, so that a ``$ref`` back to the root cannot switch to the stock class."""
    cls = _validator_class(validator_class_for(schema))
    root = {k: v for k, v in schema.items() if k != "$schema"} if isinstance(schema, dict) else schema
    return cls(root, registry=_registry())


# ------------------------------------------------------------------------------------- static checks

_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
_ONE_SCHEMA = ("additionalProperties", "additionalItems", "contains", "propertyNames", "not", "if", "then", "else", "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas", "dependencies")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items", "extends", "disallow", "type")


def _where(path: list[str]) -> str:
    return "/".join(path) or "the root"


def _walk(schema: Any, path: list[str], found: dict[str, str]) -> None:
    """Keyword by keyword through the subschemas: the first reference that leaves the schema
    (``found["ref"]``) and the first pattern RE2 cannot run with its ECMA-262 meaning
    (``found["pattern"]``)."""
    if not isinstance(schema, dict):
        return
    for kw in _REF_KEYWORDS:
        ref = schema.get(kw)
        if isinstance(ref, str) and not ref.startswith("#") and "ref" not in found:
            found["ref"] = f"{kw} {ref!r} (at {_where(path + [kw])}) points outside the schema; only references inside it (#/definitions/..., #/$defs/...) are followed, nothing is fetched or read"
    if "pattern" not in found:
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            _try(pattern, path + ["pattern"], found)
        pp = schema.get("patternProperties")
        if isinstance(pp, dict):
            for key in pp:
                _try(key, path + ["patternProperties", key], found)
    for kw in _ONE_SCHEMA:
        if kw in schema:
            _walk(schema[kw], path + [kw], found)
    for kw in _SCHEMA_MAPS:
        sub = schema.get(kw)
        if isinstance(sub, dict):
            for k, v in sub.items():
                _walk(v, path + [kw, str(k)], found)
    for kw in _SCHEMA_LISTS:
        sub = schema.get(kw)
        if isinstance(sub, list):
            for i, v in enumerate(sub):
                _walk(v, path + [kw, str(i)], found)
        elif kw == "items":
            _walk(sub, path + [kw], found)


def _try(pattern: str, path: list[str], found: dict[str, str]) -> None:
    if "pattern" in found:
        return
    try:
        compile_pattern(pattern)
    except PatternUnsupported as exc:
        found["pattern"] = f"{_where(path)}: {exc.reason} (pattern {pattern!r})"


def _document_keys(schema: Any) -> tuple[bool, bool, bool, bool]:
    """Whether any object anywhere in the document (data included: a ``$ref`` may point into it) has a
    ``pattern``/``patternProperties`` key, a ``patternProperties`` key, an ``unevaluatedProperties`` key,
    and a ``$schema`` key below the root."""
    patterns = pp = ueval = nested = False
    stack: list[tuple[Any, bool]] = [(schema, True)]
    while stack:
        node, root = stack.pop()
        if isinstance(node, dict):
            if "pattern" in node or "patternProperties" in node:
                patterns = True
            pp = pp or "patternProperties" in node
            ueval = ueval or "unevaluatedProperties" in node
            nested = nested or (not root and "$schema" in node)
            stack.extend((v, False) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, False) for v in node)
    return patterns, pp, ueval, nested


def static_problems(schema: Any) -> tuple[str | None, str | None]:
    """What makes a (metaschema-valid) schema impossible to apply safely, found without running it:
    ``(unusable, unsupported)``. *unusable*: a reference outside the schema. *unsupported*: a pattern
    that RE2 cannot run with its ECMA-262 meaning, or a construct that would run patterns outside RE2."""
    found: dict[str, str] = {}
    try:
        _walk(schema, [], found)
    except RecursionError:
        return "the schema is nested too deeply to be checked", None
    patterns, pp, ueval, nested = _document_keys(schema)
    if "pattern" not in found and patterns and nested:
        found["pattern"] = "a $schema below the root of a schema that uses patterns (fcdata cannot run its patterns in linear time there); drop the inner $schema"
    if "pattern" not in found and pp and ueval:
        found["pattern"] = "patternProperties together with unevaluatedProperties (fcdata cannot run those patterns in linear time); use additionalProperties"
    return found.get("ref"), found.get("pattern")
