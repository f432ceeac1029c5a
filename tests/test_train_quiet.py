"""A train run prints what fcdata says, not bitsandbytes' notice about a CPU kernel it could not fetch
(issue 17, setup and noise): peft imports bitsandbytes on every run, and on a CPU with AVX-512 BF16
bitsandbytes logged ``Failed to load CPU gemm_4bit_forward from kernels-community`` each time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_a_train_run_prints_no_bitsandbytes_kernel_notice(tmp_path: Path) -> None:
    command = "train"
    pytest.importorskip("peft")
    data = tmp_path / "eight.jsonl"  # eight records of the bundled example: the run is what matters
    data.write_text("".join((ROOT / "examples" / "synth_sample.jsonl").read_text().splitlines(keepends=True)[:8]))
    args = [command, str(data), "-o", str(tmp_path / "run"), "--model", "tiny-mistral", "--max-steps", "1", "--batch-size", "1", "--grad-accum", "1", "--max-length", "512"]
    proc = subprocess.run([sys.executable, "-c", "from fcdata.cli.main import cli; cli()", *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "loss first -> last" in proc.stdout
    assert "gemm_4bit_forward" not in proc.stderr and "kernels-community" not in proc.stderr, proc.stderr


def test_the_filter_drops_exactly_that_message() -> None:
    import logging

    from fcdata.train.quiet import _DropKernelNotice

    f = _DropKernelNotice()
    make = lambda msg: logging.LogRecord("bitsandbytes.backends.cpu.ops", logging.WARNING, __file__, 1, msg, ("x",), None)
    assert not f.filter(make("Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure"))
    assert f.filter(make("something else bitsandbytes says: %s"))
