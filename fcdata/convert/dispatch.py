"""Converting one record: pick the converter for its format, turn every failure into a rejection.

A record is read as what its keys say it is. Its file's format (told from the file's first readable
record) only decides for a record of no known format that has that format's keys, whose converter then
names what is missing. ``--from`` forces a format: a record whose keys do not fit it is rejected
(``format_mismatch``) rather than guessed at, except within the families that share a converter
(``openai``/``canonical``/``llamafactory``/``when2call``, the ShareGPT family, ``hackathon``/``text``).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from ..normalize import Rules
from ..read import Item
from .assemble import KEEP_TEXT_WITH_CALLS
from .arguments import ConflictingKey, duplicate_key_reason
from .detect import FORMATS, describe_keys, detect_format, is_turn_list, known_unsupported, trajectory_messages
from .glaive import convert_glaive
from .gorilla import convert_gorilla
from .hackathon import convert_interactions, convert_text
from .openai import convert_openai
from .outcome import Converted, Rejected, Reject
from .sharegpt import convert_sharegpt
from .trajectory import convert_trajectory
from .when2call import convert_when2call
from .responses import convert_responses, responses_request
from .toolalpaca import convert_toolalpaca, is_toolalpaca_row, split_row
from .xlam import convert_xlam
from .alpaca import convert_alpaca

__all__ = ["convert_item", "expand_items", "FORMATS"]

_SHAREGPT = frozenset({"sharegpt", "hermes", "toolace"})
_OPENAI = frozenset({"openai", "canonical", "llamafactory", "when2call"})
_FAMILY: dict[str, frozenset[str]] = {
    "glaive": frozenset({"glaive"}),
    "hackathon": frozenset({"hackathon", "text"}),
    "text": frozenset({"hackathon", "text"}),
    **{f: _SHAREGPT for f in _SHAREGPT},
    **{f: _OPENAI for f in _OPENAI},
    "xlam": frozenset({"xlam"}),
    "alpaca": frozenset({"alpaca"}),
    "gorilla": frozenset({"gorilla"}),
    "trajectory": frozenset({"trajectory"}),
    "responses": frozenset({"responses"}),
    "toolalpaca": frozenset({"toolalpaca"}),
}

_WANTS = {
    "glaive": "`system` and `chat`",
    "hackathon": "`interactions` (or `text`)",
    "text": "`text`",
    "sharegpt": "`conversations`",
    "hermes": "`conversations`",
    "toolace": "`conversations`",
    "xlam": "`query` and `answers`",
    "alpaca": "`instruction` and `output`",
    "gorilla": "`question`, `function` and `model_answer`",
    "when2call": "`messages` (or the MCQ test file's `question` and `answers`)",
    "llamafactory": "`messages`",
    "trajectory": "messages under `traj`, `trajectory` or `answer_generation.train_messages`",
    "responses": "Responses API `input` items (at the top or under `responses_create_params`)",
    "toolalpaca": "`Instructions` and `Golden_Answers`",
    "openai": "`messages`",
    "canonical": "`messages`",
}

_HAS_KEYS = {
    "glaive": ("chat",),
    "hackathon": ("interactions", "text"),
    "text": ("interactions", "text"),
    "sharegpt": ("conversations",),
    "hermes": ("conversations",),
    "toolace": ("conversations",),
    "xlam": ("query",),
    "alpaca": ("instruction",),
    "gorilla": ("question",),
    "when2call": ("messages", "question"),
    "llamafactory": ("messages",),
    "openai": ("messages", "request"),
    "canonical": ("messages", "request"),
}


def _convert(item: Item, value: dict[str, Any], fmt: str, forced: bool) -> Converted:
    own = detect_format(value)
    family = _FAMILY[fmt]
    if own is None or own not in family:
        # a forced format, or a record of no format that has the keys its file's format needs, goes to
        # that converter, which says precisely what is missing
        if not ((forced or own is None) and _has_keys(value, fmt)):
            seen = f"; it looks like {own}" if own else ""
            raise Reject("format_mismatch", f"read as {fmt} (from --from), which needs {_WANTS[fmt]}, but the record is {describe_keys(value)}{seen}")
        own = fmt if fmt != "canonical" else "openai"
    # the record is read by what it is; a forced format labels it (and, within the ShareGPT family,
    # says which markup to read: forcing toolace reads Python call syntax in any ShareGPT record)
    label = fmt if forced else own
    if own == "glaive":
        return convert_glaive(item, value)
    if own == "hackathon":
        return convert_interactions(item, value)
    if own == "text":
        return convert_text(item, value)
    if own in _SHAREGPT:
        return convert_sharegpt(item, value, label)
    if own == "xlam":
        return convert_xlam(item, value, label)
    if own == "alpaca":
        return convert_alpaca(item, value, label)
    if own == "gorilla":
        return convert_gorilla(item, value, label)
    if own == "trajectory":
        return convert_trajectory(item, value, label)
    if own == "responses":
        return convert_responses(item, value, label)
    if own == "toolalpaca":
        return convert_toolalpaca(item, value, label)
    if own == "when2call":
        return convert_when2call(item, value, label)
    return convert_openai(item, value, label)


def _has_keys(value: dict[str, Any], fmt: str) -> bool:
    if fmt == "trajectory":
        return trajectory_messages(value) is not None or isinstance(value.get("answer_generation"), dict)
    if fmt == "responses":
        return responses_request(value) is not None or "responses_create_params" in value
    if fmt == "toolalpaca":
        return "Instruction" in value or "Instructions" in value
    return any(k in value for k in _HAS_KEYS[fmt])


def expand_items(items: Iterable[Item], fmt: str | None = None) -> Iterator[Item]:
    """The records of ``items``: each item is one record, except a row of a shape that holds several
    (ToolAlpaca's evaluation rows: one per instruction, :func:`.toolalpaca.split_row`). Every stage
    counts the records this gives, so ``read == kept + rejected`` holds for them, and so does one
    outcome per record."""
    for item in items:
        if fmt in (None, "toolalpaca") and item.error is None and is_toolalpaca_row(item.value):
            yield from split_row(item)
        else:
            yield item


def convert_item(item: Item, fmt: str | None = None, *, forced: bool = False, rules: Rules | None = None) -> Converted | Rejected:
    """Convert one :class:`~fcdata.read.Item`. ``fmt`` is the format to read it as (``None``: tell from
    the record); ``forced`` says it came from ``--from`` (only used in messages and labels).

    ``rules``: the normaliser rules of the tokenizer version the record is for (default v3's). Where
    they let a turn hold text then calls (v7 on), the text before a call stays in the trained turn
    instead of being cut (``text_before_call_dropped``) as v3 needs."""
    token = KEEP_TEXT_WITH_CALLS.set(rules is not None and rules.content_with_calls)
    try:
        return _convert_item(item, fmt, forced)
    finally:
        KEEP_TEXT_WITH_CALLS.reset(token)


def _convert_item(item: Item, fmt: str | None, forced: bool) -> Converted | Rejected:
    if item.error is not None:
        return Rejected(item, [(item.code or "not_json", item.error or "unreadable")], None)
    value = item.value
    if is_turn_list(value) and (fmt is None or fmt in _SHAREGPT or not forced):
        # a conversation written as a bare list of turns (data-genie's Hermes files); the file's format,
        # told from its first record, does not decide for it unless forced (files concatenated from sets)
        wrapped = {"conversations": value}
        label = (fmt if fmt in _SHAREGPT else None) or detect_format(wrapped) or "sharegpt"
        try:
            return convert_sharegpt(item, wrapped, label, bare=True)
        except Reject as rej:
            return Rejected(item, rej.reasons, label)
        except RecursionError:
            return Rejected(item, [("json_too_deep", "the record is nested too deeply to convert")], label)
        except ConflictingKey as exc:
            return Rejected(item, [duplicate_key_reason(exc)], label)
        except Exception as exc:  # a converter bug must not stop a batch; tests assert this never happens
            return Rejected(item, [("internal_error", f"{type(exc).__name__}: {exc}")], label)
    if not isinstance(value, dict):
        return Rejected(item, [("not_object", f"a record must be a JSON object, got {describe_keys(value)}")], fmt)
    if fmt is not None and not forced:
        # the file's format (told from its first record) only decides for records of no known format that
        # have its keys (its converter then names what is missing); a record of another known format (files
        # concatenated from several sets) is read as what it is, and one of no format is unknown_format, as
        # prepare and train-eval, which tell each record's own, find them
        own = detect_format(value)
        if (own is not None and own not in _FAMILY[fmt]) or (own is None and not _has_keys(value, fmt)):
            fmt = None
    label = fmt
    try:
        if fmt is None:
            label = detect_format(value)
            if label is None:
                unsupported = known_unsupported(value)
                if unsupported is not None:
                    return Rejected(item, [unsupported], None)
                known = ", ".join(FORMATS)
                return Rejected(item, [("unknown_format", f"no known format has these keys ({describe_keys(value)}); known formats: {known}")], None)
            return _convert(item, value, label, False)
        return _convert(item, value, fmt, forced)
    except Reject as rej:
        return Rejected(item, rej.reasons, label)
    except RecursionError:
        return Rejected(item, [("json_too_deep", "the record is nested too deeply to convert")], label)
    except ConflictingKey as exc:
        return Rejected(item, [duplicate_key_reason(exc)], label)
    except Exception as exc:  # a converter bug must not stop a batch; tests assert this never happens
        return Rejected(item, [("internal_error", f"{type(exc).__name__}: {exc}")], label)

