"""Telling a record's source format from its keys.

====================  ===================================================================================
format id             keys
====================  ===================================================================================
``glaive``            ``system`` + ``chat`` (Glaive function-calling v2 raw), or ``chat`` alone
``hackathon``         ``interactions`` (legacy Mistral hackathon instruct data)
``text``              ``text`` and no ``messages`` (continued-pretraining records)
``hermes``            ``conversations`` holding Hermes markup: ``<tools>`` in a system turn,
                      ``<tool_call>`` in a ``gpt`` turn or ``<tool_response>`` in a ``tool`` turn
``toolace``           ``conversations`` and a ``system`` text holding a JSON list of functions (no ``tools``)
``sharegpt``          ``conversations`` otherwise (LLaMA-Factory's ShareGPT, APIGen-MT, ComplexFuncBench),
                      or a bare list of ``{"from"/"role", ...}`` turns
``xlam``              ``query`` + ``answers`` (+ ``tools``): xLAM / APIGen
``alpaca``            ``instruction`` + ``output`` (LLaMA-Factory's alpaca format), Hammer's tool-calling
                      rows among them (tools in an ``[BEGIN OF AVAILABLE TOOLS]`` section)
``gorilla``           ``question`` + ``function`` + ``model_answer``: Gorilla OpenFunctions v1
``when2call``         ``messages`` + ``chosen_response`` (preference rows); ``question`` +
                      ``correct_answer`` + ``answers`` (the MCQ test file); ``messages`` + ``tools`` in
                      BFCL's dialect (bare functions, ``"type": "dict"``: the SFT rows)
``llamafactory``      ``messages`` whose content is a list of typed parts ``{"type", "value"}``
                      (LLaMA-Factory v1)
``responses``         an OpenAI Responses API request: ``input`` items (``message``, ``function_call``,
                      ``function_call_output``, ``reasoning``), at the top or under
                      ``responses_create_params`` with ``expected_action`` (NVIDIA Nemotron RL / NeMo Gym)
``toolalpaca``        ToolAlpaca evaluation rows: ``Instructions`` + ``Golden_Answers`` (+ the OpenAPI
                      ``Documentation``), split into one record per instruction
``trajectory``        OpenAI-style messages under another key: ``traj`` / ``trajectory`` (tau-bench,
                      APIGen-MT dumps), ``answer_generation.train_messages`` (ToolBench)
``canonical``         ``messages`` and already canonical: every tool typed, every call typed with a
                      valid 9-character id, every result carrying its call's id, no legacy keys
``openai``            ``messages`` otherwise (OpenAI chat, legacy ``functions``), or a request dump
                      ``{"request": {"messages": ...}, "message": ...}``
====================  ===================================================================================

A file's format is told from its first readable record (the CLI says which, ``--from`` forces one);
each record is then read as what it is, so a file concatenated from several sets converts whole.
"""

from __future__ import annotations

from typing import Any

from .alpaca import is_alpaca
from .hermes import is_hermes_text
from .ids import CALL_ID_RE
from .responses import responses_request
from .toolace import has_tool_list
from ..read import is_turn
from .toolalpaca import is_toolalpaca_row

__all__ = ["FORMATS", "detect_format", "describe_keys", "is_turn_list", "known_unsupported", "trajectory_messages"]

FORMATS: tuple[str, ...] = ("glaive", "hackathon", "text", "sharegpt", "hermes", "toolace", "xlam", "alpaca", "gorilla", "when2call", "llamafactory", "responses", "toolalpaca", "trajectory", "openai", "canonical")


def _is_canonical(value: dict[str, Any]) -> bool:
    if any(k not in ("messages", "tools", "metadata") for k in value):
        return False
    tools = value.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict) for t in tools):
        return False
    messages = value.get("messages")
    if not isinstance(messages, list):
        return False
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
            return False
        if m["role"] == "assistant":
            for c in m.get("tool_calls") or []:
                if not isinstance(c, dict) or c.get("type") != "function" or not isinstance(c.get("id"), str) or not CALL_ID_RE.match(c["id"]):
                    return False
        elif m["role"] == "tool":
            tid = m.get("tool_call_id")
            if not isinstance(tid, str) or not CALL_ID_RE.match(tid):
                return False
        if not isinstance(m.get("content", ""), (str, type(None))):
            return False
    return True


def is_turn_list(value: Any) -> bool:
    """A bare list of ShareGPT turns (a conversation written without its ``conversations`` key, as
    data-genie writes Hermes conversations)."""
    return isinstance(value, list) and bool(value) and all(is_turn(t) for t in value)


def _is_hermes(value: dict[str, Any]) -> bool:
    conv = value.get("conversations")
    if not isinstance(conv, list):
        return False
    if isinstance(value.get("system"), str) and is_hermes_text(value["system"]):
        return True
    return any(isinstance(t, dict) and isinstance(t.get("value", t.get("content")), str) and is_hermes_text(t.get("value", t.get("content"))) for t in conv)


def _is_v1_messages(messages: Any) -> bool:
    """LLaMA-Factory v1: content as a list of ``{"type", "value"}`` parts."""
    if not isinstance(messages, list):
        return False
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and content and all(isinstance(p, dict) and "value" in p and "type" in p for p in content):
            return True
    return False


def _is_bfcl_dialect(tools: Any) -> bool:
    """Tools as When2Call writes them: bare functions whose parameters are ``"type": "dict"``."""
    return isinstance(tools, list) and bool(tools) and all(isinstance(t, dict) and "type" not in t and isinstance(t.get("parameters"), dict) and t["parameters"].get("type") == "dict" for t in tools)


_TRAJECTORY_KEYS = ("traj", "trajectory", "train_messages")


def trajectory_messages(value: dict[str, Any]) -> tuple[str, Any] | None:
    """Where a trajectory dump keeps its messages: ``(path, value)``, or ``None``."""
    for key in _TRAJECTORY_KEYS:
        if isinstance(value.get(key), list):
            return key, value[key]
    generation = value.get("answer_generation")
    if isinstance(generation, dict) and isinstance(generation.get("train_messages"), list):
        return "answer_generation.train_messages", generation["train_messages"]
    return None


def detect_format(value: Any) -> str | None:
    """The format id of one decoded record, or ``None`` when its keys match no known format."""
    if is_turn_list(value):
        value = {"conversations": value}
    if not isinstance(value, dict):
        return None
    if "chat" in value and ("system" in value or "messages" not in value):
        return "glaive"
    if "interactions" in value:
        return "hackathon"
    if "conversations" in value:
        if _is_hermes(value):
            return "hermes"
        if isinstance(value.get("system"), str) and "tools" not in value and has_tool_list(value["system"]):
            return "toolace"
        return "sharegpt"
    if "query" in value and "answers" in value:
        return "xlam"
    if "question" in value and "function" in value and "model_answer" in value:
        return "gorilla"
    if is_alpaca(value):
        return "alpaca"
    if ("messages" in value and "chosen_response" in value) or ("question" in value and "correct_answer" in value and "answers" in value):
        return "when2call"
    if "messages" in value:
        if _is_canonical(value):
            return "canonical"
        if _is_v1_messages(value["messages"]):
            return "llamafactory"
        if _is_bfcl_dialect(value.get("tools")):
            return "when2call"
        return "openai"
    if isinstance(value.get("request"), dict) and "messages" in value["request"]:
        return "openai"
    if responses_request(value) is not None:
        return "responses"
    if ("Instruction" in value and "Golden_Answer" in value) or is_toolalpaca_row(value):
        return "toolalpaca"
    if trajectory_messages(value) is not None or isinstance(value.get("answer_generation"), dict):
        return "trajectory"
    if "text" in value:
        return "text"
    return None


def known_unsupported(value: Any) -> tuple[str, str] | None:
    """The rejection (code, message) of a record of a published shape fcdata knowingly does not convert,
    or ``None``: so that it is refused with its name rather than as a record of no known format."""
    if not isinstance(value, dict):
        return None
    if "Instructions" in value and "Instances" in value and "Golden_Answers" not in value:
        # ToolAlpaca's training rows: instances in ReAct text, no real row of which was found to test a
        # converter on (its evaluation rows are converted: format toolalpaca)
        n = len(value["Instructions"]) if isinstance(value["Instructions"], list) else "several"
        return "several_records_per_row", f"a ToolAlpaca training row (instances): one API with {n} instructions, each its own conversation; not converted"
    if "api_list" in value and "query" in value and "answers" not in value:
        # ToolBench's query files (data/instruction, data_example/instruction): a request and the APIs it
        # may use, never the calls that answer it; those are the answer files, converted as trajectory
        return "query_without_answer", "a ToolBench query (api_list, query, relevant APIs): a request with no answer to train on or score against; its answers are ToolBench's answer files (data_example/answer), which convert as trajectory"
    return None


def describe_keys(value: Any) -> str:
    """A short description of a value's shape, for messages about records of no known format."""
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:8])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
