"""``fcdata convert``: tool-calling data in the formats people have -> canonical records."""

from __future__ import annotations

from typing import Any

import click

from fcdata.convert import FORMATS, ConvertReport, convert_files
from fcdata.write import write_json

from .common import CONTEXT_SETTINGS, EXIT_FINDINGS, ByteProgress, check_outputs, counts_table, cut_off, format_table, nothing_read_or_written, report_written, to_stdout, version_rules


def _summary(report: ConvertReport) -> str:
    rows: list[list[Any]] = [[f.file, f.format or "?", f.read, f.kept, f.rejected] for f in report.files]
    if len(report.files) > 1:
        rows.append(["total", "", report.read, report.kept, report.rejected])
    parts = [format_table(["file", "format", "read", "kept", "rejected"], rows, align="llrrr")]
    if report.repairs:
        parts.append(counts_table("repair", report.repairs))
    if report.rejections:
        parts.append(counts_table("rejected because", report.rejections))
    return "\n\n".join(parts)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", required=True, metavar="PATH", help="Output: JSON Lines, Parquet when the name ends in .parquet, '-' for stdout.")
@click.option("--from", "source_format", type=click.Choice(FORMATS), help="Read every input as this format instead of detecting it per file.")
@click.option("--rejects", metavar="PATH", help="Write each rejected input verbatim (field `text`) with its reasons, as JSON Lines (- = stdout).")
@click.option("--report", "report_path", metavar="PATH", help="Write the JSON report {read, kept, rejected, formats, repairs, rejections, empty_inputs, cut_inputs, inputs, per_input, output, rejects} (- = stdout; the summary table then goes to stderr).")
@click.option("--num-proc", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes; the output is byte-identical for any value.")
@click.option("--tokenizer", metavar="PATH", help="Convert for this tokenizer's version (tekken.json, tokenizer.model.vN or a model folder, as `fcdata prepare --tokenizer`): from v7 on, text an assistant writes before its calls stays in the trained turn. Default: Mistral v0.3's rules, which cut it (kept in metadata.dropped_text).")
@click.option("--strict", is_flag=True, help="Exit with code 1 when any record was rejected.")
def convert(inputs: tuple[str, ...], output: str, source_format: str | None, rejects: str | None, report_path: str | None, num_proc: int, tokenizer: str | None, strict: bool) -> None:
    """Convert tool-calling data to canonical records that pass `fcdata validate`.

    \b
    Formats, detected from each record's keys (the file's is announced; --from forces one):
      glaive        Glaive function-calling v2 raw {"system", "chat"}
      hackathon     legacy Mistral hackathon {"interactions": [{"is_user", "text"}]}
      text          pretraining {"text"} (kept as text records)
      sharegpt      ShareGPT {"conversations", "tools"}: LLaMA-Factory, APIGen-MT,
                    ComplexFuncBench (role/content, function_call lists, observation)
      hermes        Hermes function calling: <tools>, <tool_call>, <tool_response>
      toolace       ToolACE raw: tools in the system text, calls as [Func(a=1)]
      xlam          xLAM / APIGen {"query", "tools", "answers"}
      alpaca        {"instruction", "input", "output"} (LLaMA-Factory alpaca), Hammer's
                    tool-calling rows (tools and query in [BEGIN OF ...] sections)
      gorilla       Gorilla OpenFunctions v1 {"question", "function", "model_answer"}
      when2call     NVIDIA When2Call SFT, preference, and the MCQ test file
                    (made scoring references for `fcdata score --references`)
      llamafactory  LLaMA-Factory v1 messages (typed content parts, tools as JSON text)
      responses     OpenAI Responses API requests ({"input": [items], "tools"}); Nemotron
                    RL rows (responses_create_params + expected_action)
      toolalpaca    ToolAlpaca evaluation rows (an API's OpenAPI document, instructions,
                    golden actions): one record per instruction
      trajectory    messages under another key: tau-bench traj, ToolBench train_messages
      openai        {"messages", "tools"} (tools as JSON text too), legacy
                    functions/function_call, reasoning_content, request dumps
      canonical     fcdata records (passed through, call ids checked)

    Call markup left in an assistant's text (<tool_call>, <TOOLCALL>, [TOOL_CALLS]...)
    is read into calls, or the record is rejected: it is never trained as text.

    Every repair is named in the record's metadata and counted; every record that cannot be repaired
    is rejected with a reason code (docs/convert.md lists them all). Records read = kept (written) + rejected.

    \b
    Examples:
      fcdata convert glaive.jsonl -o data.jsonl --report report.json
      fcdata convert raw/*.json -o data.parquet --rejects rejects.jsonl --num-proc 4
      cat chats.jsonl | fcdata convert - -o - --from openai > data.jsonl
      fcdata convert toolbench.json -o data.jsonl --tokenizer ./Mistral-Small-24B-Instruct-2501

    Exit codes: 0 ok; 1 findings: an input with no record or cut off mid-record, no record written,
    or records rejected with --strict; 2 usage or I/O error (see `fcdata --help`).
    """
    check_outputs(inputs=inputs, files={"-o": output, "--report": report_path, "--rejects": rejects})
    # the summary goes to stderr when any machine output goes to stdout (`-o -`, `--report -`, `--rejects -`)
    data_to_stdout = to_stdout(output, report_path, rejects)
    rules = version_rules(tokenizer)

    with ByteProgress([p for p in inputs if p != "-"], desc="converting") as bar:

        def on_file(file: str, fmt: str | None, detected: bool) -> None:
            how = "detected" if detected else "forced by --from"
            bar.write(f"{file}: {fmt or 'no readable record; format unknown'}" + (f" ({how})" if fmt else ""))

        report = convert_files(
            list(inputs),
            output,
            source_format=source_format,
            rejects=rejects,
            num_proc=num_proc,
            on_file=on_file,
            on_progress=bar.update,
            rules=rules,
        )
    if report_path is not None:
        report_written(lambda: write_json(report_path, report.to_dict()), [output, rejects])
    click.echo(_summary(report), err=data_to_stdout)
    cut = cut_off(report.cut_inputs)
    if nothing_read_or_written(report.empty_inputs, report.kept, why=f"every one of the {report.read:,} record(s) was rejected" if report.read else "") or cut:
        raise SystemExit(EXIT_FINDINGS)
    if strict and report.rejected:
        raise SystemExit(EXIT_FINDINGS)
