"""Converters: the tool-calling data people have -> canonical records that pass ``fcdata validate``.

Formats (ids as on the command line): ``glaive`` (Glaive function-calling v2 raw), ``hackathon``
(legacy Mistral hackathon ``interactions``), ``text`` (pretraining ``{"text"}``, passed on as text
records), ``sharegpt`` (LLaMA-Factory, APIGen-MT, ComplexFuncBench shapes), ``hermes``, ``toolace``,
``xlam``, ``alpaca``, ``gorilla``, ``when2call``, ``llamafactory`` (v1 messages), ``responses`` (OpenAI Responses
API requests), ``toolalpaca`` (ToolAlpaca evaluation rows, one record per instruction), ``trajectory`` (messages under
another key), ``openai`` (``messages`` + ``tools``, legacy ``functions``, request dumps) and
``canonical`` (fcdata's own records, passed through with their ids checked); :mod:`.detect` tells them
apart. Call markup in an assistant's text is read into calls or the record rejected (:mod:`.markup`).

Nothing is lost silently: every input record becomes a :class:`Converted` record (with its provenance
and the codes of every repair in ``metadata``) or a :class:`Rejected` one (with ``(code, message)``
reasons). docs/convert.md lists every repair and rejection code and the decision behind it.

    >>> from fcdata.convert import convert_records
    >>> [out] = convert_records([{"interactions": [{"is_user": True, "text": "Hi"}, {"is_user": False, "text": "Hello!"}]}])
    >>> out.record["messages"]
    [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello!'}]
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from ..normalize import Rules
from ..read import Item
from .detect import FORMATS, detect_format
from .dispatch import convert_item, expand_items
from .files import ConvertReport, FileSummary, convert_files
from .outcome import Converted, Rejected

__all__ = [
    "convert_records",
    "convert_item",
    "expand_items",
    "convert_files",
    "detect_format",
    "Converted",
    "Rejected",
    "ConvertReport",
    "FileSummary",
    "FORMATS",
    "clear_caches",
]


def clear_caches() -> None:
    """Forget every parsed declaration and compiled schema (the converters cache them by text, bounded
    in size); for benchmarks that must measure a cold start, and for long-lived processes."""
    from .. import schema_check
    from . import glaive, tools

    glaive._system_cached.cache_clear()
    glaive._declaration.cache_clear()
    schema_check.clear_cache()
    tools.clear_cache()


def convert_records(records: Iterable[Any], source_format: str | None = None, *, file: str | None = None, num_proc: int = 1, batch_size: int = 1000, rules: Rules | None = None) -> Iterator[Converted | Rejected]:
    """Convert records (decoded JSON values or :class:`~fcdata.read.Item`\\ s), yielding one
    :class:`Converted` or :class:`Rejected` per record, in input order (one per input, except that a
    ToolAlpaca row holds one record per instruction: :func:`.dispatch.expand_items`).

    ``source_format`` reads every record as that format (a record that does not fit it is rejected with
    ``format_mismatch``); without it each record's format is told from its keys. Plain values are
    numbered from 1 (their ``source_line``) and attributed to ``file`` when given. With ``num_proc`` > 1
    batches of ``batch_size`` records are converted in worker processes; the results are the same.
    ``rules``: the normaliser rules of the tokenizer version the data is for (``encoder_for(tok).rules``;
    default v3's): from v7 on, text before a call stays in the trained turn.
    """
    if source_format is not None and source_format not in FORMATS:
        from ..errors import UsageError

        raise UsageError(f"unknown format {source_format!r}; known formats: {', '.join(FORMATS)}")
    forced = source_format is not None
    items = expand_items((rec if isinstance(rec, Item) else Item(file or "", index, rec) for index, rec in enumerate(records, start=1)), source_format)
    if num_proc <= 1:
        for item in items:
            yield convert_item(item, source_format, forced=forced, rules=rules)
        return
    from functools import partial

    from ..pool import ordered_map, worker_pool
    from .files import _chunk

    with worker_pool(num_proc) as pool:
        for results in ordered_map(pool, partial(_convert_batch, fmt=source_format, forced=forced, rules=rules), _chunk(items, batch_size)):
            yield from results


def _convert_batch(batch: list[Item], fmt: str | None, forced: bool, rules: Rules | None = None) -> list[Converted | Rejected]:
    return [convert_item(item, fmt, forced=forced, rules=rules) for item in batch]
