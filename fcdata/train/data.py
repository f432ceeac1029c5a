"""The data a run trains on: prepared data (``fcdata prepare`` output) found and checked, packed into rows
the attention kernel handles well, and the collator that feeds them.

Packing on by default: best-fit-decreasing packs (:func:`fcdata.pack.pack_dataset`) of at most
``max_length`` tokens, fed through :class:`fcdata.collate.PackingCollator` (positions restart per sample,
no attention across samples: flash-attention varlen kernels on one flat row when flash-attn is installed,
otherwise one row per pack with sdpa's block-diagonal mask).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..errors import InputError, UsageError
from .config import Resolved, TrainConfig

if TYPE_CHECKING:
    import datasets

__all__ = ["is_prepared", "load_prepared", "training_rows", "collator", "SDPA_PACK_LENGTH"]


def is_prepared(path: str) -> bool:
    """Whether ``path`` is prepared data (a ``datasets`` folder, as ``fcdata prepare`` writes) rather than
    records to convert and prepare."""
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, name)) for name in ("dataset_info.json", "state.json", "dataset_dict.json"))

def load_prepared(path: str) -> "datasets.Dataset":
    """A prepared data set (``fcdata prepare`` output, ``datasets.load_from_disk``) with its columns checked."""
    import datasets

    try:
        ds = datasets.load_from_disk(path)
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(f"not a prepared data set (datasets.load_from_disk failed: {exc})", file=path) from exc
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise InputError(f"a DatasetDict without a 'train' split (has {', '.join(ds)})", file=path)
        ds = ds["train"]
    if "input_ids" not in ds.column_names or not ({"assistant_masks", "labels"} & set(ds.column_names)):
        raise InputError(f"prepared data needs input_ids and assistant_masks or labels; columns: {', '.join(ds.column_names)}", file=path)
    return ds


def _lengths(ds: "datasets.Dataset") -> list[int]:
    if "length" in ds.column_names:
        return [int(x) for x in ds["length"]]
    return [len(x) for x in ds["input_ids"]]


SDPA_PACK_LENGTH = 1024
"""Default row length of packs when attention is not flash-attention's varlen kernel (see
:func:`_pack_layout`)."""


def _pack_layout(cfg: TrainConfig, resolved: Resolved, longest: int) -> tuple[int, int]:
    """(tokens per packed row, rows per micro-step) so that a micro-step holds ``batch_size x max_length``
    token slots.

    flash-attention's varlen kernel attends within each sample whatever the row length, so rows are
    ``max_length`` long. sdpa and eager attend over a whole row under a block-diagonal mask, which costs
    the square of the row length: 4096-token rows of 500-token samples spend 8x the attention work and
    mask memory that the samples need. So they get rows of ``pack_length`` (default 1024, never shorter
    than the longest sample), more of them per step."""
    if resolved.attn_implementation.startswith("flash"):
        return cfg.max_length, cfg.batch_size
    target = cfg.pack_length or SDPA_PACK_LENGTH
    pack_len = min(cfg.max_length, max(target, longest))
    rows = max(1, round(cfg.batch_size * cfg.max_length / pack_len))
    return pack_len, rows


def training_rows(ds: "datasets.Dataset", cfg: TrainConfig, resolved: Resolved, num_proc: int | None) -> tuple["datasets.Dataset", dict[str, Any], int]:
    """Packs (or length-filtered samples), a report of what happened to the samples, and the number of
    rows per micro-step."""
    from ..pack import pack_dataset

    if "seq_lengths" in ds.column_names:
        # packing would take each pack for one sample, and padding would lay one out as one sample: either
        # way its samples would attend to each other
        raise UsageError("this data set holds packs (seq_lengths), not samples: train on the prepared data set (`fcdata prepare`), which fcdata packs itself")
    columns = [c for c in ("input_ids", "assistant_masks", "labels") if c in ds.column_names]
    lengths = _lengths(ds)
    if cfg.packing:
        fitting = [n for n in lengths if n <= cfg.max_length]
        pack_len, rows_per_step = _pack_layout(cfg, resolved, max(fitting) if fitting else cfg.max_length)
        if not fitting:
            return ds.select([]), {"mode": "packed", "samples": len(lengths), "packed_samples": 0, "dropped_samples": len(lengths)}, rows_per_step
        work = ds if len(fitting) == len(lengths) else ds.select([i for i, n in enumerate(lengths) if n <= cfg.max_length])
        packed, report = pack_dataset(work, pack_len, overlong="error", num_proc=num_proc)
        info = report.to_dict()
        info.pop("dropped", None)
        info.update({"mode": "packed", "samples": len(lengths), "dropped_samples": len(lengths) - len(fitting), "pack_length": pack_len, "rows_per_step": rows_per_step})
        return packed, info, rows_per_step
    keep = [i for i, n in enumerate(lengths) if n <= cfg.max_length]
    rows = ds.select(keep).select_columns([*columns, *(["length"] if "length" in ds.column_names else [])])
    if "length" not in rows.column_names:
        rows = rows.add_column("length", [lengths[i] for i in keep])
    return rows, {"mode": "padded", "samples": len(lengths), "packed_samples": len(keep), "dropped_samples": len(lengths) - len(keep), "tokens": sum(lengths[i] for i in keep), "rows_per_step": cfg.batch_size}, cfg.batch_size


def collator(cfg: TrainConfig, resolved: Resolved) -> Any:
    from ..collate import PackingCollator, PaddingCollator

    if cfg.packing:
        flash = resolved.attn_implementation.startswith("flash")
        # flash-attention's varlen kernel: one flat row; sdpa/eager build a dense mask per row: one row per pack
        return PackingCollator(layout="flat" if flash else "rows", return_flash_kwargs=flash)
    return PaddingCollator(pad_to_multiple_of=8)

