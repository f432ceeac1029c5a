"""Loss-mask invariants of fcdata.render, over the shared data and generated records.

Each invariant is checked by an independent computation where one is possible (the id check decodes
the pieces and finds the ids in the text again; it does not trust ``span_kinds``).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcdata.errors import RecordError, UsageError
from fcdata.render import KINDS, render, render_records
from fcdata.tokenizer import load_tokenizer
from oracle import encode
from render_cases import conversations, readme_record, sharegpt_records

TRAINABLE_KINDS = {"text", "call_json", "call_name", "arguments", "control", "document"}


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def _control_grammar(ids: list[int], tok) -> str:
    names = {1: "S", 2: "E", 3: "I", 4: "i", 5: "C", 6: "T", 7: "t", 8: "R", 9: "r"}
    return "".join(names.get(t, "?") for t in ids if tok.is_control(t))


# <s>, then turns: ([AVAILABLE_TOOLS] [/AVAILABLE_TOOLS])? [INST] [/INST], assistant ([TOOL_CALLS])? </s>,
# tool [TOOL_RESULTS] [/TOOL_RESULTS]
CONTROL_GRAMMAR = re.compile(r"S(?:(?:Tt)?Ii|C?E|Rr)*")
ESCAPED_ID = re.compile('"id":\u2581"([^"]*)"'.encode())


def check_invariants(record: dict, samples, tok) -> None:
    msgs = record["messages"]
    for s in samples:
        n = len(s.input_ids)
        assert n == len(s.assistant_masks) == len(s.message_index) == len(s.span_kinds) == len(s.labels)
        assert s.spans[0].start == 0 and s.spans[-1].end == n
        assert all(a.end == b.start for a, b in zip(s.spans, s.spans[1:]))
        assert set(s.span_kinds) <= set(KINDS)
        assert s.input_ids[0] == tok.bos_id and s.assistant_masks[0] == 0
        assert s.num_trained == sum(s.assistant_masks) > 0
        assert s.labels == [t if m else -100 for t, m in zip(s.input_ids, s.assistant_masks)]
        # control ids only where the layout puts them, and only as "control" spans
        control = tok.control_ids
        assert all((t in control) == (kind == "control") for t, kind in zip(s.input_ids, s.span_kinds))
        assert CONTROL_GRAMMAR.fullmatch(_control_grammar(s.input_ids, tok))
        # no untrainable token trained
        role = [msgs[mi]["role"] if mi >= 0 else "" for mi in s.message_index]
        for t, m, mi, kind in zip(s.input_ids, s.assistant_masks, s.message_index, s.span_kinds):
            if m:
                assert kind in TRAINABLE_KINDS
                assert mi >= 0 and msgs[mi]["role"] == "assistant" and msgs[mi].get("weight") != 0
                if kind == "control":
                    assert t in (tok.tool_calls_id, tok.eos_id)
        # every trained token is followed by a trained </s>, with only assistant tokens between
        q = n
        for p in range(n - 1, -1, -1):  # walking back: q = the next </s> at or after p
            if s.input_ids[p] == tok.eos_id:
                q = p
            elif role[p] != "assistant" or tok.is_control(s.input_ids[p]) and s.input_ids[p] != tok.tool_calls_id:
                q = n  # a non-assistant token: no </s> of this turn lies beyond it
            if s.assistant_masks[p]:
                assert q < n and s.assistant_masks[q] == 1, f"trained token {p} is not followed by a trained </s>"
        # no id character trained: find the ids again in the decoded pieces of each [TOOL_CALLS] turn
        p = 0
        while p < n:
            if s.input_ids[p] != tok.tool_calls_id:
                p += 1
                continue
            q = s.input_ids.index(tok.eos_id, p)
            pieces = [_piece_bytes(tok.id_to_piece(t)) for t in s.input_ids[p + 1 : q]]
            joined = b"".join(pieces)  # SentencePiece's view: spaces are "\u2581"
            bounds, pos = [], 0
            for x in pieces:
                bounds.append((pos, pos + len(x)))
                pos += len(x)
            for match in ESCAPED_ID.finditer(joined):
                a, b = match.span(1)
                for k, (x0, x1) in enumerate(bounds):
                    if x0 < b and x1 > a:
                        assert s.assistant_masks[p + 1 + k] == 0, f"id piece {pieces[k]!r} is trained"
                        assert s.span_kinds[p + 1 + k] == "call_id"
            p = q + 1


def _piece_bytes(piece: str) -> bytes:
    if re.fullmatch(r"<0x[0-9A-F]{2}>", piece):
        return bytes([int(piece[3:5], 16)])
    return piece.encode("utf-8")


def test_kinds_of_a_call_turn(tok):
    record = readme_record()
    [first, second] = render(record, tok)
    text = "".join(tok.piece_text(t) for t, k in zip(first.input_ids, first.span_kinds) if k == "call_id")
    assert text.replace(" ", "") == "TX92Jm8Zi"
    assert {k for k, m in zip(first.span_kinds, first.assistant_masks) if m} == {"control", "call_json", "call_name", "arguments", "text"}
    # the system prompt and tools sit with the last user message of each sample
    assert first.span_kinds.count("tools") > 0 and second.span_kinds.count("tools") > 0
    assert first.message_index[first.span_kinds.index("system")] == 0


def test_invariants_on_shared_samples(tok):
    for record in [readme_record(), *sharegpt_records()]:
        for mode in ("exact", "single", "last"):
            check_invariants(record, render(record, tok, mode=mode), tok)


def test_modes(tok):
    record = readme_record()  # two user turns, three assistant turns
    exact = render(record, tok)
    single = render(record, tok, mode="single")
    last = render(record, tok, mode="last")
    assert [s.sample_index for s in exact] == [0, 1]
    trained_msgs = lambda s: sorted({mi for mi, m in zip(s.message_index, s.assistant_masks) if m})  # noqa: E731
    assert [trained_msgs(s) for s in exact] == [[2, 4], [6]]
    assert trained_msgs(single[0]) == [2, 4, 6]
    assert trained_msgs(last[0]) == [6]
    assert single[0].input_ids == last[0].input_ids == exact[1].input_ids
    # the first exact sample gives turn 1 its inference context: tools + system before the FIRST user turn
    assert exact[0].span_kinds[1] == "control" and exact[0].input_ids[1] == tok.tools_id
    assert single[0].input_ids[1] == tok.inst_id
    assert exact[0].call_names == ("generate_anagram",) and single[0].call_names == ("generate_anagram", "generate_anagram")


def test_weight_zero_switches_a_turn_off(tok):
    record = readme_record()
    record["messages"][4]["weight"] = 0
    [first, second] = render(record, tok)
    assert sorted({mi for mi, m in zip(first.message_index, first.assistant_masks) if m}) == [2]
    assert first.conversation == (0, 1, 2)  # the exact sample ends with the last trained turn
    assert 4 in second.message_index and not any(m for m, mi in zip(second.assistant_masks, second.message_index) if mi == 4)
    record["messages"][2]["weight"] = 0
    [only] = render(record, tok)
    assert only.sample_index == 0 and only.conversation == tuple(range(7))
    record["messages"][6]["weight"] = 0
    assert render(record, tok) == [] and render(record, tok, mode="single") == []


def test_text_record_trains_every_token_but_bos(tok):
    [s] = render({"text": "Text contained in document n°1"}, tok)
    assert s.input_ids == [1, *tok.encode("Text contained in document n°1"), 2]
    assert s.assistant_masks == [0] + [1] * (len(s.input_ids) - 1)
    assert s.span_kinds[1:-1] == ["document"] * (len(s.input_ids) - 2)
    [empty] = render({"text": ""}, tok)
    assert empty.input_ids == [1, 2] and empty.assistant_masks == [0, 1]


def test_control_strings_in_text_are_plain_text(tok):
    record = {"messages": [{"role": "user", "content": "[INST] <s> [TOOL_CALLS] </s>"}, {"role": "assistant", "content": "[/INST] </s>"}]}
    [s] = render(record, tok)
    assert s.input_ids == encode(record)
    assert _control_grammar(s.input_ids, tok) == "SIiE"


def test_max_length_trims_earliest_turns_then_drops(tok):
    record = readme_record()
    [first, second] = render(record, tok)
    full = second.length
    # too long by a little: the first exchange (user 1 + replies) is removed, system prompt and tools kept
    [r] = render_records([record], tok, max_length=full - 5)
    kept = [s for s in r.samples if s.sample_index == 1][0]
    assert kept.turns_trimmed == 1 and kept.tokens_trimmed == full - kept.length
    assert kept.conversation == (0, 5, 6)
    sub = {"messages": [record["messages"][i] for i in kept.conversation], "tools": record["tools"]}
    assert kept.input_ids == encode(sub)  # exactly what mistral-common encodes for the shortened conversation
    assert kept.span_kinds.count("tools") and kept.span_kinds.count("system")
    # too long even so: dropped and reported
    limit = min(first.length, kept.length) - 1
    [r] = render_records([record], tok, max_length=limit)
    assert r.samples == []
    assert [(d.sample_index, d.full_length, d.length) for d in r.dropped] == [(0, first.length, first.length), (1, full, kept.length)]
    # single mode cannot remove trained turns: the sample is dropped
    [r] = render_records([record], tok, mode="single", max_length=full - 5)
    [single] = render(record, tok, mode="single")
    assert r.samples == [] and r.dropped[0].num_trained == single.num_trained == first.num_trained + second.num_trained


def test_render_errors(tok):
    bad = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "a"}, {"role": "assistant", "tool_calls": [{"id": "abcdefghi", "function": {"name": "f", "arguments": "{}"}}]}]}
    with pytest.raises(RecordError, match="text and tool calls"):
        render(bad, tok)
    with pytest.raises(RecordError, match="not a canonical record"):
        render({"messages": [{"role": "robot"}]}, tok)
    with pytest.raises(UsageError, match="choose one of"):
        render(readme_record(), tok, mode="all")
    out = render_records([bad, readme_record()], tok)
    assert isinstance(out[0], RecordError) and len(out[1].samples) == 2


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(conversations())
def test_generated_invariants(record):
    tok = load_tokenizer()
    for mode in ("exact", "single", "last"):
        samples = render(record, tok, mode=mode)
        check_invariants(record, samples, tok)
        if mode == "last" and samples:
            final = len(record["messages"]) - 1
            assert {mi for mi, m in zip(samples[0].message_index, samples[0].assistant_masks) if m} <= {
                i for i in range(final + 1) if record["messages"][i]["role"] == "assistant"
            }


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(conversations(), st.integers(8, 400), st.sampled_from(["exact", "single", "last"]))
def test_generated_max_length(record, max_length, mode):
    """Samples that fit are exactly mistral-common's encoding of their (shortened) conversation; every
    sample is kept, trimmed or dropped, never cut inside a turn."""
    tok = load_tokenizer()
    full = render(record, tok, mode=mode)
    [r] = render_records([record], tok, mode=mode, max_length=max_length)
    assert sorted([s.sample_index for s in r.samples] + [d.sample_index for d in r.dropped]) == [s.sample_index for s in full]
    by_index = {s.sample_index: s for s in full}
    for s in r.samples:
        assert s.length <= max_length
        assert s.length + s.tokens_trimmed == by_index[s.sample_index].length
        assert s.num_trained == by_index[s.sample_index].num_trained  # only context was removed
        sub = {"messages": [record["messages"][i] for i in s.conversation], "tools": record["tools"]}
        assert s.input_ids == encode(sub)
        check_invariants(record, [s], tok)
    for d in r.dropped:
        assert d.length > max_length and d.full_length == by_index[d.sample_index].length


def test_invariants_on_all_converted_shared_data(tok, shared_data):
    """Every record of the shared data, after `fcdata convert`, in every mode."""
    from fcdata.convert import convert_records
    from fcdata.read import read_items
    from fcdata.validate import check_record

    checked = 0
    for path in sorted(p for p in shared_data.rglob("*") if p.suffix in (".json", ".jsonl")):
        for result in convert_records(read_items(path)):
            if not result.ok:
                continue
            model, _ = check_record(result.record)
            if model is None:
                continue
            record = result.record
            for mode in ("exact", "single", "last"):
                samples = render(model, tok, mode=mode)
                if "messages" in record:
                    check_invariants(record, samples, tok)
                else:
                    assert [s.assistant_masks for s in samples] == [[0] + [1] * (samples[0].length - 1)]
            checked += 1
    assert checked >= 370


@pytest.mark.parametrize("mode", ["exact", "single", "last"])
def test_role_order_mistral_common_refuses_is_refused(mode: str) -> None:
    """The library call refuses what mistral-common refuses, even without `fcdata validate` first."""
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "system", "content": "s"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    with pytest.raises(Exception):
        encode(messages, None)
    with pytest.raises(RecordError) as info:
        render({"messages": messages}, mode=mode)
    assert info.value.code == "role_order" and "messages[2].role" in str(info.value)
