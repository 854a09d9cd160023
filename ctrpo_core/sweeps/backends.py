"""The backends a batch trains on (:class:`~ctrpo_core.sweeps.batch.Backend`), from the lightest to the most
parallel. Each returns {run name: Outcome} for the jobs it ran.

- :class:`InlineBackend`: one run after another in this process. For small runs this is the fastest way
  on a machine with few cores: a training process spends about two seconds starting up (torch, the
  package) before its first step, more than a 10-epoch run on a built-in task takes.
- :class:`LocalBackend`: one process per run (``python -m ctrpo_core.runs.lifecycle RUN_DIR``).
- :class:`PoolBackend`: long-lived worker processes, each training one run after another.
- :class:`DetachedBackend`: starts each run in a detached process and returns at once (the app).
- ``sweeps.ray.RayBackend``: one Ray task per run.

Training is deterministic given the seed on every backend.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import time

from ..config.schema import ConfigError
from ..runs import lifecycle
from ..runs.ownership import is_owned
from ..util import cores
from ..util.launch import reap_in_background
from ..util.signals import stop_signals
from .batch import Job, Outcome, ended, report_end


class InlineBackend:
    """Trains the runs one after another in this process."""

    parallel = 1
    stopping = False

    def describe(self) -> str:
        return "one after another in this process"

    def stop(self, reason: str) -> None:
        """Start no further run (the run in flight stops on its own stop request or signal)."""
        self.stopping = True

    def run(self, jobs: list[Job], report) -> dict[str, Outcome]:
        results = {}
        for job in jobs:
            if self.stopping:
                report(f"stopped: {len(jobs) - len(results)} run(s) not started")
                break
            report(f"started {job.cfg.name} ({'resumed' if job.how == 'resume' else 'new'}, in this process)")
            try:
                results[job.cfg.name] = ended(job.path, lifecycle.train(job.path))
            except Exception as exc:  # a bad run fails alone, as a training process would
                results[job.cfg.name] = Outcome("failed", f"{type(exc).__name__}: {exc}")
            report_end(report, job.cfg.name, results[job.cfg.name])
            if results[job.cfg.name].state == "stopped":  # SIGTERM/SIGINT or a stop request: the rest waits too
                report(f"stopped: {len(jobs) - len(results)} run(s) not started")
                break
        return results


class DetachedBackend:
    """Starts every job in its own detached process and returns at once: the runs outlive the caller (the
    app's Demo page). Outcome 'queued' means started; the runs folder tells how each goes on."""

    parallel = None
    returns_at_once = True  # train_all starts its runs under the runs folder's launch lock
    OWN_WAIT_S = 60.0  # how long a launch waits for each process to own its run (it imports torch first)

    def describe(self) -> str:
        return "each in a detached process"

    def stop(self, reason: str) -> None:
        """Nothing to hold back: every run started at once (a sweep's stop asks each run)."""

    def run(self, jobs: list[Job], report) -> dict[str, Outcome]:
        """Start each job, then wait until its process owns the run (or has ended): the next launch of the same
        runs then finds them running, never queued, and starts no second process for them."""
        procs = {job.cfg.name: (job, reap_in_background(lifecycle.spawn(job.path))) for job in jobs}
        deadline = time.monotonic() + self.OWN_WAIT_S
        waiting = dict(procs)
        while waiting and time.monotonic() < deadline:
            for name, (job, proc) in list(waiting.items()):
                if is_owned(job.path) or proc.poll() is not None:
                    del waiting[name]
            time.sleep(0.05)
        outcomes = {}
        for name, (job, proc) in procs.items():
            ended = proc.poll()
            if ended is not None and ended != 0 and lifecycle.state(job.path) == "running":
                outcomes[name] = Outcome("running elsewhere")  # its lock was taken: another process trains it
            else:
                outcomes[name] = Outcome("queued")
        return outcomes


def make_backend(parallel: int | None = 1):
    """1: :class:`InlineBackend`; N > 1 or None: :class:`PoolBackend` with N workers (None: one per core)."""
    return InlineBackend() if parallel == 1 else PoolBackend(parallel)


class _Parallel:
    """``parallel`` runs at a time (default: one per core); SIGTERM/SIGINT or :meth:`stop` set ``stopping``."""

    def __init__(self, parallel: int | None = None):
        self.parallel = max(1, parallel or cores.available())
        self.stopping = False

    def stop(self, reason: str) -> None:
        """Start no further run; the runs in flight checkpoint and stop (from a signal handler or a thread)."""
        self.stopping = True


class LocalBackend(_Parallel):
    """Trains each job in its own process (``python -m ctrpo_core.runs.lifecycle RUN_DIR``), ``parallel`` at a time."""

    def describe(self) -> str:
        return f"{self.parallel} at a time, {cores.env_workers(self.parallel)} env process(es) per run"

    def run(self, jobs: list[Job], report) -> dict[str, Outcome]:
        queue, running, results = list(jobs), {}, {}
        slots = min(self.parallel, len(jobs)) or 1  # P: fewer jobs than --parallel leave more cores per run
        workers, pinned = cores.env_workers(slots), cores.core_sets(slots)
        free = list(range(slots))  # run slots; with pinning, slot i owns the cores pinned[i]
        with stop_signals(self.stop):
            while queue or running:
                while queue and len(running) < self.parallel and not self.stopping:
                    job, slot = queue.pop(0), free.pop(0)
                    proc = lifecycle.spawn(job.path, env_workers=workers, cores=pinned[slot] if pinned else None)
                    running[job.cfg.name] = (job, proc, slot)
                    report(f"started {job.cfg.name} ({'resumed' if job.how == 'resume' else 'new'})")
                if self.stopping:
                    for _, proc, _ in running.values():
                        proc.terminate()  # our own child: it checkpoints and says 'stopped'
                    for name, (_, proc, _) in running.items():
                        proc.wait()
                        results[name] = Outcome("stopped")
                    return results
                for name, (job, proc, slot) in list(running.items()):
                    if proc.poll() is not None:
                        del running[name]
                        free.append(slot)
                        results[name] = self._outcome(job, proc.returncode)
                        report_end(report, name, results[name])
                time.sleep(0.2)
        return results

    @staticmethod
    def _outcome(job: Job, returncode: int) -> Outcome:
        if returncode == 2:  # refused before training (another owner, a damaged checkpoint): the log says why
            log = job.path.parent / lifecycle.LAUNCH_LOGS / f"{job.cfg.name}.log"
            last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            return Outcome("refused", last[0] if last else "exit status 2")
        state = lifecycle.state(job.path)
        return ended(job.path, state if state != "running" else "failed")


_worker_env_processes = None  # set in each pool worker by _start_pool_worker
_worker_stop_all = None  # the pool's "stop" event, set by the parent on SIGTERM/SIGINT


def _start_pool_worker(slots, env_processes: int, stop_all) -> None:
    """Pool worker start: take a slot's cores (when the runs are pinned), the env process count and the
    pool's stop event."""
    global _worker_env_processes, _worker_stop_all
    _worker_env_processes, _worker_stop_all = env_processes, stop_all
    if slots is not None:
        cores.pin(slots.get())


def _train_in_worker(path: str) -> Outcome:
    # The executor hands a worker its next job before the parent can cancel it (its call queue holds one
    # job more than there are workers), so a stopped pool would otherwise start, and finish, one more run.
    if _worker_stop_all is not None and _worker_stop_all.is_set():
        return Outcome("queued")
    try:
        return ended(path, lifecycle.train(path, env_workers=_worker_env_processes))
    except ConfigError as exc:  # refused before training: another owner, a damaged checkpoint
        return Outcome("refused", str(exc))


class PoolBackend(_Parallel):
    """Trains the jobs in ``parallel`` long-lived worker processes, each training one run after another
    in-process: for many short runs, where a process per run spends more time starting (torch, the
    package) than training. SIGTERM/SIGINT ask the runs in flight to stop at their next step."""

    def describe(self) -> str:
        return f"{self.parallel} worker processes, {cores.env_workers(self.parallel)} env process(es) per run"

    def run(self, jobs: list[Job], report) -> dict[str, Outcome]:
        results: dict[str, Outcome] = {}
        if not jobs:
            return results
        context, size = mp.get_context("spawn"), min(self.parallel, len(jobs))
        pinned = cores.core_sets(size)
        slots = None
        if pinned:
            slots = context.Queue()  # handed to each worker as it starts
            for cpu_set in pinned:
                slots.put(cpu_set)
        stop_all = context.Event()
        with (
            stop_signals(self.stop),
            cf.ProcessPoolExecutor(
                size,
                mp_context=context,
                initializer=_start_pool_worker,
                initargs=(slots, cores.env_workers(size), stop_all),
            ) as pool,
        ):
            futures = {pool.submit(_train_in_worker, str(job.path)): job for job in jobs}
            pending = set(futures)
            while pending:
                done, pending = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    name = futures[future].cfg.name
                    if future.cancelled():
                        continue
                    try:
                        results[name] = future.result()
                    except Exception as exc:  # a run that raised fails alone
                        results[name] = Outcome("failed", f"{type(exc).__name__}: {exc}")
                    report_end(report, name, results[name])
                if self.stopping:
                    stop_all.set()  # jobs already handed to a worker return without training
                    for future in pending:
                        # in flight: its owner stops at the next step; asked again on every pass, so a run
                        # that took its lock just after the event was read is stopped too
                        if not future.cancel():
                            job = futures[future]
                            lifecycle.stop(job.path)
        return results
