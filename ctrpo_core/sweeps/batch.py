"""The one batch driver: planned runs in, each run's outcome out. Sweeps, the reports' analysis and the
demo all train through :func:`train_all`; they differ only in the backend and in what they report.

A planned run whose directory exists is reused only when its config.json holds exactly the planned
result-changing settings; one trained with other settings is never reused (its outcome says 'conflict',
naming the settings that differ). A finished run is not trained again, a stopped one resumes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from ..config.schema import ConfigError, TrainConfig, result_settings
from ..runs import lifecycle
from ..runs.store import DamagedRunError, RunDir

LAUNCH_LOCK = ".launch.lock"  # in the runs folder: held while a launch classifies, creates and starts its runs


@dataclass(frozen=True)
class Outcome:
    """How one planned run ended in a batch: ``state`` is one word (settled without training: finished, running
    elsewhere, conflict, damaged; or how its training ended: finished, stopped, failed, queued, refused), ``detail``
    says why
    (the settings in conflict, the damage, the refusal's message); ``str()`` is the line a report prints."""

    state: str
    detail: str = ""

    def __str__(self) -> str:
        if not self.detail:
            return self.state
        return f"{self.state} ({self.detail})" if self.state == "refused" else f"{self.state}: {self.detail}"


def ended(path, state: str) -> Outcome:
    """How a run's training ended: its state, and for a failed run the reason its status gives (a full disk
    names the file it could not write)."""
    if state != "failed":
        return Outcome(state)
    try:
        return Outcome(state, str(RunDir(path).read_status().get("message") or ""))
    except DamagedRunError as exc:
        return Outcome(state, exc.reason)


def report_end(report: Callable[[str], None], name: str, outcome: Outcome) -> None:
    """The line that ends a run in a batch's report ("finished NAME", "failed NAME"), after a line with the
    reason of a failure."""
    if outcome.state == "failed" and outcome.detail:
        report(f"{name}: {outcome.detail}")
    report(f"{outcome.state if outcome.state == 'failed' else outcome} {name}")


@dataclass
class Job:
    cfg: TrainConfig
    how: str  # "new" (created by the batch) or "resume" (it exists: train it on from its checkpoint)

    @property
    def path(self) -> Path:
        return Path(self.cfg.runs_dir) / self.cfg.name


class Backend(Protocol):
    """Where jobs train: in this process, one process per run, a worker pool, Ray, or detached."""

    parallel: int | None

    def describe(self) -> str: ...

    def run(self, jobs: list[Job], report: Callable[[str], None]) -> dict[str, Outcome]: ...

    def stop(self, reason: str) -> None:
        """Start no further job; the jobs in flight checkpoint and stop. Safe from a signal handler or a thread."""


def settings_conflict(cfg: TrainConfig, config: dict) -> str:
    """'' when a run directory's config.json holds exactly ``cfg``'s result-changing settings, else which differ."""
    planned, found = result_settings(cfg), result_settings(config)
    differ = [k for k in planned if planned[k] != found.get(k)]
    return ", ".join(f"{k} {found.get(k)!r} (planned {planned[k]!r})" for k in differ[:4])


def classify(configs: list[TrainConfig]) -> tuple[dict[str, Outcome], list[Job]]:
    """Split planned runs into those settled without training and the jobs to run."""
    settled, jobs = {}, []
    for cfg in configs:
        run = RunDir(Path(cfg.runs_dir) / cfg.name)
        if not run.path.exists() or lifecycle.killed_creation(run.path):  # create clears what a kill left
            jobs.append(Job(cfg, "new"))
            continue
        try:
            conflict = settings_conflict(cfg, run.read_config())
        except DamagedRunError as exc:
            settled[cfg.name] = Outcome("damaged", exc.reason)
            continue
        if conflict:
            settled[cfg.name] = Outcome("conflict", f"{run.path} exists with other settings: {conflict}")
            continue
        state = lifecycle.state(run.path)
        if state in ("finished", "damaged"):
            settled[cfg.name] = Outcome(state)
        elif state == "running":
            settled[cfg.name] = Outcome("running elsewhere")
        else:  # queued (never started or killed before its first checkpoint), stopped, failed
            jobs.append(Job(cfg, "resume"))
    return settled, jobs


def same_settings(cfg: TrainConfig, run: RunDir) -> bool:
    """Whether ``run`` is a readable run directory of exactly ``cfg``'s result-changing settings."""
    try:
        return run.is_run() and not settings_conflict(cfg, run.read_config())
    except DamagedRunError:
        return False


def create_new(jobs: list[Job]) -> tuple[list[Job], dict[str, Outcome]]:
    """Write the run directories of the new jobs at once, so every view lists them as queued. A run that another
    launcher created meanwhile with the very same settings (two sessions pressing one button) is theirs: it leaves
    the jobs as 'started elsewhere'. Returns (the jobs left, those settled so)."""
    left, settled = [], {}
    for job in jobs:
        if job.how == "new":
            try:
                lifecycle.create(job.cfg)
            except ConfigError:
                if not same_settings(job.cfg, RunDir(job.path)):
                    raise
                settled[job.cfg.name] = Outcome("started elsewhere", f"{job.path} was created by another launch")
                continue
        left.append(job)
    return left, settled


@contextlib.contextmanager
def one_launch_at_a_time(runs_dir):
    """Hold the runs folder's launch lock: two launches of the same runs (a double click, two sessions) are
    taken one after the other, so the second sees the first one's runs already owned by their processes."""
    folder = Path(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LAUNCH_LOCK, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the lock


def train_all(
    configs: list[TrainConfig],
    backend: Backend,
    report: Callable[[str], None] | None = None,
    announce: Callable[[list[Job], Backend], str] | None = None,
) -> dict[str, Outcome]:
    """Train every planned run that is not settled on ``backend``; returns {run name: Outcome}.

    ``report`` gets the runs not trained here and the backend's lines; ``announce(jobs, backend)``, if
    given, the line that opens the batch (what will train, and how)."""
    report = report or (lambda line: None)
    if getattr(backend, "returns_at_once", False) and configs:  # a launch: start them all under the launch lock
        with one_launch_at_a_time(configs[0].runs_dir):
            return _train_all(configs, backend, report, announce)
    return _train_all(configs, backend, report, announce)


def _train_all(configs, backend, report, announce) -> dict[str, Outcome]:
    settled, jobs = classify(configs)
    jobs, raced = create_new(jobs)
    settled.update(raced)
    for name, outcome in settled.items():
        if outcome.state in ("conflict", "damaged"):
            report(f"not reused: {name}: {outcome.detail or outcome.state}")
        elif outcome.state != "finished":
            report(f"not trained here: {name}: {outcome}")
    if announce is not None:
        report(announce(jobs, backend))
    results = dict(settled)
    if jobs:
        results.update(backend.run(jobs, report))
    return results


def states(results: dict[str, Outcome]) -> dict[str, str]:
    """{run name: state word}: what callers that only branch on the state keep."""
    return {name: outcome.state for name, outcome in results.items()}
