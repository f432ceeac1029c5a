"""xLAM / APIGen (Salesforce xlam-function-calling-60k and the sets built like it): one query, the tools
it may use, and the calls that answer it::

    {"id": 0, "query": "Where can I find live giveaways for beta access and games?",
     "tools": "[{\\"name\\": \\"live_giveaways_by_type\\", \\"description\\": \\"...\\",
                \\"parameters\\": {\\"type\\": {\\"description\\": \\"...\\", \\"type\\": \\"str\\", \\"default\\": \\"game\\"}}}]",
     "answers": "[{\\"name\\": \\"live_giveaways_by_type\\", \\"arguments\\": {\\"type\\": \\"beta\\"}}, ...]"}

``tools`` and ``answers`` are JSON text (decoded lists are accepted too). The parameters are not a JSON
Schema: each parameter maps to ``{"type": "str, optional", "description", "default"}`` with Python type
expressions; they are built into one (:func:`.tools.declare`: ``parameters_schema_built``, types read
by :mod:`fcdata.schema_types`, ``required`` made of the parameters neither optional nor defaulted).
The record becomes the user's query and one assistant turn of the answer's (parallel) calls. An empty
answer list (xLAM's irrelevance rows) has no reply to train on and is refused (``empty_call_list``).
"""

from __future__ import annotations

from typing import Any

from ..read import Item
from .assemble import Context, assemble
from .encoding import KEY_ENCODER
from .finish import chat_outcome
from .markup import calls_from_value
from .outcome import Converted, Reject
from .tools import toolset_from_text
from .turns import Turn

__all__ = ["convert_xlam"]

_KNOWN = frozenset({"query", "tools", "answers"})


def convert_xlam(item: Item, value: dict[str, Any], fmt: str = "xlam") -> Converted:
    """Convert one xLAM row; raises :class:`Reject`."""
    query = value.get("query")
    if not isinstance(query, str):
        raise Reject("wrong_type" if query is not None else "missing_field", "query: an xLAM row needs the user's query as a string")
    repairs: list[str] = []
    tools = toolset_from_text(value.get("tools"), "tools", repairs)
    answers = value.get("answers")
    if answers is None:
        raise Reject("missing_field", "answers: an xLAM row needs its answer calls")
    if isinstance(answers, str) and answers.strip() in ("[]", ""):
        raise Reject("empty_call_list", "answers: an empty list of calls (an irrelevance row): there is no reply to train on")
    if answers == []:
        raise Reject("empty_call_list", "answers: an empty list of calls (an irrelevance row): there is no reply to train on")
    calls = calls_from_value(answers, "answers", repairs)
    ctx = Context(lambda: KEY_ENCODER.encode(value).encode("utf-8", "surrogatepass"))
    ctx.repairs.extend(repairs)
    messages = assemble([Turn("user", query), Turn("assistant", None, calls)], tools, ctx)
    extra = {k: v for k, v in value.items() if k not in _KNOWN} or None
    return chat_outcome(item, fmt, messages, tools, ctx, extra)
