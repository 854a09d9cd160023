"""The cores this process may use, and how parallel runs share them without oversubscribing.

C is what the process is allowed to run on, not what the machine has: its CPU affinity (``taskset``,
SLURM and container cpusets set it), further capped by a cgroup CPU quota (``docker --cpus``).
With P runs at a time each run gets max(1, C // P) env processes (the trainer plus its env workers),
and when P·W <= C each run is pinned to its own W cores, so no env worker ever waits for a core held by
another run (their short spin-waits, ``envs/safety_gym.py``, then only ever spin on an owned core).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from threadpoolctl import threadpool_limits

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def allowed() -> list[int]:
    """The ids of the cores this process may run on (its affinity), in order."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # no affinity API (macOS): every core
        return list(range(os.cpu_count() or 1))


def _quota() -> int | None:
    """The cgroup v2 CPU quota in whole cores (rounded up), None when there is none."""
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))


def available() -> int:
    """C: the number of cores this process may keep busy."""
    count, quota = len(allowed()), _quota()
    return max(1, min(count, quota) if quota else count)


def env_workers(parallel: int, cores: int | None = None) -> int:
    """W = max(1, C // P): env processes per run (the trainer itself counts as one) with P runs at once."""
    cores = available() if cores is None else cores
    return max(1, cores // max(1, parallel))


def core_sets(parallel: int) -> list[list[int]] | None:
    """P disjoint sets of W cores, one per run slot, or None when P·W > C (runs share cores then,
    and pinning them would only take the scheduler's freedom away)."""
    cores, per_run = allowed()[: available()], env_workers(parallel)
    if parallel * per_run > len(cores):
        return None
    return [cores[i * per_run : (i + 1) * per_run] for i in range(parallel)]


def pin(cores: list[int] | None) -> None:
    """Restrict this process (and the processes it starts from now on) to ``cores``."""
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(cores))


def limit_threads(count: int) -> None:
    """At most ``count`` compute threads in this process: torch's intra-op threads and numpy's BLAS
    threads alike. BLAS left alone starts a thread per core even for the critics' 128-row matmuls
    (engine/critic_fit.py), where waking them costs more than the product: 2.5× slower on 2 cores."""
    import torch

    torch.set_num_threads(count)
    threadpool_limits(limits=count, user_api="blas")
