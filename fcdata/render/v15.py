"""The v15 encoder: mistral-common's ``InstructTokenizerV15`` after ``InstructRequestNormalizerV15``.

Delta from v13 (:mod:`fcdata.render.v13`): the first user turn also carries a model-settings block,
``[MODEL_SETTINGS] json [/MODEL_SETTINGS]``, right after the tools block. The settings come from the
settings builder stored in the tokenizer file (``model_settings_builder``: which reasoning efforts the
model accepts, and the default). fcdata records carry no settings of their own, so every record gets the
builder's defaults, as a request that names none gets them from mistral-common; the JSON holds them with
their names sorted (``{"reasoning_effort": "none"}``). Defaults that are all unset write no block.
"""

from __future__ import annotations

from typing import Any

from ..errors import TokenizerError
from ..normalize import Conversation, Rules, Turn
from ..tokenizer import Tokenizer
from .segments import Control, Piece, Segment, dumps
from .spans import SETTINGS
from .v13 import EncoderV13

__all__ = ["EncoderV15"]


class EncoderV15(EncoderV13):
    """v13 plus the model-settings block (the builder's defaults) with the first user turn."""

    version = "v15"
    rules = Rules(systems_in_place=True, content_with_calls=True, sort_tool_results=True, version="v15")
    carrier_always = True  # the first user turn differs from its plain form even without tools

    def __init__(self, tok: Tokenizer) -> None:
        super().__init__(tok)
        self.settings = self._default_settings(tok)

    @staticmethod
    def _default_settings(tok: Tokenizer) -> Segment | None:
        spec = getattr(tok, "model_settings_builder", None)
        if spec is None:
            raise TokenizerError(f"{tok.path}: a v15 tokenizer file needs a model_settings_builder (mistral-common refuses it too)")
        from mistral_common.protocol.instruct.request import ChatCompletionRequest, ModelSettings
        from mistral_common.tokens.tokenizers.model_settings_builder import ModelSettingsBuilder

        try:
            builder = ModelSettingsBuilder.model_validate(spec)
            settings = builder.build_settings(ChatCompletionRequest(messages=[{"role": "user", "content": ""}]))
        except Exception as exc:  # a builder mistral-common cannot read
            raise TokenizerError(f"{tok.path}: unusable model_settings_builder ({exc})") from exc
        if settings == ModelSettings.none():
            return None
        dumped = settings.model_dump(exclude_none=True)
        return Segment(dumps({k: dumped[k] for k in sorted(dumped)}), None, -1, SETTINGS)

    def require_instruct(self, what: str) -> None:
        super().require_instruct(what)
        if self.settings is not None and (self.tok.special("[MODEL_SETTINGS]") is None or self.tok.special("[/MODEL_SETTINGS]") is None):
            raise TokenizerError(f"{self.tok.path}: a v15 tokenizer has no [MODEL_SETTINGS]/[/MODEL_SETTINGS] control tokens and cannot render {what}")

    def user(self, conv: Conversation, turn: Turn, tools: Segment | None, nsys: int, *, carrier: bool = False) -> list[Piece]:
        pieces = super().user(conv, turn, tools, nsys)
        if carrier and self.settings is not None:
            at = len(pieces) - 3  # before [INST] text [/INST]
            tok = self.tok
            pieces[at:at] = [Control(tok.special("[MODEL_SETTINGS]"), -1, False), self.settings, Control(tok.special("[/MODEL_SETTINGS]"), -1, False)]  # type: ignore[arg-type]
        return pieces

    def extra_texts(self) -> list[str]:
        return [self.settings.text] if self.settings is not None else []

    def context_moves(self, record: Any) -> bool:
        return False
