"""fcdata.ecma_regex: ECMA-262 patterns on RE2. On the part of the language where Python's re and
ECMA-262 mean the same (no newline in the text, no Unicode classes), RE2's verdict must equal re's for
any pattern and text; where they differ, ECMA-262's meaning wins (tests/test_hostile.py)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from fcdata.ecma_regex import search, translate

_ATOMS = st.sampled_from(["a", "b", "1", ".", "[ab]", "[^a]", "[a-c1]", "\\d", "\\w", "\\s", "\\.", "\\x61", "\\u0062", "[\\d-]"])
_QUANT = st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,3}", "{0,}", "*?", "+?", "??", "{1,2}?"])


def _pattern() -> st.SearchStrategy[str]:
    term = st.builds(lambda a, q: a + q, _ATOMS, _QUANT)
    seq = st.lists(term, min_size=0, max_size=4).map("".join)
    group = st.builds(lambda body, alt, q: "(" + body + ("|" + alt if alt else "") + ")" + q, seq, seq | st.just(""), _QUANT)
    body = st.lists(term | group, min_size=1, max_size=4).map("".join)
    return st.builds(lambda start, b, end: start + b + end, st.sampled_from(["", "^"]), body, st.sampled_from(["", "$"]))


@given(_pattern(), st.lists(st.text(alphabet="ab1 .-", max_size=8), min_size=1, max_size=5))
def test_same_verdict_as_python_re_where_the_two_agree(pattern: str, texts: list[str]) -> None:
    compiled = re.compile(pattern)
    for text in texts:
        assert search(pattern, text) == (compiled.search(text) is not None), (pattern, translate(pattern), text)


def test_the_translation_spells_every_literal_out() -> None:
    assert translate("^a.b$") == "^a[^\\x{A}\\x{D}\\x{2028}\\x{2029}]b$"
    assert translate("[^\\d]") == "[^0-9]"
    assert translate("(?<year>\\d{4})-") == "(?P<year>[0-9]{4})\\x{2D}"
