"""Trajectory dumps: OpenAI-style messages kept under another key by the tool that ran the agent.

============================================  =============================================================
where the messages are                        who writes it
============================================  =============================================================
``traj`` (+ ``reward``, ``info``, ``task_id``)  tau-bench's result files, and APIGen-MT trajectories dumped
                                              the same way
``trajectory``, ``train_messages``            agent loggers
``answer_generation.train_messages``          ToolBench (ToolLLaMA's training data): one message list per
                                              step of its depth-first search, tools in
                                              ``answer_generation.function``
============================================  =============================================================

The messages are read as OpenAI messages (:func:`.openai.convert_messages`: ToolBench's are the legacy
``function_call`` / role ``function`` form). Tools are taken from ``tools`` or ``functions`` beside the
messages or at the top of the record; bare function declarations are read as the legacy ``functions``
list. When the messages are a list of message lists (ToolBench), the last one is the whole path that
ended the search and is kept; the others are its earlier steps or abandoned branches
(``trajectory_last_path_kept``, their number in ``metadata.trajectory_paths_dropped``). Other top-level
values that are plain (ids, rewards, names) go to ``metadata.source_extra``; nested ones (ToolBench's
search tree, tau-bench's task info) are not kept, their keys listed in ``metadata.dropped_keys``.
"""

from __future__ import annotations

import json
from typing import Any

from ..read import Item
from .detect import trajectory_messages
from .openai import convert_messages
from .outcome import Converted, Reject
from .tools import read_declarations

__all__ = ["convert_trajectory"]


def _declarations(value: dict[str, Any], parent: dict[str, Any], repairs: list[str]) -> tuple[Any, bool]:
    for holder in (parent, value):
        for key in ("tools", "functions", "function"):
            if key in holder and holder[key] not in (None, [], ""):
                decls = read_declarations(holder[key], key, repairs)
                bare = isinstance(decls, list) and all(isinstance(d, dict) and "type" not in d for d in decls)
                return decls, bare
    return None, False


def convert_trajectory(item: Item, value: dict[str, Any], fmt: str = "trajectory") -> Converted:
    """Convert one trajectory dump; raises :class:`Reject`."""
    found = trajectory_messages(value)
    if found is None:
        if isinstance(value.get("answer_generation"), dict):
            valid = value["answer_generation"].get("valid_data")
            raise Reject("missing_field", f"answer_generation: no train_messages (ToolBench keeps none for a search it marks valid_data={json.dumps(valid)})")
        raise Reject("missing_field", "no messages under traj, trajectory, train_messages or answer_generation.train_messages")
    path, messages = found
    parent = value.get("answer_generation") if path.startswith("answer_generation.") else value
    repairs: list[str] = []
    notes: dict[str, Any] = {"source_shape": f"messages under {path}"}
    if messages and all(isinstance(m, list) for m in messages):
        if len(messages) > 1:
            repairs.append("trajectory_last_path_kept")
            notes["trajectory_paths_dropped"] = len(messages) - 1
        messages = messages[-1]
    decls, bare = _declarations(value, parent, repairs)
    top = path.split(".")[0]
    plain = {k: v for k, v in value.items() if k != top and k not in ("tools", "functions") and (v is None or isinstance(v, (str, int, float, bool)))}
    dropped = [k for k in value if k != top and k not in ("tools", "functions") and k not in plain]
    if dropped:
        notes["dropped_keys"] = dropped
    return convert_messages(item, value, fmt, messages, decls, legacy=bare, repairs=repairs, extra=plain or None, notes=notes)
