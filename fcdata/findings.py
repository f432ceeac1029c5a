"""Findings: what the validator reports about a record, and the catalogue of their codes.

A finding is one problem at one place: a stable ``code`` (for filters, counts and CI rules), a
``severity``, the file, the 1-based line (or row), a JSON path inside the record and a message that says
what was seen and how to fix it. Codes never change meaning; new checks get new codes.

Severity follows one rule: an **error** is something mistral-common would refuse to encode, or something
that would train the model on wrong data (a call to an undeclared function, arguments that break their own
schema, a preamble that teaches it to stop before calling). A **warning** is doubtful but usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import format_location

__all__ = ["Finding", "Severity", "CODES", "severity_of", "describe"]

Severity = Literal["error", "warning"]

# code -> (severity, one-line description). The CLI's `fcdata validate --list-codes` prints this table.
CODES: dict[str, tuple[Severity, str]] = {
    # reading
    "not_json": ("error", "the line is not valid JSON"),
    "not_utf8": ("error", "the line is not valid UTF-8"),
    "json_too_deep": ("error", "the JSON is nested too deeply to decode"),
    "non_finite_number": ("error", "a number beyond what a double holds (1e999): read as infinity, which JSON cannot write"),
    "truncated_file": ("error", "the file ends in the middle of a record"),
    "empty_file": ("error", "the file holds no record at all (a wrong path, or an export that failed)"),
    "not_object": ("error", "the record is not a JSON object"),
    "invalid_unicode": ("error", "text holding a lone surrogate escape (\\ud800...), which UTF-8 and mistral-common cannot encode"),
    "not_canonical": ("error", "the record is in another format (Glaive, ShareGPT, hackathon...): convert it first"),
    "legacy_functions": ("error", "OpenAI's legacy functions / function_call / role 'function' form: convert it first"),
    # shape (Pydantic)
    "missing_field": ("error", "a required field is missing"),
    "unknown_field": ("error", "a field the canonical record does not have"),
    "wrong_type": ("error", "a value of the wrong type"),
    "bad_role": ("error", "a role other than system, user, assistant, tool"),
    "bad_value": ("error", "a value outside the allowed set (e.g. weight not 0 or 1, tool type not 'function')"),
    # conversation structure
    "empty_conversation": ("error", "no messages"),
    "single_message": ("error", "a one-message conversation (mistral-common needs a user turn and an assistant reply)"),
    "role_order": ("error", "a role that mistral-common does not accept after the previous one"),
    "last_not_assistant": ("error", "a training record must end with an assistant turn"),
    "content_and_tool_calls": ("error", "an assistant message with both text and tool calls (Mistral v0.3 cannot encode it)"),
    "empty_assistant": ("error", "an assistant message with neither text nor tool calls"),
    "merged_content_and_calls": ("error", "consecutive assistant messages that mistral-common merges into text + calls, which it refuses"),
    "merged_assistant": ("warning", "consecutive assistant text messages, merged into one turn with a blank line"),
    "merged_user": ("warning", "consecutive user messages, merged into one turn with a blank line"),
    "opens_with_calls": ("error", "the first message is an assistant's tool calls answered by results: mistral-common does not count the calls of a conversation's first message, so it refuses their results"),
    "starts_with_assistant": ("warning", "the conversation does not start with a user message (an empty one is inserted)"),
    "no_trainable_turn": ("warning", "no assistant turn is trained (all weights 0): the record adds nothing"),
    "empty_text": ("warning", "a pretraining record with empty text"),
    "empty_user": ("warning", "an empty user message"),
    # tool calls and results
    "call_id_missing": ("error", "a tool call without an id (required before its result can refer to it)"),
    "call_id_format": ("error", "a call id that is not exactly 9 characters of a-z A-Z 0-9"),
    "call_id_duplicate": ("error", "the same call id used twice in one record"),
    "function_name_format": ("error", "a function name not matching ^[a-zA-Z0-9_-]{1,64}$"),
    "undeclared_function": ("error", "a call to a function the record's tools do not declare"),
    "arguments_not_json": ("error", "call arguments given as a string that is not JSON"),
    "arguments_not_object": ("error", "call arguments that are not a JSON object"),
    "arguments_schema": ("error", "call arguments that do not validate against the function's parameters schema"),
    "call_unanswered": ("error", "a tool call with no result before the next assistant turn"),
    "call_answered_late": ("error", "a tool result that arrives after the next assistant turn"),
    "tool_result_no_id": ("error", "a tool result without tool_call_id"),
    "tool_result_unlinked": ("error", "a tool result naming a call id that no pending call has"),
    "tool_result_duplicate": ("error", "two tool results for the same call"),
    "tool_result_name_mismatch": ("warning", "a tool result whose name differs from the called function"),
    # tools
    "schema_invalid": ("error", "a tool's parameters is not a valid JSON Schema"),
    "schema_unusable": ("error", "a tool's parameters schema that passes the metaschema but cannot be applied (a $ref to nothing or outside the schema, too costly to evaluate)"),
    "pattern_unsupported": ("warning", "a schema pattern fcdata cannot run in linear time with its ECMA-262 meaning (lookaround, backreference, non-ECMA syntax): that function's calls go unchecked"),
    "parameters_missing": ("error", "a tool without 'parameters' (mistral-common requires the field)"),
    "duplicate_tool_conflict": ("error", "a function name declared twice with different definitions"),
    "duplicate_tool": ("warning", "a function declared twice, identically"),
    "parameters_not_object": ("warning", "a tool's parameters schema does not describe an object"),
    # content
    "call_markup_text": ("error", "assistant text holding tool-call markup of a chat format (<tool_call>, <TOOLCALL>, [TOOL_CALLS]...), trained as text instead of as calls"),
    "reasoning_markup_text": ("warning", "assistant text holding reasoning tags (<think>, </think>, [THINK]): Mistral v0.3 has no reasoning channel, so the model learns to print them (fcdata convert drops a leading reasoning block)"),
    "json_duplicate_key": ("error", "a tool result (JSON text) that gives one key twice with two values: parsed as JSON for rendering, as mistral-common does, only the last is kept"),
    "conversion_residue": ("warning", "leftover markers of a source format (<|endoftext|>, <functioncall>, USER:/ASSISTANT:)"),
    "control_token_text": ("warning", "text containing a control-token string such as [INST] (encoded as plain text)"),
}


def severity_of(code: str) -> Severity:
    return CODES[code][0]


def describe(code: str) -> str:
    return CODES[code][1]


@dataclass(frozen=True)
class Finding:
    """One problem at one place. ``str(finding)`` reads like a compiler message::

        data.jsonl:17: messages[3].tool_calls[0].id: error[call_id_format]: must be 9 letters/digits ...
    """

    code: str
    severity: Severity
    file: str | None
    line: int | None
    path: str
    message: str

    @classmethod
    def make(cls, code: str, path: str, message: str, *, file: str | None = None, line: int | None = None) -> "Finding":
        return cls(code, severity_of(code), file, line, path, message)

    def to_obj(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "file": self.file, "line": self.line, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{format_location(self.file, self.line, self.path)}: {self.severity}[{self.code}]: {self.message}"
