"""Collators: prepared rows in, the tensors a Hugging Face causal LM trains on out.

A *row* is one sample of prepared data (``fcdata prepare`` output) or one pack of them
(:func:`fcdata.pack.pack_dataset` output): a mapping with ``input_ids`` and ``assistant_masks``
(1 = this token is trained) and/or ``labels`` (``-100`` = not trained, the token id otherwise, NOT
shifted: Hugging Face models shift inside their loss). A pack also carries ``seq_lengths``, the lengths
of the samples it holds, in order. Any other column (``length``, ``num_trained``, provenance) is ignored.
Lists, NumPy arrays and torch tensors are all accepted.

Two collators, one per way of laying a batch out:

:class:`PaddingCollator` pads every sample to the longest of the batch (rounded up to a multiple). Two
samples of 6 and 7 tokens, right padding to a multiple of 4 with the default pad id 0::

    t                   0     1     2     3     4     5     6     7
    A  input_ids        1     3    10     4    20     2     0     0     <s> [INST] a [/INST] b </s> pad pad
       attention_mask   1     1     1     1     1     1     0     0
       labels        -100  -100  -100  -100    20     2  -100  -100
    B  input_ids        1     3    11     4    21    22     2     0
       attention_mask   1     1     1     1     1     1     1     0
       labels        -100  -100  -100  -100    21    22     2  -100

:class:`PackingCollator` is padding-free: the same two samples become one row of 13 tokens, positions
restart at 0 where a sample starts, and no attention mask is returned (see below why)::

    input_ids        1     3    10     4    20     2  |    1     3    11     4    21    22     2
    labels        -100  -100  -100  -100    20     2  | -100  -100  -100  -100    21    22     2
    position_ids     0     1     2     3     4     5  |    0     1     2     3     4     5     6
    cu_seq_lens_q = cu_seq_lens_k = [0, 6, 13]        max_length_q = max_length_k = 7

Why each piece is there (transformers 5.x, TRL 1.x):

* ``labels`` are ``-100`` at the first token of every sample. The model predicts ``labels[t + 1]`` from
  token ``t``; in a packed row the token before a sample's first token is the *previous* sample's last
  one, which must never learn to predict it. The padded layout gets the same rule so both lay-outs train
  exactly the same targets (with left padding the token before is a pad, which must not learn either).
  For rendered Mistral samples the first token is ``<s>``, never trained anyway; the rule makes it hold
  for any input.
* ``position_ids`` restart at 0 per sample, so rotary embeddings see each sample exactly as if it were
  alone. The sdpa and eager attention paths build a block-diagonal causal mask from them
  (``transformers.masking_utils.find_packed_sequence_indices``: a new block wherever the next position is
  not the previous plus one) -- but ONLY when ``attention_mask`` is None and no KV cache is passed.
  That is why the packing collator returns no ``attention_mask`` and returns ``use_cache=False``: a model
  whose config says ``use_cache=True`` (the default) builds a cache in a plain ``model(**batch)`` call,
  and then silently attends across samples.
* ``cu_seq_lens_q/k`` (int32, cumulative lengths over the flattened batch) and ``max_length_q/k`` (Python
  ints) are the keyword arguments the flash-attention varlen path takes as they are, the names
  ``DataCollatorWithFlattening(return_flash_attn_kwargs=True)`` and TRL's padding-free collator use.
  Computed here on the CPU, they save the model a device-to-host sync in every layer.

The pad id does not matter for the result: padded positions are excluded from attention (the attention
mask, or their own block in a packed row) and their labels are ``-100``. Mistral v0.3 has no pad token;
the default is 0 (``<unk>``), which the renderer never emits, so a pad is recognisable on sight and is
never mistaken for ``</s>`` by code that masks by token id (padding with ``</s>`` and masking the pad id
is the classic way to stop a model from ever learning to stop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import torch

from .errors import RecordError, UsageError

__all__ = [
    "IGNORE_INDEX",
    "DEFAULT_PAD_ID",
    "PaddingCollator",
    "PackingCollator",
    "row_labels",
]

IGNORE_INDEX = -100
"""Label of a token that is not trained (the ``ignore_index`` of PyTorch's cross-entropy)."""

DEFAULT_PAD_ID = 0
MISTRAL_BOS_ID = 1  # <s> in every Mistral tokenizer (SentencePiece and Tekken)
"""``<unk>`` in the Mistral v0.3 vocabulary: never produced by the renderer, so never confused with data."""


def _round_up(n: int, multiple: int | None) -> int:
    if not multiple or multiple <= 1:
        return n
    return -(-n // multiple) * multiple


def _where(row: Mapping[str, Any], index: int, field: str) -> dict[str, Any]:
    """Location of a row for an error message: the source file and line when the row carries its
    provenance (prepared data does), else its place in the batch."""
    file = row.get("source_file")
    line = row.get("source_line")
    path = f"{field}" if file else f"batch row {index}: {field}"
    return {"file": str(file) if file else None, "line": int(line) if isinstance(line, (int, np.integer)) else None, "path": path}


def _ints(value: Any, row: Mapping[str, Any], index: int, field: str) -> np.ndarray:
    """A 1-D int64 array from a list, NumPy array or torch tensor, or a clear error."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise RecordError(f"must be a flat list of integers: {exc}", **_where(row, index, field)) from exc
    if arr.size == 0:
        raise RecordError("is empty: a sample has at least one token", **_where(row, index, field))
    if arr.ndim != 1 or arr.dtype.kind not in "iub":
        raise RecordError(
            f"must be a flat list of integers, got {arr.dtype} of shape {tuple(arr.shape)}", **_where(row, index, field)
        )
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and int(arr.max()) > np.iinfo(np.int64).max:
        raise RecordError(f"holds {int(arr.max())}, beyond int64", **_where(row, index, field))
    out = arr.astype(np.int64, copy=False)
    if field == "input_ids" and int(out.min()) < 0:
        # the embedding would fail deep inside torch (on a GPU: a device-side assert that kills the process)
        t = int(np.flatnonzero(out < 0)[0])
        raise RecordError(f"holds {int(out[t])} at token {t}: token ids are >= 0", **_where(row, index, field))
    return out


def row_labels(row: Mapping[str, Any], index: int = 0, *, validate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids, labels)`` of one row as int64 arrays, labels NOT shifted, ``-100`` = not trained.

    Labels come from ``labels`` when the row has them, else from ``assistant_masks``
    (``labels[t] = input_ids[t]`` where the mask is 1). With ``validate`` (the default) the row is checked
    so that a wrong row fails here rather than training silently on the wrong tokens: equal lengths, a
    0/1 mask, labels equal to ``input_ids`` wherever they are trained (pre-shifted labels fail this), and
    ``labels`` agreeing with ``assistant_masks`` when both are given.
    """
    if not isinstance(row, Mapping):
        raise RecordError(f"must be a mapping with input_ids and assistant_masks or labels, got {type(row).__name__}", path=f"batch row {index}")
    if "input_ids" not in row:
        raise RecordError("missing: every row needs input_ids", **_where(row, index, "input_ids"))
    ids = _ints(row["input_ids"], row, index, "input_ids")
    mask_value = row.get("assistant_masks")
    label_value = row.get("labels")
    if mask_value is None and label_value is None:
        raise RecordError(
            "missing: a row needs assistant_masks (1 = trained) or labels (-100 = not trained); "
            "without them every token would be trained",
            **_where(row, index, "assistant_masks"),
        )
    mask = None
    if mask_value is not None and (label_value is None or validate):  # unchecked labels need no mask
        mask = _ints(mask_value, row, index, "assistant_masks")
        if mask.shape != ids.shape:
            raise RecordError(f"has {mask.size} values for {ids.size} input_ids", **_where(row, index, "assistant_masks"))
        if validate:
            bad = np.flatnonzero((mask != 0) & (mask != 1))
            if bad.size:
                raise RecordError(
                    f"must hold 0 or 1 (1 = trained), got {int(mask[bad[0]])} at token {int(bad[0])}",
                    **_where(row, index, "assistant_masks"),
                )
    if label_value is None:
        assert mask is not None
        return ids, np.where(mask == 1, ids, IGNORE_INDEX)
    labels = _ints(label_value, row, index, "labels")
    if labels.shape != ids.shape:
        raise RecordError(f"has {labels.size} values for {ids.size} input_ids", **_where(row, index, "labels"))
    if validate:
        trained = labels != IGNORE_INDEX
        bad = np.flatnonzero(trained & (labels != ids))
        if bad.size:
            t = int(bad[0])
            raise RecordError(
                f"labels[{t}] = {int(labels[t])} but input_ids[{t}] = {int(ids[t])}: a trained label must equal its "
                "token (labels are not shifted; Hugging Face models shift them)",
                **_where(row, index, "labels"),
            )
        if mask is not None:
            bad = np.flatnonzero(trained != (mask == 1))
            if bad.size:
                t = int(bad[0])
                raise RecordError(
                    f"labels and assistant_masks disagree at token {t} (label {int(labels[t])}, mask {int(mask[t])})",
                    **_where(row, index, "labels"),
                )
    return ids, labels


def _segments(row: Mapping[str, Any], index: int, ids: np.ndarray, validate: bool = True) -> np.ndarray:
    """Lengths of the samples a row holds: ``seq_lengths`` of a pack, else one sample of the whole row.

    A row without ``seq_lengths`` that starts with Mistral's ``<s>`` and holds another one is a pack
    that lost its ``seq_lengths`` (the Hugging Face Trainer drops every column its model's ``forward``
    does not take, unless ``remove_unused_columns=False``): taken as one sample, its samples would attend
    to each other without a word, so it is refused (with ``validate``). fcdata's renderer writes ``<s>``
    only first."""
    n_tokens = int(ids.size)
    value = row.get("seq_lengths")
    if value is None:
        if validate and n_tokens > 1 and int(ids[0]) == MISTRAL_BOS_ID:
            later = np.flatnonzero(ids[1:] == MISTRAL_BOS_ID)
            if later.size:
                raise RecordError(
                    f"holds a second <s> (token {int(later[0]) + 1}) but no seq_lengths: a pack whose sample lengths "
                    "were dropped? With the Hugging Face Trainer set remove_unused_columns=False so that seq_lengths "
                    "reaches the collator",
                    **_where(row, index, "input_ids"),
                )
        return np.array([n_tokens], dtype=np.int64)
    lengths = _ints(value, row, index, "seq_lengths")
    if (lengths <= 0).any() or int(lengths.sum()) != n_tokens:
        raise RecordError(
            f"sample lengths {lengths.tolist()} do not add up to the {n_tokens} tokens of the row",
            **_where(row, index, "seq_lengths"),
        )
    return lengths


def check_packed_masks() -> None:
    """Refuse packing on a transformers too old to keep packed samples apart.

    The packing collator returns no attention mask; transformers (4.54 and later) then builds a
    block-diagonal causal mask from the restarting ``position_ids``
    (``masking_utils.find_packed_sequence_indices``). Older versions build one causal mask over the whole
    row, and every sample silently attends to the ones before it (measured on 4.46.3: logits 3.5 off
    those of the sample alone). Without transformers installed nothing is checked: a model of one's own
    may read ``cu_seq_lens_q/k`` instead."""
    try:
        import transformers
    except ImportError:
        return
    try:
        from transformers.masking_utils import find_packed_sequence_indices  # noqa: F401
    except ImportError:
        raise UsageError(
            f"transformers {transformers.__version__} does not keep packed samples apart (no block-diagonal mask "
            "from position_ids): they would attend to each other. Install transformers>=4.54, or use PaddingCollator"
        ) from None


def _check_batch(rows: Any) -> None:
    if isinstance(rows, Mapping):
        raise UsageError("a batch is a list of rows, got one mapping (a single row? pass [row])")
    if len(rows) == 0:
        raise UsageError("cannot collate an empty batch")


def _check_common(pad_id: int, pad_to_multiple_of: int | None) -> None:
    if not isinstance(pad_id, (int, np.integer)) or pad_id < 0:
        raise UsageError(f"pad_id must be a token id (an int >= 0), got {pad_id!r}")
    if pad_to_multiple_of is not None and (not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1):
        raise UsageError(f"pad_to_multiple_of must be a positive int or None, got {pad_to_multiple_of!r}")


@dataclass(frozen=True, kw_only=True)
class PaddingCollator:
    """Pad a batch of samples to one rectangle: ``input_ids``, ``attention_mask``, ``labels`` (int64).

    Every row is one sample. ``labels`` are ``-100`` wherever the sample is not trained, on padding, and
    at each sample's first token (see the module docstring). The length is the longest sample rounded
    up to ``pad_to_multiple_of`` -- never more, so no slot is wasted beyond what the multiple asks for.

    ``padding_side="left"`` puts the padding before the tokens (the layout of batched generation);
    position ids then start at 0 on the first real token, as they would with no padding, and are
    returned (``return_position_ids=None`` means: return them when padding left). Rows that are packs of
    several samples are refused: a plain attention mask would let their samples attend to each other.

    Example (pad id 0, right padding, multiple of 4; drawn out in the module docstring)::

        >>> PaddingCollator(pad_to_multiple_of=4)([
        ...     {"input_ids": [1, 3, 10, 4, 20, 2], "assistant_masks": [0, 0, 0, 0, 1, 1]},
        ...     {"input_ids": [1, 3, 11, 4, 21, 22, 2], "labels": [-100, -100, -100, -100, 21, 22, 2]},
        ... ])["labels"].tolist()
        [[-100, -100, -100, -100, 20, 2, -100, -100], [-100, -100, -100, -100, 21, 22, 2, -100]]
    """

    pad_id: int = DEFAULT_PAD_ID
    pad_to_multiple_of: int | None = None
    padding_side: Literal["right", "left"] = "right"
    return_position_ids: bool | None = None
    validate: bool = True

    def __post_init__(self) -> None:
        _check_common(self.pad_id, self.pad_to_multiple_of)
        if self.padding_side not in ("right", "left"):
            raise UsageError(f"padding_side must be 'right' or 'left', got {self.padding_side!r}")

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        _check_batch(rows)
        samples = []
        for i, row in enumerate(rows):
            ids, labels = row_labels(row, i, validate=self.validate)
            if len(_segments(row, i, ids, self.validate)) > 1:
                raise UsageError(
                    f"batch row {i} is a pack of several samples (seq_lengths); a padded batch would let them "
                    "attend to each other: use PackingCollator for packed rows"
                )
            samples.append((ids, labels))
        width = _round_up(max(ids.size for ids, _ in samples), self.pad_to_multiple_of)
        input_ids = np.full((len(samples), width), self.pad_id, dtype=np.int64)
        labels_out = np.full((len(samples), width), IGNORE_INDEX, dtype=np.int64)
        attention = np.zeros((len(samples), width), dtype=np.int64)
        positions = np.zeros((len(samples), width), dtype=np.int64)
        for r, (ids, labels) in enumerate(samples):
            n = ids.size
            start = 0 if self.padding_side == "right" else width - n
            input_ids[r, start : start + n] = ids
            labels_out[r, start : start + n] = labels
            labels_out[r, start] = IGNORE_INDEX
            attention[r, start : start + n] = 1
            positions[r, start : start + n] = np.arange(n)
        batch = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention),
            "labels": torch.from_numpy(labels_out),
        }
        want_positions = self.return_position_ids if self.return_position_ids is not None else self.padding_side == "left"
        if want_positions:
            batch["position_ids"] = torch.from_numpy(positions)
        return batch


@dataclass(frozen=True, kw_only=True)
class PackingCollator:
    """Padding-free packing: samples laid end to end, positions restarting at 0 for each, no attention
    across samples.

    Returns ``input_ids``, ``labels``, ``position_ids`` (int64, 2-D), ``cu_seq_lens_q``/``cu_seq_lens_k``
    (int32, 1-D), ``max_length_q``/``max_length_k`` (ints) and ``use_cache=False`` -- no
    ``attention_mask``: with one, transformers would ignore the sample boundaries (module docstring).

    Rows may be single samples or packs (``seq_lengths``, as written by :func:`fcdata.pack.pack_dataset`
    and TRL's ``pack_dataset``). Two lay-outs:

    * ``layout="flat"`` (default): the whole batch becomes ONE row ``[1, total]``. Best for flash-attention
      (``attn_implementation="flash_attention_2"``/``"kernels-community/flash-attn"``), whose varlen
      kernel costs only the sum of each sample's own attention.
    * ``layout="rows"``: each input row stays a row, right-padded to the longest (packs of one
      ``--max-length`` each are already nearly equal). Best for sdpa/eager, which materialise a dense mask
      over a row: a batch of 8 packs of 4096 costs 8 x 4096^2 there instead of 32768^2 when flat.

    With ``pad_to_multiple_of`` the padding forms its own sample (positions 0, 1, ... and its own
    ``cu_seq_lens`` entry, labels ``-100``), so it attends only to itself and trains nothing.

    Example, three samples of 3, 2 and 1 tokens, all trained, flat, padded to a multiple of 4 (``P`` =
    pad id)::

        input_ids        a0    a1    a2  |  b0    b1  |  c0  |   P     P
        labels         -100    a1    a2  |-100    b1  |-100  |-100  -100
        position_ids      0     1     2  |   0     1  |   0  |   0     1
        cu_seq_lens_q = [0, 3, 5, 6, 8]   max_length_q = 3
    """

    layout: Literal["flat", "rows"] = "flat"
    pad_id: int = DEFAULT_PAD_ID
    pad_to_multiple_of: int | None = None
    return_flash_kwargs: bool = True
    validate: bool = True

    def __post_init__(self) -> None:
        _check_common(self.pad_id, self.pad_to_multiple_of)
        if self.layout not in ("flat", "rows"):
            raise UsageError(f"layout must be 'flat' or 'rows', got {self.layout!r}")
        check_packed_masks()

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        _check_batch(rows)
        ids_list: list[np.ndarray] = []
        labels_list: list[np.ndarray] = []
        segs_list: list[np.ndarray] = []
        for i, row in enumerate(rows):
            ids, labels = row_labels(row, i, validate=self.validate)
            ids_list.append(ids)
            labels_list.append(labels)
            segs_list.append(_segments(row, i, ids, self.validate))

        if self.layout == "flat":
            ids_list = [np.concatenate(ids_list)]
            labels_list = [np.concatenate(labels_list)]
            segs_list = [np.concatenate(segs_list)]
        width = _round_up(max(ids.size for ids in ids_list), self.pad_to_multiple_of)

        # everything is built flat (row after row, each `width` long) and shaped at the end
        n_rows = len(ids_list)
        input_ids = np.full(n_rows * width, self.pad_id, dtype=np.int64)
        labels_out = np.full(n_rows * width, IGNORE_INDEX, dtype=np.int64)
        all_segments: list[np.ndarray] = []
        for r in range(n_rows):
            n = ids_list[r].size
            input_ids[r * width : r * width + n] = ids_list[r]
            labels_out[r * width : r * width + n] = labels_list[r]
            all_segments.append(segs_list[r] if n == width else np.append(segs_list[r], width - n))
        segments = np.concatenate(all_segments)
        ends = np.cumsum(segments)
        starts = ends - segments
        # the first token of every sample is never a target (nor is the first token of the padding)
        labels_out[starts] = IGNORE_INDEX
        # position = index in the flattened batch minus the start of the sample the index falls in
        positions = np.arange(n_rows * width, dtype=np.int64) - np.repeat(starts, segments)

        batch: dict[str, Any] = {
            "input_ids": torch.from_numpy(input_ids.reshape(n_rows, width)),
            "labels": torch.from_numpy(labels_out.reshape(n_rows, width)),
            "position_ids": torch.from_numpy(positions.reshape(n_rows, width)),
        }
        if self.return_flash_kwargs:
            cu = torch.from_numpy(np.concatenate([[0], ends]).astype(np.int32))
            longest = int(segments.max())
            batch["cu_seq_lens_q"] = cu
            batch["cu_seq_lens_k"] = cu
            batch["max_length_q"] = longest
            batch["max_length_k"] = longest
        batch["use_cache"] = False
        return batch
