"""NVIDIA When2Call: when a model should call a tool, ask for what is missing, or say it cannot.

Three kinds of rows, told apart by their keys:

- **SFT** ``{"tools", "messages"}``: OpenAI-style messages with the calls written as
  ``<TOOLCALL>[{"name", "arguments"}]</TOOLCALL>`` in the assistant's text (read by :mod:`.markup`,
  ``toolcall_tags_parsed``) and the tools in BFCL's dialect: bare functions, ``"type": "dict"``,
  xLAM-style types (``"str"``, ``"int"``), ``required`` beside ``parameters`` (all read by
  :func:`.tools.declare`);
- **preference** ``{"tools", "messages", "chosen_response", "rejected_response"}``: the chosen response
  is the assistant turn trained on (``preference_chosen_as_target``); the pair is kept in
  ``metadata.preference`` (``{"chosen", "rejected"}``, as given) for preference training;
- **MCQ test** ``{"uuid", "question", "correct_answer", "answers": {"direct", "tool_call",
  "request_for_info", "cannot_answer"}, "tools": ["<JSON of one function>", ...], ...}`` (the
  multiple-choice test file, and its LLM-judge subset): made a scoring reference for ``fcdata score
  --references``: the question as the user turn and the correct option as the assistant turn (the
  call of ``answers.tool_call``, or the text of the option), ``metadata.id`` the ``uuid`` and
  ``metadata.category`` the correct option, so the report counts each kind of decision apart
  (``mcq_answer_as_reference``); the other keys, the options included, in ``metadata.source_extra``.
"""

from __future__ import annotations

from typing import Any

from ..read import Item
from .assemble import Context, assemble
from .encoding import KEY_ENCODER
from .finish import chat_outcome
from .markup import calls_from_value
from .openai import convert_messages, convert_openai
from .outcome import Converted, Reject
from .tools import read_declarations, toolset_from_declarations
from .turns import Turn

__all__ = ["convert_when2call"]

_OPTIONS = ("tool_call", "request_for_info", "cannot_answer", "direct")


def convert_when2call(item: Item, value: dict[str, Any], fmt: str = "when2call") -> Converted:
    """Convert one When2Call row (SFT, preference or MCQ test); raises :class:`Reject`."""
    if "chosen_response" in value:
        return _preference(item, value, fmt)
    if "question" in value and "answers" in value and "messages" not in value:
        return _mcq(item, value, fmt)
    return convert_openai(item, value, fmt)


def _preference(item: Item, value: dict[str, Any], fmt: str) -> Converted:
    messages = value.get("messages")
    chosen = value.get("chosen_response")
    if not isinstance(messages, list):
        raise Reject("wrong_type", f"messages: expected a list, got {type(messages).__name__}")
    if not isinstance(chosen, dict):
        raise Reject("wrong_type", "chosen_response: expected a message object")
    repairs = ["preference_chosen_as_target"]
    reply = {"role": "assistant", **{k: v for k, v in chosen.items() if k != "role"}}
    decls = read_declarations(value.get("tools"), "tools", repairs)
    extra = {k: v for k, v in value.items() if k not in ("tools", "messages", "chosen_response", "rejected_response")}
    notes = {"preference": {"chosen": chosen, "rejected": value.get("rejected_response")}}
    return convert_messages(item, value, fmt, [*messages, reply], decls, repairs=repairs, extra=extra or None, notes=notes)


def _mcq(item: Item, value: dict[str, Any], fmt: str) -> Converted:
    question, answers, correct = value.get("question"), value.get("answers"), value.get("correct_answer")
    if not isinstance(question, str):
        raise Reject("wrong_type", "question: the MCQ row's question must be a string")
    if not isinstance(answers, dict):
        raise Reject("wrong_type", "answers: the MCQ row's options must be an object")
    if not isinstance(correct, str) or correct not in answers:
        raise Reject("bad_value", f"correct_answer: {correct!r} names none of the options ({', '.join(map(str, answers))})")
    repairs = ["mcq_answer_as_reference"]
    decls = read_declarations(value.get("tools"), "tools", repairs, text_repair=None)
    tools = toolset_from_declarations(decls, bare_ok=False)
    answer = answers[correct]
    if correct == "tool_call":
        reply = Turn("assistant", None, calls_from_value(answer, "answers.tool_call", repairs))
    elif isinstance(answer, str):
        reply = Turn("assistant", answer)
    else:
        raise Reject("wrong_type", f"answers.{correct}: expected the text of the option")
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"))
    ctx.repairs.extend(repairs)
    messages = assemble([Turn("user", question), reply], tools, ctx)
    own: dict[str, Any] = {"category": correct}
    if isinstance(value.get("uuid"), (str, int)):
        own = {"id": value["uuid"], **own}
    extra = {k: v for k, v in value.items() if k not in ("uuid", "question", "correct_answer", "tools")}
    return chat_outcome(item, fmt, messages, tools, ctx, extra or None, own)
