"""Converting one record: pick the converter for its format, turn every failure into a rejection.

The format a record is read as comes from ``--from``, from the first readable record of its file, or
(without either) from the record itself. A record whose keys do not fit the format of its file is
rejected (``format_mismatch``) rather than guessed at, except within the two families that share a
converter: ``openai``/``canonical`` (labelled by what the record itself is) and ``hackathon``/``text``
(the hackathon's two record kinds).
"""

from __future__ import annotations

from typing import Any

from ..read import Item
from .detect import FORMATS, describe_keys, detect_format
from .glaive import convert_glaive
from .hackathon import convert_interactions, convert_text
from .openai import convert_openai
from .outcome import Converted, Rejected, Reject
from .sharegpt import convert_sharegpt

__all__ = ["convert_item", "FORMATS"]

_FAMILY: dict[str, frozenset[str]] = {
    "glaive": frozenset({"glaive"}),
    "hackathon": frozenset({"hackathon", "text"}),
    "text": frozenset({"hackathon", "text"}),
    "sharegpt": frozenset({"sharegpt"}),
    "openai": frozenset({"openai", "canonical"}),
    "canonical": frozenset({"openai", "canonical"}),
}

_WANTS = {
    "glaive": "`system` and `chat`",
    "hackathon": "`interactions` (or `text`)",
    "text": "`text`",
    "sharegpt": "`conversations`",
    "openai": "`messages`",
    "canonical": "`messages`",
}


def _convert(item: Item, value: dict[str, Any], fmt: str, forced: bool) -> Converted:
    own = detect_format(value)
    family = _FAMILY[fmt]
    if own is None or own not in family:
        # a forced format still gets the keys its converter needs, so the message can be precise
        if not (forced and _has_keys(value, fmt)):
            seen = f"; it looks like {own}" if own else ""
            how = "--from" if forced else "the first record of its file"
            raise Reject("format_mismatch", f"read as {fmt} (from {how}), which needs {_WANTS[fmt]}, but the record is {describe_keys(value)}{seen}")
        own = fmt if fmt not in ("openai", "canonical") else "openai"
    if own == "glaive":
        return convert_glaive(item, value)
    if own == "hackathon":
        return convert_interactions(item, value)
    if own == "text":
        return convert_text(item, value)
    if own == "sharegpt":
        return convert_sharegpt(item, value)
    label = fmt if forced and fmt in ("openai", "canonical") else own
    return convert_openai(item, value, label)


def _has_keys(value: dict[str, Any], fmt: str) -> bool:
    if fmt == "glaive":
        return "chat" in value
    if fmt in ("hackathon", "text"):
        return "interactions" in value or "text" in value
    if fmt == "sharegpt":
        return "conversations" in value
    return "messages" in value or isinstance(value.get("request"), dict)


def convert_item(item: Item, fmt: str | None = None, *, forced: bool = False) -> Converted | Rejected:
    """Convert one :class:`~fcdata.read.Item`. ``fmt`` is the format to read it as (``None``: tell from
    the record); ``forced`` says it came from ``--from`` (only used in messages and labels)."""
    if item.error is not None:
        return Rejected(item, [(item.code or "not_json", item.error or "unreadable")], None)
    value = item.value
    if not isinstance(value, dict):
        return Rejected(item, [("not_object", f"a record must be a JSON object, got {describe_keys(value)}")], fmt)
    label = fmt
    try:
        if fmt is None:
            label = detect_format(value)
            if label is None:
                known = ", ".join(FORMATS)
                return Rejected(item, [("unknown_format", f"no known format has these keys ({describe_keys(value)}); known formats: {known}")], None)
            return _convert(item, value, label, False)
        return _convert(item, value, fmt, forced)
    except Reject as rej:
        return Rejected(item, rej.reasons, label)
    except RecursionError:
        return Rejected(item, [("json_too_deep", "the record is nested too deeply to convert")], label)
    except Exception as exc:  # a converter bug must not stop a batch; tests assert this never happens
        return Rejected(item, [("internal_error", f"{type(exc).__name__}: {exc}")], label)

