"""The reply parser: Mistral v0.3 replies as text, calls or parse failures (examples and properties),
agreeing with mistral-common's own tool-call decoder."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fcdata.score.parse import (
    Call,
    ParsedReply,
    PredictionShapeError,
    parse_reply,
    parse_reply_ids,
    reply_from_calls,
    reply_from_prediction,
    reply_syntax,
)

NAMES = st.text(alphabet="abcxyzABZ019_-", min_size=1, max_size=64)  # Mistral names: ^[a-zA-Z0-9_-]{1,64}$
SCALARS = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
ARGUMENTS = st.dictionaries(st.text(max_size=8), JSON, max_size=4)
CALLS = st.lists(st.builds(lambda n, a: {"name": n, "arguments": a}, NAMES, ARGUMENTS), min_size=1, max_size=3)


def mistral_text(calls: list[dict[str, Any]], sep: str = " ", eos: str = "</s>") -> str:
    """What a Mistral v0.3 model generates for calls, decoded with special tokens kept."""
    return "[TOOL_CALLS]" + sep + json.dumps(calls, ensure_ascii=False) + eos


def test_examples() -> None:
    reply = parse_reply('[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcDEF123"}]</s>')
    assert reply.kind == "calls" and reply.calls == (Call("get_weather", {"city": "Paris"}, "abcDEF123"),)
    assert reply.has_calls and reply.claims_call
    text = parse_reply("It is sunny in Paris.</s>")
    assert text == ParsedReply("text", text="It is sunny in Paris.")
    assert not text.claims_call
    # </s> ends the reply: what a model generates after it is not part of it
    assert parse_reply("Done.</s>[TOOL_CALLS] [garbage").kind == "text"
    # no </s> (generation stopped at max_new_tokens) is fine when the JSON is complete
    assert parse_reply('[TOOL_CALLS][{"name": "f", "arguments": {}}]').calls == (Call("f", {}),)
    # several [TOOL_CALLS] blocks add up; text before the first is content
    two = parse_reply('Let me check. [TOOL_CALLS] [{"name": "a", "arguments": {}}][TOOL_CALLS] [{"name": "b", "arguments": {"x": 1}}]</s>')
    assert [c.name for c in two.calls] == ["a", "b"] and two.text == "Let me check. "
    assert parse_reply("[TOOL_CALLS] []</s>") == ParsedReply("calls")
    assert parse_reply("<s>Hi</s>").text == "Hi"
    # control-token strings inside JSON strings are data: the JSON is decoded where it starts
    quoted = parse_reply('[TOOL_CALLS] [{"name": "echo", "arguments": {"s": "a </s> b [TOOL_CALLS] c"}}]</s>')
    assert quoted.calls == (Call("echo", {"s": "a </s> b [TOOL_CALLS] c"}),)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("[TOOL_CALLS]</s>", "empty"),
        ("[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {\"x\": 1}</s>", "not JSON"),
        ("[TOOL_CALLS] {\"name\": \"f\", \"arguments\": {}}</s>", "expected a JSON list"),
        ("[TOOL_CALLS] [\"f\"]</s>", "expected an object"),
        ("[TOOL_CALLS] [{\"arguments\": {}}]</s>", "missing \"name\""),
        ("[TOOL_CALLS] [{\"name\": 3, \"arguments\": {}}]</s>", "non-empty string"),
        ("[TOOL_CALLS] [{\"name\": \"f\"}]</s>", "missing \"arguments\""),
        ("[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": \"{}\"}]</s>", "expected a JSON object"),
        ("[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {}}] trailing</s>", "unexpected text after"),
        ("[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {}}][TOOL_CALLS]</s>", "payload 2: empty"),
        ("[TOOL_CALLS][TOOL_CALLS] []</s>", "payload: empty"),
    ],
)
def test_parse_failures(text: str, reason: str) -> None:
    reply = parse_reply(text)
    assert reply.kind == "parse_failure"
    assert reply.claims_call and not reply.has_calls
    assert reason in (reply.error or "")


@given(CALLS, st.sampled_from(["", " ", "\n"]), st.sampled_from(["</s>", "", "</s></s>", "</s> more text"]))
def test_roundtrip(calls: list[dict[str, Any]], sep: str, eos: str) -> None:
    reply = parse_reply(mistral_text(calls, sep, eos))
    assert reply.kind == "calls"
    assert [c.to_obj() for c in reply.calls] == calls


@given(st.text(max_size=200))
def test_text_without_marker_is_text(text: str) -> None:
    assume("[TOOL_CALLS]" not in text and "</s>" not in text and not text.lstrip().startswith("<s>"))
    assert parse_reply(text + "</s>") == ParsedReply("text", text=text)
    assert parse_reply(text) == ParsedReply("text", text=text)


@given(CALLS, st.data())
def test_every_cut_of_the_payload_is_a_parse_failure(calls: list[dict[str, Any]], data: st.DataObject) -> None:
    """A reply cut anywhere inside its JSON (max_new_tokens) claims a call it cannot deliver."""
    full = mistral_text(calls, " ", "")
    cut = data.draw(st.integers(len("[TOOL_CALLS]"), len(full) - 1))
    reply = parse_reply(full[:cut])
    assert reply.kind == "parse_failure", full[:cut]


@given(st.text(max_size=300), st.text(max_size=50))
def test_never_raises(prefix: str, tail: str) -> None:
    for text in (prefix, "[TOOL_CALLS]" + prefix, prefix + "[TOOL_CALLS]" + tail + "</s>"):
        reply = parse_reply(text)
        assert reply.kind in ("text", "calls", "parse_failure")
        assert (reply.kind == "parse_failure") == (reply.error is not None)
        if "[TOOL_CALLS]" not in text.split("</s>")[0]:
            assert reply.kind == "text"


@lru_cache(maxsize=1)
def v3_tokenizer() -> Any:
    import os

    import mistral_common
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    path = os.path.join(os.path.dirname(mistral_common.__file__), "data", "mistral_instruct_tokenizer_240323.model.v3")
    return MistralTokenizer.from_file(path).instruct_tokenizer.tokenizer


@settings(max_examples=60)
@given(CALLS, st.text(max_size=20))
def test_token_ids_agree_with_mistral_common_decoder(calls: list[dict[str, Any]], content: str) -> None:
    """mistral-common's own v2-v7 decoder (_split_content_and_tool_calls + _decode_tool_calls) and
    parse_reply_ids read the same content and calls from the ids a model generates."""
    from mistral_common.experimental.tools import _decode_tool_calls, _split_content_and_tool_calls

    tokenizer = v3_tokenizer()
    tool_calls = tokenizer.get_special_token("[TOOL_CALLS]")
    ids = tokenizer.encode(content, bos=False, eos=False) + [tool_calls] + tokenizer.encode(json.dumps(calls, ensure_ascii=False), bos=False, eos=False) + [tokenizer.eos_id]
    content_ids, blocks = _split_content_and_tool_calls(ids[:-1], tool_calls)
    theirs = [(c.function.name, json.loads(c.function.arguments)) for c in _decode_tool_calls(blocks, tokenizer)]
    ours = parse_reply_ids(ids)
    assert ours.kind == "calls"
    assert [(c.name, c.arguments) for c in ours.calls] == theirs
    assert ours.text == tokenizer.decode(content_ids)
    # the same reply as text with the control tokens kept as text
    assert parse_reply(ours.text + "[TOOL_CALLS] " + tokenizer.decode(ids[len(content_ids) + 1 : -1]) + "</s>").calls == ours.calls


def test_token_ids_text_and_failures() -> None:
    tokenizer = v3_tokenizer()
    text_ids = tokenizer.encode("The answer is 4.", bos=False, eos=False) + [tokenizer.eos_id] + [5, 6]
    assert parse_reply_ids(text_ids) == ParsedReply("text", text="The answer is 4.")
    cut = [5] + tokenizer.encode('[{"name": "f", "argu', bos=False, eos=False)
    assert parse_reply_ids(cut).kind == "parse_failure"
    assert reply_from_prediction({"output": cut}).kind == "parse_failure"


def test_bare_json_only_when_asked() -> None:
    bare = '[{"name": "f", "arguments": {"x": 1}}]'
    assert parse_reply(bare).kind == "text"
    assert parse_reply(bare, require_marker=False).calls == (Call("f", {"x": 1}),)
    assert parse_reply("[1, 2]", require_marker=False).kind == "text"
    assert parse_reply("[]", require_marker=False).kind == "text"


def test_structured_predictions() -> None:
    assert reply_from_prediction({"id": 1, "tool_calls": [{"name": "f", "arguments": {"a": 1}}]}).calls == (Call("f", {"a": 1}),)
    openai = {"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]}
    assert reply_from_prediction(openai).calls == (Call("f", {"a": 1}, "call_1"),)
    assert reply_from_prediction({"tool_calls": []}) == ParsedReply("calls")
    assert reply_from_prediction({"tool_calls": None, "content": "hi"}) == ParsedReply("text", text="hi")
    assert reply_from_prediction({"content": "[TOOL_CALLS] looks like a call"}).kind == "text"
    assert reply_from_prediction({"output": "hi</s>"}).text == "hi"
    assert reply_from_prediction({"result": [{"f": '{"a": 1}'}]}).calls == (Call("f", {"a": 1}),)
    assert reply_from_prediction({"result": "[TOOL_CALLS] [oops"}) == ParsedReply("text", text="[TOOL_CALLS] [oops")
    assert reply_from_calls([{"name": "f", "arguments": "{bad"}]).kind == "parse_failure"
    assert reply_from_calls([{"name": "f", "arguments": "[1]"}]).kind == "parse_failure"
    with pytest.raises(PredictionShapeError, match="needs one of"):
        reply_from_prediction({"id": 1})
    with pytest.raises(PredictionShapeError, match="give only one"):
        reply_from_prediction({"output": "x", "content": "y"})
    with pytest.raises(PredictionShapeError, match="raw generated text"):
        reply_from_prediction({"output": ["x"]})


@given(st.lists(st.builds(lambda n, a: {"name": n, "arguments": a}, NAMES, ARGUMENTS), max_size=4), st.booleans())
def test_structured_and_raw_forms_agree(calls: list[dict[str, Any]], as_string: bool) -> None:
    structured = [{"name": c["name"], "arguments": json.dumps(c["arguments"]) if as_string else c["arguments"]} for c in calls]
    a = reply_from_prediction({"tool_calls": structured})
    b = parse_reply(mistral_text(calls))
    assert a.calls == b.calls


def test_docstring_examples() -> None:
    import doctest

    import fcdata.score.bfcl_prompts
    import fcdata.score.parse
    import fcdata.score.scoring

    for module in (fcdata.score.parse, fcdata.score.bfcl_prompts, fcdata.score.scoring):
        failed, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert failed == 0 and tried > 0, module.__name__


# the BFCL result shape reads the same in both scoring modes: as BFCL's Mistral handler decodes it
# (arguments a JSON string, an element's first key only, a string is text); tests/test_bfcl_checker.py
# has the BFCL verdicts
def test_bfcl_result_shape_in_reference_mode() -> None:
    from fcdata.score import score

    references = [{"id": i, "tool_calls": [{"name": "f", "arguments": {"a": 1}}]} for i in range(1, 6)]
    predictions = [
        {"id": 1, "result": [{"f": '{"a": 1}'}]},
        {"id": 2, "result": [{"f": '{"a": 1}', "g": "{}"}]},
        {"id": 3, "result": [{"f": {"a": 1}}]},
        {"id": 4, "result": [{"f": "[1]"}]},
        {"id": 5, "result": '[TOOL_CALLS] [{"name": "f", "arguments": {"a": 1}}]'},
    ]
    errors = {item.id: item.error for item in score(predictions, references).items}
    assert errors == {"1": None, "2": None, "3": "parse_failure", "4": "parse_failure", "5": "missed_call"}


def test_every_version_reads_back_the_calls_it_renders():
    """A reply rendered for each tokenizer version (v3/v7 JSON list; v11 name[CALL_ID]id[ARGS]{...};
    v13 name[ARGS]{...}) parses back to its calls, from the ids and from the text with control tokens,
    as mistral-common's own decoder (``experimental.tools._decode_tool_calls``) reads it."""
    from mistral_common.experimental.tools import _decode_tool_calls, _split_content_and_tool_calls
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    from fcdata.render import render
    from fcdata.tokenizer import load_tokenizer
    from fcdata.train.generate import decode_reply
    from tokenizer_files import tokenizer_path

    calls = [
        {"id": "abcdefghi", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2]}}},
        {"id": "ZYXWVUTSR", "type": "function", "function": {"name": "search", "arguments": "{\"q\": \"日本 [ARGS] </s>\"}"}},
    ]
    record = {"messages": [{"role": "user", "content": "Weather and search?"}, {"role": "assistant", "content": "Let me look.", "tool_calls": calls}]}
    for key in ("v3", "v3-tekken", "v7", "v7-tekken", "v11", "v13", "v15"):
        tok = load_tokenizer(tokenizer_path(key))
        modern = key not in ("v3", "v3-tekken")
        rec = record if modern else {"messages": [record["messages"][0], {"role": "assistant", "tool_calls": calls}]}
        [s] = render(rec, tok, mode="single")
        reply = [t for t, mi in zip(s.input_ids, s.message_index) if mi == 1]
        syntax = reply_syntax(tok)
        for parsed in (parse_reply_ids(reply, tok), parse_reply(decode_reply(reply, tok)), parse_reply_ids(reply, tok, syntax=syntax), parse_reply(decode_reply(reply, tok), syntax=syntax)):
            assert parsed.kind == "calls", (key, parsed)
            assert [(c.name, c.arguments) for c in parsed.calls] == [("get_weather", {"city": "Paris", "days": [1, 2]}), ("search", {"q": "日本 [ARGS] </s>"})]
            assert [c.id for c in parsed.calls] == ([None, None] if key in ("v13", "v15") else ["abcdefghi", "ZYXWVUTSR"])
            assert parsed.text.strip() == ("Let me look." if modern else "")
        inner = MistralTokenizer.from_file(tokenizer_path(key)).instruct_tokenizer.tokenizer
        content, groups = _split_content_and_tool_calls(reply[:-1], tok.tool_calls_id)
        theirs = _decode_tool_calls(groups, inner)
        assert [(c.function.name, json.loads(c.function.arguments)) for c in theirs] == [(c.name, c.arguments) for c in parse_reply_ids(reply, tok).calls]


def test_each_version_accepts_only_its_own_call_syntax() -> None:
    """mistral-common's decoder for a version refuses the other versions' call forms; so does the scorer
    once it knows the version (``syntax``, from the model's tokenizer), in text and in ids. Literal text
    that spells ``[ARGS]`` is not the control token: in ids it is never taken for one."""
    from fcdata.tokenizer import load_tokenizer
    from tokenizer_files import tokenizer_path

    json_reply = '[TOOL_CALLS][{"name": "get_w", "arguments": {"city": "A"}}]</s>'
    v11_reply = '[TOOL_CALLS]get_w[CALL_ID]abcDEF123[ARGS]{"city": "A"}</s>'
    v13_reply = '[TOOL_CALLS]get_w[ARGS]{"city": "A"}</s>'
    accepted = {"json": {json_reply}, "v11": {v11_reply, v13_reply}, "v13": {v13_reply}}
    for syntax, ok in accepted.items():
        for reply in (json_reply, v11_reply, v13_reply):
            parsed = parse_reply(reply, syntax=syntax)
            assert (parsed.kind == "calls") == (reply in ok), (syntax, reply, parsed)
            assert parse_reply(reply).kind == "calls"  # no version given: any form
    for key, syntax in (("v3", "json"), ("v7-tekken", "json"), ("v11", "v11"), ("v13", "v13"), ("v15", "v13")):
        tok = load_tokenizer(tokenizer_path(key))
        assert reply_syntax(tok) == syntax
        if tok.args_id is None:
            continue
        name, args = tok.encode("get_w"), tok.encode('{"city": "A"}')
        real = [tok.tool_calls_id, *name, tok.args_id, *args, tok.eos_id]
        assert parse_reply_ids(real, tok, syntax=syntax).kind == "calls"
        typed = [tok.tool_calls_id, *tok.encode('get_w[ARGS]{"city": "A"}'), tok.eos_id]  # [ARGS] as text
        assert parse_reply_ids(typed, tok).kind == "parse_failure"
        no_marker = tok.encode('[TOOL_CALLS]get_w[ARGS]{"city": "A"}') + [tok.eos_id]
        assert parse_reply_ids(no_marker, tok).kind == "text"
        with_id = [tok.tool_calls_id, *name, tok.call_id_id, *tok.encode("abcDEF123"), tok.args_id, *args, tok.eos_id]
        assert parse_reply_ids(with_id, tok, syntax=syntax).kind == ("calls" if syntax == "v11" else "parse_failure")


def test_ids_of_another_tokenizer_are_refused_not_decoded() -> None:
    from fcdata.tokenizer import load_tokenizer
    from tokenizer_files import tokenizer_path

    tok = load_tokenizer(tokenizer_path("v11"))
    ids = [tok.tool_calls_id, *tok.encode("get_weather"), tok.args_id, *tok.encode('{"city": "Zürich"}'), tok.eos_id]
    assert max(ids) >= 32768
    with pytest.raises(PredictionShapeError, match="outside the tokenizer's vocabulary"):
        parse_reply_ids(ids)  # read as v3 SentencePiece ids
    assert parse_reply_ids(ids, tok).calls == (Call("get_weather", {"city": "Zürich"}),)


def test_score_cli_reads_tekken_ids_with_the_models_tokenizer(tmp_path) -> None:
    from click.testing import CliRunner

    from fcdata.cli.main import cli
    from fcdata.tokenizer import load_tokenizer
    from tokenizer_files import tokenizer_path

    tok = load_tokenizer(tokenizer_path("v11"))
    ids = [tok.tool_calls_id, *tok.encode("get_weather"), tok.call_id_id, *tok.encode("abcDEF123"), tok.args_id, *tok.encode('{"city": "Zürich"}'), tok.eos_id]
    preds, refs = tmp_path / "p.jsonl", tmp_path / "r.jsonl"
    preds.write_text(json.dumps({"id": "1", "output": ids}) + "\n", encoding="utf-8")
    refs.write_text(json.dumps({"id": "1", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Zürich"}}]}) + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["score", str(preds), "--references", str(refs), "--report", "-", "-q"])
    assert res.exit_code == 1 and "outside the tokenizer's vocabulary" in res.output, res.output  # no traceback
    res = CliRunner().invoke(cli, ["score", str(preds), "--references", str(refs), "--tokenizer", tokenizer_path("v11"), "--report", "-", "-q"])
    assert res.exit_code == 0 and json.loads(res.output)["accuracy"] == 1.0, res.output


def test_references_given_as_ids_are_read_with_the_tokenizer_too(tmp_path) -> None:
    from click.testing import CliRunner

    from fcdata.cli.main import cli
    from fcdata.tokenizer import load_tokenizer
    from tokenizer_files import tokenizer_path

    tok = load_tokenizer(tokenizer_path("v13"))
    ids = [tok.tool_calls_id, *tok.encode("get_weather"), tok.args_id, *tok.encode('{"city": "Zürich"}'), tok.eos_id]
    preds, refs = tmp_path / "p.jsonl", tmp_path / "r.jsonl"
    preds.write_text(json.dumps({"id": "a", "output": ids}) + "\n", encoding="utf-8")
    refs.write_text(json.dumps({"id": "a", "output": ids}) + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["score", str(preds), "--references", str(refs), "--tokenizer", tokenizer_path("v13"), "--report", "-", "-q"])
    assert res.exit_code == 0 and json.loads(res.output)["accuracy"] == 1.0, res.output
