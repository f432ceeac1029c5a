"""``fcdata score``: tool-call accuracy of predictions, against reference turns or BFCL's checker."""

from __future__ import annotations

import os
from typing import Any

import click

from fcdata.score import ScoreReport
from fcdata.score import score as score_predictions
from fcdata.score.report import ItemVerdict
from fcdata.write import JsonlWriter, write_json

from .common import CONTEXT_SETTINGS, EXIT_FINDINGS, check_outputs, echo_err, format_table, nothing_read_or_written, stderr_is_terminal, tqdm_bar


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("predictions", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--references", "-r", "references", multiple=True, type=click.Path(exists=True, allow_dash=True), help="Canonical records (the reference is each record's last assistant turn) or reference replies in a prediction shape. Repeatable.")
@click.option("--bfcl", "bfcl", multiple=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True), help="BFCL question file (e.g. BFCL_v3_simple.json; - = stdin). Repeatable.")
@click.option("--answers", "answers", multiple=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True), help="BFCL possible_answer file for --bfcl questions (not needed for irrelevance). Repeatable.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, allow_dash=True), help="Write the JSON report here (- = stdout).")
@click.option("--details", "details_path", type=click.Path(dir_okay=False, allow_dash=True), help='Write one line per prediction: {"id", "correct", "error", ...} (- = stdout).')
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, allow_dash=True), help="Write input lines that were not scored, verbatim, each with its reason.")
@click.option("--keep-dots", is_flag=True, help="BFCL: compare function names as declared, dots kept (default: a.b is expected as a_b, as for Mistral models).")
@click.option("--tokenizer", metavar="PATH", help="The model's tokenizer (tekken.json, tokenizer.model.vN, a model folder or an fcdata run folder): token-id outputs are decoded with it, and raw outputs must be in its version's call syntax (v11+ name[ARGS]{...}; v2-v7 a JSON list). Default: v3 SentencePiece ids, either syntax.")
@click.option("--accept-bare-json", is_flag=True, help="Also read a reply that is only a JSON list of calls (text decoded without special tokens) as calls.")
@click.option("--min-accuracy", type=click.FloatRange(0, 1), help="Exit 1 when the accuracy is below this fraction.")
@click.option("--quiet", "-q", is_flag=True, help="Print no table (warnings still go to stderr).")
def score(
    predictions: tuple[str, ...],
    references: tuple[str, ...],
    bfcl: tuple[str, ...],
    answers: tuple[str, ...],
    report_path: str | None,
    details_path: str | None,
    rejects_path: str | None,
    keep_dots: bool,
    tokenizer: str | None,
    accept_bare_json: bool,
    min_accuracy: float | None,
    quiet: bool,
) -> None:
    """Score tool-call predictions in PREDICTIONS (JSON Lines, - for stdin).

    \b
    Each prediction is one of:
      {"id": ..., "output": "<raw generated text>"}      Mistral text, [TOOL_CALLS] kept
      {"id": ..., "output": [token ids]}                  the generated ids (--tokenizer: the model's)
      {"id": ..., "tool_calls": [{"name", "arguments"}]} structured calls ([] = no call)
      {"id": ..., "content": "..."}                       a text reply
      {"id": ..., "result": [{"<name>": "<JSON args>"}]}
                                                          a BFCL result line, decoded as
                                                          BFCL's Mistral handler does

    \b
    Against references (--references): exact tool-call accuracy (names and arguments as JSON values,
    parallel calls in any order), name accuracy, argument precision/recall/F1, call-or-not decision
    accuracy, parse failures, calls to undeclared tools, arguments failing the tool's JSON Schema, and
    errors by type. A canonical record's id is metadata.id, or else its 1-based position in its file.

    \b
    Against BFCL (--bfcl, --answers): the Berkeley Function Calling Leaderboard's AST checker rule for
    rule (bfcl_eval @ cd9429cc), categories from the ids. A reply that claims a call but does not
    parse is counted as a parse failure; on irrelevance questions BFCL scores it as an abstention.

    \b
    Examples:
      fcdata score preds.jsonl --references test.jsonl --report report.json
      fcdata score preds.jsonl --bfcl BFCL_v3_simple.json --answers possible_answer/BFCL_v3_simple.json
      fcdata score preds.jsonl --bfcl BFCL_v3_irrelevance.json --details details.jsonl

    Exit codes: 0 ok (scored); 1 findings: no prediction to score, some input lines not scored, or
    --min-accuracy not met; 2 usage or I/O error (see `fcdata --help`).
    """
    if bool(references) == bool(bfcl):
        raise click.UsageError("give --references or --bfcl (with --answers), one of the two")
    if answers and not bfcl:
        raise click.UsageError("--answers goes with --bfcl")
    check_outputs(inputs=[*predictions, *references, *bfcl, *answers], files={"--report": report_path, "--details": details_path, "--rejects": rejects_path})
    stdout_taken = "-" in (report_path, details_path, rejects_path)
    tok = None
    if tokenizer is not None:
        if bfcl:
            raise click.UsageError("--tokenizer goes with --references (BFCL scores Mistral v0.3 replies, as its Mistral handler reads them)")
        from fcdata.tokenizer import load_tokenizer, model_tokenizer

        tok = load_tokenizer(model_tokenizer(tokenizer) if os.path.isdir(tokenizer) else tokenizer)

    bar: Any = None
    if stderr_is_terminal():
        bar = tqdm_bar(desc="score", unit="pred")

    def on_item(_: ItemVerdict) -> None:
        if bar is not None:
            bar.update(1)

    try:
        report = score_predictions(
            list(predictions),
            list(references) or None,
            bfcl=list(bfcl) or None,
            answers=list(answers) or None,
            underscore_to_dot=not keep_dots,
            require_marker=not accept_bare_json,
            on_item=on_item,
            tokenizer=tok,
        )
    finally:
        if bar is not None:
            bar.close()

    if details_path:
        with JsonlWriter(details_path) as out:
            for line in report.details():
                out.write(line)
    if rejects_path:
        with JsonlWriter(rejects_path) as out:
            for r in report.rejected:
                out.write({**r.to_obj(), "text": r.text})
    if report_path:
        write_json(report_path, report.to_json())

    for r in report.rejected[:20]:
        echo_err(f"warning: {r.input}: {r.message()}")
    if len(report.rejected) > 20:
        echo_err(f"warning: ... {len(report.rejected) - 20:,} more lines not scored (see --report or --rejects)")
    if report.missing:
        shown = ", ".join(report.missing[:5]) + (", ..." if len(report.missing) > 5 else "")
        what = "BFCL questions" if report.mode == "bfcl" else "references"
        echo_err(f"note: {len(report.missing):,} {what} have no prediction ({shown}); they are not scored")
    if not quiet and not stdout_taken:
        click.echo(render_table(report))

    failed = bool(report.rejected)
    if nothing_read_or_written([], report.summary["n"] + len(report.rejected), what="prediction", done="scored", why="the predictions hold no line"):
        failed = True
    if min_accuracy is not None and (report.accuracy is None or report.accuracy < min_accuracy):
        echo_err(f"accuracy {_pct(report.accuracy)} is below --min-accuracy {min_accuracy:.2%}")
        failed = True
    if failed:
        raise SystemExit(EXIT_FINDINGS)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def render_table(report: ScoreReport) -> str:
    """The tables people read: accuracy by category, then the other metrics, then errors by type."""
    s = report.summary
    rows = [(name, row["n"], row["correct"], _pct(row["accuracy"])) for name, row in s["categories"].items()]
    rows.append(("all", s["n"], s["correct"], _pct(s["accuracy"])))
    out = [format_table(["category", "n", "correct", "accuracy"], rows, align="lrrr")]
    metrics: list[tuple[str, str]] = []
    if report.mode == "bfcl":
        metrics += [
            ("unweighted accuracy (mean of categories)", _pct(s["unweighted_accuracy"])),
            ("parse failures", f"{s['parse_failures']:,} ({s['parse_failures_scored_correct']:,} scored correct on irrelevance)"),
            ("calls to undeclared tools", f"{s['undeclared_tool_calls']:,} of {s['predicted_calls']:,} calls"),
            ("function names", "a.b expected as a_b" if s["underscore_to_dot"] else "as declared"),
        ]
    else:
        args = s["arguments"]
        metrics += [
            ("exact accuracy on turns that call a tool", f"{_pct(s['call_accuracy'])} of {s['call_items']:,}"),
            ("call/no-call decision accuracy", _pct(s["decision"]["accuracy"])),
            ("function-name accuracy", _pct(s["name_accuracy"])),
            ("argument precision / recall / F1", f"{_pct(args['precision'])} / {_pct(args['recall'])} / {_pct(args['f1'])}"),
            ("parse failures", f"{s['parse_failures']:,} ({_pct(s['parse_failure_rate'])})"),
            ("calls to undeclared tools", f"{s['undeclared_tool_calls']:,} of {s['predicted_calls']:,} calls"),
            ("arguments failing the tool schema", f"{s['schema_failures']:,} of {s['schema_checked_calls']:,} checked calls"),
        ]
    metrics.append(("not scored (rejected lines / no prediction)", f"{len(report.rejected):,} / {len(report.missing):,}"))
    out.append(format_table(["metric", "value"], metrics, align="ll"))
    errors = [(name, count) for name, count in s["errors"].items() if count]
    if errors:
        out.append(format_table(["error", "items"], errors, align="lr"))
    return "\n\n".join(out)

