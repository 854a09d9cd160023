"""A sweep: its plan trained by the batch driver under the sweep's lock, in this process (``ctrpo sweep``)
or in a detached one (``launch_sweep``, the app), with a progress line per run that ends. The driver
watches for the sweep's stop request (``manifest.request_stop``): it then starts no further run and asks
each run in flight to stop at a checkpoint; ``ctrpo sweep --resume NAME`` (``launch_resume``) trains the
manifest's plan again, skipping the finished runs."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

from ..config.schema import ConfigError
from ..runs import lifecycle
from ..util.launch import detached, reap_in_background
from . import cost
from .backends import LocalBackend, PoolBackend
from .batch import Backend, Job, Outcome, train_all
from .benchmark import KIND, replan_benchmark
from .manifest import (
    SWEEPS,
    own_sweep,
    replaced_plan,
    stop_requested,
    sweep_manifest,
    sweep_running,
    write_manifest,
)
from .plan import SweepPlan, plan_sweep, replan
from .ray import INSTALL_HINT, check_address

STOP_POLL_S = lifecycle.STOP_POLL_S  # how often a driver looks for its sweep's stop request
STARTED_WAIT_S = 60.0  # launch_sweep returns once its driver owns the sweep, or after this long


class SweepProgress:
    """The backends' report lines, with "[k of N, ETA m:ss]" added to the line of each run that ends (N: the runs
    this launch trains; when a plan of P runs had ``before`` finished already, also "; D of P planned finished").
    The ETA is ``remaining(names)``, the time the runs still pending take at the speed measured so far
    (:func:`speed_eta`), where a backend has one; else the mean time of the runs that ended so far times the
    runs left."""

    def __init__(self, report, names, clock=time.monotonic, remaining=None):
        self.report, self.clock, self.remaining = report, clock, remaining
        self.start(names)

    def start(self, names, planned: int | None = None, before: int = 0) -> None:
        """Count from now, for the runs ``names`` (of ``planned`` runs, ``before`` of them finished already)."""
        self.pending, self.total, self.started = set(names), len(names), self.clock()
        self.planned, self.before, self.finished = planned, before, 0

    def __call__(self, line: str) -> None:
        ended = next(
            (n for n in self.pending if line.endswith(" " + n) and not line.startswith(("started", "queued"))), None
        )
        if ended is not None:
            self.pending.discard(ended)
            self.finished += line.startswith("finished ")
            done = self.total - len(self.pending)
            line += f"  [{done} of {self.total}" + (f", ETA {format_duration(self.eta(done))}" if self.pending else "")
            if self.planned is not None and self.planned != self.total:  # some were done before: of the plan too
                line += f"; {self.before + self.finished} of {self.planned} planned finished"
            line += "]"
        self.report(line)

    def eta(self, done: int) -> float:
        measured = self.remaining(set(self.pending)) if self.remaining is not None else None
        return measured if measured is not None else (self.clock() - self.started) / done * len(self.pending)


def speed_eta(plan: SweepPlan, backend: Backend):
    """``remaining(names)`` for :class:`SweepProgress` on this machine: the wall time of those runs' steps still to
    train, at the speed of the runs finished in the runs folder (the runs just finished included, the most alike
    first: sweeps/cost.py), on the backend's parallel slots. Runs of many lengths (a resumed half run, a
    first-order run at several times a trust-region run's time, Humanoid beside Hopper) make a mean run time a
    poor guide. None on a Ray cluster, whose CPUs this machine does not measure."""
    parallel = getattr(backend, "parallel", None)
    if parallel is None or not isinstance(backend, (LocalBackend, PoolBackend)):
        return None
    by_name = {cfg.name: cfg for cfg in plan.configs}

    def remaining(names: set[str]) -> float:
        configs = [by_name[name] for name in names if name in by_name]
        return cost.estimate(configs, runs_dir=plan.runs_dir, parallel=parallel).wall_s

    return remaining


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _watch_stop_request(plan: SweepPlan, backend: Backend, report, done: threading.Event) -> threading.Thread:
    """Until ``done``: once the sweep's stop request appears, hold the backend back and ask every run of the
    plan that trains to stop; asked again on every pass, so a run that took its lock just then stops too."""

    def watch():
        said = False
        while not done.wait(STOP_POLL_S):
            if not stop_requested(plan.runs_dir, plan.name):
                continue
            if not said:
                report(f"sweep {plan.name}: stop requested; the runs in flight stop at a checkpoint, no other starts")
                said = True
            backend.stop("a stop request")
            for cfg in plan.configs:
                lifecycle.stop(Path(cfg.runs_dir) / cfg.name)

    thread = threading.Thread(target=watch, name="ctrpo-sweep-stop", daemon=True)
    thread.start()
    return thread


def run_sweep(plan: SweepPlan, backend: Backend | None = None, report=print) -> dict[str, Outcome]:
    """Run every point that is not finished; returns {run name: Outcome}."""
    backend = backend or LocalBackend()
    with own_sweep(plan.runs_dir, plan.name):
        earlier = replaced_plan(plan)
        if earlier is not None:
            report(
                f"{plan.kind} {plan.name}: this plan ({plan.describe()}) replaces the earlier one of that name "
                f"({earlier.describe()}); pages and reports show this one, its finished runs are reused where "
                f"planned again, and --name keeps the two apart"
            )
        write_manifest(plan)
        for note in plan.notes:
            report(note)
        progress = SweepProgress(report, [], remaining=speed_eta(plan, backend))

        def announce(jobs: list[Job], backend: Backend) -> str:
            settled = [cfg.name for cfg in plan.configs if cfg.name not in {job.cfg.name for job in jobs}]
            before = sum(lifecycle.state(Path(plan.runs_dir) / name) == "finished" for name in settled)
            progress.start([job.cfg.name for job in jobs], planned=len(plan.configs), before=before)
            return (
                f"{plan.kind} {plan.name}: {len(plan.configs)} runs, {len(plan.configs) - len(jobs)} already done "
                f"or running, {len(jobs)} to run, {backend.describe()}"
            )

        done = threading.Event()
        watcher = _watch_stop_request(plan, backend, report, done)
        try:
            return train_all(plan.configs, backend, progress, announce)
        finally:
            done.set()
            watcher.join()


def resume_plan(runs_dir, name: str) -> SweepPlan:
    """The plan sweep ``name``'s manifest keeps (its latest), with how it was trained; ConfigError when there
    is no such sweep or its manifest predates kept plans."""
    manifest = sweep_manifest(runs_dir, name)
    if manifest is None:
        raise ConfigError("--resume", f"no sweep {name!r} in {str(runs_dir)!r}")
    request = manifest.get("plan")
    if not isinstance(request, dict):
        raise ConfigError(
            "--resume",
            f"sweep {name} was run before sweeps kept their plan; run its `ctrpo sweep` "
            f"command again (finished runs are skipped)",
        )
    plan = replan_benchmark(request, runs_dir, name) if request.get("kind") == KIND else replan(request, runs_dir, name)
    launch = request.get("launch")
    plan.launch = dict(launch) if isinstance(launch, dict) else {}
    return plan


def _start_driver(runs_dir, name: str) -> None:
    """``ctrpo sweep --resume NAME`` detached, returning once it owns the sweep (so the app shows it running
    at once and a Stop pressed right away reaches it), or when it ended or took too long."""
    log = Path(runs_dir) / SWEEPS / f"{name}.log"
    proc = reap_in_background(detached("ctrpo_core.cli", ["sweep", "--resume", name, "--runs-dir", str(runs_dir)], log))
    deadline = time.monotonic() + STARTED_WAIT_S
    while sweep_running(runs_dir, name) is None and proc.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)


def launch_resume(runs_dir, name: str) -> SweepPlan:
    """Train sweep ``name``'s plan again in a detached driver (finished runs are skipped, stopped ones resume);
    ConfigError when it is running or cannot be resumed."""
    holder = sweep_running(runs_dir, name)
    if holder is not None:
        raise ConfigError("--resume", f"sweep {name} is already running (pid {holder.get('pid', '?')})")
    plan = resume_plan(runs_dir, name)
    _start_driver(runs_dir, name)
    return plan


def launch_sweep(
    task: str,
    algo: str,
    betas,
    bhs,
    deltas,
    seeds,
    runs_dir="runs",
    name: str | None = None,
    parallel: int | None = None,
    backend: str = "local",
    address: str | None = None,
    **settings,
) -> SweepPlan:
    """Validate the grid, then run ``ctrpo sweep`` as a detached background process.

    ``backend="ray"`` runs it on Ray: a local instance, or the cluster at ``address`` (HOST:PORT)."""
    if backend not in ("local", "ray"):
        raise ConfigError("--backend", f"must be 'local' or 'ray', got {backend!r}")
    if backend == "ray":
        try:
            found = importlib.util.find_spec("ray") is not None
        except ValueError:  # sys.modules["ray"] is None
            found = False
        if not found:
            raise ConfigError("--backend", f"ray: {INSTALL_HINT}")
        check_address(address or None)
    elif address:
        raise ConfigError("--address", "only with the ray backend")
    plan = plan_sweep(task, algo, betas, bhs, deltas, seeds, runs_dir=runs_dir, name=name, **settings)
    holder = sweep_running(runs_dir, plan.name)
    if holder is not None:
        raise ConfigError("--name", f"sweep {plan.name} is already running (pid {holder.get('pid', '?')})")
    plan.launch = {"backend": backend, "parallel": parallel, "address": address or None}
    # the manifest keeps the plan (the app lists the sweep at once), and the driver trains what it keeps:
    # one description of the sweep, whether launched here, resumed here or from a terminal
    write_manifest(plan)
    _start_driver(runs_dir, plan.name)
    return plan
