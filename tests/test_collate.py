"""Collators (fcdata.collate): exact layouts, property tests, oracles (transformers' and TRL's padding-free
collators), and the proof on a tiny random MistralForCausalLM that packed and padded batches train the
same thing and that samples in a pack never see each other."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fcdata.collate import DEFAULT_PAD_ID, IGNORE_INDEX, PackingCollator, PaddingCollator, row_labels
from fcdata.errors import RecordError, UsageError

VOCAB = 32768


# ---------------------------------------------------------------------------------------------------------
# helpers


def round_up(n: int, multiple: int | None) -> int:
    return n if not multiple else -(-n // multiple) * multiple


def expected_labels(ids: list[int], mask: list[int]) -> list[int]:
    """The reference rule, written the slow obvious way: trained where the mask is 1, never the first token."""
    return [IGNORE_INDEX] + [t if m == 1 else IGNORE_INDEX for t, m in zip(ids[1:], mask[1:])]


def random_rows(rng: np.random.Generator, lengths: list[int], *, p_trained: float = 0.4) -> list[dict]:
    rows = []
    for n in lengths:
        ids = rng.integers(10, VOCAB, n).tolist()
        ids[0] = 1  # <s>
        mask = (rng.random(n) < p_trained).astype(int).tolist()
        mask[0] = 0
        rows.append({"input_ids": ids, "assistant_masks": mask, "labels": [t if m else IGNORE_INDEX for t, m in zip(ids, mask)]})
    return rows


def pack_rows(rows: list[dict], groups: list[list[int]]) -> list[dict]:
    """Concatenate rows into packs the way fcdata.pack lays them out (input_ids, masks, labels, seq_lengths)."""
    packs = []
    for group in groups:
        packs.append(
            {
                "input_ids": [t for i in group for t in rows[i]["input_ids"]],
                "assistant_masks": [t for i in group for t in rows[i]["assistant_masks"]],
                "labels": [t for i in group for t in rows[i]["labels"]],
                "seq_lengths": [len(rows[i]["input_ids"]) for i in group],
            }
        )
    return packs


# ---------------------------------------------------------------------------------------------------------
# the drawings of the module docstring, exactly


A = {"input_ids": [1, 3, 10, 4, 20, 2], "assistant_masks": [0, 0, 0, 0, 1, 1]}
B = {"input_ids": [1, 3, 11, 4, 21, 22, 2], "labels": [-100, -100, -100, -100, 21, 22, 2]}


def test_padded_layout_of_the_docstring() -> None:
    batch = PaddingCollator(pad_to_multiple_of=4)([A, B])
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert batch["input_ids"].tolist() == [[1, 3, 10, 4, 20, 2, 0, 0], [1, 3, 11, 4, 21, 22, 2, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0]]
    assert batch["labels"].tolist() == [[-100, -100, -100, -100, 20, 2, -100, -100], [-100, -100, -100, -100, 21, 22, 2, -100]]
    assert all(t.dtype == torch.int64 for t in batch.values())


def test_left_padding_returns_positions_from_the_first_real_token() -> None:
    batch = PaddingCollator(padding_side="left", pad_id=2)([A, B])
    assert batch["input_ids"].tolist() == [[2, 1, 3, 10, 4, 20, 2], [1, 3, 11, 4, 21, 22, 2]]
    assert batch["attention_mask"].tolist() == [[0, 1, 1, 1, 1, 1, 1], [1] * 7]
    assert batch["labels"].tolist() == [[-100, -100, -100, -100, -100, 20, 2], [-100, -100, -100, -100, 21, 22, 2]]
    assert batch["position_ids"].tolist() == [[0, 0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5, 6]]
    assert "position_ids" not in PaddingCollator()([A, B])
    assert "position_ids" in PaddingCollator(return_position_ids=True)([A, B])


def test_packed_layout_of_the_docstring() -> None:
    batch = PackingCollator()([A, B])
    assert batch["input_ids"].tolist() == [[1, 3, 10, 4, 20, 2, 1, 3, 11, 4, 21, 22, 2]]
    assert batch["labels"].tolist() == [[-100, -100, -100, -100, 20, 2, -100, -100, -100, -100, 21, 22, 2]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6]]
    assert batch["cu_seq_lens_q"].tolist() == batch["cu_seq_lens_k"].tolist() == [0, 6, 13]
    assert batch["cu_seq_lens_q"].dtype == torch.int32
    assert batch["max_length_q"] == batch["max_length_k"] == 7 and isinstance(batch["max_length_q"], int)
    assert batch["use_cache"] is False
    assert "attention_mask" not in batch


def test_packed_class_docstring_example_with_padding() -> None:
    a, b, c = [101, 102, 103], [201, 202], [301]
    rows = [{"input_ids": a, "assistant_masks": [1, 1, 1]}, {"input_ids": b, "labels": b}, {"input_ids": c, "assistant_masks": [1]}]
    batch = PackingCollator(pad_to_multiple_of=4, pad_id=7)(rows)
    assert batch["input_ids"].tolist() == [a + b + c + [7, 7]]
    assert batch["labels"].tolist() == [[-100, 102, 103, -100, 202, -100, -100, -100]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 0, 1]]
    assert batch["cu_seq_lens_q"].tolist() == [0, 3, 5, 6, 8]
    assert batch["max_length_q"] == 3


def test_first_token_of_a_sample_is_never_a_target_even_when_masked_in() -> None:
    row = {"input_ids": [5, 6, 7], "assistant_masks": [1, 1, 1]}
    assert PackingCollator()([row, row])["labels"].tolist() == [[-100, 6, 7, -100, 6, 7]]
    assert PaddingCollator(padding_side="left")([row, {"input_ids": [5], "assistant_masks": [1]}])["labels"].tolist() == [
        [-100, 6, 7],
        [-100, -100, -100],
    ]


def test_extra_columns_are_ignored_and_inputs_may_be_arrays_or_tensors() -> None:
    base = {"input_ids": [1, 5, 6], "assistant_masks": [0, 1, 1]}
    variants = [
        {**base, "length": 3, "num_trained": 2, "source_file": "x.jsonl", "source_line": 4, "record_index": 0},
        {"input_ids": np.array([1, 5, 6], dtype=np.int32), "assistant_masks": np.array([0, 1, 1], dtype=np.int8)},
        {"input_ids": torch.tensor([1, 5, 6]), "labels": torch.tensor([-100, 5, 6])},
        {"input_ids": (1, 5, 6), "assistant_masks": [False, True, True]},
    ]
    for collator in (PaddingCollator(), PackingCollator()):
        outs = [collator([v]) for v in variants]
        for out in outs[1:]:
            assert out["input_ids"].tolist() == outs[0]["input_ids"].tolist()
            assert out["labels"].tolist() == outs[0]["labels"].tolist()


# ---------------------------------------------------------------------------------------------------------
# errors: clear messages, with the source line when the row has its provenance


@pytest.mark.parametrize(
    "row, message",
    [
        ({"input_ids": [1, 2]}, "assistant_masks (1 = trained) or labels"),
        ({"assistant_masks": [0, 1]}, "every row needs input_ids"),
        ({"input_ids": [], "assistant_masks": []}, "is empty"),
        ({"input_ids": [1, 2, 3], "assistant_masks": [0, 1]}, "has 2 values for 3 input_ids"),
        ({"input_ids": [1, 2, 3], "labels": [-100, 2]}, "has 2 values for 3 input_ids"),
        ({"input_ids": [1, 2, 3], "assistant_masks": [0, 2, 1]}, "must hold 0 or 1"),
        ({"input_ids": [1, 2, 3], "labels": [-100, 3, -100]}, "labels[1] = 3 but input_ids[1] = 2"),
        ({"input_ids": [1, 2, 3], "labels": [2, 3, -100]}, "are not shifted"),
        ({"input_ids": [1, 2, 3], "labels": [-100, 2, 3], "assistant_masks": [0, 1, 0]}, "disagree at token 2"),
        ({"input_ids": [1.5, 2.0], "assistant_masks": [0, 1]}, "flat list of integers"),
        ({"input_ids": [[1, 2]], "assistant_masks": [[0, 1]]}, "flat list of integers"),
        ({"input_ids": [1, 2, 3], "assistant_masks": [0, 1, 1], "seq_lengths": [2, 2]}, "do not add up to the 3 tokens"),
        # these used to pass and fail inside torch's embedding (a device-side assert on a GPU), or as a raw
        # NumPy/Python error
        ({"input_ids": [1, -5, 3], "assistant_masks": [0, 1, 1]}, "holds -5 at token 1: token ids are >= 0"),
        ({"input_ids": np.array([1, 2**63 + 5], dtype=np.uint64), "assistant_masks": [0, 1]}, "beyond int64"),
        ({"input_ids": [[1, 2], [3]], "assistant_masks": [0, 1]}, "flat list of integers"),
        ([1, 2, 3], "must be a mapping"),
    ],
)
def test_bad_rows_fail_with_a_clear_message(row: dict, message: str) -> None:
    for collator in (PaddingCollator(), PackingCollator()):
        if "seq_lengths" in row and isinstance(collator, PaddingCollator):
            continue
        with pytest.raises(RecordError) as err:
            collator([{"input_ids": [1, 2], "assistant_masks": [0, 1]}, row])
        assert message in str(err.value)
        assert "batch row 1" in str(err.value)


def test_errors_name_the_source_file_and_line() -> None:
    row = {"input_ids": [1, 2], "labels": [-100, 5], "source_file": "train.jsonl", "source_line": 17}
    with pytest.raises(RecordError, match=r"^train\.jsonl:17: labels: labels\[1\] = 5"):
        PackingCollator()([row])


def test_validation_can_be_switched_off_but_not_the_length_checks() -> None:
    row = {"input_ids": [1, 2, 3], "labels": [-100, 9, 9]}
    assert PaddingCollator(validate=False)([row])["labels"].tolist() == [[-100, 9, 9]]
    with pytest.raises(RecordError):
        PaddingCollator(validate=False)([{"input_ids": [1, 2, 3], "labels": [1]}])


def test_padding_collator_refuses_packs() -> None:
    pack = {"input_ids": [1, 2, 1, 3], "assistant_masks": [0, 1, 0, 1], "seq_lengths": [2, 2]}
    with pytest.raises(UsageError, match="use PackingCollator"):
        PaddingCollator()([pack])
    single = {**pack, "seq_lengths": [4]}
    assert PaddingCollator()([single])["input_ids"].shape == (1, 4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: PaddingCollator(pad_id=-1),
        lambda: PaddingCollator(pad_to_multiple_of=0),
        lambda: PaddingCollator(padding_side="middle"),  # type: ignore[arg-type]
        lambda: PackingCollator(layout="grid"),  # type: ignore[arg-type]
        lambda: PackingCollator(pad_to_multiple_of=-8),
    ],
)
def test_bad_options_are_usage_errors(make) -> None:
    with pytest.raises(UsageError):
        make()


def test_empty_batch_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        PaddingCollator()([])
    with pytest.raises(UsageError):
        PackingCollator()([])
    for collator in (PaddingCollator(), PackingCollator()):
        with pytest.raises(UsageError, match="got one mapping"):
            collator({"input_ids": [1, 2], "assistant_masks": [0, 1]})


def test_collator_options_are_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        PaddingCollator(0)  # type: ignore[misc]
    collator = PackingCollator()
    with pytest.raises(Exception):
        collator.layout = "rows"  # type: ignore[misc]
    assert PaddingCollator().pad_id == DEFAULT_PAD_ID == 0


# ---------------------------------------------------------------------------------------------------------
# property tests


@st.composite
def sample_rows(draw, max_rows: int = 6, max_len: int = 40, packs: bool = False) -> tuple[list[dict], list[dict]]:
    """(rows as given to the collator, the same rows as plain lists with each sample's ids and mask)."""
    n = draw(st.integers(1, max_rows))
    rows, plain = [], []
    for _ in range(n):
        length = draw(st.integers(1, max_len))
        ids = draw(st.lists(st.integers(0, VOCAB - 1), min_size=length, max_size=length))
        mask = draw(st.lists(st.integers(0, 1), min_size=length, max_size=length))
        seq = [length]
        if not packs and ids[0] == 1:  # a sample holds <s> only first (a second one marks a pack: refused)
            ids = [1, *(2 if t == 1 else t for t in ids[1:])]
        if packs and length > 1:
            cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=4)))
            seq = [b - a for a, b in zip([0, *cuts], [*cuts, length])]
        kind = draw(st.sampled_from(["mask", "labels", "both"]))
        box = draw(st.sampled_from([list, np.array, torch.tensor]))
        row: dict = {"input_ids": box(ids), "source_line": 3}
        if kind in ("mask", "both"):
            row["assistant_masks"] = box(mask)
        if kind in ("labels", "both"):
            row["labels"] = box([t if m else IGNORE_INDEX for t, m in zip(ids, mask)])
        if packs:
            row["seq_lengths"] = list(seq)
        rows.append(row)
        plain.append({"ids": ids, "mask": mask, "seq": seq})
    return rows, plain


def split(values: list[int], seq: list[int]) -> list[list[int]]:
    out, start = [], 0
    for n in seq:
        out.append(values[start : start + n])
        start += n
    return out


@settings(max_examples=120)
@given(sample_rows(), st.sampled_from([None, 1, 8, 64]), st.sampled_from(["right", "left"]), st.integers(0, 5))
def test_padding_properties(data, multiple, side, pad_id) -> None:
    rows, plain = data
    batch = PaddingCollator(pad_to_multiple_of=multiple, padding_side=side, pad_id=pad_id)(rows)
    longest = max(len(p["ids"]) for p in plain)
    width = round_up(longest, multiple)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (len(rows), width)
    assert width - longest < (multiple or 1)  # no pad waste beyond the requested multiple
    assert all(t.dtype == torch.int64 for t in batch.values())
    for r, p in enumerate(plain):
        n = len(p["ids"])
        real = slice(0, n) if side == "right" else slice(width - n, width)
        pads = [i for i in range(width) if not (real.start <= i < real.stop)]
        assert batch["input_ids"][r, real].tolist() == p["ids"]
        assert batch["labels"][r, real].tolist() == expected_labels(p["ids"], p["mask"])
        assert batch["attention_mask"][r].tolist() == [1 if real.start <= i < real.stop else 0 for i in range(width)]
        assert all(batch["input_ids"][r, i] == pad_id and batch["labels"][r, i] == IGNORE_INDEX for i in pads)
        if side == "left":
            assert batch["position_ids"][r, real].tolist() == list(range(n))


@settings(max_examples=80)
@given(sample_rows(packs=True), st.sampled_from([None, 1, 8, 64]), st.sampled_from(["flat", "rows"]))
def test_packing_properties(data, multiple, layout) -> None:
    from transformers.masking_utils import find_packed_sequence_indices

    rows, plain = data
    batch = PackingCollator(layout=layout, pad_to_multiple_of=multiple, pad_id=0)(rows)
    assert "attention_mask" not in batch and batch["use_cache"] is False
    groups = [plain] if layout == "flat" else [[p] for p in plain]
    width = round_up(max(sum(len(p["ids"]) for p in g) for g in groups), multiple)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["position_ids"].shape == (len(groups), width)
    expected_segments: list[int] = []
    for r, group in enumerate(groups):
        ids = [t for p in group for t in p["ids"]]
        labels = [t for p in group for seg_ids, seg_mask in zip(split(p["ids"], p["seq"]), split(p["mask"], p["seq"])) for t in expected_labels(seg_ids, seg_mask)]
        segments = [n for p in group for n in p["seq"]]
        pad = width - len(ids)
        assert pad < (multiple or 1) or layout == "rows"
        assert batch["input_ids"][r].tolist() == ids + [0] * pad
        assert batch["labels"][r].tolist() == labels + [IGNORE_INDEX] * pad
        segments = segments + ([pad] if pad else [])
        assert batch["position_ids"][r].tolist() == [i for n in segments for i in range(n)]
        expected_segments += segments
        # transformers' own reading of the positions (sdpa/eager path) finds exactly these samples
        found = find_packed_sequence_indices(batch["position_ids"][r : r + 1])
        blocks = [0] * width if found is None else found[0].tolist()
        assert blocks == [k for k, n in enumerate(segments) for _ in range(n)]
    assert batch["cu_seq_lens_q"].tolist() == np.concatenate([[0], np.cumsum(expected_segments)]).tolist()
    assert batch["max_length_q"] == max(expected_segments)


@settings(max_examples=60)
@given(sample_rows(max_rows=4, max_len=30))
def test_row_labels_matches_the_reference_rule_before_the_first_token_rule(data) -> None:
    rows, plain = data
    for i, (row, p) in enumerate(zip(rows, plain)):
        ids, labels = row_labels(row, i)
        assert ids.tolist() == p["ids"]
        assert labels.tolist() == [t if m else IGNORE_INDEX for t, m in zip(p["ids"], p["mask"])]


# ---------------------------------------------------------------------------------------------------------
# oracles: the padding-free collators of transformers and TRL give the same tensors


@settings(max_examples=30)
@given(sample_rows(max_rows=5, max_len=30))
def test_packing_matches_transformers_and_trl(data) -> None:
    from transformers import DataCollatorWithFlattening
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    rows, plain = data
    as_lists = [{"input_ids": p["ids"], "labels": [t if m else IGNORE_INDEX for t, m in zip(p["ids"], p["mask"])]} for p in plain]
    ours = PackingCollator()(rows)
    hf = DataCollatorWithFlattening(return_flash_attn_kwargs=True)(as_lists)
    trl = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(as_lists)
    for other in (hf, trl):
        for key in ("input_ids", "labels", "position_ids", "cu_seq_lens_q", "cu_seq_lens_k"):
            assert ours[key].tolist() == other[key].tolist(), key
            assert ours[key].dtype == other[key].dtype, key
        assert ours["max_length_q"] == int(other["max_length_q"])


# ---------------------------------------------------------------------------------------------------------
# the proof on a tiny random Mistral: packed == padded, and samples in a pack never see each other


def tiny_mistral(attn: str = "sdpa", sliding_window: int | None = None, seed: int = 0):
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=4,
        max_position_embeddings=256,
        sliding_window=sliding_window,
        use_cache=True,  # the default; the packing collator's use_cache=False must win
    )
    config._attn_implementation = attn
    torch.manual_seed(seed)
    model = MistralForCausalLM(config).to(torch.float64)
    model.train()
    return model


def loss_and_grads(model, batch: dict, *, own_loss: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss and gradients of one batch: the model's own loss (transformers' ForCausalLMLoss: mean over the
    targets of the batch, computed in float32), or the same mean computed in float64 from the logits, so
    that the comparison can be tight."""
    model.zero_grad(set_to_none=True)
    if own_loss:
        loss = model(**batch).loss
    else:
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        labels = batch["labels"][:, 1:].reshape(-1)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels, ignore_index=IGNORE_INDEX)
    loss.backward()
    return loss.detach(), {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def token_losses(model, batch: dict) -> torch.Tensor:
    """Loss of every target, unreduced: [rows, width - 1], 0 where there is no target."""
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    labels = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none"
    ).view(labels.shape)


# float64 throughout except where transformers computes in float32 on purpose: eager attention takes its
# softmax in float32, and the model's own loss casts the logits to float32
TOL = {"sdpa": dict(rtol=1e-9, atol=1e-11), "eager": dict(rtol=2e-6, atol=1e-7), "own loss": dict(rtol=2e-5, atol=1e-6)}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    # lengths include a 1-token sample and a sample with nothing trained: neither may disturb the others
    data = random_rows(np.random.default_rng(7), [15, 6, 1, 21, 9, 5, 12])
    data[5]["assistant_masks"] = [0] * 5
    data[5]["labels"] = [IGNORE_INDEX] * 5
    return data


@pytest.fixture(scope="module")
def models() -> dict:
    """Tiny models, built once per attention set-up (the same seed, so the same weights)."""
    cache: dict = {}

    def get(attn: str, window: int | None = None):
        if (attn, window) not in cache:
            cache[attn, window] = tiny_mistral(attn, window)
        return cache[attn, window]

    return get  # type: ignore[return-value]


LAYOUTS = {
    "left padding": lambda rows, packs: PaddingCollator(padding_side="left", pad_id=2)(rows),
    "flat": lambda rows, packs: PackingCollator()(rows),
    "flat, padded to 64": lambda rows, packs: PackingCollator(pad_to_multiple_of=64)(rows),
    "rows of packs": lambda rows, packs: PackingCollator(layout="rows", pad_to_multiple_of=8)(packs),
    "flat packs": lambda rows, packs: PackingCollator()(packs),
}


@pytest.mark.parametrize(
    "attn, window, own_loss, layouts",
    [
        ("sdpa", None, False, list(LAYOUTS)),
        ("eager", None, False, ["flat", "rows of packs"]),
        ("sdpa", 6, False, ["left padding", "flat", "rows of packs"]),  # Mistral's sliding window, inside packs
        ("sdpa", None, True, ["left padding", "flat", "rows of packs"]),  # transformers' own loss
    ],
)
def test_packed_batch_gives_the_padded_loss_and_gradients(models, rows, attn, window, own_loss, layouts) -> None:
    model = models(attn, window)
    tol = TOL["own loss" if own_loss else attn]
    ref_loss, ref_grads = loss_and_grads(model, PaddingCollator(pad_to_multiple_of=8)(rows), own_loss=own_loss)
    packs = pack_rows(rows, [[3, 2, 5], [0, 6], [4, 1]])
    for name in layouts:
        loss, grads = loss_and_grads(model, LAYOUTS[name](rows, packs), own_loss=own_loss)
        torch.testing.assert_close(loss, ref_loss, **tol, msg=lambda m: f"{name}: {m}")
        for key, grad in ref_grads.items():
            torch.testing.assert_close(grads[key], grad, **tol, msg=lambda m: f"{name}, {key}: {m}")
    # the loss is the mean over exactly the trained tokens after each sample's first
    n_targets = sum(t != IGNORE_INDEX for r in rows for t in r["labels"][1:])
    assert int((PackingCollator()(rows)["labels"] != IGNORE_INDEX).sum()) == n_targets


def test_left_padding_in_eager_attention(rows) -> None:
    """Eager attention in float64 turns the mask minimum into -inf when it takes its softmax in float32, so
    a left pad (which sees only masked keys) gives NaN there: a quirk of float64, so this one runs in
    float32."""
    model = tiny_mistral("eager").to(torch.float32)
    ref_loss, ref_grads = loss_and_grads(model, PaddingCollator()(rows), own_loss=True)
    loss, grads = loss_and_grads(model, PaddingCollator(padding_side="left")(rows), own_loss=True)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
    for key, grad in ref_grads.items():
        torch.testing.assert_close(grads[key], grad, rtol=1e-4, atol=1e-6)


def per_sample(losses: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
    """Split the losses of one packed row ([width - 1]) into each sample's targets (its tokens 1..n-1)."""
    out, start = [], 0
    for n in lengths:
        out.append(losses[start : start + n - 1])
        start += n
    return out


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_changing_one_sample_never_changes_another_inside_a_pack(models, rows, attn) -> None:
    model = models(attn)
    lengths = [len(r["input_ids"]) for r in rows]
    before = per_sample(token_losses(model, PackingCollator()(rows))[0], lengths)
    # each sample's losses inside the pack are its losses alone
    for k, row in enumerate(rows):
        alone = token_losses(model, PaddingCollator()([row]))[0]
        torch.testing.assert_close(before[k], alone, **TOL[attn])
    changed = [dict(r) for r in rows]
    changed[3] = random_rows(np.random.default_rng(99), [12], p_trained=1.0)[0]  # other tokens, other length
    new_lengths = [len(r["input_ids"]) for r in changed]
    after = per_sample(token_losses(model, PackingCollator()(changed))[0], new_lengths)
    for k in range(len(rows)):
        if k != 3:
            torch.testing.assert_close(after[k], before[k], **TOL[attn])
    assert after[3].shape != before[3].shape or not torch.allclose(after[3], before[3])


def test_without_the_collators_use_cache_guard_samples_would_leak(models, rows) -> None:
    """Why the packing collator returns use_cache=False: a model whose config keeps the cache on builds one
    in a plain forward call, and transformers then skips the block-diagonal mask. If this ever stops
    leaking, transformers has fixed it and the guard is merely harmless."""
    model = models("sdpa")
    batch = PackingCollator()(rows[:2])
    lengths = [len(r["input_ids"]) for r in rows[:2]]
    guarded = per_sample(token_losses(model, batch)[0], lengths)[1]
    alone = token_losses(model, PaddingCollator()([rows[1]]))[0]
    torch.testing.assert_close(guarded, alone, **TOL["sdpa"])
    unguarded = per_sample(token_losses(model, {k: v for k, v in batch.items() if k != "use_cache"})[0], lengths)[1]
    if torch.allclose(unguarded, alone):
        pytest.skip("this transformers builds the packed mask even with a cache; the guard is now only harmless")
    assert not torch.allclose(unguarded, alone)


def test_dataset_level_packs_train_like_the_padded_samples(models, rows) -> None:
    import datasets

    from fcdata.pack import pack_dataset

    datasets.disable_progress_bars()
    packed, report = pack_dataset(datasets.Dataset.from_list(rows), 32)
    assert report.packed_samples == len(rows) and report.packs < len(rows)
    model = models("sdpa")
    ref_loss, ref_grads = loss_and_grads(model, PaddingCollator()(rows), own_loss=False)
    for layout in ("flat", "rows"):
        batch = PackingCollator(layout=layout)(list(packed))
        assert int((batch["labels"] != IGNORE_INDEX).sum()) == report.trained_tokens == sum(packed["num_trained"])
        loss, grads = loss_and_grads(model, batch, own_loss=False)
        torch.testing.assert_close(loss, ref_loss, **TOL["sdpa"])
        for key, grad in ref_grads.items():
            torch.testing.assert_close(grads[key], grad, **TOL["sdpa"])


# ---------------------------------------------------------------------------------------------------------
# per token and per gradient, at the tolerance of each dtype, with a leaky pack that must fail: the same
# comparison on the CPU (here) and on a GPU (the gpu-marked test below, run by benchmarks/gpu_proofs.sh)


# (largest |loss difference| of any target, largest relative gradient difference of any parameter): bf16
# noise between the padded and the packed kernels is ~1e-2 and ~5e-3 (seen on the CPU); a pack whose
# samples see each other moves single losses by ~2 and gradients by ~100% on the model below
TRAIN_TOL = {torch.float64: (1e-9, 1e-8), torch.float32: (1e-4, 1e-3), torch.bfloat16: (0.1, 0.05)}
LEAK_MARGIN = 4.0  # a leak must exceed each tolerance at least this many times over


def context_mistral(dtype: torch.dtype, attn: str = "sdpa", initializer_range: float = 0.1):
    """A tiny random Mistral whose outputs depend on their context. With the usual 0.02 init, attention is
    nearly uniform and its output a small part of the residual stream, so a leak across samples moves the
    mean loss by only ~1e-2 (see test_the_mean_loss_alone_cannot_see_a_leak); at 0.1 it moves single
    losses by ~2."""
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        max_position_embeddings=256, initializer_range=initializer_range, use_cache=False,
    )  # fmt: skip
    torch.manual_seed(0)
    model = MistralForCausalLM._from_config(config, attn_implementation=attn, dtype=dtype)
    model.train()
    return model


def leaky(batch: dict) -> dict:
    """The same flat pack with the sample boundaries taken away: one causal sequence in which every sample
    sees the ones before it (what a pack without its positions / cu_seq_lens / block mask trains on)."""
    width = batch["input_ids"].shape[1]
    return {"input_ids": batch["input_ids"], "labels": batch["labels"], "position_ids": torch.arange(width, device=batch["input_ids"].device)[None]}


def training_signal(model, batch: dict, groups: list[list[int]], lengths: list[int]) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
    """(every sample's per-target losses, in sample order; the gradients of their mean) for a batch whose
    row r holds the samples ``groups[r]`` one after the other."""
    model.zero_grad(set_to_none=True)
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.float()
    labels = batch["labels"][:, 1:]
    losses = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none").view(labels.shape)
    (losses.sum() / (labels != IGNORE_INDEX).sum()).backward()
    per: dict[int, torch.Tensor] = {}
    for r, group in enumerate(groups):
        start = 0
        for i in group:
            per[i] = losses[r, start : start + lengths[i] - 1].detach().double().cpu()
            start += lengths[i]
    grads = {n: p.grad.detach().double().cpu() for n, p in model.named_parameters() if p.grad is not None}
    return [per[i] for i in range(len(lengths))], grads


def signal_errors(got: tuple, ref: tuple) -> tuple[float, float, str]:
    """(largest |loss difference| over every target, largest relative gradient difference over every
    parameter, where the worst of each is)."""
    (losses, grads), (ref_losses, ref_grads) = got, ref
    loss_err, where_loss = 0.0, ""
    for i, (a, b) in enumerate(zip(losses, ref_losses)):
        if a.numel():
            d = float((a - b).abs().max())
            if d > loss_err:
                loss_err, where_loss = d, f"sample {i}, target {int((a - b).abs().argmax())}"
    assert set(grads) == set(ref_grads)
    grad_err, where_grad = 0.0, ""
    for name, g in ref_grads.items():
        d = float((grads[name] - g).norm() / g.norm().clamp_min(1e-30))
        if d > grad_err:
            grad_err, where_grad = d, name
    return loss_err, grad_err, f"loss: {where_loss}; gradient: {where_grad}"


def assert_same_signal(got: tuple, ref: tuple, dtype: torch.dtype, what: str) -> None:
    loss_tol, grad_tol = TRAIN_TOL[dtype]
    loss_err, grad_err, where = signal_errors(got, ref)
    assert loss_err <= loss_tol and grad_err <= grad_tol, (
        f"{what}: per-token loss differs by {loss_err:.3g} (tolerance {loss_tol}), gradients by {grad_err:.3g} relative (tolerance {grad_tol}); worst at {where}"
    )


def assert_leak_caught(got: tuple, ref: tuple, dtype: torch.dtype) -> None:
    """The leaky pack fails the comparison, on losses and on gradients each, by LEAK_MARGIN at least."""
    loss_tol, grad_tol = TRAIN_TOL[dtype]
    loss_err, grad_err, _ = signal_errors(got, ref)
    with pytest.raises(AssertionError):
        assert_same_signal(got, ref, dtype, "leaky pack")
    assert loss_err > LEAK_MARGIN * loss_tol, f"a leak moves single losses by only {loss_err:.3g}: tolerance {loss_tol} is too loose to see it"
    assert grad_err > LEAK_MARGIN * grad_tol, f"a leak moves gradients by only {grad_err:.3g}: tolerance {grad_tol} is too loose to see it"


def compare_layouts(model, rows: list[dict], dtype: torch.dtype, device: str = "cpu") -> None:
    """Padded (the reference) against the flat pack and rows of packs, and the leaky pack against it."""
    to = lambda b: {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in b.items()}  # noqa: E731
    lengths = [len(r["input_ids"]) for r in rows]
    singles = [[i] for i in range(len(rows))]
    everything = [list(range(len(rows)))]
    ref = training_signal(model, to(PaddingCollator(pad_to_multiple_of=8)(rows)), singles, lengths)
    flat = to(PackingCollator()(rows))
    assert_same_signal(training_signal(model, flat, everything, lengths), ref, dtype, "flat pack")
    groups = [[3, 2, 5], [0, 6], [4, 1]]
    packs = to(PackingCollator(layout="rows", pad_to_multiple_of=8)(pack_rows(rows, groups)))
    assert_same_signal(training_signal(model, packs, groups, lengths), ref, dtype, "rows of packs")
    assert_leak_caught(training_signal(model, leaky(flat), everything, lengths), ref, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_leaky_pack_fails_the_per_token_comparison(rows, dtype) -> None:
    """On the CPU, at the tolerance the GPU test uses for the same dtype: packed layouts pass, a pack
    whose samples see each other fails on losses and on gradients, each by a wide margin."""
    compare_layouts(context_mistral(dtype), rows, dtype)


def test_the_mean_loss_alone_cannot_see_a_leak(rows) -> None:
    """Why the comparison is per token and per gradient: with the usual 0.02 init, the mean loss of a
    fully leaky pack is within 2e-2 of the padded one (the old GPU check's tolerance), while single losses
    and gradients are far off."""
    model = context_mistral(torch.float32, initializer_range=0.02)
    lengths = [len(r["input_ids"]) for r in rows]
    ref = training_signal(model, PaddingCollator()(rows), [[i] for i in range(len(rows))], lengths)
    got = training_signal(model, leaky(PackingCollator()(rows)), [list(range(len(rows)))], lengths)
    mean = lambda sig: float(torch.cat(sig[0]).sum()) / sum(int((torch.tensor(r["labels"][1:]) != IGNORE_INDEX).sum()) for r in rows)  # noqa: E731
    assert abs(mean(got) - mean(ref)) < 2e-2
    assert_leak_caught(got, ref, torch.float32)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("attn", ["sdpa", "flash_attention_2", "kernels-community/flash-attn2"])
def test_packed_equals_padded_on_the_gpu(rows, attn, dtype) -> None:
    """On a GPU (sdpa with the block-diagonal mask; flash-attention's varlen kernel through cu_seq_lens
    where installed): every target's loss and every gradient of the packed batches equal the padded ones
    within the dtype's tolerance, and a leaky pack fails that comparison on this device."""
    if attn.startswith("flash") or "/" in attn:
        if dtype != torch.bfloat16:
            pytest.skip("flash-attention runs in bf16/fp16 only")
        try:
            model = context_mistral(dtype, attn)
        except (ImportError, ValueError, OSError) as exc:  # the optional package, or the hub kernel offline
            pytest.skip(f"{attn} is not available here: {exc}")
    else:
        model = context_mistral(dtype, attn)  # sdpa is always there: no skip
    compare_layouts(model.cuda(), rows, dtype, device="cuda")


def test_packing_is_refused_on_a_transformers_that_would_let_samples_attend_to_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before 4.54, transformers built one causal mask over a packed row (no packed-sequence detection
    from position_ids): the packing collator would have trained every sample on the ones before it."""
    import sys

    monkeypatch.setitem(sys.modules, "transformers.masking_utils", None)  # what an old transformers lacks
    with pytest.raises(UsageError, match="does not keep packed samples apart"):
        PackingCollator()
    PaddingCollator()  # padding needs no such detection


def test_a_pack_that_lost_its_seq_lengths_is_refused_not_taken_for_one_sample() -> None:
    """The HF Trainer drops seq_lengths unless remove_unused_columns=False; the pack then reached the
    collator as one sample, positions 0..10 over two samples that attended to each other, silently."""
    pack = {"input_ids": [1, 3, 10, 4, 20, 2, 1, 3, 11, 4, 21], "assistant_masks": [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1]}
    for collator in (PaddingCollator(), PackingCollator()):
        with pytest.raises(RecordError, match="remove_unused_columns=False"):
            collator([pack])
        collator([{**pack, "seq_lengths": [6, 5]}]) if isinstance(collator, PackingCollator) else None
    assert PackingCollator(validate=False)([pack])["position_ids"].tolist() == [list(range(11))]  # checks off
