"""fcdata inspect: the terminal view, the HTML page, prepared data, and the CLI."""

from __future__ import annotations

import html
import json
import re
from collections import Counter

import pytest
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.errors import InputError
from fcdata.prepare import prepare
from fcdata.tokenizer import load_tokenizer
from fcdata.view import format_html, format_terminal, inspect_file, is_prepared, turn_rows
from render_cases import SHARED

README = str(SHARED / "messages" / "mistral_finetune_readme_function_calling_example.jsonl")
SHAREGPT = str(SHARED / "sharegpt" / "glaive_toolcall_en_demo.json")


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def test_terminal_view_plain(tok):
    [view] = inspect_file(README, tokenizer=tok)
    text = format_terminal(view, tok, color=False)
    assert "sample 0 (exact): 198 tokens, 42 trained" in text
    assert "sample 1 (exact): 254 tokens, 28 trained" in text
    # trained tokens are marked, context is not; control tokens show as their pieces; call ids untrained
    assert '«[TOOL_CALLS]»« [{"name": "»«generate_anagram»' in text
    assert '"id": "»TX92Jm8Zi«"}]»«</s>»' in text
    assert "[TOOL_RESULTS] {\"content\": {\"anagram\": \"silent\"}, \"call_id\": \"TX92Jm8Zi\"}[/TOOL_RESULTS]" in text
    for label in ("▌ <s>  [1 tok]", "▌ tools  [77 tok]", "▌ user #1 [INST]  [1 tok]", "▌ system #0 in user #1  [26 tok]", "▌ user #1 text  [15 tok]", "▌ assistant #2  [35 tok, 27 trained]"):
        assert label in text
    assert "\x1b[" not in text


def test_terminal_view_colour_and_tokens(tok):
    [view] = inspect_file(README, tokenizer=tok)
    text = format_terminal(view, tok, color=True, show_tokens=True)
    assert "\x1b[30;42m" in text  # trained: black on green
    assert "\x1b[4;31mTX92Jm8Zi" in text  # call id: red underlined, not trained
    assert re.search(r"\n\s+0\s+1\s+0\s+-1\s+control\s+'<s>'", text)


def test_turn_rows_count_every_token(tok):
    [view] = inspect_file(README, tokenizer=tok)
    for sample in view.samples:
        rows = turn_rows(sample, view.roles)
        assert sum(r[2] for r in rows) == sample.length and sum(r[3] for r in rows) == sample.num_trained


def test_every_token_in_the_row_of_its_message(tok):
    """The [INST] of the last user message comes before the system prompt rendered inside it: it is shown
    (and counted) in a row of that user message, not in the system prompt's row."""
    views = inspect_file(README, tokenizer=tok) + inspect_file(SHAREGPT, index=0, count=20, tokenizer=tok)
    for view in views:
        for sample in view.samples:
            per_message = Counter(sample.message_index)
            per_row: Counter = Counter()
            for label, _kinds, n, _trained in turn_rows(sample, view.roles):
                m = re.match(r"\w+ #(\d+)(?: \[INST\]| text)?$", label) or re.match(r"system #(\d+) in user #\d+$", label)
                if m:
                    per_row[int(m.group(1))] += n
            assert per_row == Counter({k: v for k, v in per_message.items() if k >= 0})
    [view] = inspect_file(README, tokenizer=tok)
    page = format_html([view], tok)
    user_inst = re.search(r'<div class="label">user #1 \[INST\] · 1<small>([^<]*)</small></div><div class="toks">(.*?)</div></div>', page, re.S)
    assert user_inst and "[INST]" in user_inst.group(2) and "message 1" in user_inst.group(2)
    assert "system prompt (next row) is written inside it" in user_inst.group(1)
    # the system prompt repeats in both samples: shown once, as a block of its own, without the [INST]
    (system,) = re.findall(r'<div class="blk" id="b\d+"><h3>(?:(?!</h3>).)*? · system · 26 tokens(?:(?!</h3>).)*</h3><div class="toks">(.*?)</div></div>', page, re.S)
    assert "[INST]" not in system and "helpful assistant" in re.sub(r"<[^>]+>", "", system)


def test_the_user_turn_around_the_system_prompt_is_labelled_for_a_newcomer(tok):
    """Issue 17: "user #1" appeared twice in a row (the [INST] before the system prompt, then the text)."""
    [view] = inspect_file(README, tokenizer=tok)
    rows = [r[0] for r in turn_rows(view.samples[0], view.roles)]
    assert rows == ["<s>", "tools", "user #1 [INST]", "system #0 in user #1", "user #1 text", "assistant #2", "tool #3", "assistant #4"]
    text = format_terminal(view, tok, color=False)
    assert "user #1 [INST]  [1 tok]  (user #1's turn opens; the system prompt (next row) is written inside it)" in text
    assert "the rest of user #1's turn, after the system prompt" in text


def _ids_on_page(page: str) -> int:
    return sum(len(re.findall(r"\d+", t.split(" · ")[0])) for t in re.findall(r'title="(ids? [^"]*)"', page))


def test_html_page_is_self_contained(tok, tmp_path):
    views = inspect_file(SHAREGPT, index=0, count=5, tokenizer=tok)
    page = format_html(views, tok, title="review <data>")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "http://" not in page and "https://" not in page and "<link" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count('<section class="record') == 5
    assert "review &lt;data&gt;" in page
    assert 'class="k-call_id"' in page and 'class="k-text tr"' in page and 'class="k-control tr ctl"' in page


def test_every_token_is_on_the_page_and_repeated_blocks_once(tok):
    """Each sample's tokens are on the page (run titles carry the ids), except those of a repeated block,
    which are written once and linked from every sample that has it."""
    views = inspect_file(SHAREGPT, index=0, count=8, tokenizer=tok)
    page = format_html(views, tok)
    refs = re.findall(r'<a href="#b(\d+)">B\d+</a>: the (?:tools|system) block, ([\d,]+) tokens', page)
    assert refs
    shown_once = {int(n): int(re.search(r'<div class="blk" id="b%s"><h3>.*? · ([\d,]+) tokens' % n, page).group(1).replace(",", "")) for n, _ in refs}
    linked = sum(int(t.replace(",", "")) for _, t in refs)
    assert _ids_on_page(page) == sum(s.length for v in views for s in v.samples) - linked + sum(shown_once.values())
    # record 0 has three samples with one tools block: written once, linked from each sample
    record0 = page[page.index('id="r0"') : page.index('id="r1"')]
    (number,) = set(re.findall(r'<a href="#b(\d+)">B\d+</a>: the tools block', record0))
    assert len(views[0].samples) == 3 and record0.count(f'<a href="#b{number}">') == 3
    assert page.count(f'<div class="blk" id="b{number}">') == 1


def test_summary_contents_and_filter_markup(tok, tmp_path):
    path = tmp_path / "mixed.jsonl"
    records = [json.loads(line) for line in open(README, encoding="utf-8")]
    records.append({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "one"}, {"role": "assistant", "content": "two"}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    views = inspect_file(str(path), count=2, tokenizer=tok)
    page = format_html(views, tok)
    summary = re.search(r'<table class="summary".*?</table>', page, re.S).group(0)
    for row in ("<td>records</td><td>2</td>", "<td>samples</td><td>3</td>", "<td>records with findings</td><td>1</td>", "<td>records that train a tool call</td><td>1</td>", "0 error(s), 1 warning(s): merged_assistant 1"):
        assert row in summary, row
    tokens = sum(s.length for v in views for s in v.samples)
    trained = sum(s.num_trained for v in views for s in v.samples)
    assert f"<td>tokens</td><td>{tokens:,}</td>" in summary and f"<td>trained tokens</td><td>{trained:,} ({trained / tokens:.1%})</td>" in summary
    assert '<li class="has-calls"><a href="#r0">record 0</a>' in page and '<li class="has-findings"><a href="#r1">record 1</a>' in page
    assert '<section class="record has-calls" id="r0">' in page and '<section class="record has-findings" id="r1">' in page
    assert 'for="f-find"' in page and 'for="f-calls"' in page and page.count('type="radio"') == 3


def test_errors_and_findings_are_shown(tok, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"messages": [{"role": "user", "content": "[INST] hi"}, {"role": "assistant", "content": "yo"}]}) + "\n" + "{broken\n",
        encoding="utf-8",
    )
    views = inspect_file(str(path), count=2, tokenizer=tok)
    assert any("control_token_text" in f for f in views[0].findings)
    assert views[0].samples
    assert "not JSON" in format_terminal(views[1], tok, color=False)
    with pytest.raises(InputError, match="no record at index 7"):
        inspect_file(str(path), index=7, tokenizer=tok)


def test_prepared_data(tok, tmp_path):
    out = tmp_path / "prepared"
    prepare([README], out)
    assert is_prepared(str(out)) and not is_prepared(README)
    views = inspect_file(str(out), index=1, tokenizer=tok)
    [sample] = views[0].samples
    [expected] = [s for s in inspect_file(README, tokenizer=tok)[0].samples if s.sample_index == 1]
    assert sample.input_ids == expected.input_ids and sample.assistant_masks == expected.assistant_masks
    text = format_terminal(views[0], tok, color=False)
    assert "(prepared): 254 tokens, 28 trained" in text and "▌ trained" in text


def test_cli(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["inspect", README, "--no-color"])
    assert res.exit_code == 0, res.output
    assert "tokens per turn, sample 1:" in res.output and "assistant #6" in res.output
    html_out = tmp_path / "page.html"
    res = runner.invoke(cli, ["inspect", SHAREGPT, "--html", str(html_out), "--count", "3"])
    assert res.exit_code == 0 and html_out.read_text(encoding="utf-8").count('<section class="record') == 3
    res = runner.invoke(cli, ["inspect", README, "--index", "5"])
    assert res.exit_code == 2 and "no record at index 5" in res.output
    res = runner.invoke(cli, ["inspect", "-h"])
    assert res.exit_code == 0 and "Examples:" in res.output
    # a record that cannot be rendered is a finding: shown with its reason, exit 1 (terminal and HTML)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{broken\n", encoding="utf-8")
    for extra in ([], ["--html", str(tmp_path / "bad.html")]):
        res = runner.invoke(cli, ["inspect", str(bad), "--no-color", *extra])
        assert res.exit_code == 1 and "could not be rendered" in res.output, res.output


def test_cli_color_survives_a_pipe():
    """--color keeps the ANSI codes when stdout is not a terminal (Click strips them unless told)."""
    runner = CliRunner()
    res = runner.invoke(cli, ["inspect", README, "--color", "--tokens"])
    assert res.exit_code == 0, res.output
    assert "\x1b[" in res.output
    res = runner.invoke(cli, ["inspect", README, "--no-color"])
    assert res.exit_code == 0 and "\x1b[" not in res.output


def test_every_finding_is_listed_warnings_and_all_reasons(tok, tmp_path):
    """Issue 17: a merged_assistant warning showed neither in the terminal nor in the HTML view (the
    converter had merged the turns before the validator looked), and an invalid record showed only the
    converter's first reason. Findings are now those of the record as written, as `fcdata validate`
    reports them."""
    merged = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "one"}, {"role": "assistant", "content": "two"}]}
    bad = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "nope", "arguments": {"a": 1}}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "x"},
            {"role": "assistant", "content": "done <|endoftext|>"},
        ],
        "tools": [],
    }
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps(merged) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    expected = CliRunner().invoke(cli, ["validate", str(path), "--max-findings", "100"]).output.split("\n\n")[0].splitlines()
    assert len(expected) == 5
    views = inspect_file(str(path), count=2, tokenizer=tok)
    assert views[0].findings + views[1].findings == expected
    assert views[0].samples and views[1].error and "undeclared_function" in views[1].error
    terminal = CliRunner().invoke(cli, ["inspect", str(path), "-n", "2", "--no-color"]).output
    page = format_html(views, tok)
    for line in expected:
        assert f"finding: {line}" in terminal
        assert html.escape(line) in page
    assert "warning[merged_assistant]" in terminal and "error[call_id_format]" in terminal and "error[undeclared_function]" in terminal


def test_control_and_bidi_characters_are_shown_on_the_page_not_lost(tok, tmp_path):
    """The page lost a NUL (the HTML parser drops it), wrote ESC and BEL raw (invisible), a bare CR as a
    plain break, and left a right-to-left override live; the terminal view showed them all."""
    rec = {"messages": [{"role": "user", "content": "a\x00b\x1b[31mc\x07d\re\u202eRTL"}, {"role": "assistant", "content": "ok"}]}
    path = tmp_path / "hostile.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    page = format_html(inspect_file(str(path), index=0, count=1, tokenizer=tok), tok)
    for raw in ("\x00", "\x1b", "\x07", "\r", "\u202e"):
        assert raw not in page, repr(raw)
    for shown in ("␀", "␛", "␇", "␍", "&lt;U+202E&gt;"):
        assert shown in page, shown


def test_an_empty_input_is_a_finding(tmp_path) -> None:
    """README's rule for every command: an input with no record is exit 1 (inspect said 2)."""
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = CliRunner().invoke(cli, ["inspect", str(empty)])
    assert res.exit_code == 1 and "holds no record" in res.output, res.output
