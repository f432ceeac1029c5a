"""Seeing what the model will be trained on: rendered records as coloured terminal text or an HTML page.

Both views show every sample of a record turn by turn (one block per message, labelled with its role,
index and token count), the trained tokens set apart from the context, control tokens as their pieces
(``[INST]``, ``[TOOL_CALLS]``, ``</s>``) and span kinds by colour; call ids, which are never trained,
are marked. The HTML page is self-contained (inline CSS, no script, no network) and holds many records.

Input: records (canonical or raw, converted on the fly like ``fcdata prepare``; validation findings are
listed, and records with errors are still rendered when possible, so a bad record can be looked at) or
prepared data (a ``datasets`` folder or Parquet file with ``input_ids``/``assistant_masks``: the rows
exactly as the trainer gets them; only masks and control tokens are known there).

The functions return strings; printing is the caller's business.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from .errors import InputError, RecordError
from .read import read_items
from .render import Dropped, Sample, Span, render_records
from .tokenizer import MistralV3Tokenizer, load_tokenizer

__all__ = ["Inspected", "inspect_file", "format_terminal", "format_html", "turn_rows", "is_prepared"]

_BYTE_PIECE = re.compile(r"<0x([0-9A-F]{2})>")


@dataclass
class Inspected:
    """One record (or one prepared row) ready to show."""

    index: int  # 0-based position in the file
    file: str
    line: int
    samples: list[Sample] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # role of each message (empty for prepared rows)
    findings: list[str] = field(default_factory=list)
    error: str | None = None
    prepared: bool = False


def is_prepared(path: str) -> bool:
    """Whether ``path`` is prepared data (rows with ``input_ids``) rather than records."""
    if os.path.isdir(path):
        return os.path.exists(os.path.join(path, "dataset_info.json")) and _has_input_ids_dir(path)
    if path.lower().endswith(".parquet") and os.path.isfile(path):
        import pyarrow.parquet as pq

        try:
            return "input_ids" in pq.read_schema(path).names
        except Exception:
            return False
    return False


def _has_input_ids_dir(path: str) -> bool:
    import json

    try:
        with open(os.path.join(path, "dataset_info.json"), encoding="utf-8") as fh:
            return "input_ids" in (json.load(fh).get("features") or {})
    except (OSError, ValueError):
        return False


def inspect_file(
    path: str,
    *,
    index: int = 0,
    count: int = 1,
    tokenizer: str | os.PathLike[str] | MistralV3Tokenizer | None = None,
    mode: str = "exact",
    max_length: int | None = None,
    source_format: str | None = None,
) -> list[Inspected]:
    """Records ``index`` .. ``index + count - 1`` of ``path`` (records or prepared data), rendered."""
    tok = tokenizer if isinstance(tokenizer, MistralV3Tokenizer) else load_tokenizer(tokenizer)
    if index < 0 or count < 1:
        raise InputError(f"--index must be >= 0 and the count >= 1, got {index} and {count}", file=path)
    out = list(_prepared(path, index, count, tok)) if is_prepared(path) else list(_records(path, index, count, tok, mode, max_length, source_format))
    if not out:
        raise InputError(f"has no record at index {index}", file=path)
    return out


def _records(path: str, index: int, count: int, tok: MistralV3Tokenizer, mode: str, max_length: int | None, source_format: str | None) -> Iterator[Inspected]:
    from .convert import convert_item
    from .records import ChatRecord, parse_record
    from .validate import check_record

    for position, item in enumerate(read_items(path)):
        if position < index:
            continue
        if position >= index + count:
            return
        view = Inspected(position, item.file, item.line)
        yield view
        if not item.ok:
            view.error = f"{item.file}:{item.line}: {item.error}"
            continue
        converted = convert_item(item, source_format, forced=source_format is not None)
        if not converted.ok:
            view.error = "; ".join(f"{c}: {m}" for c, m in converted.reasons)
            continue
        record = converted.record
        _, findings = check_record(record, file=item.file, line=item.line, text=converted.line)
        view.findings = [str(f) for f in findings]
        try:
            model = parse_record(record)
        except Exception as exc:  # shape errors are already in the findings
            view.error = f"not a canonical record: {exc.__class__.__name__}"
            continue
        if isinstance(model, ChatRecord):
            view.roles = [m.role for m in model.messages]
        [result] = render_records([model], tok, mode=mode, max_length=max_length)
        if isinstance(result, RecordError):
            view.error = str(result)
            continue
        view.samples, view.dropped = result.samples, result.dropped


def _prepared(path: str, index: int, count: int, tok: MistralV3Tokenizer) -> Iterator[Inspected]:
    for position, item in enumerate(read_items(path)):
        if position < index:
            continue
        if position >= index + count:
            return
        row = item.value
        ids = [int(t) for t in row["input_ids"]]
        masks = [int(m) for m in row.get("assistant_masks") or [(0 if lab == -100 else 1) for lab in row["labels"]]]
        spans: list[Span] = []
        start = 0
        for p in range(1, len(ids) + 1):
            if p == len(ids) or masks[p] != masks[start] or tok.is_control(ids[p]) or tok.is_control(ids[start]):
                kind = "control" if tok.is_control(ids[start]) else "tokens"
                spans.append(Span(start, p, -1, kind, bool(masks[start])))
                start = p
        sample = Sample(ids, tuple(spans), sample_index=int(row.get("sample_index", 0) or 0), mode="prepared")
        yield Inspected(
            position,
            str(row.get("source_file", item.file)),
            int(row.get("source_line", item.line) or item.line),
            samples=[sample],
            prepared=True,
        )


# -------------------------------------------------------------------------------------------- blocks


@dataclass
class _Block:
    """Consecutive spans of one message (or of the tools block / <s>)."""

    message_index: int
    spans: list[Span]

    @property
    def tokens(self) -> int:
        return sum(s.end - s.start for s in self.spans)

    @property
    def trained(self) -> int:
        return sum(s.end - s.start for s in self.spans if s.trained)


_TOOLS_BLOCK = -2
_BOS_BLOCK = -3


_TRAINED_BLOCK = -4
_CONTEXT_BLOCK = -5


def _blocks(sample: Sample) -> list[_Block]:
    """Consecutive spans grouped by the message they came from; the tools block and ``<s>`` apart. A new
    block starts whenever the message changes, so every token sits in the block of its own message: the
    ``[INST]`` of the last user message, which comes before the system prompt rendered inside it, is a
    one-token block of that user message. Prepared rows (no message known) are grouped into trained and
    context runs."""
    out: list[_Block] = []
    prepared = sample.mode == "prepared"
    for s in sample.spans:
        key = s.message_index
        if s.start == 0:
            key = _BOS_BLOCK
        elif prepared:
            key = _TRAINED_BLOCK if s.trained else _CONTEXT_BLOCK
        elif s.kind == "tools" or (s.kind == "control" and s.message_index == -1 and sample.input_ids[s.start] in (6, 7)):
            key = _TOOLS_BLOCK
        if out and out[-1].message_index == key:
            out[-1].spans.append(s)
        else:
            out.append(_Block(key, [s]))
    return out


def _label(block: _Block, roles: Sequence[str], sample: Sample) -> str:
    mi = block.message_index
    if mi == _TOOLS_BLOCK:
        return "tools"
    if mi == _BOS_BLOCK:
        return "<s>"
    if mi == _TRAINED_BLOCK:
        return "trained"
    if mi == _CONTEXT_BLOCK:
        return "context"
    if mi == -1:
        inst = any(sample.input_ids[p] in (3, 4) for sp in block.spans for p in range(sp.start, sp.end))
        return "user (inserted)" if inst else "tokens"
    role = roles[mi] if 0 <= mi < len(roles) else "message"
    return f"{role} #{mi}"


def turn_rows(sample: Sample, roles: Sequence[str] = ()) -> list[tuple[str, str, int, int]]:
    """Per block: (label, kinds, tokens, trained tokens) - the token count per turn."""
    rows = []
    for b in _blocks(sample):
        kinds = ",".join(dict.fromkeys(s.kind for s in b.spans if s.kind != "control")) or "control"
        rows.append((_label(b, roles, sample), kinds, b.tokens, b.trained))
    return rows


def _piece_bytes(tok: MistralV3Tokenizer, token: int) -> bytes:
    return tok.piece_bytes(token)


def _partial(tok: MistralV3Tokenizer, token: int, raw: bytes) -> bool:
    """A token that is not text on its own: a SentencePiece byte token, or Tekken bytes that are not
    whole UTF-8 characters."""
    if _BYTE_PIECE.fullmatch(tok.id_to_piece(token)):
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _runs(sample: Sample, span: Span, tok: MistralV3Tokenizer) -> list[tuple[str, bool]]:
    """Text pieces of a span: (text, is_control); byte tokens of one character are decoded together."""
    out: list[tuple[str, bool]] = []
    buf = b""
    for t in sample.input_ids[span.start : span.end]:
        if tok.is_control(t):
            if buf:
                out.append((buf.decode("utf-8", errors="replace"), False))
                buf = b""
            out.append((tok.id_to_piece(t), True))
        else:
            buf += _piece_bytes(tok, t)
    if buf:
        out.append((buf.decode("utf-8", errors="replace"), False))
    return out


# ------------------------------------------------------------------------------------------ terminal

_ANSI = {
    "reset": "\x1b[0m",
    "trained": "\x1b[30;42m",  # black on green
    "control": "\x1b[1;35m",
    "call_id": "\x1b[4;31m",
    "system": "\x1b[36m",
    "tools": "\x1b[34m",
    "tool_result": "\x1b[33m",
    "user": "",
    "text": "",
    "dim": "\x1b[2m",
    "label": "\x1b[1m",
}


def _style(text: str, *codes: str, color: bool) -> str:
    codes = tuple(c for c in codes if c)
    if not color or not codes:
        return text
    return "".join(codes) + text + _ANSI["reset"]


def format_terminal(view: Inspected, tok: MistralV3Tokenizer, *, color: bool = True, show_tokens: bool = False) -> str:
    """A record's samples as terminal text: one labelled block per turn, trained tokens black on green,
    control tokens magenta, system cyan, tools blue, tool results yellow, call ids red underlined."""
    lines = [_style(f"record {view.index}  ({view.file}:{view.line})", _ANSI["label"], color=color)]
    for f in view.findings:
        lines.append(f"  finding: {f}")
    if view.error:
        lines.append(f"  cannot render: {view.error}")
        return "\n".join(lines)
    if not view.samples and not view.dropped:
        lines.append("  no sample: no assistant turn is trained (weight 0 everywhere, or no assistant turn)")
    for d in view.dropped:
        lines.append(f"  sample {d.sample_index}: dropped, {d.length} tokens even without its earlier turns (full {d.full_length})")
    for sample in view.samples:
        head = f"sample {sample.sample_index} ({sample.mode}): {sample.length} tokens, {sample.num_trained} trained"
        if sample.turns_trimmed:
            head += f", {sample.turns_trimmed} early exchange(s) removed ({sample.tokens_trimmed} tokens) to fit"
        lines.append("")
        lines.append(_style(head, _ANSI["label"], color=color))
        for block in _blocks(sample):
            label = f"{_label(block, view.roles, sample)}  [{block.tokens} tok" + (f", {block.trained} trained]" if block.trained else "]")
            lines.append(_style("  ▌ " + label, _ANSI["dim"], color=color))
            text = ""
            for span in block.spans:
                for piece, is_control in _runs(sample, span, tok):
                    codes = [_ANSI["control"] if is_control else _ANSI.get(span.kind, "")]
                    if span.kind == "call_id":
                        codes = [_ANSI["call_id"]]
                    if span.trained:
                        codes.insert(0, _ANSI["trained"])
                    shown = piece if color else (f"«{piece}»" if span.trained else piece)
                    text += _style(shown.replace("\n", "↵\n"), *codes, color=color)
            lines.extend("    " + ln for ln in text.split("\n"))
        if show_tokens:
            lines.append("")
            lines.append("    pos     id  trained  message  kind         piece")
            for p, (t, m, mi, kind) in enumerate(zip(sample.input_ids, sample.assistant_masks, sample.message_index, sample.span_kinds)):
                lines.append(f"    {p:>4} {t:>6}  {m:>7}  {mi:>7}  {kind:<11}  {tok.id_to_piece(t)!r}")
    legend = "legend: " + " ".join(
        [
            _style("trained", _ANSI["trained"], color=color),
            _style("[CONTROL]", _ANSI["control"], color=color),
            _style("system", _ANSI["system"], color=color),
            _style("tools", _ANSI["tools"], color=color),
            _style("tool result", _ANSI["tool_result"], color=color),
            _style("call id (never trained)", _ANSI["call_id"], color=color),
        ]
    )
    if not color:
        legend = "legend: «trained»; [CONTROL] tokens as their pieces; ↵ = newline"
    lines.append("")
    lines.append(legend)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- html

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px} .meta{color:#667;font-size:12px}
.legend span{margin-right:10px}
.record{background:#fff;border:1px solid #dde1e7;border-radius:8px;margin:18px 0;padding:12px 16px}
.record h2{font-size:15px;margin:0 0 6px} .finding{color:#9a5b00;font-size:12px} .error{color:#b00020}
.sample{border-top:1px dashed #dde1e7;margin-top:10px;padding-top:8px}
.sample h3{font-size:13px;margin:0 0 6px;color:#333}
.block{display:grid;grid-template-columns:210px 1fr;gap:10px;margin:3px 0}
.label{font:12px ui-monospace,Menlo,Consolas,monospace;color:#667;text-align:right;padding-top:2px}
.toks{font:13px/1.6 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-word}
.toks span{border-right:1px solid rgba(0,0,0,.08)}
.tr{background:#c9f2cf} .ctl{color:#8a2be2;font-weight:600} .tr.ctl{background:#a6e8ae}
.k-system{color:#00798c} .k-tools{color:#2d5bd1} .k-tool_result{color:#9a6700}
.k-call_id{color:#c62828;text-decoration:underline wavy #c62828}
table.turns{border-collapse:collapse;font-size:12px;margin-top:6px} .turns td,.turns th{border:1px solid #e3e6ea;padding:1px 6px;text-align:right}
.turns td:first-child,.turns th:first-child,.turns td:nth-child(2),.turns th:nth-child(2){text-align:left}
"""


def _token_groups(sample: Sample, span: Span, tok: MistralV3Tokenizer) -> Iterator[tuple[int, int, str, bool]]:
    """(first, end, text, is_control) per token; byte tokens that make one character are one group."""
    ids = sample.input_ids
    buf = b""
    first = span.start
    for p in range(span.start, span.end):
        t = ids[p]
        if tok.is_control(t):
            if buf:
                yield first, p, buf.decode("utf-8", errors="replace"), False
                buf = b""
            yield p, p + 1, tok.id_to_piece(t), True
            continue
        raw = tok.piece_bytes(t)
        if not _partial(tok, t, raw):
            if buf:
                yield first, p, buf.decode("utf-8", errors="replace"), False
                buf = b""
            yield p, p + 1, raw.decode("utf-8"), False
            continue
        if not buf:
            first = p
        buf += raw
        try:
            text = buf.decode("utf-8")
        except UnicodeDecodeError:
            if len(buf) < 4:
                continue
            text = buf.decode("utf-8", errors="replace")
        yield first, p + 1, text, False
        buf = b""
    if buf:
        yield first, span.end, buf.decode("utf-8", errors="replace"), False


def _html_tokens(sample: Sample, span: Span, tok: MistralV3Tokenizer) -> str:
    parts: list[str] = []
    state = "trained" if span.trained else "context"
    for first, end, text, is_control in _token_groups(sample, span, tok):
        classes = ["k-" + span.kind] + (["tr"] if span.trained else []) + (["ctl"] if is_control else [])
        title = f"{'ids' if end - first > 1 else 'id'} {' '.join(map(str, sample.input_ids[first:end]))} · {span.kind} · message {span.message_index} · {state}"
        shown = html.escape(text).replace("\n", "↵\n")
        parts.append(f'<span class="{" ".join(classes)}" title="{html.escape(title)}">{shown}</span>')
    return "".join(parts)


def format_html(views: Sequence[Inspected], tok: MistralV3Tokenizer, *, title: str = "fcdata inspect") -> str:
    """A self-contained HTML page of many records (inline CSS, no script)."""
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<div class="meta">tokenizer {html.escape(os.path.basename(tok.path))} · {len(views)} record(s) · hover a token for its ids, kind and message</div>',
        '<p class="legend"><span class="tr">trained</span><span class="ctl">[CONTROL]</span><span class="k-system">system</span>'
        '<span class="k-tools">tools</span><span class="k-tool_result">tool result</span><span class="k-call_id">call id (never trained)</span>'
        "<span>↵ newline</span></p>",
    ]
    for view in views:
        out.append('<section class="record">')
        out.append(f"<h2>record {view.index} <span class=\"meta\">{html.escape(view.file)}:{view.line}</span></h2>")
        for f in view.findings:
            out.append(f'<div class="finding">{html.escape(f)}</div>')
        if view.error:
            out.append(f'<div class="error">cannot render: {html.escape(view.error)}</div></section>')
            continue
        if not view.samples and not view.dropped:
            out.append('<div class="meta">no sample: no assistant turn is trained</div>')
        for d in view.dropped:
            out.append(f'<div class="error">sample {d.sample_index} dropped for length: {d.length} tokens (full {d.full_length})</div>')
        for sample in view.samples:
            head = f"sample {sample.sample_index} ({sample.mode}) · {sample.length} tokens · {sample.num_trained} trained"
            if sample.turns_trimmed:
                head += f" · {sample.turns_trimmed} early exchange(s) removed to fit"
            out.append(f'<div class="sample"><h3>{html.escape(head)}</h3>')
            for block in _blocks(sample):
                label = f"{_label(block, view.roles, sample)} · {block.tokens}" + (f" ({block.trained} tr)" if block.trained else "")
                toks = "".join(_html_tokens(sample, s, tok) for s in block.spans)
                out.append(f'<div class="block"><div class="label">{html.escape(label)}</div><div class="toks">{toks}</div></div>')
            rows = "".join(
                f"<tr><td>{html.escape(label)}</td><td>{html.escape(kinds)}</td><td>{n}</td><td>{tr}</td></tr>" for label, kinds, n, tr in turn_rows(sample, view.roles)
            )
            out.append(f'<table class="turns"><tr><th>turn</th><th>kinds</th><th>tokens</th><th>trained</th></tr>{rows}</table></div>')
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
