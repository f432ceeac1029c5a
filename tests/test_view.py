"""fcdata inspect: the terminal view, the HTML page, prepared data, and the CLI."""

from __future__ import annotations

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
    for label in ("▌ <s>  [1 tok]", "▌ tools  [77 tok]", "▌ user #1  [1 tok]", "▌ system #0  [26 tok]", "▌ user #1  [15 tok]", "▌ assistant #2  [35 tok, 27 trained]"):
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
                m = re.fullmatch(r"\w+ #(\d+)", label)
                if m:
                    per_row[int(m.group(1))] += n
            assert per_row == Counter({k: v for k, v in per_message.items() if k >= 0})
    [view] = inspect_file(README, tokenizer=tok)
    page = format_html([view], tok)
    system_rows = re.findall(r'<div class="label">system #0 · \d+</div><div class="toks">(.*?)</div></div>', page, re.S)
    assert system_rows and all("[INST]" not in row for row in system_rows)
    user_inst = re.search(r'<div class="label">user #1 · 1</div><div class="toks">(.*?)</div></div>', page, re.S)
    assert user_inst and "[INST]" in user_inst.group(1) and "message 1" in user_inst.group(1)


def test_html_page_is_self_contained(tok, tmp_path):
    views = inspect_file(SHAREGPT, index=0, count=5, tokenizer=tok)
    page = format_html(views, tok, title="review <data>")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "http://" not in page and "https://" not in page and "<link" not in page
    assert page.count('<section class="record">') == 5
    assert "review &lt;data&gt;" in page
    assert 'class="k-call_id"' in page and 'class="k-text tr"' in page and 'class="k-control tr ctl"' in page
    # every token of every sample is on the page (hover titles carry the ids)
    n_ids = sum(len(re.findall(r"\d+", t.split(" · ")[0])) for t in re.findall(r'title="(ids? [^"]*)"', page))
    assert n_ids == sum(s.length for v in views for s in v.samples)


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
    assert res.exit_code == 0 and html_out.read_text(encoding="utf-8").count('<section class="record">') == 3
    res = runner.invoke(cli, ["inspect", README, "--index", "5"])
    assert res.exit_code == 2 and "no record at index 5" in res.output
    res = runner.invoke(cli, ["inspect", "-h"])
    assert res.exit_code == 0 and "Examples:" in res.output


def test_cli_color_survives_a_pipe():
    """--color keeps the ANSI codes when stdout is not a terminal (Click strips them unless told)."""
    runner = CliRunner()
    res = runner.invoke(cli, ["inspect", README, "--color", "--tokens"])
    assert res.exit_code == 0, res.output
    assert "\x1b[" in res.output
    res = runner.invoke(cli, ["inspect", README, "--no-color"])
    assert res.exit_code == 0 and "\x1b[" not in res.output
