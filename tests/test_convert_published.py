"""The published tool-calling formats converted on their real rows (../shared/data, never copied into the
repository: the tests skip when it is absent): xLAM, Hermes (card examples and the data-genie
pre-release), When2Call (SFT, preference, the MCQ test set as scoring references), Gorilla OpenFunctions,
ToolBench trajectories; LLaMA-Factory v1 from a file named in FCDATA_EXTERNAL_DATA (see
tests/fixtures/external/SOURCES.md).

For each file: what is written and what is rejected (with the reason a person would give), read ==
written + rejected, every written record free of validator errors, its JSON line exactly the record,
its tokens those mistral-common encodes, reruns and two processes byte-identical."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fcdata.call_markup import find_call_markup
from fcdata.convert import Converted, Rejected, convert_files, convert_records
from fcdata.read import read_items
from fcdata.render import render
from fcdata.tokenizer import load_tokenizer
from fcdata.validate import check_record

from oracle import encode

# file -> (format, written, {rejection code: records})
PUBLISHED: dict[str, tuple[str, int, dict[str, int]]] = {
    "formats/xlam_rows.jsonl": ("xlam", 15, {}),
    # the json_mode card examples (a <schema> and a JSON answer, no tools) are plain ShareGPT chats; the
    # structured-extraction example nests the function name inside its arguments: no call to keep
    "formats/hermes_rows.jsonl": ("hermes", 4, {"call_markup_text": 1}),
    "formats/when2call_sft_readme.jsonl": ("when2call", 1, {}),
    "formats/when2call_pref_readme.jsonl": ("when2call", 1, {}),
    "harvest/hermes_datagenie_prerelease__interstellarninja-data-genie.jsonl": ("hermes", 1, {}),
    # the same conversation as data-genie writes it: a JSON document holding one array of turns
    "harvest/hermes_datagenie_prerelease__interstellarninja-data-genie.orig.json": ("hermes", 1, {}),
    # Wi-Fi given as a string where an array is declared, an answer outside the enum, a bare word
    "harvest/gorilla_openfunctions_v1__shishirpatil-gorilla-test.jsonl": ("gorilla", 109, {"arguments_schema": 2, "arguments_not_json": 1}),
    # two searches ToolBench itself marks valid_data false (no train_messages); one calls a tool the row does not list
    "harvest/toolbench_answer__openbmb-toolbench-data_example.jsonl": ("trajectory", 12, {"missing_field": 2, "undeclared_function": 1}),
    # ToolBench's queries: requests without their answers, refused by name
    "harvest/toolbench_query__openbmb-toolbench-data_example.jsonl": ("", 0, {"query_without_answer": 10}),
    # four reference calls break their own schemas (True for the enum "True", 2012 for "2012", ...)
    "harvest/when2call_test_llm_judge__nvidia-when2call.jsonl": ("when2call", 296, {"arguments_schema": 4}),
    "harvest/when2call_test_mcq__nvidia-when2call-readme.jsonl": ("when2call", 1, {}),
    # Hammer's masked SFT rows (alpaca): two abstain with an empty call list (no reply to train), one
    # carries masked floats where its schema declares booleans, one declares a distractor three times
    # with different definitions
    "harvest/hammer_masking_sft__madeagents-hammer.jsonl": ("alpaca", 6, {"empty_call_list": 2, "arguments_schema": 1, "duplicate_tool_conflict": 1}),
    "harvest/hammer_masking_sft__madeagents-hammer.orig.json": ("alpaca", 6, {"empty_call_list": 2, "arguments_schema": 1, "duplicate_tool_conflict": 1}),
    # ToolAlpaca's evaluation rows, one record per instruction (10 rows, 100 instructions): eight first
    # calls hold a placeholder where a value belongs (`${a certain year}`), one omits its required query
    # and names an undeclared `filter`
    "harvest/toolalpaca_eval__tangqiaoyu-toolalpaca-simulated.jsonl": ("toolalpaca", 91, {"argument_placeholder": 8, "arguments_schema": 1}),
    "harvest/toolalpaca_eval__tangqiaoyu-toolalpaca-simulated.orig.json": ("toolalpaca", 91, {"argument_placeholder": 8, "arguments_schema": 1}),
}


@pytest.fixture(scope="module")
def tok() -> Any:
    return load_tokenizer()


def _outs(path: Path) -> list[Converted | Rejected]:
    return list(convert_records(read_items(path)))


def _check_written(out: Converted) -> None:
    rec = out.record
    assert json.dumps(rec, ensure_ascii=False) == out.line
    assert [str(f) for f in check_record(rec)[1] if f.severity == "error"] == []
    for m in rec["messages"]:
        if m["role"] == "assistant" and "content" in m:
            assert find_call_markup(m["content"]) is None, m["content"][:80]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_rows(published_data: Path, name: str, tok: Any) -> None:
    fmt, written, rejected = PUBLISHED[name]
    outs = _outs(published_data / name)
    ok = [o for o in outs if isinstance(o, Converted)]
    bad = [o for o in outs if isinstance(o, Rejected)]
    assert len(outs) == len(ok) + len(bad)
    assert (len(ok), dict(Counter(c for o in bad for c in o.codes))) == (written, rejected), [(o.item.line, o.reasons) for o in bad]
    assert fmt in {o.format for o in ok} or not (fmt or ok)
    for out in ok:
        _check_written(out)
    # the tokens of a few records are exactly mistral-common's (the renderer's parity is tested at length elsewhere)
    for out in ok[:3]:
        samples = render(out.record, tok, mode="last")
        assert samples and samples[-1].input_ids == encode(out.record)


def test_reruns_and_two_processes_are_byte_identical(published_data: Path, tmp_path: Path) -> None:
    inputs = [str(published_data / n) for n in ("formats/xlam_rows.jsonl", "formats/hermes_rows.jsonl", "harvest/when2call_test_llm_judge__nvidia-when2call.jsonl", "harvest/toolbench_answer__openbmb-toolbench-data_example.jsonl")]
    outputs = []
    for k, procs in enumerate((1, 1, 2)):
        out, rej = tmp_path / f"o{k}.jsonl", tmp_path / f"r{k}.jsonl"
        report = convert_files(inputs, str(out), rejects=str(rej), num_proc=procs)
        assert report.read == report.kept + report.rejected
        outputs.append((out.read_bytes(), rej.read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]


def test_a_bare_list_conversation_in_a_file_of_another_format_is_read_as_what_it_is(published_data: Path, tmp_path: Path) -> None:
    """xLAM rows, then Hermes rows (one of them data-genie's bare list of turns) in one file: the file is
    detected as xlam, and the bare list was rejected as not_object, counted as xlam; alone it is kept."""
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes((published_data / "formats" / "xlam_rows.jsonl").read_bytes() + (published_data / "formats" / "hermes_rows.jsonl").read_bytes())
    report = convert_files([str(mixed)], str(tmp_path / "o.jsonl"))
    alone = convert_files([str(published_data / "formats" / "hermes_rows.jsonl")], str(tmp_path / "h.jsonl"))
    xlam = convert_files([str(published_data / "formats" / "xlam_rows.jsonl")], str(tmp_path / "x.jsonl"))
    assert report.kept == alone.kept + xlam.kept and report.rejections.get("not_object") is None, report.rejections
    assert report.formats.get("xlam") == xlam.read


def test_hermes_tools_calls_and_results(published_data: Path) -> None:
    out = _outs(published_data / "formats" / "hermes_rows.jsonl")[0]
    assert isinstance(out, Converted)
    rec = out.record
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    # the <tools> block (a Python repr) declared the tool; the <tool_call> instructions left the system prompt
    assert [t["function"]["name"] for t in rec["tools"]] == ["search_flights"]
    assert "<tool_call>" not in rec["messages"][0]["content"] and "<tools>\n[" not in rec["messages"][0]["content"]
    call = rec["messages"][2]["tool_calls"][0]
    assert call["function"]["arguments"]["flexible_cancellation"] is True  # Python's True, written as JSON
    # the <tool_response> envelope {"name", "content"} unwrapped: the content is the result
    assert json.loads(rec["messages"][3]["content"])["flights"][0]["flight_number"] == "AA118"
    assert rec["messages"][3]["tool_call_id"] == call["id"]
    assert out.repairs == ["tools_python_literal", "tools_from_system_prompt", "format_instructions_dropped", "tool_response_tags_removed", "tool_result_envelope_unwrapped", "tool_call_tags_parsed", "call_python_literal"]


def test_hermes_prerelease_fences_and_bare_turn_list(published_data: Path) -> None:
    [out] = _outs(published_data / "harvest" / "hermes_datagenie_prerelease__interstellarninja-data-genie.jsonl")
    assert isinstance(out, Converted) and out.repairs[0] == "bare_conversation_wrapped"
    msgs = out.record["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "tool", "assistant"]
    # two ```tool_call fences: parallel calls; one ```tool_response block of two lines: two results, linked by name
    assert [c["function"]["name"] for c in msgs[1]["tool_calls"]] == ["deploy_smart_contract", "execute_contract_automation"]
    assert [m["name"] for m in msgs[2:4]] == ["deploy_smart_contract", "execute_contract_automation"]
    assert [m["tool_call_id"] for m in msgs[2:4]] == [c["id"] for c in msgs[1]["tool_calls"]]


def test_datagenie_json_document_is_one_conversation(published_data: Path, tmp_path: Path) -> None:
    """data-genie's ``.json`` file (an array of turns) is the same record as its JSON Lines copy, and the
    file's format is told from it (the report and the per-file line say hermes, not "unknown")."""
    base = published_data / "harvest" / "hermes_datagenie_prerelease__interstellarninja-data-genie"
    [doc] = _outs(base.with_suffix(".orig.json"))
    [line] = _outs(base.with_suffix(".jsonl"))
    assert isinstance(doc, Converted) and isinstance(line, Converted)

    def strip(rec: dict[str, Any]) -> dict[str, Any]:  # the source file and line differ, nothing else
        meta = {k: v for k, v in rec["metadata"].items() if k not in ("source_file", "source_line")}
        return {**rec, "metadata": meta}

    assert strip(doc.record) == strip(line.record) and doc.repairs == line.repairs
    seen: list[tuple[str, str | None]] = []
    report = convert_files([str(base.with_suffix(".orig.json"))], str(tmp_path / "o.jsonl"), on_file=lambda f, fmt, _d: seen.append((f, fmt)))
    assert (report.read, report.kept, report.rejected) == (1, 1, 0)
    assert [fmt for _f, fmt in seen] == ["hermes"] and [f.format for f in report.files] == ["hermes"]


def test_a_file_concatenated_from_two_sets_converts_whole(published_data: Path, tmp_path: Path) -> None:
    """xLAM rows then a When2Call row in one file: the file is announced as xlam (its first record), and
    each record is read as what it is, as prepare reads it (this used to reject the When2Call row as
    format_mismatch in convert only)."""
    from fcdata.prepare import prepare

    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes((published_data / "formats" / "xlam_rows.jsonl").read_bytes() + (published_data / "formats" / "when2call_sft_readme.jsonl").read_bytes())
    report = convert_files([str(mixed)], str(tmp_path / "o.jsonl"))
    assert (report.read, report.kept, report.rejected) == (16, 16, 0)
    assert report.to_dict()["formats"] == {"when2call": 1, "xlam": 15} and [f.format for f in report.files] == ["xlam"]
    prepared = prepare([str(mixed)], str(tmp_path / "p"))
    assert (prepared.read, prepared.kept) == (16, 16)


def test_xlam_parameters_become_json_schema(published_data: Path) -> None:
    outs = _outs(published_data / "formats" / "xlam_rows.jsonl")
    rows = [json.loads(line) for line in (published_data / "formats" / "xlam_rows.jsonl").open(encoding="utf-8")]
    for out, row in zip(outs, rows):
        assert isinstance(out, Converted)
        answers = json.loads(row["answers"])
        assert [c["function"] for c in out.record["messages"][1]["tool_calls"]] == [{"name": a["name"], "arguments": a["arguments"]} for a in answers]
        for tool, source in zip(out.record["tools"], json.loads(row["tools"])):
            params = tool["function"]["parameters"]
            assert params["type"] == "object" and set(params["properties"]) == set(source["parameters"])
            for name, spec in source["parameters"].items():
                optional = "optional" in spec["type"] or spec.get("default") not in ("", None)
                assert (name in params.get("required", [])) is not optional, (name, spec)
    # row 2: "int, optional" with the default 0.7 is a number
    t3ma = outs[2].record["tools"][0]["function"]["parameters"]["properties"]
    assert t3ma["v_factor"] == {"type": "number", "description": t3ma["v_factor"]["description"], "default": 0.7}
    assert "integer_type_widened" in outs[2].repairs


def test_when2call_mcq_test_set_is_a_scoring_reference(published_data: Path, tmp_path: Path) -> None:
    from fcdata.score import score

    outs = [o for o in _outs(published_data / "harvest" / "when2call_test_llm_judge__nvidia-when2call.jsonl") if isinstance(o, Converted)]
    refs = [o.record for o in outs]
    assert Counter(r["metadata"]["category"] for r in refs) == {"tool_call": 96, "request_for_info": 100, "cannot_answer": 100}
    assert all(isinstance(r["metadata"]["id"], str) and set(r["metadata"]["source_extra"]["answers"]) >= {"tool_call", "cannot_answer"} for r in refs)
    # a model that answers every question as the reference does scores 1.0 in each category
    preds = []
    for r in refs:
        last = r["messages"][-1]
        pred: dict[str, Any] = {"id": r["metadata"]["id"]}
        if "tool_calls" in last:
            pred["tool_calls"] = [c["function"] for c in last["tool_calls"]]
        else:
            pred["content"] = last["content"]
        preds.append(pred)
    report = score(preds, refs)
    assert report.accuracy == 1.0 and report.n == len(refs)
    assert set(report.summary["categories"]) == {"tool_call", "request_for_info", "cannot_answer"}


def test_toolbench_keeps_the_last_search_path(published_data: Path) -> None:
    out = _outs(published_data / "harvest" / "toolbench_answer__openbmb-toolbench-data_example.jsonl")[0]
    assert isinstance(out, Converted)
    meta = out.record["metadata"]
    assert meta["trajectory_paths_dropped"] == 2 and meta["dropped_keys"] == ["tree", "forward_args", "compare_candidates"]
    names = [c["function"]["name"] for m in out.record["messages"] if "tool_calls" in m for c in m["tool_calls"]]
    assert names == ["transitaires_for_transitaires", "transitaire_for_transitaires", "Finish"]


def _external(name: str) -> Path:
    base = os.environ.get("FCDATA_EXTERNAL_DATA")
    path = Path(base) / name if base else None
    if path is None or not path.is_file():
        pytest.skip(f"{name} is not in the repository (see tests/fixtures/external/SOURCES.md); set FCDATA_EXTERNAL_DATA to the folder holding it")
    return path


def test_llamafactory_v1_reasoning_tool_use_demo(tok: Any) -> None:
    outs = _outs(_external("reason_tool_use_demo_50.jsonl"))
    assert len(outs) == 50
    # line 6 glues a second reasoning block and a second answer into its reply text (`<thread>...</think>`)
    assert [(o.item.line, o.codes) for o in outs if isinstance(o, Rejected)] == [(6, ["reasoning_markup_text"])]
    # line 7's reply ends in a stray `</think>`: removed, never trained
    assert "stray_reasoning_tag_removed" in outs[6].repairs
    outs = [o for o in outs if isinstance(o, Converted)]
    for out in outs:
        assert "think>" not in json.dumps([m.get("content") for m in out.record["messages"]])
        # Python reprs inside result envelopes ({'success': True, ...}: lines 3, 13, 16, 24, 34, 35, 45) are JSON
        assert not any(m["content"].startswith("{'") for m in out.record["messages"] if m["role"] == "tool")
        _check_written(out)
        assert out.format == "llamafactory"
        # the reasoning parts are not trained: kept in metadata only
        assert "reasoning_dropped" in out.repairs and out.record["metadata"]["reasoning"]
        assert not any("Okay, the user" in (m.get("content") or "") for m in out.record["messages"])
    for out in outs[:3]:
        assert render(out.record, tok, mode="last")[-1].input_ids == encode(out.record)


def test_hammer_rows_keep_the_task_as_system_and_drop_the_json_format_instructions(published_data: Path) -> None:
    outs = [o for o in _outs(published_data / "harvest" / "hammer_masking_sft__madeagents-hammer.jsonl") if isinstance(o, Converted)]
    for out in outs:
        rec = out.record
        assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant"]
        assert rec["messages"][0]["content"].startswith("You are a tool calling assistant")
        assert "[BEGIN OF" not in rec["messages"][1]["content"] and "MUST strictly adhere" not in json.dumps(rec["messages"])
        assert "MUST strictly adhere" in rec["metadata"]["dropped_text"][0]["text"]
        assert {"tools_from_instruction", "call_list_fence_removed", "format_instructions_dropped", "parameters_schema_built"} <= set(out.repairs)
    # masked names with a dot are made valid Mistral names, in the declaration and its calls alike
    dotted = [o for o in outs if "function_name_sanitized" in o.repairs]
    assert dotted
    for out in dotted:
        declared = {t["function"]["name"] for t in out.record["tools"]}
        called = {c["function"]["name"] for m in out.record["messages"] for c in m.get("tool_calls", [])}
        assert called <= declared and not any("." in n for n in declared)


def test_llamafactory_alpaca_demo() -> None:
    outs = _outs(_external("alpaca_en_demo.json"))
    assert len(outs) == 999 and all(isinstance(o, Converted) for o in outs), [o.reasons for o in outs if isinstance(o, Rejected)][:3]
    for out in outs:
        _check_written(out)
        assert out.format == "alpaca" and out.record["tools"] == []



@pytest.mark.parametrize("name,fmt", [("toolace_zh-tooldata-notes.jsonl", "toolace"), ("apigen-mt_zh-tooldata-notes.jsonl", "sharegpt")])
def test_single_real_rows_of_toolace_and_apigen_mt(name: str, fmt: str, tok: Any) -> None:
    [out] = _outs(_external(name))
    assert isinstance(out, Converted) and out.format == fmt, out
    _check_written(out)
    calls = [c for m in out.record["messages"] for c in m.get("tool_calls", [])]
    assert calls and {c["function"]["name"] for c in calls} <= {t["function"]["name"] for t in out.record["tools"]}
    assert render(out.record, tok, mode="last")[-1].input_ids == encode(out.record)


def test_nemotron_rl_rows_in_the_responses_api_shape(tok: Any) -> None:
    """NVIDIA's Nemotron RL conversational tool-use rows as NeMo Gym ships them: a Responses API request
    (message, reasoning, function_call, function_call_output items; flat tools) and the expected action."""
    path = _external("nemotron-rl-conversational-tool-use-pivot_gym-example.jsonl")
    outs = _outs(path)
    sources = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(outs) == 5 and all(isinstance(o, Converted) for o in outs), [o.reasons for o in outs if isinstance(o, Rejected)]
    for out, src in zip(outs, sources):
        _check_written(out)
        assert out.format == "responses"
        assert {"responses_tools_nested", "expected_action_as_reply", "reasoning_dropped"} <= set(out.repairs)
        rec = out.record
        # every input item is kept (reasoning apart, in metadata), in order, and the expected action is the last turn
        items = [i for i in src["responses_create_params"]["input"] if i.get("type") != "reasoning"]
        outputs = sum(1 for i in items if i["type"] == "function_call_output")
        assert sum(1 for m in rec["messages"] if m["role"] == "tool") == outputs
        calls = [c for m in rec["messages"] for c in m.get("tool_calls", [])]
        assert len(calls) == sum(1 for i in items if i["type"] == "function_call") + (src["expected_action"]["type"] == "function_call")
        last = rec["messages"][-1]
        expected = src["expected_action"]
        if expected["type"] == "function_call":
            assert last["tool_calls"][-1]["function"] == {"name": expected["name"], "arguments": json.loads(expected["arguments"])}
        else:
            assert last["content"] == expected["content"].lstrip()  # reasoning_separator_stripped
        assert {t["function"]["name"] for t in rec["tools"]} == {t["name"] for t in src["responses_create_params"]["tools"]}
        assert len(rec["metadata"]["reasoning"]) == sum(1 for i in src["responses_create_params"]["input"] if i.get("type") == "reasoning")
        assert render(rec, tok, mode="last")[-1].input_ids == encode(rec)
        # the "\n\n" that parted a reply from its reasoning item is not trained (8 replies of these rows)
        assert not any(m["content"][:1].isspace() for m in rec["messages"] if m["role"] == "assistant" and m.get("content"))
    assert all("reasoning_separator_stripped" in o.repairs for o in outs)


def test_nemotron_agentic_row_with_reasoning_content() -> None:
    [out] = _outs(_external("nemotron-agentic-v1-tool_calling_masters-module-1-readme.jsonl"))
    assert isinstance(out, Converted) and out.format == "openai", out
    _check_written(out)
    assert out.repairs == ["reasoning_dropped"] and "Okay, let's see" in out.record["metadata"]["reasoning"][0]["text"]


def test_toolalpaca_rows_become_one_record_per_instruction(published_data: Path, tmp_path: Path) -> None:
    """ToolAlpaca's evaluation rows: one record per instruction, the API's OpenAPI operations as tools,
    independent golden steps of one action as parallel calls, getDetails as the question, later steps
    kept aside."""
    path = published_data / "harvest" / "toolalpaca_eval__tangqiaoyu-toolalpaca-simulated.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    report = convert_files([str(path)], str(tmp_path / "out.jsonl"))
    assert (report.read, report.kept, report.rejected) == (sum(len(r["Instructions"]) for r in rows), 91, 9)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    # every record says which row and which instruction it came from, in input order
    where = [(r["metadata"]["source_line"], r["metadata"]["source_extra"]["Instruction_Index"]) for r in records]
    assert where == sorted(where) and len(set(where)) == 91
    axolotl = {t["function"]["name"] for t in records[0]["tools"]}
    assert axolotl == set(rows[0]["Function_Projection"])
    by_index = {r["metadata"]["source_extra"]["Instruction_Index"]: r for r in records if r["metadata"]["source_line"] == 1}
    sizes = by_index[6]["messages"][1]["tool_calls"]  # small, medium and large: three independent searches
    assert [c["function"]["arguments"] for c in sizes] == [{"color": "wild", "size": s, "page": 1} for s in ("small", "medium", "large")]
    assert "empty_optional_argument_dropped" in by_index[6]["metadata"]["repairs"]  # "gender": "" outside its enum
    asked = [r for r in records if "get_details_as_question" in r["metadata"]["repairs"]]
    assert asked and all("tool_calls" not in r["messages"][-1] and r["messages"][-1]["content"].endswith("?") for r in asked)
    chained = [r for r in records if "later_steps_dropped" in r["metadata"]["repairs"]]
    assert chained and all(r["metadata"]["dropped_steps"] for r in chained)
    # "check its reputation score? If its reputation score is normal, please report it": the report waits
    # for the check, so the reply is the check alone (another action is never made a parallel call)
    ip = next(r for r in records if "If its reputation score is normal, please report it" in r["messages"][0]["content"])
    assert [c["function"]["name"] for c in ip["messages"][1]["tool_calls"]] == ["checkIPReputation"]
    assert [s["Action"] for s in ip["metadata"]["dropped_steps"]] == ["reportAbusiveIP"]
    assert all(len({c["function"]["name"] for c in r["messages"][1].get("tool_calls", [])}) <= 1 for r in records)
    assert all("${" not in json.dumps(r["messages"]) for r in records)


def test_hermes_rows_forced_as_plain_sharegpt_name_the_format(published_data: Path) -> None:
    """`--from sharegpt` on Hermes rows: the rows whose tools sit in the system text's <tools> block were
    refused as calls to undeclared functions, a reason nobody would connect with the format; they are a
    format_mismatch naming --from hermes. The rows written are the same as when detected."""
    path = published_data / "formats" / "hermes_rows.jsonl"
    forced = list(convert_records(read_items(path), "sharegpt"))
    detected = _outs(path)
    for f, d in zip(forced, detected):
        if isinstance(f, Rejected) and "<tools>" in json.dumps(f.item.value):
            assert f.codes == ["format_mismatch"] and "--from hermes" in f.reasons[0][1]
        if isinstance(f, Converted):
            assert isinstance(d, Converted) and f.record["messages"] == d.record["messages"]
    assert sum(isinstance(f, Rejected) and f.codes == ["format_mismatch"] for f in forced) == 2
