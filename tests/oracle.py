"""The reference: mistral-common's own encoder, built from the tokenizer file of each version
(``tokenizer_files.py``), and a mask oracle that owes nothing to fcdata's renderer.

Tests use it as the oracle (token ids, and whether a record is accepted at all). Nothing here is used by
the library.

:func:`expected_mask` rebuilds a sample the way ``InstructTokenizerBase.encode_instruct`` does, message
by message (``encode_user_message``, ``encode_assistant_message``, ``encode_tool_message``,
``encode_system_message`` on the normalised request), and states the masking rule in its plainest form:
every token of a trained assistant message is trained, except the tokens that hold a character of a
call id; nothing else is.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import groupby
from typing import Any

from mistral_common.protocol.instruct.messages import AssistantMessage, FinetuningAssistantMessage, SystemMessage, ToolMessage, UserMessage
from mistral_common.protocol.instruct.request import ChatCompletionRequest
from mistral_common.protocol.instruct.validator import ValidationMode
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer
from mistral_common.tokens.tokenizers.sentencepiece import SentencePieceTokenizer

from tokenizer_files import TOKENIZER_VERSION, tokenizer_path

V3_PATH = tokenizer_path("v3")


@lru_cache(maxsize=None)
def mistral_tokenizer(mode: str = "finetuning", key: str = "v3") -> MistralTokenizer:
    return MistralTokenizer.from_file(tokenizer_path(key), mode=ValidationMode(mode))


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


def encode(record: dict[str, Any], mode: str = "finetuning", key: str = "v3") -> list[int]:
    """Token ids mistral-common gives the record (raises when it refuses the record)."""
    return mistral_tokenizer(mode, key).encode_chat_completion(to_request(record)).tokens


# ------------------------------------------------------------------------------------ mask oracle


def _context_moves(key: str, record: dict[str, Any]) -> bool:
    """Whether an early turn's context changes as the conversation grows: the tools block (v3-v11)
    and the system prompt (v3) sit with the last user message; v13 puts tools with the first."""
    version = TOKENIZER_VERSION[key]
    if version == "v3":
        return True
    if version in ("v13", "v15"):
        return False
    return bool(record.get("tools"))


def trained_assistant_groups(record: dict[str, Any], mode: str, key: str) -> list[bool]:
    """Per normalised assistant message of ``record`` (consecutive assistant messages of one weight
    merge into one), whether ``mode`` trains it in the sample that encodes ``record``: weight 0
    never; ``single`` every other; ``last`` the final one; ``exact`` those after the last user message
    where the context moves, every other where it does not."""
    msgs = record["messages"]
    groups: list[tuple[int, Any]] = []  # (index of the group's first message, weight) of assistant groups
    i = 0
    for (role, weight), run in groupby(msgs, key=lambda m: (m["role"], m.get("weight") if m["role"] == "assistant" else None)):
        n = len(list(run))
        if role == "assistant":
            groups.append((i, weight))
        i += n
    last_user = max((k for k, m in enumerate(msgs) if m["role"] == "user"), default=-1)
    out = []
    for g, (first, weight) in enumerate(groups):
        if weight == 0:
            out.append(False)
        elif mode == "single" or (mode == "exact" and not _context_moves(key, record)):
            out.append(True)
        elif mode == "last":
            out.append(g == len(groups) - 1)
        else:
            out.append(first > last_user)
    return out


def _token_bytes(tok: Any, token: int) -> bytes:
    if isinstance(tok, SentencePieceTokenizer):
        sp = tok._model
        if sp.IsByte(token):
            return bytes([int(sp.id_to_piece(token)[3:5], 16)])
        return sp.id_to_piece(token).replace("\u2581", " ").encode("utf-8")
    return tok.id_to_byte_piece(token, "keep")


def _id_byte_ranges(data: bytes, calls: list[Any], version: str, spm: bool) -> list[tuple[int, int]]:
    """Where each call id sits in the bytes of an encoded assistant message."""
    out = []
    pos = 0
    for call in calls:
        cid = call.id
        if not cid or cid == "null" or version in ("v13", "v15"):
            continue
        if version in ("v3", "v7"):
            marker = b'"id": "' + cid.encode() + b'"'
            at = data.index(marker, pos) + len(b'"id": "')
        else:  # v11: [CALL_ID] id [ARGS]
            marker = b"[CALL_ID]" + (b" " if spm else b"") + cid.encode() + b"[ARGS]"
            at = data.index(marker, pos) + len(b"[CALL_ID]") + (1 if spm else 0)
        out.append((at, at + len(cid.encode())))
        pos = at
    return out


def expected_mask(record: dict[str, Any], mode: str, key: str = "v3") -> tuple[list[int], list[int]]:
    """The ids and mask of the sample that encodes ``record`` (a sample's conversation), rebuilt from
    mistral-common's per-message encoders: (ids, mask)."""
    mt = mistral_tokenizer("finetuning", key)
    request = mt._chat_completion_request_validator.validate_request(to_request(record))
    instruct = mt._instruct_request_normalizer.from_chat_completion_request(request)
    enc = mt.instruct_tokenizer
    tok = enc.tokenizer
    version = TOKENIZER_VERSION[key]
    spm = isinstance(tok, SentencePieceTokenizer)
    trained = trained_assistant_groups(record, mode, key)
    first_user, last_user = enc.find_first_last_user(instruct)
    ids = list(enc.start())
    mask = [0] * len(ids)
    assistant = 0
    for k, msg in enumerate(instruct.messages):
        if isinstance(msg, UserMessage):
            tokens, _, _ = enc.encode_user_message(msg, instruct.available_tools, k == last_user, k == first_user, system_prompt=instruct.system_prompt, force_img_first=True, settings=instruct.settings)
            bits = [0] * len(tokens)
        elif isinstance(msg, ToolMessage):
            tokens, _, _ = enc.encode_tool_message(msg, k < last_user)
            bits = [0] * len(tokens)
        elif isinstance(msg, SystemMessage):
            tokens, _ = enc.encode_system_message(msg)
            bits = [0] * len(tokens)
        else:
            assert isinstance(msg, AssistantMessage)
            tokens = enc.encode_assistant_message(msg, k < last_user)
            on = trained[assistant]
            assistant += 1
            bits = [1 if on else 0] * len(tokens)
            if on and msg.tool_calls:
                pieces = [_token_bytes(tok, t) for t in tokens]
                data = b"".join(pieces)
                ranges = _id_byte_ranges(data, msg.tool_calls, version, spm)
                start = 0
                for p, piece in enumerate(pieces):
                    stop = start + len(piece)
                    if any(start < b and a < stop for a, b in ranges):
                        bits[p] = 0
                    start = stop
        ids += tokens
        mask += bits
    assert assistant == len(trained), "the normaliser's assistant turns are not the groups counted"
    return ids, mask
