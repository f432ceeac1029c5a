"""Batched greedy generation from token ids, and turning generated ids back into a reply's text.

Prompts are the exact ids mistral-common encodes at inference (:func:`fcdata.render.render_prompt`);
they are never detokenized and re-tokenized. A batch is LEFT-padded, so every prompt ends at the same
column and the next token of every row is predicted from its own last token; the attention mask hides
the padding and transformers derives the position ids from it (``cumsum(mask) - 1``), so a padded prompt
sees the same positions as it would alone. Decoding is greedy and each row stops at its own ``</s>``::

    pad pad <s> [INST] ▁Hi [/INST]  |  ▁Hello  !  </s>          <- row 1 stops here
    <s> [INST] ▁What ▁time ? [/INST] |  [TOOL_CALLS] ▁[{" ... ]  </s>

Prompts are sorted by length before batching (less padding) and the results put back in input order.

Generated ids become text with the control tokens written out (``[TOOL_CALLS]``, ``</s>``), the form
:func:`fcdata.score.parse_reply` reads: a plain decode would drop ``[TOOL_CALLS]`` and with it the
difference between a call and text that looks like JSON.

Call ids (``fill_ids``, on by default in evaluation). fcdata never trains the characters of a call id
(the model must not learn to predict random ids), but it does train the JSON around them::

    [TOOL_CALLS] [{"name": "f", "arguments": {...}, "id": "  ·········  "}]</s>
    trained ......................................................  untrained  trained

In the v11 syntax (``[TOOL_CALLS]name[CALL_ID]id[ARGS]{...}``) the id follows its own control token,
and the decoder writes it right after the model writes ``[CALL_ID]``; v13 writes no ids at all.

A model that learned its tool calls only from fcdata data (a model trained from scratch, or a base model
that never wrote ids) has no learned behaviour inside the id, and greedy decoding there wanders off
(``"id": "id": "id": ...``) so the call never closes. With ``fill_ids`` the decoder writes the id itself,
exactly where the model opened the id string of a call (``"id": "`` as a key of a call object, not inside
``arguments``): nine characters made the way fcdata's converter makes ids (so of the kind the model saw
around the trained ``"}]`` that closes a call), after which the model continues on its own. Ids are never
scored, so this measures everything the model was trained on and nothing it was not. ``fill_ids=False``
is plain greedy decoding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import UsageError

if TYPE_CHECKING:
    from ..tokenizer import MistralV3Tokenizer

__all__ = ["generate_replies", "decode_reply", "DEFAULT_PAD_ID", "IdFiller"]

DEFAULT_PAD_ID = 0  # <unk>: never in a prompt, so a pad is recognisable; masked out anyway
EOS_ID = 2


def _open_call_id(text: str) -> bool:
    """True when ``text`` (a reply after ``[TOOL_CALLS]``) ends inside a just-opened string that is the
    value of key ``"id"`` of a call object (depth 2: the list, then the call; not inside arguments).

    ``"id"`` must be a key: right after ``{`` or ``,``. A model that writes ``{"name": "id": "`` (the
    string ``"id"`` as the name's value, then a colon) has not opened an id, and is left to itself."""
    if not text.endswith('"id": "'):
        return False
    if not text[: -len('"id": "')].rstrip().endswith((",", "{")):
        return False
    body = text[: -len('"')]  # up to the quote that opens the value
    depth = 0
    in_string = False
    escaped = False
    for ch in body:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return not in_string and depth == 2


class IdFiller:
    """A ``transformers`` logits processor that writes a call id where a call's id string opens (see the
    module docstring). ``prompt_width`` is where generation starts in every (left-padded) row.

    The id is made the way fcdata's converter makes the ids a model is trained among
    (:func:`fcdata.convert.ids.make_call_id`, here of the row's prompt and the call's position in the
    reply): nine characters of ``[0-9a-zA-Z]``, about eight tokens. A fixed filler made of other tokens
    (``abcdefghi`` is four: ``abc def gh i``) is an id the model never saw, and a model trained from
    scratch then fails to close the call after it."""

    def __init__(self, tokenizer: "MistralV3Tokenizer", prompt_width: int, eos_id: int = EOS_ID, prompts: Sequence[Sequence[int]] | None = None) -> None:
        self.tok = tokenizer
        self.width = prompt_width
        self.eos_id = eos_id
        self.prompts = prompts
        quote = tokenizer.encode('"x')
        # does the opening quote tokenize apart from what follows it (then it is not part of the id)?
        self._quote_apart = tokenizer.decode(quote[:1]).strip() == '"'
        from ..render.encoders import encoder_for

        # which call syntax the version writes: v3/v7 JSON objects with an "id" key; v11
        # ``name[CALL_ID]id[ARGS]{...}``, the id a segment of its own after [CALL_ID]; v13 and later
        # ``name[ARGS]{...}`` with no id at all. Only the JSON syntax is searched for an id key: in the
        # [ARGS] syntaxes the JSON after [TOOL_CALLS] is the arguments, where an "id" is the user's
        tool_tokens = encoder_for(tokenizer).tool_tokens
        self.json_calls = "[ARGS]" not in tool_tokens
        self.call_id_token = getattr(tokenizer, "call_id_id", None) if "[CALL_ID]" in tool_tokens else None
        self.queues: dict[int, list[int]] = {}
        self.calls: dict[int, int] = {}
        self.filled = 0

    def id_tokens(self, row: int, call: int, segment: bool = False) -> list[int]:
        """The tokens of the id of call ``call`` of ``row``, as they follow the opening quote (``segment``:
        as a segment of its own, the v11 syntax's id after ``[CALL_ID]``)."""
        from ..convert.ids import make_call_id

        content = bytes(str(list(self.prompts[row])) if self.prompts is not None else str(row), "ascii")
        cid = make_call_id(content, call)
        if segment:
            return list(self.tok.encode(cid))
        pieces = self.tok.encode('"' + cid)
        return pieces[1:] if self._quote_apart else self.tok.encode(cid)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        generated = input_ids[:, self.width :].tolist()
        for row, tokens in enumerate(generated):
            queue = self.queues.get(row)
            if not queue:
                if self.eos_id in tokens or self.tok.tool_calls_id not in tokens:
                    continue
                call = self.calls.get(row, 0)
                if self.call_id_token is not None and tokens[-1] == self.call_id_token:
                    queue = self.id_tokens(row, call, segment=True)  # v11: [CALL_ID] was just written
                elif not self.json_calls:
                    continue
                else:
                    start = len(tokens) - tokens[::-1].index(self.tok.tool_calls_id)
                    if not _open_call_id(self.tok.decode(tokens[start:])):
                        continue
                    queue = self.id_tokens(row, call)
                self.calls[row] = call + 1
                self.queues[row] = queue
                self.filled += 1
            forced = queue.pop(0)
            scores[row, :] = -torch.inf
            scores[row, forced] = 0.0
        return scores


def decode_reply(ids: Sequence[int], tokenizer: "MistralV3Tokenizer") -> str:
    """Text of generated ids with control tokens kept as their pieces.

    Each run of ordinary tokens is decoded on its own (SentencePiece drops the ``▁`` that starts a
    segment, as mistral-common's decoder does), control tokens are written as ``[TOOL_CALLS]``,
    ``</s>`` ...; nothing after the first ``</s>`` is kept.
    """
    out: list[str] = []
    run: list[int] = []
    for token in ids:
        t = int(token)
        if tokenizer.is_control(t):
            if run:
                out.append(tokenizer.decode(run))
                run = []
            out.append(tokenizer.id_to_piece(t))
            if t == tokenizer.eos_id:
                break
        else:
            run.append(t)
    if run:
        out.append(tokenizer.decode(run))
    return "".join(out)


def generate_replies(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int = 256,
    batch_size: int = 16,
    eos_id: int = EOS_ID,
    pad_id: int = DEFAULT_PAD_ID,
    fill_ids: bool = False,
    tokenizer: "MistralV3Tokenizer | None" = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[list[int]]:
    """Greedy continuation of each prompt, up to and including its first ``</s>`` (or ``max_new_tokens``
    tokens when none comes). Returns one id list per prompt, in input order.

    ``model`` is any causal LM (PEFT-wrapped or not) on its device; it is put in eval mode (no dropout,
    no gradient checkpointing) and generates with its KV cache. ``fill_ids``: the decoder writes call ids
    (module docstring; needs ``tokenizer``, default the v3 one). ``on_batch(n)`` is called after each batch
    with the number of prompts done (for a progress bar).
    """
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    if fill_ids and tokenizer is None:
        from ..tokenizer import load_tokenizer

        tokenizer = load_tokenizer()

    if max_new_tokens < 1 or batch_size < 1:
        raise UsageError("max_new_tokens and batch_size must be at least 1")
    for i, p in enumerate(prompts):
        if len(p) == 0:
            raise UsageError(f"prompt {i} is empty")
    model.eval()
    device = next(model.parameters()).device
    gen_config = GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=1,
        use_cache=True,
    )
    order = sorted(range(len(prompts)), key=lambda i: (-len(prompts[i]), i))
    results: list[list[int] | None] = [None] * len(prompts)
    done = 0
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(prompts[i]) for i in chunk)
            ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                p = prompts[i]
                ids[row, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
                mask[row, width - len(p) :] = 1
            processors = LogitsProcessorList([IdFiller(tokenizer, width, eos_id, [prompts[i] for i in chunk])]) if fill_ids and tokenizer is not None else None
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=gen_config, logits_processor=processors)
            new = out[:, width:].tolist()
            for row, i in enumerate(chunk):
                tokens = new[row]
                if eos_id in tokens:
                    # rows that finished early are padded with pad_id after their </s>
                    tokens = tokens[: tokens.index(eos_id) + 1]
                results[i] = tokens
            done += len(chunk)
            if on_batch is not None:
                on_batch(done)
    return [r if r is not None else [] for r in results]
