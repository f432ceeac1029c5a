"""What a converter reads a source record into before the shared rules (:mod:`.assemble`): turns and
the calls in them."""

from __future__ import annotations

from typing import Any

__all__ = ["Call", "Turn"]


class Call:
    """One call as read from the source: a function name, its arguments object, and the source's id."""

    __slots__ = ("name", "arguments", "id")

    def __init__(self, name: Any, arguments: dict[str, Any], id: str | None = None) -> None:
        self.name = name
        self.arguments = arguments
        self.id = id


class Turn:
    """One message as read from the source, before the shared rules."""

    __slots__ = ("role", "content", "calls", "call_id", "name", "weight")

    def __init__(
        self,
        role: str,
        content: str | None = None,
        calls: list[Call] | None = None,
        call_id: str | None = None,
        name: str | None = None,
        weight: int | None = None,
    ) -> None:
        self.role = role
        self.content = content
        self.calls = calls
        self.call_id = call_id
        self.name = name
        self.weight = weight
