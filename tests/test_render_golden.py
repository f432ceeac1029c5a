"""Golden renderings: records in tests/golden/render/<case>/sample.json, their samples in every mode in
expected.json (ids, masks, message index per token, spans), mistral-common's ids for the whole
conversation in tokens_v3.json, and a readable view in text.txt.

Regenerate on purpose (after a deliberate change, then review the diff):

    FCDATA_REGEN_GOLDEN=1 pytest tests/test_render_golden.py

Cases are written by ``CASES`` below (records made by hand, each aimed at one rule of the format).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fcdata.render import MODES, render
from fcdata.tokenizer import load_tokenizer
from fcdata.view import Inspected, format_terminal
from oracle import encode
from render_cases import readme_record

GOLDEN = Path(__file__).resolve().parent / "golden" / "render"
REGEN = os.environ.get("FCDATA_REGEN_GOLDEN") == "1"

_WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}}, "required": ["city"]}}}
_TIME = {"type": "function", "function": {"name": "get_time", "description": "", "parameters": {"type": "object", "properties": {}}}}

CASES: dict[str, dict] = {
    "finetune_readme": readme_record(),
    "parallel_calls": {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Tokyo, and the time?"},
            {"role": "assistant", "tool_calls": [
                {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call00002", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "東京", "unit": "c"}}},
                {"id": "call00003", "type": "function", "function": {"name": "get_time", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "call00001", "content": "{\"temp\": 21, \"sky\": \"clear\"}"},
            {"role": "tool", "tool_call_id": "call00002", "content": "rain, 18 degrees"},
            {"role": "tool", "tool_call_id": "call00003", "content": ""},
            {"role": "assistant", "content": "Paris: 21°C and clear. Tokyo: rain, 18°C.  "},
        ],
        "tools": [_WEATHER, _TIME],
    },
    "systems_and_turns": {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Weather in Lyon?"},
            {"role": "user", "content": "Please."},
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "In Celsius."},
            {"role": "assistant", "tool_calls": [{"id": "lyon00001", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Lyon\", \"unit\": \"c\"}"}}]},
            {"role": "tool", "tool_call_id": "lyon00001", "content": "{\"temp\": 12}"},
            {"role": "assistant", "content": "Il fait 12 °C à Lyon."},
        ],
        "tools": [_WEATHER],
    },
    "starts_with_assistant": {
        "messages": [
            {"role": "system", "content": "Greet first."},
            {"role": "assistant", "content": "Bonjour! How can I help?"},
            {"role": "user", "content": "What time is it?"},
            {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        ],
        "tools": [_TIME],
    },
    "weights_and_merges": {
        "messages": [
            {"role": "user", "content": "Tell me two things."},
            {"role": "assistant", "content": "First thing.", "weight": 0},
            {"role": "assistant", "content": "Second thing.", "weight": 0},
            {"role": "assistant", "content": "Third, trained.", "weight": 1},
            {"role": "user", "content": "And?"},
            {"role": "assistant", "content": "That is all."},
            {"role": "assistant", "content": "Really."},
        ],
    },
    "control_strings_and_unicode": {
        "messages": [
            {"role": "user", "content": "  [INST] <s> </s> [TOOL_CALLS] are just text\n\nliterally ▁ here  "},
            {"role": "assistant", "content": "\tUnderstood — 日本語, émojis 😀👍🏽, and \"quotes\".   "},
        ],
    },
    "pretraining_text": {"text": "Text contained in document n°1"},
}


def _sample_obj(s) -> dict:
    return {
        "sample_index": s.sample_index,
        "conversation": list(s.conversation),
        "input_ids": s.input_ids,
        "assistant_masks": s.assistant_masks,
        "message_index": s.message_index,
        "spans": [[sp.start, sp.end, sp.message_index, sp.kind, sp.trained] for sp in s.spans],
    }


def _rendered(record: dict) -> dict:
    tok = load_tokenizer()
    return {mode: [_sample_obj(s) for s in render(record, tok, mode=mode)] for mode in MODES}


def _text(record: dict) -> str:
    tok = load_tokenizer()
    roles = [m["role"] for m in record.get("messages", [])]
    out = []
    for mode in MODES:
        view = Inspected(0, "sample.json", 1, samples=render(record, tok, mode=mode), roles=roles)
        out.append(f"=== mode {mode} ===\n" + format_terminal(view, tok, color=False))
    return "\n\n".join(out) + "\n"


def _dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    record = CASES[case]
    folder = GOLDEN / case
    rendered = _rendered(record)
    full = encode(record) if "messages" in record else [1, *load_tokenizer().encode(record["text"]), 2]
    if REGEN:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sample.json").write_text(_dump(record), encoding="utf-8")
        (folder / "expected.json").write_text(_dump(rendered), encoding="utf-8")
        (folder / "tokens_v3.json").write_text(_dump(full), encoding="utf-8")
        (folder / "text.txt").write_text(_text(record), encoding="utf-8")
    assert json.loads((folder / "sample.json").read_text(encoding="utf-8")) == record
    assert rendered == json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    assert json.loads((folder / "tokens_v3.json").read_text(encoding="utf-8")) == full
    assert (folder / "text.txt").read_text(encoding="utf-8") == _text(record)
    if rendered["single"]:
        assert rendered["single"][0]["input_ids"] == full  # mistral-common, live
