"""The page of ``fcdata inspect --html``: many records as the model sees them, in one self-contained file.

Layout, top to bottom: a summary (records, samples, tokens, trained share, findings by code), a filter
(all records / records with findings / records that train a tool call), a table of contents linking to
every record, the *repeated blocks* (a tools block or system prompt that occurs in more than one sample
is shown once here, and each sample links to it instead of repeating it), then the records, sample by
sample and turn by turn.

Why it is built this way:

- **Size**: the page held one ``<span title=...>`` per token, 80 bytes of markup, and the whole tools
  block in every sample (200 synthetic records made 6.6 MB). Tokens of one kind are now one ``<span>``
  whose title lists their ids, each token an ``<i>`` (its border marks the boundary), and repeated blocks
  are written once. Each row's label carries its token counts (the terminal's per-turn table is not
  repeated here).
- **No script**: the filter is CSS (radio buttons and ``:checked``), collapsing is CSS (``:target``), so
  the page runs nothing, and a Content-Security-Policy forbids scripts, frames, forms and any network
  fetch in case an escaping bug ever let markup through. Every text from the data is escaped
  (``html.escape``, quotes included), in element text and attributes alike.
- **Self-contained**: inline CSS, no link, no font, no image; it opens from disk.
"""

from __future__ import annotations

import html
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from .render import Sample, Span
from .tokenizer import MistralV3Tokenizer
from .view import Inspected, _Labelled, _labelled, has_trained_calls, token_groups, visible

__all__ = ["html_page"]

# (frame-ancestors cannot be set from a <meta> element: the browser logs an error and ignores it)
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:18px 0 6px} .meta{color:#667;font-size:12px}
a{color:#2d5bd1} .legend span{margin-right:10px} .layout{font-size:12px;color:#445}
table.summary{border-collapse:collapse;font-size:13px} .summary td{padding:1px 10px 1px 0} .summary td+td{text-align:right;font-variant-numeric:tabular-nums}
.f{position:absolute;left:-10000px}
.filter label{display:inline-block;border:1px solid #c5cbd3;border-radius:14px;padding:2px 10px;margin:4px 6px 4px 0;cursor:pointer;background:#fff}
#f-all:checked~.filter .l-all,#f-find:checked~.filter .l-find,#f-calls:checked~.filter .l-calls{background:#1d2330;color:#fff;border-color:#1d2330}
#f-find:checked~main .record:not(.has-findings),#f-find:checked~nav .toc li:not(.has-findings),
#f-calls:checked~main .record:not(.has-calls),#f-calls:checked~nav .toc li:not(.has-calls){display:none}
.toc{columns:16em;font-size:12px;padding-left:0;list-style:none} .toc li{break-inside:avoid}
.mark{font-size:11px;border-radius:3px;padding:0 3px;margin-left:3px} .m-find{background:#fde7c7} .m-err{background:#f9c9cf} .m-calls{background:#c9f2cf}
.blk{background:#fff;border:1px solid #dde1e7;border-radius:8px;margin:8px 0;padding:6px 12px}
.blk h3{font-size:13px;margin:0 0 4px} .blk .toks{max-height:4.9em;overflow:hidden} .blk:target .toks{max-height:none} .blk:target{border-color:#2d5bd1}
.record{background:#fff;border:1px solid #dde1e7;border-radius:8px;margin:18px 0;padding:12px 16px}
.record h2{font-size:15px;margin:0 0 6px} .findings{margin:4px 0;padding-left:18px;font-size:12px} .sev-warning{color:#9a5b00} .sev-error,.error{color:#b00020}
.sample{border-top:1px dashed #dde1e7;margin-top:10px;padding-top:8px}
.sample h3{font-size:13px;margin:0 0 6px;color:#333}
.block{display:grid;grid-template-columns:230px 1fr;gap:10px;margin:3px 0}
.label{font:12px ui-monospace,Menlo,Consolas,monospace;color:#667;text-align:right;padding-top:2px}
.label small{display:block;font:11px system-ui,sans-serif;color:#889}
.toks{font:13px/1.6 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-word}
.toks i{font-style:normal;border-right:1px solid rgba(0,0,0,.08)}
.ref{font:12px system-ui,sans-serif;color:#556}
.tr{background:#c9f2cf} .ctl{color:#8a2be2;font-weight:600} .tr.ctl{background:#a6e8ae}
.k-system{color:#00798c} .k-tools{color:#2d5bd1} .k-tool_result{color:#9a6700}
.k-call_id{color:#c62828;text-decoration:underline wavy #c62828}
"""

_SHAREABLE = ("tools", "system")


# bidirectional overrides and isolates: live in a page they reorder the text after them
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _e(text: object) -> str:
    """Text for the page: markup escaped, and nothing of it lost or hidden. Control characters show as
    the terminal view shows them (``␀``, ``␛``, ``␍``: the HTML parser drops NUL, and ESC, BEL or a bare
    CR would be invisible), bidirectional controls as ``<U+202E>``."""
    shown = _BIDI.sub(lambda m: f"<U+{ord(m.group()):04X}>", visible(str(text)))
    return html.escape(shown, quote=True)


def _tokens_html(sample: Sample, spans: Sequence[Span], tok: MistralV3Tokenizer) -> str:
    """The tokens of ``spans``: one ``<span>`` per run of one class (its title: the ids, the kind, the
    message, trained or not), one ``<i>`` per token (byte tokens of one character together)."""
    out: list[str] = []
    run_class = run_title = ""
    run_ids: list[int] = []
    run_parts: list[str] = []

    def flush() -> None:
        if run_parts:
            ids = " ".join(map(str, run_ids))
            out.append(f'<span class="{run_class}" title="{"ids" if len(run_ids) > 1 else "id"} {ids} · {run_title}">{"".join(run_parts)}</span>')
            run_ids.clear()
            run_parts.clear()

    for span in spans:
        state = "trained" if span.trained else "context"
        for first, end, text, is_control in token_groups(sample, span, tok):
            classes = " ".join(["k-" + span.kind] + (["tr"] if span.trained else []) + (["ctl"] if is_control else []))
            title = _e(f"{span.kind} · message {span.message_index} · {state}")
            if classes != run_class or title != run_title:
                flush()
                run_class, run_title = classes, title
            run_ids.extend(sample.input_ids[first:end])
            run_parts.append("<i>" + _e(text).replace("\n", "↵\n") + "</i>")
    flush()
    return "".join(out)


def _share_key(lb: _Labelled, sample: Sample) -> tuple[str, tuple[int, ...]] | None:
    """The key under which a block is shown once when it repeats: tools blocks and system prompts."""
    kinds = [k for k in lb.block.kinds if k != "control"]
    if len(kinds) != 1 or kinds[0] not in _SHAREABLE or lb.block.trained:
        return None
    ids = tuple(t for sp in lb.block.spans for t in sample.input_ids[sp.start : sp.end])
    return kinds[0], ids


@dataclass
class _Shared:
    number: int
    kind: str
    first: tuple[Sample, _Labelled]
    samples: int = 0
    records: list[int] = field(default_factory=list)


def _findings_marks(view: Inspected) -> tuple[int, int]:
    errors = sum(1 for sev, _ in view.finding_codes if sev == "error")
    return errors, len(view.finding_codes) - errors


def html_page(views: Sequence[Inspected], tok: MistralV3Tokenizer, *, title: str = "fcdata inspect") -> str:
    """The page (see the module docstring) of ``views``, as one HTML string."""
    labelled = {(v.index, s.sample_index): _labelled(s, v.roles) for v in views for s in v.samples}

    # which blocks repeat: counted per sample, numbered in order of first appearance
    counts: Counter[tuple[str, tuple[int, ...]]] = Counter()
    for v in views:
        for s in v.samples:
            for lb in labelled[(v.index, s.sample_index)]:
                key = _share_key(lb, s)
                if key is not None:
                    counts[key] += 1
    shared: dict[tuple[str, tuple[int, ...]], _Shared] = {}
    for v in views:
        for s in v.samples:
            for lb in labelled[(v.index, s.sample_index)]:
                key = _share_key(lb, s)
                if key is None or counts[key] < 2:
                    continue
                entry = shared.get(key)
                if entry is None:
                    entry = shared[key] = _Shared(len(shared) + 1, key[0], (s, lb))
                entry.samples += 1
                if not entry.records or entry.records[-1] != v.index:
                    entry.records.append(v.index)

    # the summary
    samples = [s for v in views for s in v.samples]
    tokens = sum(s.length for s in samples)
    trained = sum(s.num_trained for s in samples)
    by_code: Counter[str] = Counter(code for v in views for _, code in v.finding_codes)
    n_err = sum(_findings_marks(v)[0] for v in views)
    n_warn = sum(_findings_marks(v)[1] for v in views)
    with_findings = [v for v in views if v.findings]
    calls = {v.index for v in views if any(has_trained_calls(s) for s in v.samples)}
    not_rendered = [v for v in views if v.error]
    dropped = sum(len(v.dropped) for v in views)
    saved = sum(len(k[1]) * (e.samples - 1) for k, e in shared.items())

    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        '<input type="radio" name="show" id="f-all" class="f" checked><input type="radio" name="show" id="f-find" class="f"><input type="radio" name="show" id="f-calls" class="f">',
        f'<header id="top"><h1>{_e(title)}</h1>',
        f'<div class="meta">tokenizer {_e(os.path.basename(tok.path))} · hover a token for its id, kind and message</div>',
        '<p class="legend"><span class="tr">trained</span><span class="ctl">[CONTROL]</span><span class="k-system">system</span>'
        '<span class="k-tools">tools</span><span class="k-tool_result">tool result</span><span class="k-call_id">call id (never trained)</span>'
        "<span>↵ newline</span></p>",
        '<p class="layout">Mistral v0.3 writes the tools block and the system prompt just before the <b>last</b> user turn: '
        "<code>&lt;s&gt;[AVAILABLE_TOOLS] … [/AVAILABLE_TOOLS][INST] system prompt↵↵user text[/INST]</code>. "
        "So that user turn shows as three rows: <code>user #k [INST]</code> (the turn opens), "
        "<code>system #j in user #k</code>, <code>user #k text</code>.</p>",
        '<table class="summary" aria-label="summary">',
    ]
    rows = [
        ("records", f"{len(views):,}"),
        ("samples", f"{len(samples):,}" + (f" (+{dropped:,} dropped for length)" if dropped else "")),
        ("tokens", f"{tokens:,}"),
        ("trained tokens", f"{trained:,} ({trained / tokens:.1%})" if tokens else "0"),
        ("findings", f"{n_err:,} error(s), {n_warn:,} warning(s)" + (": " + ", ".join(f"{c} {n}" for c, n in sorted(by_code.items())) if by_code else "")),
        ("records with findings", f"{len(with_findings):,}"),
        ("records that train a tool call", f"{len(calls):,}"),
        ("records not rendered", f"{len(not_rendered):,}"),
        ("repeated blocks shown once", f"{len(shared):,} ({saved:,} tokens not repeated)"),
    ]
    out.extend(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    out.append("</table></header>")
    out.append(
        '<div class="filter" role="group" aria-label="show">show: '
        f'<label for="f-all" class="l-all">all records ({len(views):,})</label>'
        f'<label for="f-find" class="l-find">with findings ({len(with_findings):,})</label>'
        f'<label for="f-calls" class="l-calls">with trained tool calls ({len(calls):,})</label></div>'
    )

    # table of contents
    out.append('<nav aria-label="contents"><h2>Records</h2><ol class="toc">')
    for v in views:
        errors, warnings = _findings_marks(v)
        classes = " ".join(c for c, on in (("has-findings", bool(v.findings)), ("has-calls", v.index in calls)) if on)
        toks = sum(s.length for s in v.samples)
        tr = sum(s.num_trained for s in v.samples)
        what = "not rendered" if v.error else f"{len(v.samples)} sample(s) · {toks:,} tok · {tr / toks:.0%} trained" if toks else "no sample"
        marks = (f'<span class="mark m-err">{errors} err</span>' if errors else "") + (f'<span class="mark m-find">{warnings} warn</span>' if warnings else "") + ('<span class="mark m-calls">calls</span>' if v.index in calls else "")
        out.append(f'<li class="{classes}"><a href="#r{v.index}">record {v.index}</a> <span class="meta">{_e(what)}</span>{marks}</li>')
    out.append("</ol>")
    if shared:
        out.append('<p class="meta"><a href="#shared">repeated blocks</a></p>')
    out.append("</nav>")

    # repeated blocks, once
    if shared:
        out.append('<section id="shared"><h2>Repeated blocks, shown once</h2>')
        out.append('<p class="meta">Each sample that has one of these blocks links here instead of repeating it. Follow a link (or the block number) to see the whole block.</p>')
        for key, entry in shared.items():
            sample, lb = entry.first
            recs = ", ".join(f'<a href="#r{r}">{r}</a>' for r in entry.records[:20]) + (f" … ({len(entry.records):,} records)" if len(entry.records) > 20 else "")
            out.append(
                f'<div class="blk" id="b{entry.number}"><h3><a href="#b{entry.number}">B{entry.number}</a> · {_e(entry.kind)} · {len(key[1]):,} tokens · never trained · '
                f"in {entry.samples:,} samples, records {recs}</h3>"
                f'<div class="toks">{_tokens_html(sample, lb.block.spans, tok)}</div></div>'
            )
        out.append("</section>")

    # the records
    out.append("<main>")
    for v in views:
        classes = " ".join(["record"] + [c for c, on in (("has-findings", bool(v.findings)), ("has-calls", v.index in calls)) if on])
        out.append(f'<section class="{classes}" id="r{v.index}">')
        out.append(f'<h2>record {v.index} <span class="meta">{_e(v.file)}:{v.line} · <a href="#top">top</a></span></h2>')
        if v.findings:
            out.append('<ul class="findings">' + "".join(f'<li class="sev-{sev}">{_e(f)}</li>' for f, (sev, _) in zip(v.findings, v.finding_codes)) + "</ul>")
        if v.error:
            out.append(f'<div class="error">cannot render: {_e(v.error)}</div></section>')
            continue
        if not v.samples and not v.dropped:
            out.append('<div class="meta">no sample: no assistant turn is trained</div>')
        for d in v.dropped:
            out.append(f'<div class="error">sample {d.sample_index} dropped for length: {d.length} tokens (full {d.full_length})</div>')
        for s in v.samples:
            head = f"sample {s.sample_index} ({s.mode}) · {s.length} tokens · {s.num_trained} trained"
            if s.turns_trimmed:
                head += f" · {s.turns_trimmed} early exchange(s) removed to fit"
            out.append(f'<div class="sample"><h3>{_e(head)}</h3>')
            for lb in labelled[(v.index, s.sample_index)]:
                b = lb.block
                label = f"{lb.label} · {b.tokens}" + (f" ({b.trained} tr)" if b.trained else "")
                note = f"<small>{_e(lb.note)}</small>" if lb.note else ""
                key = _share_key(lb, s)
                entry = shared.get(key) if key is not None else None
                if entry is not None:
                    body = f'<div class="toks ref"><a href="#b{entry.number}">B{entry.number}</a>: the {_e(entry.kind)} block, {b.tokens:,} tokens, not trained, shown once above (in {entry.samples:,} samples)</div>'
                else:
                    body = f'<div class="toks">{_tokens_html(s, b.spans, tok)}</div>'
                out.append(f'<div class="block"><div class="label">{_e(label)}{note}</div>{body}</div>')
            out.append("</div>")
        out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
