"""Silencing the one warning of the training stack that says nothing to an fcdata user.

bitsandbytes, when imported on a CPU with AVX-512 BF16, tries to fetch a 4-bit CPU kernel from the
Hugging Face hub through the optional ``kernels`` package and logs ``Failed to load CPU
gemm_4bit_forward from kernels-community: No module named 'kernels'...``. peft imports bitsandbytes
whenever it is installed (``peft.helpers``), so every ``fcdata train``/``eval``/``train-eval`` printed it,
4-bit or not; fcdata never runs 4-bit on a CPU (``--qlora`` needs a CUDA GPU). Exactly that message is
dropped by a filter on bitsandbytes' logger; everything else it logs still shows.
"""

from __future__ import annotations

import logging

__all__ = ["silence_bitsandbytes_kernel_notice"]

_LOGGER = "bitsandbytes.backends.cpu.ops"
_MESSAGE = "Failed to load CPU gemm_4bit_forward from kernels-community"


class _DropKernelNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_MESSAGE)


def silence_bitsandbytes_kernel_notice() -> None:
    """Install the filter (once); must run before bitsandbytes is first imported, which logs on import."""
    logger = logging.getLogger(_LOGGER)
    if not any(isinstance(f, _DropKernelNotice) for f in logger.filters):
        logger.addFilter(_DropKernelNotice())
