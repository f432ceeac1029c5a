"""The tokenizer file of every instruct version that can carry tools, for the renderer's oracle tests.

mistral-common ships files for v3 (SentencePiece ``*.model.v3``; Tekken ``tekken_240718.json``) and v7
(SentencePiece ``*.model.v7``). For the Tekken versions it ships none of (v7, v11, v13, v15), a file is built
here the way mistral-common's own test suite builds one (``tests/test_tekken.py::get_special_tokens`` and
``tests/integrations/chat_templates/helpers.py::_build_tekken_json``): the shipped Tekken vocabulary and
pattern, ``config.version`` set, and the version's control tokens listed: the 20 legacy ones at ranks
0..19, ``[ARGS]`` at 32 and ``[CALL_ID]`` at 33 from v11 on, ``[MODEL_SETTINGS]`` at 37 and
``[/MODEL_SETTINGS]`` at 38 in v15 (with the settings builder mistral-common's tests use), fillers elsewhere. The layout is that of the
released models (Mistral Small 3.2 lists ``[ARGS]``=32, ``[CALL_ID]``=33); as in those files there are
1,000 control tokens and 131,072 ids in all. Written once per test process under a temporary folder.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from functools import lru_cache

import mistral_common

DATA = os.path.join(os.path.dirname(mistral_common.__file__), "data")

LEGACY = [
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]",
    "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]",
]  # fmt: skip

# version key -> (how it is had, file)
SHIPPED = {
    "v3": os.path.join(DATA, "mistral_instruct_tokenizer_240323.model.v3"),
    "v3-tekken": os.path.join(DATA, "tekken_240718.json"),
    "v7": os.path.join(DATA, "mistral_instruct_tokenizer_241114.model.v7"),
}
BUILT = {"v7-tekken": "v7", "v11": "v11", "v13": "v13", "v15": "v15"}
VERSION_KEYS = (*SHIPPED, *BUILT)
TOKENIZER_VERSION = {"v3": "v3", "v3-tekken": "v3", "v7": "v7", "v7-tekken": "v7", "v11": "v11", "v13": "v13", "v15": "v15"}

# the settings builder mistral-common's tests write into a v15 file (helpers.py::_build_tekken_json)
V15_SETTINGS_BUILDER = {"reasoning_effort": {"type": "enum", "accepts_none": True, "default": "none", "values": ["none", "high"]}, "json_schema": None}


def special_tokens(version: str, count: int = 1000) -> list[dict]:
    names = list(LEGACY) + [f"<SPECIAL_{i}>" for i in range(len(LEGACY), count)]
    if version not in ("v3", "v7"):
        names[32], names[33] = "[ARGS]", "[CALL_ID]"
    if version == "v15":
        names[37], names[38] = "[MODEL_SETTINGS]", "[/MODEL_SETTINGS]"
    return [{"rank": i, "token_str": n, "is_control": True} for i, n in enumerate(names)]


_DIR: list[str] = []


def _folder() -> str:
    if not _DIR:
        _DIR.append(tempfile.mkdtemp(prefix="fcdata-tekken-"))
        atexit.register(shutil.rmtree, _DIR[0], True)
    return _DIR[0]


@lru_cache(maxsize=None)
def tokenizer_path(key: str) -> str:
    """The file of a version key (``v3``, ``v3-tekken``, ``v7``, ``v7-tekken``, ``v11``, ``v13``)."""
    if key in SHIPPED:
        return SHIPPED[key]
    version = BUILT[key]
    with open(os.path.join(DATA, "tekken_240718.json"), encoding="utf-8") as fh:
        base = json.load(fh)
    data = {
        "config": {
            "pattern": base["config"]["pattern"],
            "default_vocab_size": base["config"]["default_vocab_size"],
            "default_num_special_tokens": 1000,
            "version": version,
        },
        "vocab": base["vocab"],
        "special_tokens": special_tokens(version),
    }
    if version == "v15":
        data["model_settings_builder"] = V15_SETTINGS_BUILDER
    folder = os.path.join(_folder(), key)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "tekken.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return path
