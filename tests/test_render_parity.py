"""Token-for-token parity of fcdata.render with mistral-common (the oracle in tests/oracle.py).

- ``single`` mode renders the whole conversation: it must equal ``encode_chat_completion`` in fine-tuning
  mode for every shared-data record and for thousands of generated conversations.
- ``exact`` mode cuts one sample per user turn: each sample must equal mistral-common's encoding of the
  conversation it says it encodes (``Sample.conversation``), that conversation must be a prefix of the
  record, and every trained assistant turn must see exactly the prompt mistral-common builds at
  inference for the conversation up to that turn (``render_prompt`` equals it too).
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings

from fcdata.render import render, render_prompt
from fcdata.tokenizer import load_tokenizer
from oracle import encode
from render_cases import conversations, readme_record, sharegpt_records

# Hypothesis (with shrinking, for the v3 edge cases its strategies aim at); the thousands of generated
# conversations per version are test_render_versions.py's seeded ones, which cost a tenth as much each.
# Hypothesis spends ~16 ms generating one conversation: HYPOTHESIS_PROFILE=thorough runs 15,000.
PARITY_EXAMPLES = int(os.environ.get("FCDATA_PARITY_EXAMPLES", "400" if os.environ.get("HYPOTHESIS_PROFILE") != "thorough" else "15000"))
parity_settings = settings(max_examples=PARITY_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def _sub(record: dict, indexes: tuple[int, ...]) -> dict:
    return {"messages": [record["messages"][i] for i in indexes], "tools": record.get("tools", [])}


def check_exact(record: dict, tok) -> None:
    samples = render(record, tok)
    msgs = record["messages"]
    trained_messages: list[int] = []
    for s in samples:
        conv = s.conversation
        # the sample's conversation is a prefix of the record
        assert conv == tuple(range(len(conv)))
        assert s.input_ids == encode(_sub(record, conv)), "exact sample differs from mistral-common on its conversation"
        last_user = max(i for i in conv if msgs[i]["role"] == "user") if any(msgs[i]["role"] == "user" for i in conv) else -1
        mine = sorted({mi for mi, m in zip(s.message_index, s.assistant_masks) if m})
        # trained tokens come only from assistant messages after the last user message
        assert all(msgs[mi]["role"] == "assistant" and mi > last_user for mi in mine)
        trained_messages += mine
        # each trained turn sees what mistral-common encodes at inference for the conversation before it
        for mi in mine:
            if mi > 0 and msgs[mi - 1]["role"] in ("user", "tool"):
                start = s.message_index.index(mi)
                prompt = encode(_sub(record, tuple(range(mi))), mode="test")
                assert s.input_ids[:start] == prompt
                assert render_prompt(msgs[:mi], record.get("tools"), tok) == prompt
    # every trained assistant message is trained in exactly one sample
    expected = [i for i, m in enumerate(msgs) if m["role"] == "assistant" and m.get("weight") != 0]
    assert sorted(trained_messages) == expected


def test_readme_record_parity(tok):
    record = readme_record()
    [single] = render(record, tok, mode="single")
    assert single.input_ids == encode(record)
    check_exact(record, tok)


def test_sharegpt_records_parity(tok):
    records = sharegpt_records()
    assert len(records) == 300
    for record in records:
        [single] = render(record, tok, mode="single")
        assert single.input_ids == encode(record)
        [last] = render(record, tok, mode="last")
        assert last.input_ids == single.input_ids
    for record in records[:30]:
        check_exact(record, tok)


def test_converted_shared_data_parity(tok, shared_data):
    """Every record of the shared data, after `fcdata.convert`, renders as mistral-common encodes it."""
    from fcdata import convert
    from fcdata.read import read_items
    from fcdata.validate import check_record

    checked = 0
    files = [p for p in sorted(shared_data.rglob("*")) if p.suffix in (".json", ".jsonl")]  # BFCL questions are not training records: the converter refuses them
    for path in files:
        for result in convert.convert_records(read_items(path)):
            if not hasattr(result, "record"):
                continue
            model, findings = check_record(result.record)
            if model is None:
                continue
            record = json.loads(json.dumps(result.record))
            if "text" in record and "messages" not in record:
                [s] = render(record, tok)
                assert s.input_ids == [1, *tok.encode(record["text"]), 2]
                continue
            [single] = render(record, tok, mode="single")
            assert single.input_ids == encode(record), f"{path}: {record}"
            if checked % 3 == 0:  # the exact cuts of a third of them (each costs several oracle calls)
                check_exact(record, tok)
            checked += 1
    assert checked >= 300


@parity_settings
@given(conversations())
def test_generated_parity_single(record):
    tok = load_tokenizer()
    expected = encode(record)
    [single] = render(record, tok, mode="single") or [None]
    if single is None:  # every assistant turn has weight 0: nothing to train, no sample
        assert all(m.get("weight") == 0 for m in record["messages"] if m["role"] == "assistant")
        return
    assert single.input_ids == expected


@settings(max_examples=max(PARITY_EXAMPLES // 4, 100), deadline=None, suppress_health_check=list(HealthCheck))
@given(conversations())
def test_generated_parity_exact(record):
    check_exact(record, load_tokenizer())


def test_render_prompt_equals_mistral_common_at_inference(tok):
    """The prompt eval/generation and BFCL code feed the model: tools and system prompt with the last
    user message; the conversation may end with a user or a tool message, never an assistant one."""
    from fcdata.errors import RecordError

    record = readme_record()
    tools = record["tools"]
    cases = [
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Anagram of 'listen'?"}],
        [{"role": "user", "content": "no tools, no system"}],
        record["messages"][:4],  # ends with the tool result
        record["messages"][:6],  # a second user turn: tools and system move there
        [{"role": "system", "content": "only a system prompt"}],
    ]
    for messages in cases:
        expected = encode({"messages": messages, "tools": tools}, mode="test")
        assert render_prompt(messages, tools, tok) == expected
    assert render_prompt(cases[1], None, tok) == encode({"messages": cases[1]}, mode="test")
    with pytest.raises(RecordError, match="ends before an assistant turn"):
        render_prompt(record["messages"][:3], tools, tok)
    from fcdata.records import ChatRecord

    model = ChatRecord.model_validate(record)
    assert render_prompt(model.messages[:4], model.tools, tok) == encode({"messages": record["messages"][:4], "tools": tools}, mode="test")
