"""A sweep: its plan trained by the batch driver under the sweep's lock, in this process (``ctrpo sweep``)
or in a detached one (``launch_sweep``, the app), with a progress line per run that ends."""

from __future__ import annotations

import time
from pathlib import Path

from ..config.schema import ConfigError
from ..util.launch import detached
from .backends import LocalBackend
from .batch import Backend, Job, Outcome, train_all
from .manifest import SWEEPS, own_sweep, sweep_running, write_manifest
from .plan import SweepPlan, plan_sweep


class SweepProgress:
    """The backends' report lines, with "[k of N, ETA m:ss]" added to the line of each run that ends; the
    ETA assumes the remaining runs take as long as the finished ones did at the same parallelism."""

    def __init__(self, report, names, clock=time.monotonic):
        self.report, self.clock = report, clock
        self.start(names)

    def start(self, names) -> None:
        """Count from now, for the runs ``names``."""
        self.pending, self.total, self.started = set(names), len(names), self.clock()

    def __call__(self, line: str) -> None:
        ended = next((n for n in self.pending if line.endswith(" " + n) and not line.startswith(("started", "queued"))),
                     None)
        if ended is not None:
            self.pending.discard(ended)
            done = self.total - len(self.pending)
            eta = (self.clock() - self.started) / done * len(self.pending)
            line += f"  [{done} of {self.total}" + (f", ETA {format_duration(eta)}]" if self.pending else "]")
        self.report(line)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def run_sweep(plan: SweepPlan, backend: Backend | None = None, report=print) -> dict[str, Outcome]:
    """Run every point that is not finished; returns {run name: Outcome}."""
    backend = backend or LocalBackend()
    with own_sweep(plan.runs_dir, plan.name):
        write_manifest(plan)
        for note in plan.notes:
            report(note)
        progress = SweepProgress(report, [])

        def announce(jobs: list[Job], backend: Backend) -> str:
            progress.start([job.cfg.name for job in jobs])
            return (f"sweep {plan.name}: {len(plan.configs)} runs, {len(plan.configs) - len(jobs)} already done "
                    f"or running, {len(jobs)} to run, {backend.describe()}")

        return train_all(plan.configs, backend, progress, announce)


def launch_sweep(task: str, algo: str, betas, bhs, deltas, seeds, runs_dir="runs", name: str | None = None,
                 parallel: int | None = None, backend: str = "local", address: str | None = None,
                 **settings) -> SweepPlan:
    """Validate the grid, then run ``ctrpo sweep`` as a detached background process.

    ``backend="ray"`` runs it on Ray: a local instance, or the cluster at ``address`` (HOST:PORT)."""
    if backend not in ("local", "ray"):
        raise ConfigError("--backend", f"must be 'local' or 'ray', got {backend!r}")
    if backend == "ray":
        import importlib.util

        from .ray import INSTALL_HINT, check_address

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
    join = lambda values: ",".join(repr(v) for v in values)
    args = ["--task", task, "--algo", algo, "--beta", join(betas), "--bh", join(bhs), "--seeds", join(seeds),
            "--runs-dir", str(runs_dir), "--name", plan.name]
    if any(d is not None for d in deltas):
        args += ["--delta", join(deltas)]
    if parallel:
        args += ["--parallel", str(parallel)]
    if backend == "ray":
        args += ["--backend", "ray"] + (["--address", address] if address else [])
    for key, value in settings.items():
        if value is not None:
            args += [f"--{key.replace('_', '-')}", str(value)]
    write_manifest(plan)  # the app lists the sweep at once
    log = Path(runs_dir) / SWEEPS / f"{plan.name}.log"
    detached("ctrpo_core.cli", ["sweep", *args], log)
    return plan
