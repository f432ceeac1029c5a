"""Checking call arguments against their function's ``parameters`` JSON Schema, fast enough to run on
every call of a 100,000-record conversion. Used by :mod:`fcdata.convert`, :mod:`fcdata.validate` and
:mod:`fcdata.score`, so all three agree on what a valid schema and valid arguments are.

Why not just ``jsonschema``: one ``is_valid`` call on a three-property object costs about 50 µs, five times
the cost of ``json.loads`` of a whole Glaive line, and checking a schema against its metaschema costs
about 3 ms. Conversion must stay within a few times the cost of reading its input, so:

- each distinct schema text is looked at once and the result cached;
- schemas written only with the keywords function declarations use in practice (``type``,
  ``properties``, ``required``, ``items``, ``enum`` of strings, ``additionalProperties``, numeric and
  length bounds, ``pattern``, and the annotations ``description``, ``title``, ``format``, ``default``,
  ``examples``...) are checked against the Draft 7 metaschema's rules for those keywords and compiled
  into a small Python predicate that mirrors jsonschema's rules for them; any other metaschema keyword
  (``$ref``, ``anyOf``, ``const``, ``$schema``...) or any doubt sends the schema to jsonschema itself,
  for the schema check (``check_schema``) and the validation;
- the predicate is only trusted to say *valid*: when it says *invalid*, jsonschema decides and gives the
  message, so a difference between the two can only cost time, never let a bad call through. Property
  tests compare both the schema check and the validation with jsonschema on random schemas and values.

The draft is Draft 7 whatever the schema's ``$schema`` says: the draft mistral-common checks every tool
schema against (``Draft7Validator.check_schema``), and the one :mod:`fcdata.validate` uses. ``format`` is not asserted (jsonschema asserts it only
when given a format checker, and neither the validator nor mistral-common gives one).

The schema is untrusted input: jsonschema runs only as :mod:`fcdata.schema_guard` builds it (no reference
outside the schema is followed, nothing is fetched or read; ``pattern`` runs on RE2 with its ECMA-262
meaning; the work per record is bounded), and the fast path runs ``pattern`` on RE2 too. A schema with a
reference outside itself is ``unusable``; one with a pattern RE2 cannot run is ``unsupported`` (its calls
go unchecked, and the validator says so).
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from .ecma_regex import compile_pattern
from .schema_guard import SchemaLimit, make_validator, metered, static_problems, validator_class_for

__all__ = ["SchemaCheck", "schema_check", "clear_cache"]

Predicate = Callable[[Any], bool]

# Keywords the fast path implements. A schema that uses any other keyword of the Draft 7 metaschema
# ($ref, anyOf, const, definitions...) goes to jsonschema for both the schema check and the validation.
# Keywords the metaschema does not know are ignored by jsonschema, and so here.
_STRING_ANNOTATIONS = frozenset({"title", "description", "$comment", "format", "contentMediaType", "contentEncoding"})
_FAST_KEYWORDS = _STRING_ANNOTATIONS | {
    "type", "properties", "required", "items", "enum", "additionalProperties", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "pattern",
    "default", "examples", "readOnly",
}
_SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})


# The keywords the Draft 7 metaschema defines (its "properties"); a test checks this against
# jsonschema's copy. Written out so that the fast path never imports jsonschema (half a second per
# worker process).
_META = frozenset(
    {
        "$id", "$schema", "$ref", "$comment", "title", "description", "default", "readOnly", "examples",
        "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
        "pattern", "additionalItems", "items", "maxItems", "minItems", "uniqueItems", "contains",
        "maxProperties", "minProperties", "required", "additionalProperties", "definitions", "properties",
        "patternProperties", "dependencies", "propertyNames", "const", "enum", "type", "format",
        "contentMediaType", "contentEncoding", "if", "then", "else", "allOf", "anyOf", "oneOf", "not",
    }
)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _is_integer(x: Any) -> bool:
    return (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, float) and x.is_integer())


# Draft 7 type rules as jsonschema implements them: bool is not a number, a float with an integral value
# is an integer.
_TYPE_TESTS: dict[str, Predicate] = {
    "string": lambda x: isinstance(x, str),
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _is_number,
    "integer": _is_integer,
}
_MAX_DEPTH = 64


class _Unsupported(Exception):
    """The schema uses something the fast path does not implement, or breaks a metaschema rule (then
    jsonschema's own check words the problem)."""


class _Node:
    """One compiled (sub)schema. Interpreted by :func:`_valid`; building one costs tens of microseconds
    (generating and compiling Python code instead was faster to run but cost a millisecond per distinct
    schema, and Glaive declares tens of thousands of distinct ones)."""

    __slots__ = ("type_test", "required", "props", "known", "closed", "extra", "items", "enum", "scalar", "leaf")

    def __init__(self) -> None:
        self.type_test: Predicate | None = None
        self.required: tuple[str, ...] = ()
        self.props: tuple[tuple[str, "_Node"], ...] = ()
        self.known: frozenset[str] = frozenset()
        self.closed = False
        self.extra: _Node | None = None
        self.items: _Node | None = None
        self.enum: frozenset[str] | None = None
        self.scalar: tuple[tuple[str, Any], ...] = ()
        # the type test alone when the node has no other rule (the common leaf: {"type": "string", ...})
        self.leaf: Predicate | None = None


def _valid(node: _Node, x: Any) -> bool:
    t = node.type_test
    if t is not None and not t(x):
        return False
    if node.leaf is not None:
        return True
    if isinstance(x, dict):
        for r in node.required:
            if r not in x:
                return False
        for k, sub in node.props:
            if k in x:
                leaf = sub.leaf
                if leaf is not None:
                    if not leaf(x[k]):
                        return False
                elif not _valid(sub, x[k]):
                    return False
        if node.closed:
            known = node.known
            for k in x:
                if k not in known:
                    return False
        elif node.extra is not None:
            known, extra = node.known, node.extra
            for k, v in x.items():
                if k not in known and not _valid(extra, v):
                    return False
    elif isinstance(x, list):
        if node.items is not None:
            items = node.items
            for v in x:
                if not _valid(items, v):
                    return False
    if node.enum is not None and not (isinstance(x, str) and x in node.enum):
        return False
    for op, bound in node.scalar:
        if not _scalar_ok(op, bound, x):
            return False
    return True


def _scalar_ok(op: str, bound: Any, x: Any) -> bool:
    if op == "minimum":
        return not _is_number(x) or not x < bound
    if op == "maximum":
        return not _is_number(x) or not x > bound
    if op == "exclusiveMinimum":
        return not _is_number(x) or not x <= bound
    if op == "exclusiveMaximum":
        return not _is_number(x) or not x >= bound
    if op == "minLength":
        return not isinstance(x, str) or len(x) >= bound
    if op == "maxLength":
        return not isinstance(x, str) or len(x) <= bound
    if op == "minItems":
        return not isinstance(x, list) or len(x) >= bound
    if op == "maxItems":
        return not isinstance(x, list) or len(x) <= bound
    return not isinstance(x, str) or bound.search(x.encode("utf-8", "surrogatepass")) is not None  # pattern (RE2)


def _build(schema: Any, depth: int = 0) -> _Node:
    """Compile a schema that only uses the supported keywords *and* satisfies the Draft 7 metaschema's
    rules for them (checked on the way, so ``check_schema`` is not needed); raises :class:`_Unsupported`
    otherwise. One pass over the schema's own keys (declarations are built for thousands of distinct
    schemas, so this is on the hot path too)."""
    if depth > _MAX_DEPTH or not isinstance(schema, dict):
        raise _Unsupported  # boolean schemas: rare, leave them to jsonschema
    if schema.keys() <= _LEAF_KEYS:
        # the common leaf, {"type": "string", "description": "..."}: a shared node per type
        kind = schema.get("type")
        if type(kind) is str and kind in _LEAF_NODES and all(type(v) is str for v in schema.values()):
            return _LEAF_NODES[kind]
    node = _Node()
    other_rules = False
    scalar: list[tuple[str, Any]] = []
    props: Any = None
    for key, val in schema.items():
        if key == "type":
            names = [val] if isinstance(val, str) else val
            if not isinstance(names, list) or not names or not all(isinstance(n, str) and n in _SIMPLE_TYPES for n in names) or len(set(names)) != len(names):
                raise _Unsupported
            tests = tuple(_TYPE_TESTS[n] for n in names)
            node.type_test = tests[0] if len(tests) == 1 else (lambda x, tests=tests: any(t(x) for t in tests))
        elif key in _STRING_ANNOTATIONS:
            if not isinstance(val, str):
                raise _Unsupported
        elif key == "properties":
            if not isinstance(val, dict):
                raise _Unsupported
            props = val
            node.props = tuple((k, _build(v, depth + 1)) for k, v in val.items())
            node.known = frozenset(val)
            other_rules = other_rules or bool(val)
        elif key == "required":
            if not isinstance(val, list) or not all(isinstance(r, str) for r in val) or len(set(val)) != len(val):
                raise _Unsupported
            node.required = tuple(val)
            other_rules = other_rules or bool(val)
        elif key == "items":
            if not isinstance(val, dict):
                raise _Unsupported
            node.items = _build(val, depth + 1)
            other_rules = True
        elif key == "enum":
            if not isinstance(val, list) or not all(isinstance(e, str) for e in val):
                raise _Unsupported
            node.enum = frozenset(val)
            other_rules = True
        elif key == "additionalProperties":
            if val is False:
                node.closed = True
                other_rules = True
            elif isinstance(val, dict):
                node.extra = _build(val, depth + 1)
                other_rules = True
            elif val is not True:
                raise _Unsupported
        elif key in _BOUNDS:
            if not _is_number(val):
                raise _Unsupported
            scalar.append((key, val))
        elif key in _COUNTS:
            if not _is_count(val):
                raise _Unsupported
            scalar.append((key, val))
        elif key == "pattern":
            # valid for Python's re, as the metaschema's "format": "regex" demands (jsonschema's
            # check_schema and mistral-common check it so), and run on RE2 with its ECMA-262 meaning
            try:
                re.compile(val)
                scalar.append(("pattern", compile_pattern(val)))
            except (re.error, TypeError, RecursionError, OverflowError, ValueError):  # PatternUnsupported too
                raise _Unsupported from None
        elif key == "examples":
            if not isinstance(val, list):
                raise _Unsupported
        elif key == "readOnly":
            if not isinstance(val, bool):
                raise _Unsupported
        elif key in _META and key not in _FAST_KEYWORDS:
            raise _Unsupported  # a metaschema keyword the fast path does not implement
    if node.closed or node.extra is not None:
        node.known = frozenset(props) if isinstance(props, dict) else frozenset()
    node.scalar = tuple(scalar)
    if not other_rules and not scalar:
        node.leaf = node.type_test or _always
    return node


def _leaf_node(type_name: str) -> _Node:
    node = _Node()
    node.type_test = node.leaf = _TYPE_TESTS[type_name]
    return node


_LEAF_KEYS = frozenset({"type", "description", "title", "format", "$comment"})
_LEAF_NODES = {name: _leaf_node(name) for name in _TYPE_TESTS}
_BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_COUNTS = frozenset({"minLength", "maxLength", "minItems", "maxItems"})


def _always(x: Any) -> bool:
    return True


def _compile(schema: Any) -> Predicate:
    """A predicate equal to ``Draft7Validator(schema).is_valid`` for a supported schema (see
    :func:`_build`); raises :class:`_Unsupported` otherwise."""
    node = _build(schema)
    if node.leaf is not None:
        return node.leaf
    return lambda x: _valid(node, x)


class _Outcome:
    """jsonschema's verdict on one value: valid (``True``), invalid (``False``, with its errors sorted by
    path) or not applicable (``None``, with the reason)."""

    __slots__ = ("verdict", "errors", "reason")

    def __init__(self, verdict: bool | None, errors: list[Any], reason: str | None) -> None:
        self.verdict = verdict
        self.errors = errors
        self.reason = reason


class SchemaCheck:
    """What is known about one ``parameters`` schema: whether it is a valid JSON Schema (``problem`` says
    why not), whether it can be applied safely (``unusable``: a reference outside it; ``unsupported``: a
    pattern fcdata cannot run in linear time, see :mod:`fcdata.schema_guard`), and how to check arguments
    against it."""

    __slots__ = ("schema", "problem", "fast", "unusable", "unsupported", "_validator", "_last")

    def __init__(self, schema: Any, problem: str | None, fast: Predicate | None, unusable: str | None = None, unsupported: str | None = None) -> None:
        self.schema = schema
        self.problem = problem
        self.fast = fast
        self.unusable = unusable
        self.unsupported = unsupported
        self._validator: Any = None
        # the last value found invalid or unusable and its outcome, so that asking for the reason or the
        # errors right after the verdict does not evaluate the schema again
        self._last: tuple[Any, _Outcome] | None = None

    def is_valid(self, arguments: Any) -> bool | None:
        """Whether ``arguments`` satisfy the schema; ``None`` when the schema cannot be applied to them
        (itself invalid, unusable or unsupported, or over the step budget)."""
        if self.problem is not None or self.unusable is not None or self.unsupported is not None:
            return None
        if self.fast is not None:
            try:
                if self.fast(arguments):
                    return True
            except (RecursionError, TypeError):
                pass
        return self._outcome(arguments).verdict

    def unusable_reason(self, arguments: Any) -> str:
        """Why the schema cannot be applied to ``arguments`` (when :meth:`is_valid` gave ``None``: a
        ``$ref`` to nothing or out of the schema, an unknown type, a pattern RE2 cannot run, the step
        budget...)."""
        for known in (self.problem, self.unusable, self.unsupported):
            if known is not None:
                return known
        return self._outcome(arguments).reason or "no reason given"

    def validation_errors(self, arguments: Any, limit: int = 5) -> list[Any]:
        """jsonschema's errors for ``arguments`` (``ValidationError`` objects, by path; at most
        ``limit``), empty when valid or when the schema cannot be applied (reported on its own)."""
        if self.is_valid(arguments) is not False:
            return []
        return self._outcome(arguments).errors[:limit]

    def errors(self, arguments: Any) -> list[str]:
        """Messages of every rule ``arguments`` breaks (empty when valid, and when a pattern of the schema
        cannot be run: those calls go unchecked, and the validator warns about the tool), as jsonschema
        words them."""
        if self.problem is not None:
            return [f"the declared parameters are not a valid JSON Schema: {self.problem}"]
        if self.unsupported is not None:
            return []
        verdict = self.is_valid(arguments)
        if verdict is None:
            return [f"the declared parameters cannot be applied: {self.unusable_reason(arguments)}"]
        if verdict:
            return []
        found = self.validation_errors(arguments)
        if not found:
            return ["arguments nested too deeply to check"]
        out = []
        for err in found:
            where = ".".join(str(p) for p in err.absolute_path)
            out.append(f"{where}: {err.message}" if where else err.message)
        return out

    def _outcome(self, arguments: Any) -> _Outcome:
        last = self._last
        if last is not None and last[0] is arguments:
            return last[1]
        found: list[Any] = []
        try:
            with metered():
                for err in self._jsonschema().iter_errors(arguments):
                    found.append(err)
            outcome = _Outcome(not found, sorted(found, key=lambda e: [str(p) for p in e.absolute_path]), None)
        except RecursionError:
            outcome = _Outcome(False, [], None)  # nested too deeply to evaluate: not shown valid
        except SchemaLimit:
            if found:
                outcome = _Outcome(False, sorted(found, key=lambda e: [str(p) for p in e.absolute_path]), None)
            else:
                outcome = _Outcome(None, [], "checking these arguments takes more than the record's budget of schema evaluation steps (fcdata bounds the work per record); simplify the schema")
        except Exception as exc:  # jsonschema's own errors: Unresolvable, UnknownType, TypeError...
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            outcome = _Outcome(None, [], text[:200] or type(exc).__name__)
        if outcome.verdict is not True:
            self._last = (arguments, outcome)
        return outcome

    def _jsonschema(self) -> Any:
        if self._validator is None:
            self._validator = make_validator(self.schema)
        return self._validator


_CACHE: dict[str, SchemaCheck] = {}
_CACHE_SIZE = 16384


def schema_check(schema_text: str, schema: Any = None) -> SchemaCheck:
    """The :class:`SchemaCheck` of a schema given as JSON text (``schema``, when given, is that text
    already decoded). Cached by text; the cache is emptied when it reaches 16,384 schemas."""
    found = _CACHE.get(schema_text)
    if found is None:
        found = _schema_check(schema_text, json.loads(schema_text) if schema is None else schema)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[schema_text] = found
    return found


def clear_cache() -> None:
    _CACHE.clear()


def _schema_check(schema_text: str, schema: Any) -> SchemaCheck:
    try:
        return SchemaCheck(schema, None, _compile(schema))
    except (_Unsupported, RecursionError):
        pass
    import jsonschema
    from jsonschema.exceptions import SchemaError

    cls = validator_class_for(schema)
    try:
        # what check_schema raises (the first error of the metaschema's validator, formats checked), but
        # with the errors in a fixed order: jsonschema finds a schema's extra properties through a set,
        # so with two bad properties the one it names first changed with the interpreter's string
        # hashing, and so did the rejection message (a stable sort by path keeps every other order)
        meta = jsonschema.validators.validator_for(cls.META_SCHEMA, default=cls)
        errors = sorted(meta(cls.META_SCHEMA, format_checker=meta.FORMAT_CHECKER).iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path])
        exc: SchemaError | None = SchemaError.create_from(errors[0]) if errors else None
    except RecursionError:
        return SchemaCheck(schema, "schema nested too deeply", None)
    except Exception as err:  # Python's re refusing a pattern with something other than re.error (OverflowError...)
        return SchemaCheck(schema, f"a pattern cannot be compiled: {err}", None)
    if exc is not None:
        where = "/".join(str(p) for p in exc.absolute_path)
        return SchemaCheck(schema, exc.message + (f" (at {where})" if where else ""), None)
    unusable, unsupported = static_problems(schema)
    return SchemaCheck(schema, None, None, unusable, unsupported)
