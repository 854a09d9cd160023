"""The small Python API the app and the notebooks call.

- :func:`train`: train in-process, with a callback per epoch (a dict: one metrics row).
- :func:`launch`: start a run as a detached background process; returns its run directory.
- :func:`read_run` / :func:`list_runs`: read run directories into pandas.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import TrainConfig, resolve, validate
from .runs import RunDir, process_alive
from .trainer import Trainer, open_resumable, prepare_new_run


def train(task: str, algo: str, callback: Callable[[dict], None] | None = None,
          progress: bool = False, **settings) -> RunDir:
    """Train one run in this process; ``settings`` are TrainConfig fields (beta, bh, delta, ...)."""
    cfg = resolve(task, algo, **settings)
    run = prepare_new_run(cfg)
    Trainer(cfg, run, progress=progress).execute(callback)
    return run


def resume(run_dir, callback=None, progress: bool = False, total_steps: int | None = None) -> RunDir:
    run = open_resumable(run_dir)
    cfg = TrainConfig.from_dict(run.read_config())
    if total_steps is not None:
        cfg.total_steps = total_steps
        validate(cfg)
        run.write_config({**run.read_config(), "total_steps": total_steps, "epochs": cfg.epochs})
    Trainer(cfg, run, resume=True, progress=progress).execute(callback)
    return run


def cli_args(cfg: TrainConfig) -> list[str]:
    """The ``ctrpo train`` arguments that reproduce ``cfg``'s user-facing settings."""
    args = ["--task", cfg.task, "--algo", cfg.algo, "--seed", str(cfg.seed), "--beta", repr(cfg.beta),
            "--bh", repr(cfg.bh), "--delta", repr(cfg.delta), "--cost-limit", repr(cfg.cost_limit),
            "--total-steps", str(cfg.total_steps), "--steps-per-epoch", str(cfg.steps_per_epoch),
            "--num-envs", str(cfg.num_envs), "--barrier", cfg.barrier, "--runs-dir", str(cfg.runs_dir),
            "--name", cfg.name]
    return args


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "ctrpo_core.cli", "train", *args],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_started(proc: subprocess.Popen, run: RunDir, log_path: Path, timeout: float) -> None:
    """Return once the run has written its status (so every view lists it at once)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (run.path / "status.json").exists():
            return
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
            raise RuntimeError(f"training process exited with status {proc.returncode}: {' '.join(tail)}")
        time.sleep(0.05)


def launch(task: str, algo: str, wait: float = 60.0, **settings) -> RunDir:
    """Validate, then start ``ctrpo train`` detached (it outlives the caller) and wait until its run
    directory exists (at most ``wait`` seconds). Raises ConfigError on bad settings."""
    cfg = resolve(task, algo, **settings)
    run = prepare_new_run(cfg)
    log_path = Path(cfg.runs_dir) / ".launch" / f"{cfg.name}.log"
    proc = _spawn(cli_args(cfg), log_path)
    _wait_started(proc, run, log_path, wait)
    return run


def launch_resume(run_dir) -> RunDir:
    run = open_resumable(run_dir)
    _spawn(["--resume", str(run.path)], run.path.parent / ".launch" / f"{run.name}.resume.log")
    return run


@dataclass
class RunInfo:
    path: Path
    config: dict
    status: dict
    metrics: "object"  # pandas.DataFrame

    @property
    def state(self) -> str:
        """The status, with a 'running' run whose process is gone reported as 'stopped'."""
        state = self.status.get("state", "unknown")
        if state == "running" and not process_alive(self.status):
            return "stopped"
        return state


def read_run(run_dir) -> RunInfo:
    run = RunDir(run_dir)
    return RunInfo(run.path, run.read_config(), run.read_status(), run.read_metrics())


def list_runs(runs_dir="runs") -> list[Path]:
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and RunDir(p).is_run())


__all__ = ["train", "resume", "launch", "launch_resume", "read_run", "list_runs", "RunInfo",
           "resolve", "prepare_new_run", "open_resumable", "Trainer"]
