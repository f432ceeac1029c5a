"""The reference: mistral-common's own encoder for Mistral v0.3, built from the tokenizer file it ships.

Tests use it as the oracle (token ids, and whether a record is accepted at all). Nothing here is used by
the library.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import mistral_common
from mistral_common.protocol.instruct.messages import FinetuningAssistantMessage
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.protocol.instruct.validator import ValidationMode
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

V3_PATH = os.path.join(os.path.dirname(mistral_common.__file__), "data", "mistral_instruct_tokenizer_240323.model.v3")


@lru_cache(maxsize=None)
def mistral_tokenizer(mode: str = "finetuning") -> MistralTokenizer:
    return MistralTokenizer.from_file(V3_PATH, mode=ValidationMode(mode))


def to_request(record: dict[str, Any]) -> ChatCompletionRequest:
    """A canonical record (dict) as mistral-common's request; assistant weights become
    FinetuningAssistantMessage (ChatCompletionRequest refuses a `weight` key on a plain dict)."""
    messages: list[Any] = []
    for m in record["messages"]:
        if m.get("role") == "assistant" and m.get("weight") is not None:
            fields = {k: v for k, v in m.items() if k != "role"}
            messages.append(FinetuningAssistantMessage(**fields))
        else:
            messages.append(m)
    tools = record.get("tools") or None
    return ChatCompletionRequest(messages=messages, tools=tools)


def encode(record: dict[str, Any], mode: str = "finetuning") -> list[int]:
    """Token ids mistral-common gives the record (raises when it refuses the record)."""
    return mistral_tokenizer(mode).encode_chat_completion(to_request(record)).tokens
