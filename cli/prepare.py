"""``fcdata prepare``: records -> a tokenized training set with loss masks (a ``datasets`` folder)."""

from __future__ import annotations

from typing import Any

import click

from fcdata.convert import FORMATS
from fcdata.prepare import OUTPUT_FORMATS, PrepareReport, prepare as prepare_data
from fcdata.render import MODES
from fcdata.write import write_json

from .common import CONTEXT_SETTINGS, EXIT_FINDINGS, ByteProgress, check_outputs, counts_table, cut_off, format_table, nothing_read_or_written, report_written, to_stdout


def _summary(report: PrepareReport) -> str:
    obj = report.to_obj()
    share = f"{report.trained_tokens / report.tokens:.1%}" if report.tokens else "-"
    rows: list[list[Any]] = [
        ["records read", report.read],
        ["  kept (rendered)", report.kept],
        ["  rejected", report.rejected],
        ["samples", report.samples],
        ["tokens", report.tokens],
        ["trained tokens", report.trained_tokens],
        ["trained share", share],
    ]
    if obj["max_length"] is not None:
        rows += [
            ["samples trimmed to fit", report.trimmed_for_length],
            ["samples dropped (too long)", report.dropped_for_length],
            ["tokens lost to --max-length", obj["tokens_lost_to_length"]],
            ["trained tokens dropped", report.trained_tokens_dropped],
        ]
    if report.records_without_samples:
        rows.append(["records with nothing to train", report.records_without_samples])
    parts = [format_table(["", "count"], rows, align="lr")]
    if report.repairs:
        parts.append(counts_table("repaired (by the converter)", report.repairs))
    if report.rejections:
        parts.append(counts_table("rejected because", report.rejections))
    return "\n\n".join(parts)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", required=True, metavar="PATH", help="Output folder (a `datasets` dataset), or a Parquet file (a name ending in .parquet, or --format parquet).")
@click.option("--tokenizer", metavar="PATH", help="The model's tokenizer: tekken.json, tokenizer.model.vN (v3, v7 ...), or the model folder holding one; its version (v3, v7, v11, v13) sets the layout. Default: the v3 model shipped in mistral-common (Mistral 7B v0.3).")
@click.option("--mode", type=click.Choice(MODES), default="exact", show_default=True, help="exact: one sample per user turn, every trained turn in exactly its inference context. single: one sample per conversation, cheaper, but with several user turns the earlier turns are trained in a context that differs from mistral-common's at inference (tools block and system prompt sit before the LAST user message) - hence exact is the default. last: one sample per conversation, only the final assistant turn trained (exact context; earlier turns not trained).")
@click.option("--max-length", type=click.IntRange(min=2), metavar="N", help="Never cut inside a turn: drop the earliest exchanges before the trained part (keeping system prompt and tools), or drop the sample.")
@click.option("--format", "output_format", type=click.Choice(OUTPUT_FORMATS), default=None, help="dataset: `datasets.load_from_disk` folder; parquet: one Parquet file. Default: parquet when the output name ends in .parquet, else dataset.")
@click.option("--from", "source_format", type=click.Choice(FORMATS), help="Read every input as this format instead of telling it from each record.")
@click.option("--num-proc", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes; the output is byte-identical for any value.")
@click.option("--report", "report_path", metavar="PATH", help="Write the JSON report {read, kept, rejected, rejections, samples, tokens, trained_tokens, dropped_for_length, ...} (- = stdout).")
@click.option("--rejects", metavar="PATH", help="Write rejected records (verbatim, field `text`) with their stage and reasons, as JSON Lines.")
@click.option("--strict", is_flag=True, help="Exit with code 1 when any record was rejected.")
def prepare(
    inputs: tuple[str, ...],
    output: str,
    tokenizer: str | None,
    mode: str,
    max_length: int | None,
    output_format: str | None,
    source_format: str | None,
    num_proc: int,
    report_path: str | None,
    rejects: str | None,
    strict: bool,
) -> None:
    """Tokenize records for a Mistral model (v0.3 unless --tokenizer names another) with token-level loss masks.

    INPUT: canonical records or raw data (Glaive, ShareGPT, OpenAI, hackathon; converted on the fly),
    as JSONL, JSON, .gz, Parquet, a datasets folder, or - for stdin. Each record is validated against
    the tokenizer version's rules; a raw record, or a canonical one with errors, goes through the
    converter first (its repairs are counted in the summary and the report), and what still has errors
    is rejected (counted, and written with --rejects). Token ids equal mistral-common's
    encode_chat_completion; masks (1 = trained) cover the assistant text, [TOOL_CALLS], the call JSON
    (never the characters of a call id) and each closing </s>.

    \b
    Columns: input_ids, assistant_masks, labels (-100 = not trained, not shifted), length,
    num_trained, source_file, source_line, record_index, sample_index, turns_trimmed,
    tokens_trimmed, tool_names, call_names. TRL's SFTTrainer takes the folder as already tokenized.

    \b
    Examples:
      fcdata prepare data.jsonl -o prepared/
      fcdata prepare glaive.jsonl -o prepared/ --max-length 4096 --report report.json --rejects bad.jsonl
      fcdata prepare data.jsonl -o train.parquet --mode single --num-proc 2
      fcdata prepare data.jsonl -o prepared/ --tokenizer ~/models/Mistral-7B-Instruct-v0.3/
      fcdata prepare data.jsonl -o prepared/ --tokenizer ~/models/Mistral-Small-24B-Instruct-2501/tekken.json

    Exit codes: 0 ok; 1 findings: an input with no record or cut off mid-record, no sample written
    (every record rejected or too long), or records rejected with --strict; 2 usage or I/O error (see `fcdata --help`).
    """
    if output_format is None:
        output_format = "parquet" if output.lower().endswith(".parquet") else "dataset"
    check_outputs(
        inputs=inputs,
        files={"--report": report_path, "--rejects": rejects, **({"-o": output} if output_format == "parquet" else {})},
        folders={"-o": output} if output_format == "dataset" else None,
    )
    with ByteProgress([p for p in inputs if p != "-"], desc="preparing") as bar:
        seen = 0

        def on_progress(records: int, nbytes: int) -> None:
            nonlocal seen
            bar.update(nbytes - seen)
            seen = nbytes

        report = prepare_data(
            list(inputs),
            output,
            tokenizer=tokenizer,
            mode=mode,
            max_length=max_length,
            output_format=output_format,
            num_proc=num_proc,
            source_format=source_format,
            rejects=rejects,
            on_progress=on_progress,
        )
    if report_path is not None:
        report_written(lambda: write_json(report_path, report.to_obj()), [output, rejects])
    click.echo(_summary(report), err=to_stdout(report_path, rejects))
    # nothing to train on is a finding even without --strict
    why = f"rejected or too long for --max-length {max_length}" if max_length is not None else "rejected or without a trained turn"
    cut = cut_off(report.cut_inputs)
    if nothing_read_or_written(report.empty_inputs, report.samples, what="sample", why=f"every one of the {report.read:,} record(s) was {why}" if report.read else "") or cut:
        raise SystemExit(EXIT_FINDINGS)
    if strict and report.rejected:
        raise SystemExit(EXIT_FINDINGS)
