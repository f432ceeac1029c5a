"""Rendering: canonical records -> token ids + loss masks for a model's chat format.

One renderer per format version, named after it; Mistral v0.3 (v3 tokenizer) is the one fcdata
targets (:mod:`fcdata.render.mistral_v3`, which says which reference it mirrors and the rules it follows).

``fcdata.render(record)`` works as well as ``fcdata.render.render(record)``: the package is callable (see
the end of this file), because the package and its main function share one name.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .mistral_v3 import KINDS, MODES, Dropped, Rendered, Sample, Span, render, render_prompt, render_records

__all__ = ["render", "render_prompt", "render_records", "Sample", "Span", "Rendered", "Dropped", "KINDS", "MODES"]


class _CallablePackage(types.ModuleType):
    """``import fcdata.render`` binds the attribute ``fcdata.render`` to this package, which would hide
    the function ``fcdata.render`` that the top-level package exports under the same name; calling the
    package calls :func:`render`, so ``fcdata.render(record)`` works whatever was imported first (the
    same arrangement as :mod:`fcdata.score`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> list[Sample]:
        return render(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
