"""Rendering: canonical records -> token ids + loss masks (1 = trained), for every Mistral instruct
tokenizer version that can carry tools, along mistral-common's own seams.

- :mod:`fcdata.normalize` (the normaliser: role order, merging; shared with validate),
- an encoder per version (:mod:`~fcdata.render.v3` -> :mod:`~fcdata.render.v7` ->
  :mod:`~fcdata.render.v11` -> :mod:`~fcdata.render.v13` -> :mod:`~fcdata.render.v15`, each a small subclass whose docstring states
  its delta, chosen by :mod:`~fcdata.render.encoders` from the tokenizer's version),
- the sample planner (:mod:`~fcdata.render.planner`: exact / single / last, ``max_length``),
- typed spans and masks (:mod:`~fcdata.render.spans`, :mod:`~fcdata.render.segments`).

Reference, token for token: mistral-common's ``MistralTokenizer.encode_chat_completion`` in fine-tuning
mode for the tokenizer file given. Masks follow one rule for every version: the text of trained
assistant turns, their calls with the control tokens that write them (``[TOOL_CALLS]``, ``[ARGS]``,
``[CALL_ID]``) and each closing ``</s>`` are trained; ``<s>``, user and system text, the tools block, tool
results, ``weight: 0`` turns and every token holding a character of a call id are not.

Samples (``mode``): where the tools block (v3-v11) or the system prompt (v3) sits with the last user
message, one full-conversation sample gives early assistant turns a context they never see at inference.

- ``exact`` (default): every trained token sees exactly what mistral-common encodes for its conversation
  prefix. Where the context moves, one sample per user turn followed by trained turns (cut after that
  turn's last trained message, only its turns trained); where nothing moves (v13, v15; v7/v11
  without tools) one sample.
- ``single``: one sample, the whole conversation, every trained assistant turn trained.
- ``last``: one sample, the whole conversation, only the final assistant turn trained.

``max_length``: a sample is never cut inside a turn. One that is too long loses its earliest user
exchanges before the trained part (keeping system messages and the tools block), which is exactly what
mistral-common encodes for the shortened conversation, or is dropped; both are reported.

``fcdata.render(record)`` works as well as ``fcdata.render.render(record)``: the package is callable (see
the end of this file), because the package and its main function share one name.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .api import render, render_prompt, render_records
from .encoders import ENCODERS, encoder_for
from .spans import KINDS, MODES, Dropped, Rendered, Sample, Span

__all__ = ["render", "render_prompt", "render_records", "Sample", "Span", "Rendered", "Dropped", "KINDS", "MODES", "ENCODERS", "encoder_for"]


class _CallablePackage(types.ModuleType):
    """``import fcdata.render`` binds the attribute ``fcdata.render`` to this package, which would hide
    the function ``fcdata.render`` that the top-level package exports under the same name; calling the
    package calls :func:`render`, so ``fcdata.render(record)`` works whatever was imported first (the
    same arrangement as :mod:`fcdata.score`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> list[Sample]:
        return render(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
