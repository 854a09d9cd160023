"""The small Python API the app and the notebooks call.

- :func:`train`: train in-process, with a callback per epoch (a dict: one metrics row).
- :func:`launch`: start a run as a detached background process; returns its run directory.
- :func:`read_run` / :func:`list_runs`: read run directories into pandas.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import lifecycle
from .config import resolve
from .lifecycle import open_run
from .runs import DamagedRunError, RunDir


def train(task: str, algo: str, callback: Callable[[dict], None] | None = None,
          progress: bool = False, **settings) -> RunDir:
    """Train one run in this process; ``settings`` are TrainConfig fields (beta, bh, delta, ...)."""
    run = lifecycle.create(resolve(task, algo, **settings))
    lifecycle.train(run.path, callback, progress=progress)
    return run


def resume(run_dir, callback=None, progress: bool = False, total_steps: int | None = None) -> RunDir:
    """Continue a run in this process from its checkpoint (from the start if it has none yet)."""
    lifecycle.train(run_dir, callback, progress=progress, total_steps=total_steps)
    return RunDir(run_dir)


def _wait_started(proc, run: RunDir, log_path: Path, timeout: float) -> None:
    """Return once the process owns the run (so every view shows it running at once)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if lifecycle.state(run.path) != "queued":
            return
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
            raise RuntimeError(f"training process exited with status {proc.returncode}: {' '.join(tail)}")
        time.sleep(0.05)


def launch(task: str, algo: str, wait: float = 60.0, **settings) -> RunDir:
    """Validate, create the run directory, then train it in a detached process (it outlives the caller);
    returns once that process owns the run (at most ``wait`` seconds). Raises ConfigError on bad settings."""
    run = lifecycle.create(resolve(task, algo, **settings))
    log_path = run.path.parent / lifecycle.LAUNCH_LOGS / f"{run.name}.log"
    _wait_started(lifecycle.spawn(run.path, log_path), run, log_path, wait)
    return run


def launch_resume(run_dir) -> RunDir:
    """Continue a stopped, failed or queued run in a detached process. ConfigError if it is not a run."""
    run, _ = open_run(run_dir)
    lifecycle.spawn(run.path, run.path.parent / lifecycle.LAUNCH_LOGS / f"{run.name}.resume.log")
    return run


@dataclass
class RunInfo:
    path: Path
    config: dict
    status: dict
    metrics: "object"  # pandas.DataFrame
    damaged: str = ""  # why the run directory cannot be read ('' when it can)

    @property
    def state(self) -> str:
        """'running' while a process owns the run; a 'running' status without an owner reads 'stopped';
        'damaged' when its files cannot be read."""
        return "damaged" if self.damaged else lifecycle.state(self.path)


def read_run(run_dir) -> RunInfo:
    """A run's config, status and metrics; a damaged run comes back with ``damaged`` saying why (and
    empty parts) instead of an exception."""
    import pandas as pd

    run = RunDir(run_dir)
    try:
        return RunInfo(run.path, run.read_config(), run.read_status(), run.read_metrics())
    except DamagedRunError as exc:
        return RunInfo(run.path, {}, {"state": "damaged", "message": exc.reason}, pd.DataFrame(), exc.reason)


def list_runs(runs_dir="runs") -> list[Path]:
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and RunDir(p).is_run())


__all__ = ["train", "resume", "launch", "launch_resume", "read_run", "list_runs", "RunInfo", "resolve"]
