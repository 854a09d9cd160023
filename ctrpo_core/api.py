"""The small Python API the app and the notebooks call.

- :func:`train`: train in-process, with a callback per epoch (a dict: one metrics row).
- :func:`launch`: start a run as a detached background process; returns its run directory.
- :func:`read_run` / :func:`list_runs`: read run directories into pandas.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .config.algorithms import ALL_SETTINGS, applies
from .config.schema import ConfigError, format_value, resolve
from .runs import lifecycle
from .runs.lifecycle import open_run
from .runs.store import DamagedRunError, RunDir, default_runs_dir
from .tools.demo import BETAS, BHS
from .util.launch import reap_in_background


def train(
    task: str, algo: str, callback: Callable[[dict], None] | None = None, progress: bool = False, **settings
) -> RunDir:
    """Train one run in this process; ``settings`` are TrainConfig fields (beta, bh, delta, ...)."""
    run = lifecycle.create(resolve(task, algo, **settings))
    lifecycle.train(run.path, callback, progress=progress)
    return run


def resume(run_dir, callback=None, progress: bool = False, total_steps: int | None = None) -> RunDir:
    """Continue a run in this process from its checkpoint (from the start if it has none yet)."""
    lifecycle.train(run_dir, callback, progress=progress, total_steps=total_steps)
    return RunDir(run_dir)


def _wait_until(proc, started: Callable[[], bool], timeout: float) -> bool:
    """Poll until ``started()`` (True), the process exits (False) or ``timeout`` seconds pass (True)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if started():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return True


def _wait_started(proc, run: RunDir, log_path: Path, timeout: float) -> None:
    """Return once the process owns the run (so every view shows it running at once)."""
    if not _wait_until(proc, lambda: lifecycle.state(run.path) != "queued", timeout):
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
        raise RuntimeError(f"training process exited with status {proc.returncode}: {' '.join(tail)}")


def launch(task: str, algo: str, wait: float = 60.0, **settings) -> RunDir:
    """Validate, create the run directory, then train it in a detached process (it outlives the caller);
    returns once that process owns the run (at most ``wait`` seconds). Raises ConfigError on bad settings."""
    run = lifecycle.create(resolve(task, algo, **settings))
    log_path = run.path.parent / lifecycle.LAUNCH_LOGS / f"{run.name}.log"
    _wait_started(reap_in_background(lifecycle.spawn(run.path, log_path)), run, log_path, wait)
    return run


def launch_resume(run_dir, wait: float = 60.0) -> RunDir:
    """Continue a stopped, failed or queued run in a detached process; returns once that process owns
    the run (at most ``wait`` seconds), so a page that shows the run sees it running at once and keeps
    refreshing. ConfigError if it is not a run, or if its process refused it (exited with an error before it
    owned the run: its config.json no longer matches its checkpoint, another process took it), with the
    reason the process gave."""
    run, _ = open_run(run_dir)
    log_path = run.path.parent / lifecycle.LAUNCH_LOGS / f"{run.name}.resume.log"
    proc = reap_in_background(lifecycle.spawn(run.path, log_path))

    def training() -> bool:  # past the checks: the process owns the run and its status says it trains
        try:
            status = run.read_status()
        except DamagedRunError:
            return False
        return status.get("state") == "running" and status.get("pid") == proc.pid and lifecycle.is_owned(run.path)

    # owning the run is not enough: the process takes the run before it compares config.json with the checkpoint
    if not _wait_until(proc, training, wait) and proc.returncode:
        # ended before it was seen training: a run one epoch from its end may have finished (exit 0)
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
        reason = re.sub(r"^(ctrpo: error: )?(--)?resume: ", "", tail[0]) if tail else f"exit {proc.returncode}"
        raise ConfigError("run", f"not resumed: {reason}")
    return run


def resume_runs(paths) -> list[tuple[str, bool, str]]:
    """Resume each run that can be resumed; (name, resumed, why) per run, where ``why`` says what happened
    or why nothing did ("already finished", "already running", ...), so no button press goes unanswered."""
    out = []
    for path in map(Path, paths):
        state = lifecycle.state(path)
        if state == "finished":
            out.append((path.name, False, "already finished"))
        elif state == "running":
            out.append((path.name, False, "already running"))
        elif state == "damaged":
            out.append((path.name, False, "damaged: it cannot be read"))
        else:
            try:
                launch_resume(path)
            except ConfigError as exc:
                out.append((path.name, False, exc.message))
            else:
                out.append((path.name, True, f"resumed (was {state})"))
    return out


def stop_runs(paths) -> list[tuple[str, bool, str]]:
    """Ask each running run to stop; (name, asked, why) per run ("not running: finished", ...)."""
    out = []
    for path in map(Path, paths):
        if lifecycle.stop(path):
            out.append((path.name, True, "asked to stop"))
        else:
            out.append((path.name, False, f"not running ({lifecycle.state(path)})"))
    return out


# ---------------------------------------------------------------------------------------------- app forms
def train_form(task: str, algo: str) -> dict:
    """The Train page's fields for a task and algorithm, at their defaults: the settings whose declaration gives
    them a form label (δ, b, the steps; b_H, β and the barrier form φ for the algorithms that read them)."""
    cfg = resolve(task, algo)
    return {key: getattr(cfg, key) for key, s in ALL_SETTINGS.items() if s.label and applies(algo, key)}


def sweep_form(task: str, algo: str) -> dict:
    """The Sensitivity page's fields for a task and algorithm, as text the form shows: the demo grid's β
    and b_H lines for C-TRPO (empty for the algorithms that do not read them), the task's δ and steps."""
    cfg = resolve(task, algo)
    barrier = applies(algo, "beta")
    return {
        "beta": ",".join(map(format_value, BETAS)) if barrier else "",
        "bh": ",".join(map(format_value, BHS)) if barrier else "",
        "delta": format_value(float(cfg.delta)),
        "steps": int(cfg.total_steps),
    }


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
    run = RunDir(run_dir)
    try:
        return RunInfo(run.path, run.read_config(), run.read_status(), run.read_metrics())
    except DamagedRunError as exc:
        return RunInfo(run.path, {}, {"state": "damaged", "message": exc.reason}, pd.DataFrame(), exc.reason)


def list_runs(runs_dir=None) -> list[Path]:
    root = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and RunDir(p).is_run())


__all__ = [
    "train",
    "resume",
    "launch",
    "launch_resume",
    "resume_runs",
    "stop_runs",
    "train_form",
    "sweep_form",
    "read_run",
    "list_runs",
    "RunInfo",
    "resolve",
]
