"""Batched greedy generation: left padding changes nothing, each row stops at its own </s>, and decoded
replies keep the control tokens the scorer needs."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from fcdata.errors import UsageError
from fcdata.render import render
from fcdata.score import parse_reply
from fcdata.synth import synth_records
from fcdata.tokenizer import load_tokenizer
from fcdata.train.generate import decode_reply, generate_replies
from fcdata.train.models import load_base_model


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> Any:
    return load_base_model("tiny-mistral", seed=1)[0]


@pytest.fixture(scope="module")
def prompts() -> list[list[int]]:
    tok = load_tokenizer()
    texts = ["Hi", "What is the weather in Paris today, please?", "Book a table for two at eight.", "x " * 30, "Thanks!"]
    return [[1, 3, *tok.encode(t), 4] for t in texts]


def _with_eos_bias(model: Any, bias: float) -> Any:
    """A copy of ``model`` whose lm_head favours </s> by ``bias`` (so rows stop at different steps)."""
    import copy

    m = copy.deepcopy(model)
    head = torch.nn.Linear(m.lm_head.in_features, m.lm_head.out_features, bias=True)
    with torch.no_grad():
        head.weight.copy_(m.lm_head.weight * 40.0)  # make logits spread out like a trained model's
        head.bias.zero_()
        head.bias[2] = bias
    m.lm_head = head
    return m


def test_left_padded_batches_equal_one_prompt_at_a_time(model, prompts) -> None:
    batched = generate_replies(model, prompts, max_new_tokens=12, batch_size=3)
    alone = [generate_replies(model, [p], max_new_tokens=12, batch_size=1)[0] for p in prompts]
    assert batched == alone
    assert all(len(r) == 12 for r in batched)  # random weights never say </s> here


def test_each_row_stops_at_its_own_eos(model, prompts) -> None:
    always = _with_eos_bias(model, 1e4)
    assert generate_replies(always, prompts, max_new_tokens=8) == [[2]] * len(prompts)
    some = _with_eos_bias(model, 0.0)
    with torch.no_grad():
        logits = some(input_ids=torch.tensor([prompts[0]])).logits[0, -1]
    # a bias that makes </s> win for some continuations and not others
    gap = float(logits.max() - logits[2])
    mixed = _with_eos_bias(model, gap * 0.98)
    replies = generate_replies(mixed, prompts, max_new_tokens=16, batch_size=5)
    alone = [generate_replies(mixed, [p], max_new_tokens=16)[0] for p in prompts]
    assert replies == alone
    for r in replies:
        assert 2 not in r[:-1]  # nothing after the first </s>
        assert r[-1] == 2 or len(r) == 16
    assert len({len(r) for r in replies}) > 1, "rows should stop at different steps"


def test_replies_come_back_in_input_order(model, prompts) -> None:
    shuffled = [prompts[i] for i in (3, 0, 4, 1, 2)]
    out = generate_replies(model, shuffled, max_new_tokens=5, batch_size=2)
    ref = generate_replies(model, prompts, max_new_tokens=5, batch_size=2)
    assert out == [ref[i] for i in (3, 0, 4, 1, 2)]


def test_bad_arguments(model) -> None:
    with pytest.raises(UsageError):
        generate_replies(model, [[1, 3, 4]], max_new_tokens=0)
    with pytest.raises(UsageError, match="prompt 1 is empty"):
        generate_replies(model, [[1, 3, 4], []])


def test_decoded_assistant_spans_parse_back_to_their_calls() -> None:
    """The trained span of a rendered assistant turn, decoded and parsed, is that turn's calls."""
    tok = load_tokenizer()
    checked = 0
    for record in synth_records(n_train=30, n_test=0, seed=2):
        for sample in render(record, tok):
            ids, mask = sample.input_ids, sample.assistant_masks
            # the last trained run: the final assistant turn of the sample, up to its </s>
            end = len(ids)
            start = end
            while start > 0 and mask[start - 1] == 1:
                start -= 1
            span = ids[start:end]
            if span[0] == tok.tool_calls_id:
                text = decode_reply(span + [7, 8], tok)  # anything after </s> is dropped
                assert text.startswith("[TOOL_CALLS]") and text.endswith("</s>")
                parsed = parse_reply(text)
                want = [tc["function"] for tc in record["messages"][sample.message_index[-1]]["tool_calls"]]
                assert [(c.name, c.arguments) for c in parsed.calls] == [(w["name"], w["arguments"]) for w in want]
            else:
                text = decode_reply(span, tok)
                assert parse_reply(text).kind == "text" and text.endswith("</s>")
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize("key", ["v3", "v7-tekken", "v11", "v13"])
def test_id_filler_writes_ids_where_the_version_writes_them_and_never_in_arguments(key) -> None:
    """v3/v7 calls are JSON objects whose "id" key opens the id; v11 writes the id after [CALL_ID]; v13
    writes none. In the [ARGS] syntaxes the JSON after [TOOL_CALLS] is the arguments: the filler used to
    force a made-up id into an argument object's own "id" key there."""
    import sys

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from tokenizer_files import tokenizer_path

    from fcdata.train.generate import IdFiller

    t = load_tokenizer(tokenizer_path(key))
    prompt = [t.bos_id, t.inst_id, *t.encode("q"), t.inst_end_id]

    def forced(gen: list[int]) -> bool:
        f = IdFiller(t, len(prompt), t.eos_id, [prompt])
        out = f(torch.tensor([prompt + gen]), torch.zeros((1, t.vocab_size)))
        return bool(torch.isinf(out[0]).any())

    if t.args_id is None:  # the JSON syntax
        assert forced([t.tool_calls_id, *t.encode('[{"name": "f", "arguments": {}, "id": "')])
        assert not forced([t.tool_calls_id, *t.encode('[{"name": "f", "arguments": {"filter": {"id": "')])
    else:
        assert not forced([t.tool_calls_id, *t.encode("f"), t.args_id, *t.encode('{"filter": {"id": "')])
        assert not forced([t.tool_calls_id, *t.encode("f"), t.args_id, *t.encode('{"id": "')])
        assert forced([t.tool_calls_id, *t.encode("f"), t.call_id_id]) == (key == "v11")
