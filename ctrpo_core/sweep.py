"""Grids over β × b_H × δ × seeds: one run directory per point, at most ``parallel`` at a time.

Run names are derived from the grid point, so running the same sweep again skips the runs that
finished, resumes the ones that were stopped or killed, and starts the rest.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, TrainConfig, resolve, validate_name
from .runs import RunDir, process_alive


def parse_list(param: str, text: str, kind=float) -> list:
    """'0.1,1,2' → [0.1, 1.0, 2.0]; a clear error naming ``param`` otherwise."""
    try:
        values = [kind(v) for v in str(text).split(",") if v.strip() != ""]
    except ValueError:
        raise ConfigError(param, f"expected a comma-separated list of {'integers' if kind is int else 'numbers'}, got {text!r}") from None
    if not values:
        raise ConfigError(param, "the list is empty")
    return values


@dataclass
class SweepPlan:
    name: str
    runs_dir: Path
    configs: list[TrainConfig]

    def manifest(self) -> dict:
        return {"name": self.name, "runs": [c.name for c in self.configs],
                "grid": [{k: getattr(c, k) for k in ("task", "algo", "beta", "bh", "delta", "seed")} for c in self.configs]}


def plan_sweep(task: str, algo: str, betas, bhs, deltas, seeds, runs_dir="runs", name: str | None = None,
               **settings) -> SweepPlan:
    """Validate every grid point (raises ConfigError before anything starts)."""
    name = name or f"sweep-{task}-{algo}"
    configs = []
    for beta, bh, delta, seed in itertools.product(betas, bhs, deltas, seeds):
        cfg = resolve(task, algo, beta=beta, bh=bh, delta=delta, seed=seed, runs_dir=str(runs_dir), **settings)
        cfg.name = f"{name}_beta{cfg.beta:g}_bh{cfg.bh:g}_delta{cfg.delta:g}_s{seed}"
        validate_name(cfg.name)
        configs.append(cfg)
    return SweepPlan(name, Path(runs_dir), configs)


def run_state(cfg: TrainConfig) -> str:
    """'finished', 'running' (by a live process), 'resumable', or 'new'."""
    run = RunDir(Path(cfg.runs_dir) / cfg.name)
    if not run.is_run():
        return "new"
    status = run.read_status()
    if status.get("state") == "finished":
        return "finished"
    if status.get("state") == "running" and process_alive(status) and status.get("pid") != os.getpid():
        return "running"
    return "resumable" if (run.path / "checkpoint.pt").exists() else "new"


def train_command(cfg: TrainConfig, state: str) -> list[str]:
    from .api import cli_args

    args = ["--resume", str(Path(cfg.runs_dir) / cfg.name)] if state == "resumable" else cli_args(cfg)
    return [sys.executable, "-m", "ctrpo_core.cli", "train", *args]


class LocalBackend:
    """Runs each grid point as a `ctrpo train` subprocess, at most ``parallel`` at a time."""

    def __init__(self, parallel: int | None = None):
        self.parallel = max(1, parallel or os.cpu_count() or 1)
        self.stopping = False

    def run(self, jobs: list[tuple[TrainConfig, str]], report) -> dict[str, str]:
        queue, running, results = list(jobs), {}, {}
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)} \
            if threading_main() else {}
        try:
            while queue or running:
                while queue and len(running) < self.parallel and not self.stopping:
                    cfg, state = queue.pop(0)
                    log = Path(cfg.runs_dir) / ".launch" / f"{cfg.name}.log"
                    log.parent.mkdir(parents=True, exist_ok=True)
                    with open(log, "ab") as out:
                        running[cfg.name] = subprocess.Popen(train_command(cfg, state), stdout=out, stderr=out,
                                                             stdin=subprocess.DEVNULL)
                    report(f"started {cfg.name} ({'resumed' if state == 'resumable' else 'new'})")
                if self.stopping:
                    for proc in running.values():
                        proc.send_signal(signal.SIGTERM)
                    for name, proc in running.items():
                        proc.wait()
                        results[name] = "stopped"
                    return results
                for name, proc in list(running.items()):
                    if proc.poll() is not None:
                        del running[name]
                        cfg = next(c for c, _ in jobs if c.name == name)
                        results[name] = RunDir(Path(cfg.runs_dir) / name).read_status().get("state", "failed")
                        report(f"{results[name]} {name}")
                time.sleep(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return results

    def _stop(self, signum, frame):
        self.stopping = True


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def pending_jobs(configs: list[TrainConfig]) -> tuple[dict[str, str], list[tuple[TrainConfig, str]]]:
    """Split configs into those already settled ({name: 'finished' | 'running elsewhere'}) and the
    (config, 'new' | 'resumable') jobs still to run."""
    results, jobs = {}, []
    for cfg in configs:
        state = run_state(cfg)
        if state == "finished":
            results[cfg.name] = "finished"
        elif state == "running":
            results[cfg.name] = "running elsewhere"
        else:
            jobs.append((cfg, state))
    return results, jobs


def run_sweep(plan: SweepPlan, backend=None, report=print) -> dict[str, str]:
    """Run every point that is not finished; returns {run name: final state}."""
    backend = backend or LocalBackend()
    write_manifest(plan)
    results, jobs = pending_jobs(plan.configs)
    how = backend.describe() if hasattr(backend, "describe") else f"{getattr(backend, 'parallel', '?')} at a time"
    report(f"sweep {plan.name}: {len(plan.configs)} runs, {len(plan.configs) - len(jobs)} already done "
           f"or running, {len(jobs)} to run, {how}")
    results.update(backend.run(jobs, report))
    return results


def write_manifest(plan: SweepPlan) -> None:
    sweeps = plan.runs_dir / ".sweeps"
    sweeps.mkdir(parents=True, exist_ok=True)
    tmp = sweeps / f".{plan.name}.json.tmp"
    tmp.write_text(json.dumps(plan.manifest(), indent=1))
    tmp.replace(sweeps / f"{plan.name}.json")


def sweep_manifest(runs_dir, name: str) -> dict | None:
    path = Path(runs_dir) / ".sweeps" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def list_sweeps(runs_dir) -> list[str]:
    folder = Path(runs_dir) / ".sweeps"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def launch_sweep(task: str, algo: str, betas, bhs, deltas, seeds, runs_dir="runs", name: str | None = None,
                 parallel: int | None = None, backend: str = "local", address: str | None = None,
                 **settings) -> SweepPlan:
    """Validate the grid, then run ``ctrpo sweep`` as a detached background process.

    ``backend="ray"`` runs it on Ray: a local instance, or the cluster at ``address`` (HOST:PORT)."""
    if backend not in ("local", "ray"):
        raise ConfigError("--backend", f"must be 'local' or 'ray', got {backend!r}")
    if backend == "ray":
        import importlib.util

        from .ray_backend import INSTALL_HINT, check_address

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
    log = Path(runs_dir) / ".sweeps" / f"{plan.name}.log"
    with open(log, "ab") as out:
        subprocess.Popen([sys.executable, "-m", "ctrpo_core.cli", "sweep", *args], stdout=out, stderr=out,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    return plan
