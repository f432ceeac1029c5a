"""Rendering: canonical records -> token ids + loss masks for a model's chat format.

One renderer per format version, named after it; Mistral v0.3 (v3 tokenizer) is the one fcdata
targets (:mod:`fcdata.render.mistral_v3`, which says which reference it mirrors and the rules it follows).
"""

from __future__ import annotations

from .mistral_v3 import KINDS, MODES, Dropped, Rendered, Sample, Span, render, render_prompt, render_records

__all__ = ["render", "render_prompt", "render_records", "Sample", "Span", "Rendered", "Dropped", "KINDS", "MODES"]
