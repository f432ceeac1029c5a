"""The worker pool stops at once when its run fails or is interrupted, and leaves nothing that exit waits for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fcdata.pool import ordered_map, worker_pool


def _big(n: int) -> bytes:
    return b"x" * (n << 20)  # n MiB: a result whose sending takes long enough to be cut in the middle


def test_an_interrupted_pool_is_killed_and_its_manager_thread_ends() -> None:
    """Interrupted while 32 MiB results stream back, the pool's workers are killed mid-send; the
    executor's manager thread (which interpreter exit joins: a hang at exit before) must end too."""
    before = set(threading.enumerate())
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        with worker_pool(2) as pool:
            for k, _ in enumerate(ordered_map(pool, _big, [32] * 16)):
                if k == 1:
                    raise KeyboardInterrupt
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=15)
        assert not thread.is_alive(), f"{thread.name} still runs after the pool was stopped"
    assert time.perf_counter() - started < 30


_SCRIPT = r"""
import os, signal, sys
from fcdata.pool import ordered_map, worker_pool

def terminate(signum, frame):  # what the CLI does with SIGTERM (fcdata.cli.main), inherited by forked workers
    raise SystemExit(128 + signum)

signal.signal(signal.SIGTERM, terminate)

def big(n):
    return b"x" * (n << 20)

with worker_pool(2) as pool:
    for k, _ in enumerate(ordered_map(pool, big, [32] * 64)):
        if k == 1:
            os.killpg(0, signal.SIGTERM)  # as `timeout` and a closing terminal signal the whole group
"""


@pytest.mark.parametrize("attempt", range(3))
def test_sigterm_to_the_process_group_ends_the_run(attempt: int, tmp_path: Path) -> None:
    """SIGTERM reaching the parent and its workers while results stream back: exit 143, promptly. Before,
    the workers turned it into SystemExit part-way through sending a result, and the parent's exit waited
    for the rest of it for ever."""
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the run hung after SIGTERM")
    assert proc.returncode == 143, err.decode()[-2000:]
