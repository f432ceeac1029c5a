"""``fcdata inspect``: look at what the model is trained on, token by token (terminal or HTML)."""

from __future__ import annotations

import sys
from typing import Any

import click

from fcdata.convert import FORMATS
from fcdata.render import MODES
from fcdata.tokenizer import load_tokenizer
from fcdata.view import format_html, format_terminal, inspect_file, turn_rows
from fcdata.write import atomic_open

from .common import CONTEXT_SETTINGS, EXIT_FINDINGS, check_outputs, format_table


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(exists=True, allow_dash=True))
@click.option("--index", "-i", type=click.IntRange(min=0), default=0, show_default=True, help="Which record (0-based; for prepared data: which row).")
@click.option("--html", "html_out", metavar="OUT.html", help="Write a self-contained HTML page of --count records starting at --index.")
@click.option("--count", "-n", type=click.IntRange(min=1), default=None, help="How many records to show [default: 1 in the terminal, 50 with --html].")
@click.option("--mode", type=click.Choice(MODES), default="exact", show_default=True, help="Sample cutting, as in `fcdata prepare`.")
@click.option("--max-length", type=click.IntRange(min=2), metavar="N", help="As in `fcdata prepare`.")
@click.option("--tokenizer", metavar="PATH", help="The model's tokenizer: tekken.json, tokenizer.model.vN, or the model folder (default: the v3 one shipped in mistral-common).")
@click.option("--from", "source_format", type=click.Choice(FORMATS), help="Read the records as this format.")
@click.option("--tokens", "show_tokens", is_flag=True, help="Also list every token: position, id, trained, message, kind, piece.")
@click.option("--color/--no-color", default=None, help="Colour the terminal view [default: when stdout is a terminal].")
def inspect_cmd(file: str, index: int, html_out: str | None, count: int | None, mode: str, max_length: int | None, tokenizer: str | None, source_format: str | None, show_tokens: bool, color: bool | None) -> None:
    """Show records as the model sees them: token by token, trained tokens apart from the context.

    FILE holds records (canonical or raw, converted on the fly; every validation finding listed,
    warnings too) or prepared data (a `fcdata prepare` folder or .parquet: the rows exactly as the
    trainer gets them). Each sample is shown turn by turn with its token count; trained tokens
    (assistant text, [TOOL_CALLS], call JSON, </s>) are black on green, control tokens magenta, system
    text cyan, the tools block blue, tool results yellow, call ids (never trained) red and underlined.
    Mistral v0.3 writes the system prompt inside the last user turn, so that turn shows as
    "user #k [INST]", "system #j in user #k", "user #k text".

    The --html page starts with a summary (records, samples, tokens, trained share, findings), a
    filter (records with findings, records that train a tool call) and a table of contents; a tools
    block or system prompt that repeats is shown once and linked. One file, no script.

    \b
    Exit codes: 0 every record shown rendered; 1 findings: a record shown could not be rendered (the
    reason is printed; `fcdata validate` lists every finding), or the input holds no record; 2 usage
    or I/O error (an --index past the last record).

    \b
    Examples:
      fcdata inspect data.jsonl --index 3
      fcdata inspect glaive.jsonl --tokens | less -R
      fcdata inspect data.jsonl --html review.html --count 100
      fcdata inspect prepared/ --index 10
    """
    check_outputs(inputs=[file], files={"--html": html_out})
    tok = load_tokenizer(tokenizer)
    n = count if count is not None else (50 if html_out else 1)
    views = inspect_file(file, index=index, count=n, tokenizer=tok, mode=mode, max_length=max_length, source_format=source_format)
    if html_out:
        page = format_html(views, tok, title=f"fcdata inspect {file}")
        with atomic_open(html_out, "w") as fh:
            fh.write(page)
        click.echo(f"{html_out}: {len(views)} record(s), records {views[0].index}..{views[-1].index}", err=True)
        _exit_on_unrendered(views)
        return
    use_color = sys.stdout.isatty() if color is None else color
    for k, view in enumerate(views):
        if k:
            click.echo("")
        click.echo(format_terminal(view, tok, color=use_color, show_tokens=show_tokens), color=use_color)
        for sample in view.samples:
            rows = turn_rows(sample, view.roles)
            click.echo("")
            click.echo(f"tokens per turn, sample {sample.sample_index}:")
            click.echo(format_table(["turn", "kinds", "tokens", "trained"], rows, align="llrr"))
    _exit_on_unrendered(views)


def _exit_on_unrendered(views: list[Any]) -> None:
    """Exit 1 (findings) when a record shown could not be rendered, as validate does for bad records."""
    bad = sum(1 for v in views if v.error)
    if bad:
        click.echo(f"{bad} of {len(views)} record(s) shown could not be rendered", err=True)
        raise SystemExit(EXIT_FINDINGS)
