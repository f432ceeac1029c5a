"""Call arguments as written in the wild -> one JSON object (fcdata.convert.arguments), the call ids,
and the fast schema check against jsonschema (fcdata.schema_check)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcdata.convert.arguments import arguments_object, parse_arguments_text
from fcdata.convert.ids import CallIds, make_call_id
from fcdata.convert.outcome import Reject
from fcdata.schema_check import _META, schema_check


def _parse(text: str) -> tuple[Any, list[str]]:
    repairs: list[str] = []
    return arguments_object(parse_arguments_text(text, repairs), repairs), repairs


@pytest.mark.parametrize(
    "text, value, repairs",
    [
        ('{"a": 1}', {"a": 1}, []),
        ('  {"a": "it\'s"}  ', {"a": "it's"}, []),
        ('{"a": "it\\\'s"}', {"a": "it's"}, ["arguments_invalid_escape"]),
        ('{"a": "a\\\\\'b"}', {"a": "a\\'b"}, []),  # an escaped backslash before the quote: valid, untouched
        ('{"a": "a\\\\\\\'b"}', {"a": "a\\'b"}, ["arguments_invalid_escape"]),  # backslash, then the \' defect
        ('{"a": "line\nbreak"}', {"a": "line\nbreak"}, ["arguments_control_chars"]),
        ('{"a": 1}}', {"a": 1}, ["arguments_extra_brace"]),
        ("{'a': True, 'b': None}", {"a": True, "b": None}, ["arguments_python_literal"]),
        ("null", {}, ["arguments_null"]),
        ("", {}, ["arguments_null"]),
        ('"{\\"a\\": 1}"', {"a": 1}, ["arguments_double_encoded"]),
    ],
)
def test_repairs(text: str, value: Any, repairs: list[str] | None) -> None:
    if value is None:
        with pytest.raises(Reject):
            _parse(text)
        return
    assert _parse(text) == (value, repairs)


@pytest.mark.parametrize(
    "text, code",
    [
        ('{"a": Infinity}', "arguments_non_finite"),
        ('{"a": NaN}', "arguments_non_finite"),
        ('{"a": 1e400}', "arguments_non_finite"),
        ('{"a": "b', "arguments_truncated"),
        ('{"a": [1, 2', "arguments_truncated"),
        ("[1, 2]", "arguments_not_object"),
        ("42", "arguments_not_object"),
        ('"text"', "arguments_not_object"),
        ("call the weather api", "arguments_not_json"),
        ("{'a': float('inf')}", "arguments_not_json"),
    ],
)
def test_refusals(text: str, code: str) -> None:
    with pytest.raises(Reject) as err:
        _parse(text)
    assert err.value.reasons[0][0] == code


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=5), st.sampled_from([None, 2, 4]))
def test_any_json_object_round_trips_in_any_layout(obj: dict[str, Any], indent: int | None) -> None:
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    value, repairs = _parse(text)
    assert value == obj and repairs == []


@given(st.text(max_size=60))
def test_arbitrary_text_never_raises_anything_but_a_rejection(text: str) -> None:
    try:
        value, _ = _parse(text)
    except Reject as rej:
        assert rej.reasons[0][0].startswith("arguments_")
    else:
        assert isinstance(value, dict)
        json.dumps(value, allow_nan=False)  # always writable as JSON


# --------------------------------------------------------------------------------------------- ids


def test_call_ids_are_deterministic_distinct_and_well_formed() -> None:
    a = CallIds(b"record one")
    b = CallIds(b"record one")
    first = [a.next(None)[0] for _ in range(50)]
    assert first == [b.next(None)[0] for _ in range(50)]
    assert len(set(first)) == 50 and all(re.fullmatch(r"[a-zA-Z0-9]{9}", i) for i in first)
    assert CallIds(b"record two").next(None)[0] != first[0]
    assert make_call_id(b"record one", 3) == first[3]


def test_valid_ids_are_kept_invalid_or_repeated_ones_replaced() -> None:
    ids = CallIds(b"x", reserved={"abcDEF123"})
    assert ids.next("abcDEF123") == ("abcDEF123", True)
    again, kept = ids.next("abcDEF123")
    assert not kept and again != "abcDEF123"
    new, kept = ids.next("call_0")
    assert not kept and re.fullmatch(r"[a-zA-Z0-9]{9}", new)


# ------------------------------------------------------------------------------------------- schemas


def test_metaschema_keywords_match_jsonschema() -> None:
    assert _META == set(jsonschema.Draft7Validator.META_SCHEMA["properties"])


_NAMES = st.sampled_from(["a", "b", "c", "d"])
_TYPES = st.sampled_from(["string", "integer", "number", "boolean", "array", "object", "null", "str", "int"])


def _schema(depth: int) -> Any:
    leaf_keys: dict[str, Any] = {
        "type": _TYPES | st.lists(_TYPES, min_size=0, max_size=3),
        "description": st.text(max_size=5) | st.integers(),
        "enum": st.lists(st.text(max_size=3) | st.integers(0, 3), max_size=3),
        "minimum": st.integers(-5, 5) | st.floats(-5, 5) | st.booleans(),
        "exclusiveMaximum": st.integers(-5, 5),
        "maxLength": st.integers(-1, 5),
        "minItems": st.integers(0, 3),
        "pattern": st.sampled_from(["^a", "b$", "[", "a+"]),
        "format": st.sampled_from(["date", "email", 3]),
        "default": _JSON,
        "examples": st.lists(st.integers(), max_size=2) | st.just("x"),
        "const": st.integers(0, 2),
        "x-custom": st.integers(),
    }
    if depth > 0:
        sub = _schema(depth - 1)
        leaf_keys.update(
            {
                "properties": st.dictionaries(_NAMES, sub, max_size=3),
                "required": st.lists(_NAMES, max_size=3),
                "items": sub | st.booleans(),
                "additionalProperties": st.booleans() | sub,
            }
        )
    return st.fixed_dictionaries({}, optional=leaf_keys)


_INSTANCE = st.recursive(
    st.none() | st.booleans() | st.integers(-6, 6) | st.floats(-6, 6, allow_nan=False) | st.sampled_from(["", "a", "ab", "ba", "abc", "2024-01-01"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES | st.just("e"), inner, max_size=4),
    max_leaves=8,
)


@settings(max_examples=300)
@given(_schema(2), st.lists(_INSTANCE, min_size=1, max_size=4))
def test_fast_schema_check_agrees_with_jsonschema(schema: dict[str, Any], instances: list[Any]) -> None:
    check = schema_check(json.dumps(schema))
    try:
        jsonschema.Draft7Validator.check_schema(schema)
        valid_schema = True
    except jsonschema.SchemaError:
        valid_schema = False
    assert (check.problem is None) == valid_schema, (schema, check.problem)
    if not valid_schema:
        return
    validator = jsonschema.Draft7Validator(schema)
    for inst in instances:
        assert (check.errors(inst) == []) == validator.is_valid(inst), (schema, inst)


def test_fast_keywords_are_metaschema_keywords() -> None:
    from fcdata.schema_check import _FAST_KEYWORDS

    assert _FAST_KEYWORDS <= _META
