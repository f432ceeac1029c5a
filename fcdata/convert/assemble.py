"""From a source's turns to a canonical record that passes ``fcdata validate`` with no errors.

Every chat format is first read into a list of :class:`~.turns.Turn`\\ s (roles system/user/assistant/tool,
assistant turns holding text and/or calls, results with or without ids) and a :class:`~.tools.ToolSet`.
:func:`assemble` then applies the rules all formats share, in this order:

0. read calls written as markup in assistant text (``<tool_call>``, ``<TOOLCALL>``, ``[TOOL_CALLS]``
   as text...) into calls, or reject the record (:mod:`.markup`): trained as text, that markup would
   teach the model to print it instead of calling;
1. merge what Mistral v0.3 would merge anyway, deciding where it cannot be encoded:
   consecutive user turns are joined with a blank line (``consecutive_user_merged``), consecutive
   assistant texts too (``consecutive_assistant_merged``), consecutive call turns become one turn of
   parallel calls (``consecutive_calls_merged``); text before a call, in the same turn
   (``text_before_call_dropped``) or as the assistant turn right before it
   (``text_turn_before_call_dropped``), is removed from the trained turn and kept in
   ``metadata.dropped_text`` — mistral-common cannot encode text with calls and merges consecutive
   assistant turns, and training on a preamble teaches the model to stop before calling. For a
   tokenizer version that encodes text then calls in one turn (v7 on: :data:`KEEP_TEXT_WITH_CALLS`)
   the text stays: in its own turn, or joined to the call turn after it, as mistral-common's merge of
   consecutive assistant messages joins them (``text_turn_joined_to_calls``);
   empty assistant turns are dropped (``empty_turn_dropped``);
2. cut the tail after the last assistant turn (``trailing_user_dropped``,
   ``trailing_tool_result_dropped``): a training record must end with an assistant turn, and calls of
   the final turn need no results;
3. one pass over the result: role order as mistral-common allows it, every call resolved against the
   declared functions (respelled when unambiguous), its arguments checked against the declared schema,
   a 9-character id (kept, remapped or made from the content, :mod:`.ids`), every result linked to a
   pending call (by id, else by function name, else by order) and named after it, every call answered
   before the next assistant turn.

Anything that cannot be repaired raises :class:`~.outcome.Reject` with a code (the same code the
validator would report where the two meet, e.g. ``call_unanswered``, ``undeclared_function``,
``arguments_schema``).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable

from ..call_markup import find_reasoning_markup, is_python_call_list, split_reasoning
from ..records import NEXT_ROLES
from ..schema_guard import begin_record, end_record
from .ids import CALL_ID_RE, CallIds
from .markup import read_markup
from .outcome import Reject
from .tools import ToolSet
from .turns import Call, Turn

__all__ = ["Turn", "Call", "Context", "assemble", "KEEP_TEXT_WITH_CALLS"]

_NEXT = NEXT_ROLES


# Whether the records converted now are for a tokenizer version that encodes an assistant turn of text
# then calls (v7 on). A context variable rather than a parameter: every converter builds its own
# Context, and the choice belongs to the run, not to a format; :func:`~.dispatch.convert_item` sets it
# for each record from its ``rules``.
KEEP_TEXT_WITH_CALLS: ContextVar[bool] = ContextVar("fcdata_keep_text_with_calls", default=False)


class Context:
    """Per-record state of a conversion: the repairs made so far, notes for ``metadata``, and the source
    content the call ids are derived from (a callable, so it is only built for records with calls)."""

    __slots__ = ("repairs", "notes", "content_key", "link_repair", "name_results", "keep_text_with_calls")

    def __init__(self, content_key: Callable[[], bytes], *, link_repair: bool = False, name_results: bool = True) -> None:
        self.repairs: list[str] = []
        self.notes: dict[str, Any] = {}
        self.content_key = content_key
        # record a repair when results without ids are linked (OpenAI data should have ids; Glaive and
        # ShareGPT never do, so linking them is just reading the format)
        self.link_repair = link_repair
        # give every tool result the name of the function it answers (formats without one); OpenAI-style
        # records keep a name only where they have one, so canonical records pass through unchanged
        self.name_results = name_results
        # v7+: text before calls stays in the trained turn (v3 cannot encode it there)
        self.keep_text_with_calls = KEEP_TEXT_WITH_CALLS.get()

    def note(self, key: str, value: Any) -> None:
        self.notes.setdefault(key, []).append(value)


def _short_text(text: str) -> str:
    return repr(text[:40] + "..." if len(text) > 40 else text)


def _reasoning_markup(turns: list[Turn], ctx: Context) -> None:
    """Reasoning written as text in a reply (``<think>...</think>`` of R1/Qwen3-style data, stray tags
    of copies of it): a leading block is dropped as reasoning (kept in ``metadata.reasoning``), a lone
    tag at either end removed; any other reasoning markup rejects the record, since Mistral v0.3 has no
    reasoning channel and the tags would be trained as text."""
    for i, t in enumerate(turns):
        if t.role != "assistant" or not t.content or find_reasoning_markup(t.content) is None:
            continue
        try:
            reasoning, reply, stray = split_reasoning(t.content)
        except ValueError as exc:
            raise Reject("reasoning_markup_text", f"an assistant reply ({_short_text(t.content)}) holds the reasoning tag {exc.args[0]!r} inside its text (not one leading <think> block), so reasoning and reply cannot be told apart; Mistral v0.3 has no reasoning channel and would train the tags as text") from None
        if reasoning is not None:
            ctx.repairs.append("reasoning_dropped")
            # (the turn's index here is not the source message's: results split, systems read apart)
            ctx.note("reasoning", {"message": None, "text": reasoning})
        if stray:
            ctx.repairs.append("stray_reasoning_tag_removed")
        t.content = reply or None


def _read_markup(turns: list[Turn], ctx: Context) -> None:
    """Calls written as markup in assistant text (``<tool_call>``, ``<TOOLCALL>``...) become the turn's
    calls (:mod:`.markup`); the text before them stays (and is dropped by :func:`_merge` on v3), the
    text after them is dropped."""
    for i, t in enumerate(turns):
        if t.role == "assistant" and t.content and not t.calls:
            found = read_markup(t.content, ctx.repairs, f"messages[{i}].content")
            if found is None:
                if is_python_call_list(t.content):
                    # ToolACE's call syntax in a format that does not read it (a forced --from sharegpt)
                    raise Reject("call_markup_text", f"messages[{i}].content: the reply is a list of calls in Python syntax ({t.content.strip()[:60]!r}), as ToolACE writes them; trained as text it would teach the model to print it: convert with --from toolace, which reads it into calls")
                continue
            before, calls, after = found
            t.content = before.strip() or None
            t.calls = calls
            if after:
                ctx.repairs.append("text_after_call_dropped")
                ctx.note("dropped_text", {"message": None, "text": after})


def _merge(turns: list[Turn], ctx: Context) -> list[Turn]:
    out: list[Turn] = []
    keep = ctx.keep_text_with_calls
    for t in turns:
        role = t.role
        if role == "assistant":
            prev = out[-1] if out else None
            follows = prev is not None and prev.role == "assistant" and prev.weight == t.weight
            # v3 cannot encode text with calls; no version can keep text that would sit between two call
            # turns merged into one (mistral-common's merge would move it before the first turn's calls)
            if t.calls and t.content and (not keep or (follows and prev is not None and prev.calls)):
                ctx.repairs.append("text_before_call_dropped")
                ctx.note("dropped_text", {"message": len(out), "text": t.content})
                t.content = None
            if not t.calls and not t.content:
                ctx.repairs.append("empty_turn_dropped")
                continue
            if follows and prev is not None:
                if prev.content and t.content and not prev.calls and not t.calls:
                    ctx.repairs.append("consecutive_assistant_merged")
                    prev.content = prev.content + "\n\n" + t.content
                    continue
                if prev.content and not prev.calls and t.calls:
                    if keep:
                        ctx.repairs.append("text_turn_joined_to_calls")
                        t.content = prev.content + "\n\n" + t.content if t.content else prev.content
                    else:
                        ctx.repairs.append("text_turn_before_call_dropped")
                        ctx.note("dropped_text", {"message": len(out) - 1, "text": prev.content})
                    out[-1] = t
                    continue
                if prev.calls and t.calls:
                    ctx.repairs.append("consecutive_calls_merged")
                    prev.calls = prev.calls + t.calls
                    continue
            out.append(t)
        elif role == "user" and out and out[-1].role == "user":
            ctx.repairs.append("consecutive_user_merged")
            prev = out[-1]
            prev.content = (prev.content or "") + "\n\n" + (t.content or "")
        else:
            out.append(t)
    return out


def _trim_tail(turns: list[Turn], ctx: Context) -> None:
    while turns and turns[-1].role != "assistant":
        dropped = turns.pop()
        if dropped.role == "tool":
            ctx.repairs.append("trailing_tool_result_dropped")
        elif dropped.role == "user":
            ctx.repairs.append("trailing_user_dropped")
        else:
            ctx.repairs.append("trailing_system_dropped")


def assemble(turns: list[Turn], tools: ToolSet, ctx: Context) -> list[dict[str, Any]]:
    """The canonical ``messages`` of a record (see the module docstring); raises :class:`Reject`."""
    if not tools.checks:
        return _assemble(turns, tools, ctx)
    budget = begin_record()  # one bound on the schema work of the record's calls
    try:
        return _assemble(turns, tools, ctx)
    finally:
        end_record(budget)


def _assemble(turns: list[Turn], tools: ToolSet, ctx: Context) -> list[dict[str, Any]]:
    if not turns:
        raise Reject("empty_conversation", "the record has no messages")
    _reasoning_markup(turns, ctx)
    _read_markup(turns, ctx)
    out = _merge(turns, ctx)
    _trim_tail(out, ctx)
    if not out:
        raise Reject("no_assistant_turn", "the record has no assistant turn to train on")
    if len(out) == 1:
        raise Reject("single_message", "only an assistant message is left; a training record needs the turn it answers")

    reserved: set[str] = set()
    for t in out:
        if t.calls:
            for c in t.calls:
                if c.id is not None and CALL_ID_RE.match(c.id):
                    reserved.add(c.id)
    ids: CallIds | None = None
    id_map: dict[str, str] = {}
    earlier: set[str] = set()
    # calls of the latest assistant turn: [id, function name, answered]
    pending: list[list[Any]] = []
    messages: list[dict[str, Any]] = []
    remapped: list[list[str]] = []
    prev: str | None = None
    repairs = ctx.repairs

    for i, t in enumerate(out):
        role = t.role
        if prev is not None and role not in _NEXT[prev]:
            if role == "tool":
                raise Reject("tool_result_unlinked", f"messages[{i}]: a tool result follows a {prev} message instead of a call")
            raise Reject("role_order", f"messages[{i}]: a {role} message cannot follow a {prev} message (Mistral v0.3 accepts after {prev}: {', '.join(sorted(_NEXT[prev]))})")
        if role == "assistant":
            for entry in pending:
                if not entry[2]:
                    raise Reject("call_unanswered", f"messages[{i}]: call {entry[1]!r} of the previous assistant turn gets no result before this turn")
            for entry in pending:
                earlier.add(entry[0])
            pending = []
            if t.calls:
                if ids is None:
                    ids = CallIds(ctx.content_key(), reserved)
                out_calls = []
                for j, call in enumerate(t.calls):
                    where = f"messages[{i}].tool_calls[{j}]"
                    name = tools.resolve(call.name, repairs, where)
                    errors = tools.argument_errors(name, call.arguments)
                    if errors:
                        raise Reject("arguments_schema", f"{where}: the arguments of {name} break its declared parameters: {'; '.join(errors)}")
                    cid, kept = ids.next(call.id)
                    if call.id is not None:
                        if not kept:
                            repairs.append("call_id_remapped")
                            remapped.append([call.id, cid])
                        id_map[call.id] = cid
                    elif ctx.link_repair:
                        repairs.append("call_id_added")
                    out_calls.append({"id": cid, "type": "function", "function": {"name": name, "arguments": call.arguments}})
                    pending.append([cid, name, False])
                msg: dict[str, Any] = {"role": "assistant", "content": t.content, "tool_calls": out_calls} if t.content else {"role": "assistant", "tool_calls": out_calls}
            else:
                msg = {"role": "assistant", "content": t.content}
            if t.weight is not None:
                msg["weight"] = t.weight
        elif role == "tool":
            entry = _link(t, i, pending, id_map, earlier, tools, ctx)
            entry[2] = True
            msg = {"role": "tool", "content": t.content, "tool_call_id": entry[0]}
            if ctx.name_results or t.name is not None:
                msg["name"] = entry[1]
        else:
            msg = {"role": role, "content": t.content}
        messages.append(msg)
        prev = role
    if remapped:
        ctx.notes["remapped_ids"] = remapped
    return messages


def _link(t: Turn, i: int, pending: list[list[Any]], id_map: dict[str, str], earlier: set[str], tools: ToolSet, ctx: Context) -> list[Any]:
    """The pending call a tool result answers (by id; else by function name; else the first unanswered)."""
    if t.call_id is not None:
        target = id_map.get(t.call_id, t.call_id)
        for entry in pending:
            if entry[0] == target:
                if entry[2]:
                    raise Reject("tool_result_duplicate", f"messages[{i}]: a second result for call {t.call_id!r}")
                _check_result_name(t, entry, tools, ctx)
                return entry
        if target in earlier:
            raise Reject("call_answered_late", f"messages[{i}]: the result for call {t.call_id!r} comes after the next assistant turn")
        raise Reject("tool_result_unlinked", f"messages[{i}]: no call of the previous assistant turn has id {t.call_id!r}")
    open_calls = [e for e in pending if not e[2]]
    if not open_calls:
        if pending:
            raise Reject("tool_result_unlinked", f"messages[{i}]: more tool results than calls ({len(pending)} call(s) already answered)")
        raise Reject("tool_result_unlinked", f"messages[{i}]: a tool result with no call before it")
    chosen = open_calls[0]
    if t.name is not None and t.name != chosen[1]:
        wanted = _resolved(t.name, tools)
        for e in open_calls:
            if e[1] == wanted:
                chosen = e
                break
    if ctx.link_repair:
        ctx.repairs.append("tool_result_linked")
    _check_result_name(t, chosen, tools, ctx)
    return chosen


def _resolved(name: str, tools: ToolSet) -> str | None:
    try:
        return tools.resolve(name, [], "")
    except Reject:
        return None


def _check_result_name(t: Turn, entry: list[Any], tools: ToolSet, ctx: Context) -> None:
    if t.name is not None and t.name != entry[1] and _resolved(t.name, tools) != entry[1]:
        ctx.repairs.append("tool_result_name_fixed")
        ctx.note("renamed_results", {"from": t.name, "to": entry[1]})
