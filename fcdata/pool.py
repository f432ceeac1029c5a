"""The one worker pool: ordered results, bounded memory, one start policy, workers that die with their
parent.

``convert`` and ``prepare`` (files and in-memory records alike) hand batches to :func:`ordered_map`.
Why a thin layer over :class:`concurrent.futures.ProcessPoolExecutor` rather than ``datasets.map``:
the inputs are streams of any size and the outputs are written as results arrive, in input order, so
that memory stays flat and the bytes are the same for any number of workers; ``datasets.map`` needs
the whole data set materialised as Arrow first.

Start policy: fork when this process runs a single thread (a fork is then safe, costs milliseconds, and
the workers inherit loaded modules and tokenizers), else spawn (safe with threads; half a second per
worker). Progress bars run no monitor thread (:mod:`fcdata.cli.common`), so a bar does not force spawn.

Workers die with their parent: a killed ``fcdata`` (SIGTERM, SIGKILL, a closed terminal) must not leave
processes that hold its standard error open, hanging whoever reads it. On Linux the kernel sends each
worker SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); elsewhere a watchdog thread in the worker
checks its parent once a second. Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the
parent alone decides how to stop (tracebacks from every worker help nobody). SIGTERM and SIGHUP kill a
worker at once, and a pool whose run failed or was interrupted is killed rather than waited for
(:func:`_stop_now`): waiting on workers cut off mid-result is how a terminated run used to hang.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections import deque
from typing import Any, Callable, Iterable, Iterator, TypeVar

__all__ = ["ordered_map", "worker_pool", "start_context", "WorkerPool"]

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1


def start_context() -> Any:
    """The multiprocessing context workers start with (see the module docstring)."""
    import multiprocessing

    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _die_with_parent(parent: int) -> None:
    """Worker initialiser: end this process when ``parent`` ends; leave Ctrl-C to the parent; die at once
    on SIGTERM/SIGHUP. A forked worker inherits the CLI's handler that turns SIGTERM into ``SystemExit``,
    which the executor's worker loop would catch and try to send back through a pipe the stopping parent
    no longer reads: both then wait for ever (seen about once in ten `timeout -s TERM` runs of
    ``prepare --num-proc 4``). A worker writes no file, so dying is all it has to do."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)

    def watch() -> None:
        import time

        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="fcdata-parent-watch", daemon=True).start()


class WorkerPool:
    """Started worker processes (:func:`worker_pool`) and how many there are."""

    def __init__(self, executor: Any, workers: int) -> None:
        self.executor = executor
        self.workers = workers


@contextlib.contextmanager
def worker_pool(num_proc: int) -> Iterator[WorkerPool | None]:
    """``num_proc`` worker processes, started now (``None`` for 1: the caller's own process does the
    work), shut down on leaving, queued work cancelled."""
    if num_proc <= 1:
        yield None
        return
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(max_workers=num_proc, mp_context=start_context(), initializer=_die_with_parent, initargs=(os.getpid(),))
    try:
        executor.submit(int).result()  # start the workers before the caller opens files or starts threads
        yield WorkerPool(executor, num_proc)
    except BaseException:
        _stop_now(executor)
        raise
    else:
        executor.shutdown(wait=True, cancel_futures=True)


def _stop_now(executor: Any) -> None:
    """Stop a pool whose run failed or was interrupted: queued work cancelled and the workers killed
    rather than waited for (their results are not wanted, and a worker blocked sending one back would
    make a waiting shutdown hang)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    queue = getattr(executor, "_result_queue", None)  # (shutdown forgets it)
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=5)
    # a worker killed in the middle of sending a result leaves half a message in the result pipe, and the
    # executor's manager thread (which interpreter exit joins) waits for the rest for ever; with every
    # worker gone this process holds the pipe's last write end: closing it ends that wait (EOF, and the
    # executor counts itself broken)
    with contextlib.suppress(Exception):
        queue._writer.close()  # type: ignore[union-attr]


def ordered_map(pool: WorkerPool | None, fn: Callable[[T], R], tasks: Iterable[T], window: int | None = None) -> Iterator[R]:
    """``fn`` over ``tasks`` in input order; with a pool (from :func:`worker_pool`), at most ``window``
    tasks in flight (default: twice the workers), so memory stays bounded on inputs of any size.
    Without one, inline and lazily."""
    if pool is None:
        for task in tasks:
            yield fn(task)
        return
    limit = window or 2 * pool.workers
    pending: deque[Any] = deque()
    for task in tasks:
        pending.append(pool.executor.submit(fn, task))
        if len(pending) >= limit:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
