"""How many CPU threads torch uses for a CPU run.

torch starts with one intra-op thread per physical core of the machine. Inside a container that may use
fewer CPUs than the machine has (a CPU set, or a cgroup quota such as ``docker --cpus 2``), those threads
outnumber the CPUs the process can run on, and OpenMP threads that wait for each other on a CPU they
share slow a small model down by several times. So a CPU run uses at most as many threads as the process
has CPUs: the smallest of torch's default, the CPUs in its affinity mask and the cgroup quota; the
``threads`` setting overrides it. GPU runs leave torch alone.
"""

from __future__ import annotations

import math
import os

__all__ = ["available_cpus", "cpu_threads", "apply_threads"]


def _cgroup_quota() -> float | None:
    """CPUs allowed by a cgroup v2 (``cpu.max``) or v1 (``cpu.cfs_quota_us``) quota, if any."""
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="ascii") as fh:
            quota_us = int(fh.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii") as fh:
            period_us = int(fh.read())
        return quota_us / period_us if quota_us > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, within the cgroup quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def cpu_threads(requested: int | None) -> tuple[int, str | None]:
    """(threads for a CPU run, a note when that differs from torch's default)."""
    import torch

    default = torch.get_num_threads()
    if requested is not None:
        return requested, (f"threads: {requested} (torch's default here: {default})" if requested != default else None)
    cpus = available_cpus()
    if cpus < default:
        return cpus, f"threads: {cpus}, the CPUs this process may use (torch's default {default} would oversubscribe them)"
    return default, None


def apply_threads(threads: int | None) -> None:
    """Set torch's intra-op threads (``None``: leave them)."""
    if threads is None:
        return
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
