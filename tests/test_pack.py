"""Dataset-level packing (fcdata.pack): TRL's best-fit decreasing carries the masks token by token, nothing
is lost or cut silently, the report adds up, the result is deterministic."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcdata.errors import RecordError, UsageError
from fcdata.pack import PackingReport, pack_dataset

datasets.disable_progress_bars()

FEATURES = datasets.Features(
    {
        "input_ids": datasets.List(datasets.Value("int32")),
        "assistant_masks": datasets.List(datasets.Value("int8")),
        "labels": datasets.List(datasets.Value("int64")),
        "length": datasets.Value("int32"),
        "num_trained": datasets.Value("int32"),
        "source_file": datasets.Value("string"),
        "source_line": datasets.Value("int64"),
        "record_index": datasets.Value("int64"),
        "sample_index": datasets.Value("int64"),
    }
)


def prepared(lengths: list[int], seed: int = 0, columns: tuple[str, ...] | None = None) -> datasets.Dataset:
    """Rows shaped like `fcdata prepare` output (the contract in docs/architecture.md), random content."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(lengths):
        ids = rng.integers(10, 32768, n).tolist()
        mask = (rng.random(n) < 0.4).astype(int).tolist()
        if n:
            ids[0], mask[0] = 1, 0
        rows.append(
            {
                "input_ids": ids,
                "assistant_masks": mask,
                "labels": [t if m else -100 for t, m in zip(ids, mask)],
                "length": n,
                "num_trained": sum(mask),
                "source_file": "train.jsonl",
                "source_line": i + 1,
                "record_index": i,
                "sample_index": 0,
            }
        )
    ds = datasets.Dataset.from_list(rows, features=FEATURES)
    return ds.select_columns(list(columns)) if columns else ds


def check_packs(source: datasets.Dataset, packed: datasets.Dataset, max_length: int) -> None:
    """Every pack is whole samples of the source, each with its own tokens, mask and labels; every source
    sample is in exactly one pack."""
    seen: list[int] = []
    for pack in packed:
        assert len(pack["input_ids"]) == sum(pack["seq_lengths"]) == pack["length"] <= max_length
        assert len(pack["seq_lengths"]) == len(pack["sample_rows"])
        start = 0
        trained = 0
        for n, r in zip(pack["seq_lengths"], pack["sample_rows"]):
            row = source[r]
            for col in ("input_ids", "assistant_masks", "labels"):
                if col in source.column_names:
                    assert pack[col][start : start + n] == row[col], (col, r)
            key = "labels" if "labels" in source.column_names else "assistant_masks"
            trained += sum(1 for t in row[key][1:] if (t != -100 if key == "labels" else t == 1))
            start += n
            seen.append(r)
        assert pack["num_trained"] == trained
    assert sorted(seen) == list(range(len(source)))


# ---------------------------------------------------------------------------------------------------------


def test_the_docstring_example() -> None:
    packed, report = pack_dataset(prepared([5, 2, 3, 1]), 6)
    assert packed["seq_lengths"] == [[5, 1], [3, 2]]
    assert packed["sample_rows"] == [[0, 3], [2, 1]]
    assert packed["length"] == [6, 5]
    assert (report.packs, report.tokens, report.slots) == (2, 11, 12)
    assert report.efficiency == pytest.approx(11 / 12)


@pytest.mark.parametrize(
    "columns", [None, ("input_ids", "assistant_masks"), ("input_ids", "labels"), ("input_ids", "labels", "source_line")]
)
def test_masks_and_labels_travel_with_their_tokens(columns) -> None:
    source = prepared([int(n) for n in np.random.default_rng(1).integers(1, 120, 150)], seed=2, columns=columns)
    packed, report = pack_dataset(source, 256)
    check_packs(source, packed, 256)
    expected = [c for c in ("input_ids", "assistant_masks", "labels") if c in source.column_names]
    assert packed.column_names == expected + ["seq_lengths", "sample_rows", "length", "num_trained"]
    assert report.packed_samples == report.samples == 150 and not report.dropped
    assert report.tokens == sum(len(x) for x in source["input_ids"])
    assert report.trained_tokens == sum(packed["num_trained"])


def test_trl_bfd_moves_every_list_column_with_the_same_offsets() -> None:
    """The property the reuse rests on, checked on TRL's function itself."""
    from trl.data_utils import pack_dataset as trl_pack

    source = prepared([7, 3, 9, 2, 5, 8, 1], seed=3, columns=("input_ids", "assistant_masks", "labels"))
    packed = trl_pack(source, 10, strategy="bfd")
    by_ids = {tuple(r["input_ids"]): r for r in source}
    for pack in packed:
        start = 0
        for n in pack["seq_lengths"]:
            row = by_ids[tuple(pack["input_ids"][start : start + n])]
            assert pack["assistant_masks"][start : start + n] == row["assistant_masks"]
            assert pack["labels"][start : start + n] == row["labels"]
            start += n


def test_trl_alone_would_cut_an_overlong_sample_silently_fcdata_refuses() -> None:
    from trl.data_utils import pack_dataset as trl_pack

    source = prepared([12, 3], columns=("input_ids", "assistant_masks"))
    cut = trl_pack(source, 8, strategy="bfd")
    assert sum(len(x) for x in cut["input_ids"]) == 11 < 15  # four tokens gone, no word said
    with pytest.raises(RecordError) as err:
        pack_dataset(source, 8)
    assert "1 sample(s) are longer than max_length 8 (longest 12 tokens): row 0 (12 tokens)" in str(err.value)


def test_overlong_samples_error_with_their_source_lines() -> None:
    with pytest.raises(RecordError) as err:
        pack_dataset(prepared([4, 20, 3, 30, 25, 21, 22, 23, 5]), 16)
    message = str(err.value)
    assert message.startswith("train.jsonl:2: input_ids: 6 sample(s) are longer than max_length 16 (longest 30 tokens)")
    assert "train.jsonl:2 (20 tokens), train.jsonl:4 (30 tokens)" in message and "and 1 more" in message
    assert "overlong='drop'" in message


def test_overlong_samples_can_be_dropped_and_are_all_accounted_for() -> None:
    source = prepared([4, 20, 3, 30, 9, 16, 17])
    packed, report = pack_dataset(source, 16, overlong="drop")
    assert [(d.row, d.length, d.where()) for d in report.dropped] == [
        (1, 20, "train.jsonl:2"),
        (3, 30, "train.jsonl:4"),
        (6, 17, "train.jsonl:7"),
    ]
    assert report.samples == 7 == report.packed_samples + len(report.dropped)
    assert sorted(r for rows in packed["sample_rows"] for r in rows) == [0, 2, 4, 5]  # rows of the input
    for pack in packed:
        start = 0
        for n, r in zip(pack["seq_lengths"], pack["sample_rows"]):
            assert pack["input_ids"][start : start + n] == source[r]["input_ids"]
            start += n
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["dropped_samples"] == 3 and data["dropped"][0] == {"row": 1, "length": 20, "source_file": "train.jsonl", "source_line": 2}


def test_empty_samples_and_bad_input_are_refused() -> None:
    with pytest.raises(RecordError, match=r"train\.jsonl:2: input_ids: 1 sample\(s\) have no tokens"):
        pack_dataset(prepared([3, 0, 2]), 8)
    with pytest.raises(UsageError, match="columns input_ids and assistant_masks and/or labels; this data set has input_ids"):
        pack_dataset(prepared([3], columns=("input_ids",)), 8)
    with pytest.raises(UsageError, match="needs a datasets.Dataset"):
        pack_dataset(prepared([3]).to_iterable_dataset(), 8)  # type: ignore[arg-type]
    for bad in ({"max_length": 0}, {"max_length": 8, "overlong": "truncate"}, {"max_length": 8, "group_size": 0}):
        with pytest.raises(UsageError):
            pack_dataset(prepared([3]), **bad)  # type: ignore[arg-type]


def test_packs_are_not_packed_again() -> None:
    """Packs passed back in were packed as if each were one sample: [[7, 4], [6]] came back as
    [[11, 6]], and the 4-token sample then attended to the 7 before it."""
    packed, _ = pack_dataset(prepared([7, 4, 6]), 12)
    with pytest.raises(UsageError, match="already packed"):
        pack_dataset(packed, 24)


def test_one_group_is_the_same_packs_whatever_num_proc() -> None:
    """With num_proc each process packed its own share of the rows, so the packs depended on num_proc
    (on 400 samples: 201 packs in one process, 202 in two)."""
    lengths = [int(n) for n in np.random.default_rng(7).integers(1, 60, 400)]
    one, _ = pack_dataset(prepared(lengths, seed=8), 64)
    two, _ = pack_dataset(prepared(lengths, seed=8), 64, num_proc=2)
    assert one.to_dict() == two.to_dict()


def test_nothing_to_pack_gives_an_empty_data_set_with_the_packed_columns() -> None:
    empty, report = pack_dataset(prepared([3, 4]).select([]), 8)
    assert len(empty) == 0 and report.packs == 0 and report.efficiency == 0.0
    assert empty.column_names == ["input_ids", "assistant_masks", "labels", "seq_lengths", "sample_rows", "length", "num_trained"]
    none_fit, report = pack_dataset(prepared([9, 10]), 8, overlong="drop")
    assert len(none_fit) == 0 and report.samples == 2 and len(report.dropped) == 2


def test_packing_is_deterministic() -> None:
    lengths = [int(n) for n in np.random.default_rng(5).integers(1, 300, 400)]
    lengths[10:20] = [77] * 10  # ties: equal lengths keep their input order
    a, ra = pack_dataset(prepared(lengths, seed=6), 512)
    b, rb = pack_dataset(prepared(lengths, seed=6), 512)
    assert a.to_dict() == b.to_dict() and ra == rb
    tied = [r for rows in a["sample_rows"] for r in rows if 10 <= r < 20]
    assert tied == sorted(tied)


def test_rows_are_counted_in_the_data_set_as_given_even_after_select_or_shuffle() -> None:
    source = prepared([5, 9, 2, 7, 3, 8], seed=4).shuffle(seed=1).select([5, 4, 3, 2, 1])
    packed, _ = pack_dataset(source, 12)
    check_packs(source, packed, 12)


def test_groups_bound_the_packing() -> None:
    source = prepared([3, 3, 3, 3, 3, 3])
    one_group, r1 = pack_dataset(source, 6, group_size=None)
    pairs, r2 = pack_dataset(source, 6, group_size=3)
    assert r1.packs == 3 and r2.packs == 4  # groups of 3 samples of 3: each group leaves one half-empty pack
    for rows in pairs["sample_rows"]:
        assert len({r // 3 for r in rows}) == 1  # a pack never mixes groups


@settings(max_examples=20)
@given(st.lists(st.integers(1, 64), min_size=1, max_size=60), st.integers(64, 160))
def test_best_fit_decreasing_properties(lengths, max_length) -> None:
    packed, report = pack_dataset(prepared(lengths, columns=("input_ids", "assistant_masks")), max_length)
    sizes = packed["length"]
    assert sorted(r for rows in packed["sample_rows"] for r in rows) == list(range(len(lengths)))
    assert max(sizes) <= max_length and sum(sizes) == sum(lengths) == report.tokens
    assert report.packs >= -(-sum(lengths) // max_length)
    # BFD never leaves two packs at most half full: the later one's samples would have fit the earlier
    assert sum(1 for n in sizes if 2 * n <= max_length) <= 1
    assert report.efficiency == pytest.approx(sum(lengths) / (len(sizes) * max_length))


def test_report_is_a_frozen_record() -> None:
    report = PackingReport(max_length=8, samples=3, packed_samples=3, packs=2, tokens=12, trained_tokens=4)
    assert report.slots == 16 and report.efficiency == 0.75 and report.to_dict()["padding_tokens"] == 4
    with pytest.raises(Exception):
        report.packs = 3  # type: ignore[misc]
