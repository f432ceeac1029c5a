"""Score tool-call predictions: fcdata's own metrics against reference turns, and the Berkeley Function
Calling Leaderboard's AST checker reproduced rule for rule.

Modules, one job each:

- :mod:`~fcdata.score.parse`: a reply (raw Mistral v0.3 text or structured calls) -> text, calls, or a
  parse failure;
- :mod:`~fcdata.score.compare`: one prediction against one reference turn (fcdata's metrics);
- :mod:`~fcdata.score.bfcl`: BFCL's checker and categories;
- :mod:`~fcdata.score.bfcl_prompts`: BFCL questions -> canonical prompt records (BFCL's tool mapping);
- :mod:`~fcdata.score.report`: verdicts and totals, the JSON report;
- :mod:`~fcdata.score.scoring`: the runs (:func:`score`, :func:`score_bfcl`): ids, matching, rejects.

``fcdata.score(...)`` works as well as ``fcdata.score.score(...)``: the package is callable (see the end
of this file), because the package and its main function share one name.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .bfcl import BfclResult, UnsupportedQuestion, category_of, check_call, check_decoded, standardize
from .bfcl_prompts import bfcl_prompt_ids, bfcl_record, bfcl_records, bfcl_tools
from .compare import ERROR_TYPES, Comparison, Reference, compare
from .parse import Call, ParsedReply, parse_reply, parse_reply_ids, reply_from_calls, reply_from_prediction
from .report import ItemVerdict, Rejected, ScoreReport
from .scoring import score, score_bfcl

__all__ = [
    "score",
    "score_bfcl",
    "parse_reply",
    "parse_reply_ids",
    "reply_from_prediction",
    "reply_from_calls",
    "ParsedReply",
    "Call",
    "compare",
    "Reference",
    "Comparison",
    "ERROR_TYPES",
    "ScoreReport",
    "ItemVerdict",
    "Rejected",
    "BfclResult",
    "UnsupportedQuestion",
    "category_of",
    "check_call",
    "check_decoded",
    "standardize",
    "bfcl_tools",
    "bfcl_record",
    "bfcl_records",
    "bfcl_prompt_ids",
]


class _CallablePackage(types.ModuleType):
    """``import fcdata.score`` binds the attribute ``fcdata.score`` to this package, which would hide
    the function ``fcdata.score`` that the top-level package exports under the same name; calling the
    package calls :func:`score`, so both spellings work whatever was imported first."""

    def __call__(self, *args: Any, **kwargs: Any) -> ScoreReport:
        return score(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
