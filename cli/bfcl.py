"""``fcdata bfcl-prompts``: BFCL questions as prompts for a Mistral v0.3 model."""

from __future__ import annotations

from typing import Any

import click

from fcdata.score.bfcl_prompts import iter_bfcl_prompts
from fcdata.write import JsonlWriter

from .common import CONTEXT_SETTINGS, EXIT_FINDINGS, check_outputs, echo_err, nothing_read_or_written


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("questions", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("-o", "--output", "output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True), help="Canonical prompt records (JSON Lines; - = stdout).")
@click.option("--ids", "ids_path", type=click.Path(dir_okay=False, allow_dash=True), help='Also write {"id", "input_ids"} per question: the prompt token ids from fcdata.render.render_prompt.')
@click.option("--tokenizer", "tokenizer_path", type=click.Path(exists=True, dir_okay=False), help="Mistral v3 tokenizer model for --ids (default: the one shipped in mistral-common).")
@click.option("--keep-dots", is_flag=True, help="Keep dots in function names (default: a.b becomes a_b, which Mistral requires).")
def bfcl_prompts(questions: tuple[str, ...], output: str, ids_path: str | None, tokenizer_path: str | None, keep_dots: bool) -> None:
    """Turn BFCL QUESTIONS files (BFCL_v3_*.json, JSON Lines) into prompts for a Mistral v0.3 model.

    \b
    Each question becomes a canonical record: its messages, and its functions as tools the way BFCL
    shows them to a Mistral model in function-calling mode (a.b -> a_b; dict -> object,
    float -> number, tuple -> array, any -> string; the Python-syntax note on each description).
    metadata.id keeps the BFCL id, which `fcdata score --bfcl` matches predictions on.

    \b
    Examples:
      fcdata bfcl-prompts BFCL_v3_simple.json -o simple_prompts.jsonl
      fcdata bfcl-prompts BFCL_v3_*.json -o prompts.jsonl --ids prompt_ids.jsonl

    Exit codes: 0 ok (every question written); 1 findings: some questions could not become prompts
    (listed on stderr), or no prompt was written (an empty input); 2 usage or I/O error.
    """
    check_outputs(inputs=questions, files={"-o": output, "--ids": ids_path})
    tokenizer: Any = None
    if tokenizer_path:
        from fcdata.tokenizer import load_tokenizer  # type: ignore[import-not-found]

        tokenizer = load_tokenizer(tokenizer_path)
    written = failed = 0
    ids_out = JsonlWriter(ids_path) if ids_path else None
    try:
        with JsonlWriter(output) as out:
            for prompt in iter_bfcl_prompts(questions, underscore_to_dot=not keep_dots, token_ids=ids_out is not None, tokenizer=tokenizer):
                if prompt.record is None:
                    failed += 1
                    echo_err(f"warning: {prompt.item.file}:{prompt.item.line}: {prompt.error}")
                    continue
                out.write(prompt.record)
                if ids_out is not None:
                    ids_out.write({"id": prompt.record["metadata"]["id"], "input_ids": prompt.input_ids})
                written += 1
    except BaseException as exc:
        if ids_out is not None:
            ids_out.close(exc)
        raise
    if ids_out is not None:
        ids_out.close()
    echo_err(f"{written:,} prompts written" + (f", {failed:,} questions skipped" if failed else ""))
    if failed or nothing_read_or_written((), written, what="prompt", why="the input holds no question" if not failed else ""):
        raise SystemExit(EXIT_FINDINGS)
