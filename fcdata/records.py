"""The canonical record: the one shape every stage after `convert` accepts.

A chat record is ``{"messages": [...], "tools": [...], "metadata": {...}}`` in the OpenAI / Mistral
function-calling shape. A continued-pretraining record is ``{"text": "...", "metadata": {...}}`` (every
token of it is trained). Both are strict Pydantic v2 models: unknown keys are rejected, except inside the
free ``metadata`` object, which carries provenance (source file, line, detected format, repairs) and which
rendering ignores.

The models check *shape* (types, required keys, literal roles). Rules about how messages relate to each
other (role order, call/result linking, Mistral v0.3 id and name rules, arguments against their JSON
Schema) are checked by :mod:`fcdata.validate`, which can report all of them at once with a fix for each;
a model that refused such records outright could only say "invalid".

Key order matters: it reaches the tokens (``json.dumps`` of a tool's ``parameters`` is part of the prompt),
so dumps keep the order of the input and fields are declared in the order they are written out.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, field_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "NEXT_ROLES",
    "FunctionCall",
    "ToolCall",
    "SystemMessage",
    "UserMessage",
    "AssistantMessage",
    "ToolMessage",
    "Message",
    "FunctionDefinition",
    "Tool",
    "ChatRecord",
    "TextRecord",
    "Record",
    "parse_record",
    "record_to_obj",
    "arguments_as_object",
    "id_text",
    "json_schemas",
    "ValidationError",
]


# the role-order rule lives with the normaliser (its one copy); re-exported here for the record's users
from .normalize import NEXT_ROLES  # noqa: E402


class _Strict(BaseModel):
    """Base of every canonical model: unknown keys are an error, values are not coerced between types
    (``"1"`` is not an int, ``1`` is not a string), assignment is validated."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


class FunctionCall(_Strict):
    """The ``function`` part of a tool call.

    ``arguments`` may be a JSON string (the OpenAI wire form) or an already-parsed object; rendering
    parses a string when it holds JSON, exactly as mistral-common does.
    """

    name: str
    arguments: Union[str, dict[str, Any]] = Field(
        description="Call arguments: a JSON object, or a string holding one (OpenAI style)."
    )


class ToolCall(_Strict):
    """One call in an assistant turn. ``id`` links the call to its tool result; Mistral v0.3 requires
    exactly 9 characters of ``[a-zA-Z0-9]`` (checked by the validator, which can name the fix)."""

    id: Union[str, None] = Field(default=None, description="9 characters of a-z A-Z 0-9 for Mistral v0.3.")
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Strict):
    role: Literal["system"]
    content: str


class UserMessage(_Strict):
    role: Literal["user"]
    content: str


class AssistantMessage(_Strict):
    """An assistant turn: text (``content``) or tool calls, not both (Mistral v0.3 cannot encode both).

    ``weight`` 0 keeps the turn in the context but switches its loss off; 1 (or absent) trains it.
    """

    role: Literal["assistant"]
    content: Union[str, None] = None
    tool_calls: Union[list[ToolCall], None] = None
    weight: Union[Literal[0, 1], None] = Field(default=None, description="0 = not trained, 1 = trained (default).")

    @field_validator("weight", mode="before")
    @classmethod
    def _weight_not_boolean(cls, value: Any) -> Any:
        """Pydantic's ``Literal[0, 1]`` takes ``true`` for 1 even in strict mode (a bool is an int in
        Python), while the JSON Schema (``schemas/record.json``: an integer 0 or 1) refuses it; a boolean
        here is refused the same way, so the model and the schema file agree."""
        if isinstance(value, bool):
            raise PydanticCustomError("literal_error", "Input should be 0 or 1 (a number, not a boolean)")
        return value


class ToolMessage(_Strict):
    """A tool result. ``tool_call_id`` names the call it answers; ``name`` is informational."""

    role: Literal["tool"]
    content: str
    tool_call_id: Union[str, None] = None
    name: Union[str, None] = None


def _role_of(value: Any) -> str | None:
    if isinstance(value, dict):
        role = value.get("role")
        return role if isinstance(role, str) else None
    return getattr(value, "role", None)


Message = Annotated[
    Union[
        Annotated[SystemMessage, Tag("system")],
        Annotated[UserMessage, Tag("user")],
        Annotated[AssistantMessage, Tag("assistant")],
        Annotated[ToolMessage, Tag("tool")],
    ],
    Discriminator(
        _role_of,
        custom_error_type="invalid_role",
        custom_error_message="role must be one of 'system', 'user', 'assistant', 'tool'",
    ),
]


class FunctionDefinition(_Strict):
    """A declared function. ``parameters`` is a JSON Schema (normally ``{"type": "object", ...}``)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict, description="JSON Schema of the arguments object.")


class Tool(_Strict):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class ChatRecord(_Strict):
    """A conversation with the tools it may call. ``metadata`` is free-form provenance."""

    messages: list[Message]
    tools: list[Tool] = Field(default_factory=list)
    metadata: Union[dict[str, Any], None] = None


class TextRecord(_Strict):
    """A continued-pretraining record: ``<s>`` + the text + ``</s>``, every token trained."""

    text: str
    metadata: Union[dict[str, Any], None] = None


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "text" if "text" in value and "messages" not in value else "chat"
    return "text" if isinstance(value, TextRecord) else "chat"


Record = Annotated[
    Union[Annotated[ChatRecord, Tag("chat")], Annotated[TextRecord, Tag("text")]],
    Discriminator(_kind_of),
]

_RECORD_ADAPTER: TypeAdapter[ChatRecord | TextRecord] = TypeAdapter(Record)
_MESSAGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Message)


def parse_record(obj: Any) -> ChatRecord | TextRecord:
    """Validate a decoded JSON value as a canonical record (raises :class:`pydantic.ValidationError`)."""
    return _RECORD_ADAPTER.validate_python(obj)


def record_to_obj(record: ChatRecord | TextRecord) -> dict[str, Any]:
    """The JSON-ready dict of a record: absent optionals are left out, key order is preserved."""
    return record.model_dump(mode="json", exclude_none=True)


def arguments_as_object(arguments: str | dict[str, Any]) -> Any:
    """The value rendering uses for call arguments: a JSON string is parsed (any JSON value), an
    unparsable string is kept as the string (mistral-common does the same)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def id_text(value: Any) -> str | None:
    """A record or prediction id as text: a string, an integer, or a float that is a whole number (2.0, as
    pandas writes an integer column holding a gap), which is the integer; anything else is no id.

    One function for every place that names a turn ``"<id>:<turn>"`` (evaluation writes those names, the
    scorer pairs by them), so the names agree for every id a file can hold."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas generated from the models, by file stem: ``record``, ``message``, ``tool``.

    The committed files under ``schemas/`` must equal these (a test regenerates and compares them).
    """
    return {
        "record": _RECORD_ADAPTER.json_schema(),
        "message": _MESSAGE_ADAPTER.json_schema(),
        "tool": Tool.model_json_schema(),
    }
