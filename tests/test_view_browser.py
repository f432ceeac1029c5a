"""The HTML page of ``fcdata inspect --html`` in a real browser: headless Chromium (Debian's package,
driven over the DevTools pipe by tests/chromium_cdp.py). The page loads with no script error, every
link lands on its target, the filter shows exactly the records it names, and nothing written by an
attacker in any field becomes an element or an attribute of the real DOM.

Skipped only where no ``chromium`` binary exists; ``.ci/run`` installs it, so CI always runs it."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from chromium_cdp import Chromium, chromium_binary
from fcdata.synth import synth_records
from fcdata.tokenizer import load_tokenizer
from fcdata.view import format_html, inspect_file
from hostile_data import HOSTILE, PIECES, hostile_records
from render_cases import SHARED

BINARY = chromium_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="no chromium binary on PATH: install Debian's chromium (apt-get install chromium) to run the browser tests; .ci/run installs it")

README = SHARED / "messages" / "mistral_finetune_readme_function_calling_example.jsonl"

# the elements the page is made of; anything else in the DOM was injected
ALLOWED_TAGS = {"HTML", "HEAD", "META", "TITLE", "STYLE", "BODY", "INPUT", "HEADER", "H1", "H2", "H3", "DIV", "P", "SPAN", "CODE", "B", "TABLE", "TBODY", "TR", "TD", "LABEL", "NAV", "OL", "UL", "LI", "A", "SECTION", "MAIN", "SMALL", "I"}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chromium, dict[str, Any]]]:
    """One page of real records (the mistral-finetune README example: two samples sharing their tools
    block and system prompt), twelve synthetic ones, and the hostile ones (warnings, a record that
    cannot be rendered), opened in one browser for all the tests of this module."""
    assert BINARY is not None
    folder = tmp_path_factory.mktemp("browser")
    records = [json.loads(README.read_text().splitlines()[0]), *list(synth_records(n_train=12, n_test=0, seed=3)), *hostile_records()]
    data = folder / "records.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tok = load_tokenizer()
    views = inspect_file(str(data), count=len(records), tokenizer=tok)
    html_path = folder / "page.html"
    html_path.write_text(format_html(views, tok, title="review " + HOSTILE), encoding="utf-8")
    facts = {
        "records": len(views),
        "with_findings": sorted(v.index for v in views if v.findings),
        "unrendered": sorted(v.index for v in views if v.error),
    }
    with Chromium(BINARY) as browser:
        browser.load(html_path.as_uri())
        yield browser, facts


def _visible(browser: Chromium, selector: str) -> list[str]:
    return browser.evaluate(f"[...document.querySelectorAll({json.dumps(selector)})].filter(e => e.getClientRects().length > 0).map(e => e.id || e.querySelector('a').getAttribute('href'))")


def test_the_page_loads_without_a_script_error(page: tuple[Chromium, dict[str, Any]]) -> None:
    browser, facts = page
    assert browser.evaluate("document.readyState") == "complete"
    assert browser.evaluate("document.title") == "review " + HOSTILE
    assert browser.evaluate("document.querySelectorAll('main section.record').length") == facts["records"]
    assert browser.evaluate("document.querySelectorAll('.blk').length") >= 2  # the README example's tools block and system prompt
    assert browser.errors() == []


def test_every_link_lands_on_its_target(page: tuple[Chromium, dict[str, Any]]) -> None:
    browser, facts = page
    hrefs = browser.evaluate("[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("#") for h in hrefs)
    missing = browser.evaluate("[...new Set([...document.querySelectorAll('a')].map(a => a.getAttribute('href').slice(1)))].filter(id => !document.getElementById(id))")
    assert missing == []
    # a click on a contents entry scrolls its record to the top of the window
    browser.click('nav a[href="#r5"]')
    assert browser.evaluate("document.querySelector(':target').id") == "r5"
    assert abs(browser.evaluate("document.getElementById('r5').getBoundingClientRect().top")) < 2
    # a sample's reference to a repeated block opens that block in full
    browser.evaluate("document.querySelector('main a[href=\"#b1\"]').scrollIntoView()")
    browser.click('main a[href="#b1"]')
    assert browser.evaluate("document.querySelector(':target').id") == "b1"
    assert browser.evaluate("getComputedStyle(document.querySelector('#b1 .toks')).maxHeight") == "none"
    assert browser.evaluate("getComputedStyle(document.querySelector('#b2 .toks')).maxHeight") != "none"  # the others stay collapsed
    browser.evaluate("document.querySelector('main a[href=\"#top\"]').scrollIntoView()")
    browser.click('main a[href="#top"]')
    assert browser.evaluate("document.querySelector(':target').id") == "top"
    assert abs(browser.evaluate("document.getElementById('top').getBoundingClientRect().top")) < 2
    assert browser.errors() == []


def test_the_filter_shows_exactly_the_records_it_names(page: tuple[Chromium, dict[str, Any]]) -> None:
    browser, facts = page
    every = [f"r{i}" for i in range(facts["records"])]
    browser.evaluate("window.scrollTo(0, 0)")
    browser.click("label.l-find")
    assert browser.evaluate("document.getElementById('f-find').checked") is True
    shown = _visible(browser, "main section.record")
    assert shown == [f"r{i}" for i in facts["with_findings"]] and 0 < len(shown) < len(every)
    assert _visible(browser, "nav li") == [f"#r{i}" for i in facts["with_findings"]]
    browser.click("label.l-calls")
    with_calls = _visible(browser, "main section.record")
    assert with_calls and len(with_calls) < len(every)
    classes = browser.evaluate("[...document.querySelectorAll('main section.record')].map(e => [e.id, e.classList.contains('has-calls')])")
    assert with_calls == [i for i, calls in classes if calls]
    assert "r0" in with_calls  # the README example trains its two calls
    browser.click("label.l-all")
    assert _visible(browser, "main section.record") == every
    assert browser.errors() == []


def test_hostile_text_never_becomes_markup(page: tuple[Chromium, dict[str, Any]]) -> None:
    """<script>, event attributes, javascript: URLs, closing tags, <style> and <base> in every field of a
    record and in the title: no such element or attribute exists in the DOM, and every piece is on the
    page as text."""
    browser, _ = page
    tags = set(browser.evaluate("[...document.querySelectorAll('*')].map(e => e.tagName)"))
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert browser.evaluate("document.querySelectorAll('style').length") == 1 and browser.evaluate("document.querySelectorAll('input').length") == 3
    attributes = set(browser.evaluate("[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"))
    assert not [a for a in attributes if a.startswith("on")] and not attributes & {"src", "srcdoc", "style", "formaction", "xlink:href"}, attributes
    assert browser.evaluate("[...document.querySelectorAll('[href]')].filter(e => !e.getAttribute('href').startsWith('#')).length") == 0
    text = browser.evaluate("document.body.textContent")
    for piece in PIECES:
        assert piece in text or piece.replace(" ", "") in text.replace(" ", ""), piece
    assert browser.evaluate("getComputedStyle(document.body).display") == "block"  # the <style> in the data did not apply
    assert browser.errors() == []
