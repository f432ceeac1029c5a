"""Seeing what the model will be trained on: rendered records as coloured terminal text or an HTML page.

Both views show every sample of a record turn by turn (one block per message, labelled with its role,
index and token count), the trained tokens set apart from the context, control tokens as their pieces
(``[INST]``, ``[TOOL_CALLS]``, ``</s>``) and span kinds by colour; call ids, which are never trained,
are marked. The user turn that holds the system prompt is shown as ``user #k [INST]``, ``system #j in
user #k``, ``user #k text``, each with a note, because Mistral v0.3 writes the system prompt inside it.
The HTML page (:mod:`fcdata.view_html`) holds many records with a summary, contents, a filter and each
repeated tools block or system prompt written once; it is self-contained and runs no script.

Input: records, taken as ``fcdata prepare`` takes them (canonical input validated as it is, raw input
converted on the fly); every validation finding is listed, warnings included, and records with errors
are still rendered when possible, so a bad record can be looked at. Or prepared data (a ``datasets``
folder or Parquet file with ``input_ids``/``assistant_masks``: the rows exactly as the trainer gets
them; only masks and control tokens are known there).

Text from the data never reaches a terminal as escape sequences (:func:`visible`) nor the page as
markup. The functions return strings; printing is the caller's business.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from .errors import InputError, NoRecordsError, RecordError
from .read import read_items
from .render import Dropped, Sample, Span, render_records
from .tokenizer import MistralV3Tokenizer, load_tokenizer

__all__ = ["Inspected", "inspect_file", "format_terminal", "format_html", "turn_rows", "has_trained_calls", "is_prepared", "visible"]

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
    findings: list[str] = field(default_factory=list)  # as validate prints them
    finding_codes: list[tuple[str, str]] = field(default_factory=list)  # (severity, code) of each finding
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
    if not out and index == 0:
        # the one rule for an input that holds no record: a finding (exit 1), not a usage error
        raise NoRecordsError(f"{path}: holds no record (empty_file: a wrong path, or an export that failed)")
    if not out:
        raise InputError(f"has no record at index {index}", file=path)
    return out


def _records(path: str, index: int, count: int, tok: MistralV3Tokenizer, mode: str, max_length: int | None, source_format: str | None) -> Iterator[Inspected]:
    """As ``fcdata prepare`` takes them: canonical input is validated as it is (every finding listed,
    warnings too), and goes to the converter only when it has errors (the converter may repair them);
    raw input is converted, then validated. A record the converter refuses shows its reason and, when it
    is written as chat messages (canonical or OpenAI), every finding of the validator on it as it is."""
    from .convert import convert_item, detect_format, expand_items
    from .records import ChatRecord, parse_record
    from .render.encoders import encoder_for
    from .validate import REPAIRED_BY_CONVERTER, check_record

    rules = encoder_for(tok).rules  # the tokenizer version's rules, as prepare judges and converts

    for position, item in enumerate(expand_items(read_items(path), source_format)):
        if position < index:
            continue
        if position >= index + count:
            return
        view = Inspected(position, item.file, item.line)
        yield view
        if not item.ok:
            view.error = f"{item.file}:{item.line}: {item.error}"
            continue
        record = item.value
        model = None
        if source_format in (None, "canonical") and detect_format(record) == "canonical":
            model, findings = check_record(record, file=item.file, line=item.line, text=item.text, rules=rules)
            view.findings = [str(f) for f in findings]
            view.finding_codes = [(f.severity, f.code) for f in findings]
            if any(f.severity == "error" or f.code in REPAIRED_BY_CONVERTER for f in findings):
                model = None
        if model is None:
            converted = convert_item(item, source_format, forced=source_format is not None, rules=rules)
            if not converted.ok:
                view.error = "; ".join(f"{c}: {m}" for c, m in converted.reasons)
                if not view.findings and detect_format(record) in ("canonical", "openai"):
                    # the converter stops at its first reason; the validator lists them all
                    found = check_record(record, file=item.file, line=item.line, text=item.text, rules=rules)[1]
                    view.findings = [str(f) for f in found]
                    view.finding_codes = [(f.severity, f.code) for f in found]
                continue
            record = converted.record
            _, findings = check_record(record, file=item.file, line=item.line, text=converted.line, rules=rules)
            if view.findings:  # canonical input with errors, repaired by the converter
                view.findings += [f"after conversion: {f}" for f in findings]
            else:
                view.findings = [str(f) for f in findings]
            view.finding_codes += [(f.severity, f.code) for f in findings]
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

_INST, _TOOLS_OPEN, _TOOLS_CLOSE, _TOOL_CALLS = 3, 6, 7, 5


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

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(s.kind for s in self.spans))


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
        elif s.kind == "tools" or (s.kind == "control" and s.message_index == -1 and sample.input_ids[s.start] in (_TOOLS_OPEN, _TOOLS_CLOSE)):
            key = _TOOLS_BLOCK
        if out and out[-1].message_index == key:
            out[-1].spans.append(s)
        else:
            out.append(_Block(key, [s]))
    return out


@dataclass
class _Labelled:
    """A block with its row label and, where the label alone would puzzle a newcomer, a note."""

    block: _Block
    label: str
    note: str = ""


def _only_inst(block: _Block, sample: Sample) -> bool:
    return all(sample.input_ids[p] == _INST for sp in block.spans for p in range(sp.start, sp.end))


def _labelled(sample: Sample, roles: Sequence[str]) -> list[_Labelled]:
    """Every block of ``sample`` with its label. Mistral v0.3 writes the system prompt inside the last
    user turn, ``[INST] system prompt\\n\\nuser text [/INST]``, so that turn is shown in three rows:
    ``user #k [INST]`` (the turn opens), ``system #j in user #k``, ``user #k text``."""
    blocks = _blocks(sample)
    roles_of = [roles[b.message_index] if 0 <= b.message_index < len(roles) else None for b in blocks]
    out: list[_Labelled] = []
    inside: int | None = None  # the user turn whose system prompt(s) are being shown
    for i, b in enumerate(blocks):
        mi = b.message_index
        if mi == _TOOLS_BLOCK:
            out.append(_Labelled(b, "tools", "the tools block, before the last user turn; never trained"))
        elif mi == _BOS_BLOCK:
            out.append(_Labelled(b, "<s>"))
        elif mi == _TRAINED_BLOCK:
            out.append(_Labelled(b, "trained"))
        elif mi == _CONTEXT_BLOCK:
            out.append(_Labelled(b, "context"))
        elif mi == -1:
            inst = any(sample.input_ids[p] in (_INST, 4) for sp in b.spans for p in range(sp.start, sp.end))
            out.append(_Labelled(b, "user (inserted)" if inst else "tokens", "an empty user turn mistral-common inserts" if inst else ""))
        else:
            role = roles_of[i] or "message"
            systems = 0
            while i + 1 + systems < len(blocks) and roles_of[i + 1 + systems] == "system":
                systems += 1
            if role == "user" and systems and _only_inst(b, sample):
                inside = mi
                rows = "next row" if systems == 1 else f"next {systems} rows"
                out.append(_Labelled(b, f"user #{mi} [INST]", f"user #{mi}'s turn opens; the system prompt ({rows}) is written inside it"))
                continue
            if role == "system" and inside is not None:
                out.append(_Labelled(b, f"system #{mi} in user #{inside}", f"a system prompt, inside user #{inside}'s turn as Mistral v0.3 writes it"))
                continue
            if role == "user" and inside == mi:
                out.append(_Labelled(b, f"user #{mi} text", f"the rest of user #{mi}'s turn, after the system prompt"))
            else:
                out.append(_Labelled(b, f"{role} #{mi}"))
        inside = None
    return out


def turn_rows(sample: Sample, roles: Sequence[str] = ()) -> list[tuple[str, str, int, int]]:
    """Per block: (label, kinds, tokens, trained tokens) - the token count per turn."""
    rows = []
    for lb in _labelled(sample, roles):
        kinds = ",".join(k for k in lb.block.kinds if k != "control") or "control"
        rows.append((lb.label, kinds, lb.block.tokens, lb.block.trained))
    return rows


def has_trained_calls(sample: Sample) -> bool:
    """Whether the sample trains a tool call (its ``[TOOL_CALLS]``, or call JSON)."""
    for s in sample.spans:
        if s.trained and (s.kind in ("call_json", "call_name", "arguments") or any(sample.input_ids[p] == _TOOL_CALLS for p in range(s.start, s.end))):
            return True
    return False


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
    buf: list[bytes] = []  # joined once per run (adding bytes to bytes is quadratic in a long message)
    for t in sample.input_ids[span.start : span.end]:
        if tok.is_control(t):
            if buf:
                out.append((b"".join(buf).decode("utf-8", errors="replace"), False))
                buf = []
            out.append((tok.id_to_piece(t), True))
        else:
            buf.append(_piece_bytes(tok, t))
    if buf:
        out.append((b"".join(buf).decode("utf-8", errors="replace"), False))
    return out


def token_groups(sample: Sample, span: Span, tok: MistralV3Tokenizer) -> Iterator[tuple[int, int, str, bool]]:
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

# C0 controls (but newline and tab), DEL and C1 controls: shown, never sent to the terminal, where ESC
# and CSI would start escape sequences (clear the screen, set the title, write the clipboard...).
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` safe for a terminal: each control character as its Unicode picture (``␛`` for ESC) or,
    for DEL and C1, as ``\\x9b``-style text."""
    return _CONTROL_CHARS.sub(lambda m: chr(0x2400 + ord(m.group())) if ord(m.group()) < 0x20 else f"\\x{ord(m.group()):02x}", text)


def _style(text: str, *codes: str, color: bool) -> str:
    codes = tuple(c for c in codes if c)
    if not color or not codes:
        return text
    return "".join(codes) + text + _ANSI["reset"]


def format_terminal(view: Inspected, tok: MistralV3Tokenizer, *, color: bool = True, show_tokens: bool = False) -> str:
    """A record's samples as terminal text: one labelled block per turn, trained tokens black on green,
    control tokens magenta, system cyan, tools blue, tool results yellow, call ids red underlined. Every
    text from the data goes through :func:`visible`: no escape sequence of the data reaches the terminal."""
    lines = [_style(visible(f"record {view.index}  ({view.file}:{view.line})"), _ANSI["label"], color=color)]
    for f in view.findings:
        lines.append(f"  finding: {visible(f)}")
    if view.error:
        lines.append(f"  cannot render: {visible(view.error)}")
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
        for lb in _labelled(sample, view.roles):
            block = lb.block
            label = f"{lb.label}  [{block.tokens} tok" + (f", {block.trained} trained]" if block.trained else "]") + (f"  ({lb.note})" if lb.note else "")
            lines.append(_style("  ▌ " + label, _ANSI["dim"], color=color))
            text = ""
            for span in block.spans:
                for piece, is_control in _runs(sample, span, tok):
                    codes = [_ANSI["control"] if is_control else _ANSI.get(span.kind, "")]
                    if span.kind == "call_id":
                        codes = [_ANSI["call_id"]]
                    if span.trained:
                        codes.insert(0, _ANSI["trained"])
                    piece = visible(piece)
                    shown = piece if color else (f"«{piece}»" if span.trained else piece)
                    text += _style(shown.replace("\n", "↵\n"), *codes, color=color)
            lines.extend("    " + ln for ln in text.split("\n"))
        if show_tokens:
            lines.append("")
            lines.append("    pos     id  trained  message  kind         piece")
            for p, (t, m, mi, kind) in enumerate(zip(sample.input_ids, sample.assistant_masks, sample.message_index, sample.span_kinds)):
                lines.append(f"    {p:>4} {t:>6}  {m:>7}  {mi:>7}  {kind:<11}  {visible(repr(tok.id_to_piece(t)))}")
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


def format_html(views: Sequence[Inspected], tok: MistralV3Tokenizer, *, title: str = "fcdata inspect") -> str:
    """A self-contained HTML page of many records (see :mod:`fcdata.view_html`)."""
    from .view_html import html_page

    return html_page(views, tok, title=title)
