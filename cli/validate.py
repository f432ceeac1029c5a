"""``fcdata validate``: check files of canonical records for everything that would break or spoil a
Mistral v0.3 fine-tune."""

from __future__ import annotations

from typing import Any

import click

from fcdata.findings import CODES, Finding
from fcdata.read import Item
from fcdata.validate import FindingsSpool, ValidationReport, reject_line, validate_files
from fcdata.write import JsonlWriter

from .common import CONTEXT_SETTINGS, EXIT_FINDINGS, ByteProgress, check_outputs, format_table, report_written, version_rules


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("files", nargs=-1, type=click.Path(exists=True, allow_dash=True))
@click.option("--report", "report_path", type=click.Path(dir_okay=False, allow_dash=True), help="Write the JSON report here (- = stdout).")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, allow_dash=True), help="Write failing records, verbatim, each with its findings, as JSON Lines.")
@click.option("--strict", is_flag=True, help="Warnings fail too (exit code 1).")
@click.option("--max-findings", default=50, show_default=True, type=click.IntRange(min=0), help="How many findings to print (all are counted and written to --report).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary table.")
@click.option("--tokenizer", metavar="PATH", help="Check against the rules of this tokenizer's version (tekken.json, tokenizer.model.vN or a model folder, as `fcdata prepare --tokenizer`): from v7 on an assistant turn may hold text then calls. Default: Mistral v0.3's rules, the strictest, which every version encodes.")
@click.option("--list-codes", is_flag=True, help="Print every finding code with its severity and meaning, then exit.")
def validate(files: tuple[str, ...], report_path: str | None, rejects_path: str | None, strict: bool, max_findings: int, quiet: bool, tokenizer: str | None, list_codes: bool) -> None:
    """Validate canonical records in FILES (JSONL, JSON, .gz, Parquet, a datasets folder, or - for stdin).

    Every finding has a stable code, a severity, the file, the line, a JSON path and a fix. Errors are
    what mistral-common would refuse or what would train the model on wrong data; warnings are doubtful
    but usable. Files are streamed: memory stays flat on multi-GB inputs.

    \b
    Examples:
      fcdata validate data.jsonl
      fcdata validate data.jsonl --report report.json --rejects bad.jsonl
      fcdata validate data.jsonl --tokenizer ./Mistral-Small-24B-Instruct-2501
      zcat big.jsonl.gz | fcdata validate - --quiet
      fcdata validate --list-codes

    Exit codes: 0 ok (no errors); 1 findings: errors found (an input with no record is one,
    empty_file), or warnings with --strict; 2 usage or I/O error (see `fcdata --help`).
    """
    if list_codes:
        click.echo(format_table(["code", "severity", "meaning"], [(c, s, d) for c, (s, d) in CODES.items()], align="lll"))
        return
    if not files:
        raise click.UsageError("give at least one FILE (or - for standard input)")
    check_outputs(inputs=files, files={"--report": report_path, "--rejects": rejects_path})
    rules = version_rules(tokenizer)

    shown: list[Finding] = []
    spool = FindingsSpool() if report_path else None
    rejects = JsonlWriter(rejects_path) if rejects_path else None
    bar = ByteProgress(list(files), desc="validate")

    def on_record(item: Item, findings: list[Finding], failed: bool) -> None:
        bar.advance(item)
        if spool is not None:
            for f in findings:
                spool.add(f)
        if len(shown) < max_findings:
            shown.extend(findings[: max_findings - len(shown)])
        if rejects is not None and failed:
            rejects.write_text(reject_line(item, findings))

    def on_file_finding(finding: Finding) -> None:
        if spool is not None:
            spool.add(finding)
        if len(shown) < max_findings:
            shown.append(finding)

    try:
        report = validate_files(files, strict=strict, keep_findings=False, on_record=on_record, on_file_finding=on_file_finding, rules=rules)
    except BaseException as exc:
        bar.close()
        if rejects is not None:
            rejects.close(exc)
        raise
    bar.close()
    if rejects is not None:
        rejects.close()
    report.rejects = rejects_path
    if spool is not None and report_path:
        report_written(lambda: spool.write_report(report_path, report), [rejects_path])

    # with the report or the rejects on stdout (`-`), the findings and the table go to stderr: stdout
    # stays one JSON document or one JSON Lines stream
    to_err = "-" in (report_path, rejects_path)
    if not quiet and report_path != "-":
        for f in shown:
            click.echo(str(f), err=to_err)
        total = report.error_count + report.warning_count
        if total > len(shown):
            click.echo(f"... {total - len(shown):,} more findings (see --report, or raise --max-findings)", err=to_err)
        if shown:
            click.echo("", err=to_err)
    if report_path != "-":
        click.echo(_summary(report), err=to_err)
    if not report.ok:
        raise SystemExit(EXIT_FINDINGS)


def _summary(report: ValidationReport) -> str:
    rows: list[tuple[Any, ...]] = [
        ("records read", report.read),
        ("  kept (valid)", report.kept),
        ("  rejected", report.rejected),
        ("error findings", report.error_count),
        ("warning findings", report.warning_count),
    ]
    out = format_table(["", "count"], rows, align="lr")
    by_code = sorted({**report.warnings, **report.errors}.items(), key=lambda kv: (-kv[1], kv[0]))
    if by_code:
        out += "\n\n" + format_table(["code", "severity", "count"], [(c, CODES[c][0], n) for c, n in by_code], align="llr")
    return out
