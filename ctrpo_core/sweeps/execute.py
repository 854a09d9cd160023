"""Grids over β × b_H × δ × seeds: one run directory per point, at most ``parallel`` at a time.

A run's name carries its grid point and a key of every other result-changing setting
(``config.settings_key``), and a run directory that exists is reused only when its config.json holds
exactly the planned settings. So a sweep run again skips the runs that finished, resumes the ones that
were stopped, killed or never started, and trains new runs when any setting (steps, cost limit, ...)
changed. A sweep has one owner at a time (a lock per sweep name), and so does each run.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..util import cores
from ..runs import lifecycle
from ..config.schema import (ConfigError, TrainConfig, format_value, resolve, result_settings, settings_key, validate_name)
from ..config.overrides import applies, check_applicable
from ..runs.ownership import BusyError, Ownership, is_owned, read_holder
from ..runs.store import DamagedRunError, RunDir, atomic_write_bytes
from ..util.launch import detached
from ..util.signals import stop_signals

GRID_KEYS = ("task", "algo", "beta", "bh", "delta", "seed")  # a run's grid point in the manifest
SWEPT_KEYS = ("seed", "beta", "bh", "delta")  # in the run name itself, hence not in its <key>
SWEEPS = ".sweeps"  # <runs-dir>/.sweeps/<name>.json: the manifest of each sweep (the runs it planned)


def parse_list(param: str, text: str, kind=float) -> list:
    """'0.1,1,2' → [0.1, 1.0, 2.0]; a clear error naming ``param`` otherwise."""
    try:
        values = [kind(v) for v in str(text).split(",") if v.strip() != ""]
    except ValueError:
        raise ConfigError(param, f"expected a comma-separated list of {'integers' if kind is int else 'numbers'}, got {text!r}") from None
    if not values:
        raise ConfigError(param, "the list is empty")
    return values


def unique(param: str, values: list, notes: list[str]) -> list:
    """``values`` without repeats (equal numbers are one grid point: 1 and 1.0 train one run), noting any."""
    seen: list = []
    for value in values:
        if value in seen:
            notes.append(f"{param}: {format_value(value)} is given more than once; it is one grid point")
        else:
            seen.append(value)
    return seen


@dataclass
class SweepPlan:
    name: str
    runs_dir: Path
    configs: list[TrainConfig]
    notes: list[str] = field(default_factory=list)  # what the plan merged or dropped, said once

    def manifest(self) -> dict:
        """One ``grid`` entry per run, in the order of ``runs`` and naming it (two runs of one grid point
        but other settings, e.g. a longer budget, are two entries)."""
        return {"name": self.name, "runs": [c.name for c in self.configs],
                "grid": [{"run": c.name, **{k: getattr(c, k) for k in GRID_KEYS}} for c in self.configs]}


def plan_sweep(task: str, algo: str, betas, bhs, deltas, seeds, runs_dir="runs", name: str | None = None,
               **settings) -> SweepPlan:
    """Validate every grid point (raises ConfigError before anything starts)."""
    name = name or f"sweep-{task}-{algo}"
    validate_name(name)
    notes: list[str] = []
    axes = [unique(param, list(values), notes) for param, values in
            (("--beta", betas), ("--bh", bhs), ("--delta", deltas), ("--seeds", seeds))]
    check_applicable(algo, {"beta": next((b for b in axes[0] if b is not None), None),
                            "bh": next((h for h in axes[1] if h is not None), None)})
    configs = []
    for beta, bh, delta, seed in itertools.product(*axes):
        cfg = resolve(task, algo, beta=beta, bh=bh, delta=delta, seed=seed, runs_dir=str(runs_dir), **settings)
        barrier = f"_beta{format_value(cfg.beta)}_bh{format_value(cfg.bh)}" if applies(algo, "beta") else ""
        # the key covers every other result-changing setting (docs/RUN_FORMAT.md): the runs of one sweep
        # share it, and the name's β, b_H, δ and seed tell them apart
        cfg.name = f"{name}{barrier}_delta{format_value(cfg.delta)}_s{seed}_{settings_key(cfg, exclude=SWEPT_KEYS)}"
        validate_name(cfg.name)
        configs.append(cfg)
    return SweepPlan(name, Path(runs_dir), configs, notes)


# ---------------------------------------------------------------------------------------------- what to run
@dataclass
class Job:
    cfg: TrainConfig
    how: str  # "new" (created by the sweep) or "resume" (it exists: train it on from its checkpoint)


def settings_conflict(cfg: TrainConfig, config: dict) -> str:
    """'' when a run directory's config.json holds exactly ``cfg``'s result-changing settings, else which differ."""
    planned, found = result_settings(cfg), result_settings(config)
    differ = [k for k in planned if planned[k] != found.get(k)]
    return ", ".join(f"{k} {found.get(k)!r} (planned {planned[k]!r})" for k in differ[:4])


def classify(configs: list[TrainConfig]) -> tuple[dict[str, str], list[Job]]:
    """Split planned runs into those settled without training ({name: 'finished' | 'running elsewhere' |
    'conflict' | 'damaged'}) and the jobs to run. Never reuses a run trained with other settings."""
    settled, jobs = {}, []
    for cfg in configs:
        run = RunDir(Path(cfg.runs_dir) / cfg.name)
        if not run.path.exists():
            jobs.append(Job(cfg, "new"))
            continue
        try:
            conflict = settings_conflict(cfg, run.read_config())
        except DamagedRunError as exc:
            settled[cfg.name] = f"damaged: {exc.reason}"
            continue
        if conflict:
            settled[cfg.name] = f"conflict: {run.path} exists with other settings: {conflict}"
            continue
        state = lifecycle.state(run.path)
        if state == "finished":
            settled[cfg.name] = "finished"
        elif state == "running":
            settled[cfg.name] = "running elsewhere"
        elif state == "damaged":
            settled[cfg.name] = "damaged"
        else:  # queued (never started or killed before its first checkpoint), stopped, failed
            jobs.append(Job(cfg, "resume"))
    return settled, jobs


def create_new(jobs: list[Job]) -> None:
    """Write the run directories of the new jobs at once, so every view lists them as queued."""
    for job in jobs:
        if job.how == "new":
            lifecycle.create(job.cfg)


def settle_word(state: str) -> str:
    return state.split(":", 1)[0]


# ---------------------------------------------------------------------------------------------- local backend
class LocalBackend:
    """Trains each job in its own process (``python -m ctrpo_core.runs.lifecycle RUN_DIR``), ``parallel`` at a time."""

    def __init__(self, parallel: int | None = None):
        self.parallel = max(1, parallel or cores.available())
        self.stopping = False

    def describe(self) -> str:
        return f"{self.parallel} at a time, {cores.env_workers(self.parallel)} env process(es) per run"

    def run(self, jobs: list[Job], report) -> dict[str, str]:
        queue, running, results = list(jobs), {}, {}
        slots = min(self.parallel, len(jobs)) or 1  # P: fewer jobs than --parallel leave more cores per run
        workers, pinned = cores.env_workers(slots), cores.core_sets(slots)
        free = list(range(slots))  # run slots; with pinning, slot i owns the cores pinned[i]
        with stop_signals(self._stop):
            while queue or running:
                while queue and len(running) < self.parallel and not self.stopping:
                    job, slot = queue.pop(0), free.pop(0)
                    proc = lifecycle.spawn(Path(job.cfg.runs_dir) / job.cfg.name, env_workers=workers,
                                           cores=pinned[slot] if pinned else None)
                    running[job.cfg.name] = (job, proc, slot)
                    report(f"started {job.cfg.name} ({'resumed' if job.how == 'resume' else 'new'})")
                if self.stopping:
                    for _, proc, _ in running.values():
                        proc.terminate()  # our own child: it checkpoints and says 'stopped'
                    for name, (_, proc, _) in running.items():
                        proc.wait()
                        results[name] = "stopped"
                    return results
                for name, (job, proc, slot) in list(running.items()):
                    if proc.poll() is not None:
                        del running[name]
                        free.append(slot)
                        results[name] = self._outcome(job, proc.returncode)
                        report(f"{results[name]} {name}")
                time.sleep(0.2)
        return results

    @staticmethod
    def _outcome(job: Job, returncode: int) -> str:
        path = Path(job.cfg.runs_dir) / job.cfg.name
        if returncode == 2:  # refused before training (another owner, a damaged checkpoint): the log says why
            log = path.parent / lifecycle.LAUNCH_LOGS / f"{job.cfg.name}.log"
            last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            return f"refused ({last[0] if last else 'exit status 2'})"
        state = lifecycle.state(path)
        return state if state != "running" else "failed"

    def _stop(self, reason: str) -> None:
        self.stopping = True


_worker_env_processes = None  # set in each pool worker by _start_pool_worker
_worker_stop_all = None  # the pool's "stop" event, set by the parent on SIGTERM/SIGINT


def _start_pool_worker(slots, env_processes: int, stop_all) -> None:
    """Pool worker start: take a slot's cores (when the runs are pinned), the env process count and the
    pool's stop event."""
    global _worker_env_processes, _worker_stop_all
    _worker_env_processes, _worker_stop_all = env_processes, stop_all
    if slots is not None:
        cores.pin(slots.get())


def _train_in_worker(path: str) -> str:
    # The executor hands a worker its next job before the parent can cancel it (its call queue holds one
    # job more than there are workers), so a stopped pool would otherwise start, and finish, one more run.
    if _worker_stop_all is not None and _worker_stop_all.is_set():
        return "queued"
    try:
        return lifecycle.train(path, env_workers=_worker_env_processes)
    except ConfigError as exc:  # refused before training: another owner, a damaged checkpoint
        return f"refused ({exc})"


class PoolBackend:
    """Trains the jobs in ``parallel`` long-lived worker processes, each training one run after another
    in-process: for many short runs, where a process per run spends more time starting (torch, the
    package) than training. SIGTERM/SIGINT ask the runs in flight to stop at their next step."""

    def __init__(self, parallel: int | None = None):
        self.parallel = max(1, parallel or cores.available())
        self.stopping = False

    def describe(self) -> str:
        return f"{self.parallel} worker processes, {cores.env_workers(self.parallel)} env process(es) per run"

    def run(self, jobs: list[Job], report) -> dict[str, str]:
        import concurrent.futures as cf
        import multiprocessing as mp

        results: dict[str, str] = {}
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
        with stop_signals(self._stop), cf.ProcessPoolExecutor(
                size, mp_context=context, initializer=_start_pool_worker,
                initargs=(slots, cores.env_workers(size), stop_all)) as pool:
            futures = {pool.submit(_train_in_worker, str(Path(job.cfg.runs_dir) / job.cfg.name)): job for job in jobs}
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
                        results[name] = "failed"
                        report(f"{name}: {type(exc).__name__}: {exc}")
                    report(f"{results[name]} {name}")
                if self.stopping:
                    stop_all.set()  # jobs already handed to a worker return without training
                    for future in pending:
                        # in flight: its owner stops at the next step; asked again on every pass, so a run
                        # that took its lock just after the event was read is stopped too
                        if not future.cancel():
                            job = futures[future]
                            lifecycle.stop(Path(job.cfg.runs_dir) / job.cfg.name)
        return results

    def _stop(self, reason: str) -> None:
        self.stopping = True


# ---------------------------------------------------------------------------------------------- sweeps
def own_sweep(runs_dir, name: str) -> Ownership:
    """Become the one process that runs sweep ``name`` in ``runs_dir``; ConfigError if another does."""
    folder = Path(runs_dir) / SWEEPS
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError("--runs-dir", f"{str(runs_dir)!r} is not a directory") from None
    try:
        return Ownership(folder, what=f"sweep {name}", lock=f".{name}.lock")
    except BusyError as busy:
        raise ConfigError("--name", f"sweep {name} is already running (pid {busy.holder.get('pid', '?')}); wait for it "
                                    f"or stop it first") from None


def sweep_running(runs_dir, name: str) -> dict | None:
    """The owner of sweep ``name`` if it is running now, else None."""
    folder = Path(runs_dir) / SWEEPS
    return read_holder(folder, f".{name}.lock") if is_owned(folder, f".{name}.lock") else None


class SweepProgress:
    """The backends' report lines, with "[k of N, ETA m:ss]" added to the line of each run that ends; the
    ETA assumes the remaining runs take as long as the finished ones did at the same parallelism."""

    def __init__(self, report, names, clock=time.monotonic):
        self.report, self.pending, self.total = report, set(names), len(names)
        self.clock, self.started = clock, clock()

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


def run_sweep(plan: SweepPlan, backend=None, report=print) -> dict[str, str]:
    """Run every point that is not finished; returns {run name: final state}."""
    backend = backend or LocalBackend()
    with own_sweep(plan.runs_dir, plan.name):
        write_manifest(plan)
        for note in plan.notes:
            report(note)
        settled, jobs = classify(plan.configs)
        for name, state in settled.items():
            if state.startswith(("conflict", "damaged")):
                report(f"not reused: {name}: {state}")
        create_new(jobs)
        report(f"sweep {plan.name}: {len(plan.configs)} runs, {len(plan.configs) - len(jobs)} already done "
               f"or running, {len(jobs)} to run, {backend.describe()}")
        results = {name: settle_word(state) for name, state in settled.items()}
        results.update(backend.run(jobs, SweepProgress(report, [job.cfg.name for job in jobs])))
    return results


def read_manifest(path: Path) -> dict | None:
    """A sweep manifest, or None when it is missing or not a manifest."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list) \
            or not all(isinstance(r, str) for r in data["runs"]):
        return None
    if not isinstance(data.get("grid"), list):
        data["grid"] = []
    return data


def write_manifest(plan: SweepPlan) -> None:
    """Add the plan's runs to the sweep's manifest (runs of earlier plans of the same name stay)."""
    folder = plan.runs_dir / SWEEPS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{plan.name}.json"
    merged = plan.manifest()
    earlier = read_manifest(path)
    if earlier is None and path.exists():  # unreadable: keep it aside rather than overwrite it
        path.replace(folder / f".{plan.name}.json.damaged-{int(time.time())}")
    elif earlier is not None:
        runs = list(dict.fromkeys([*earlier["runs"], *merged["runs"]]))
        by_run = {g["run"]: g for g in [*earlier["grid"], *merged["grid"]] if isinstance(g, dict) and "run" in g}
        # one entry per run, in the order of runs (entries of manifests written before they named their run
        # cannot be matched to one and are dropped)
        merged = {**earlier, "name": plan.name, "runs": runs, "grid": [by_run[r] for r in runs if r in by_run]}
    atomic_write_bytes(path, json.dumps(merged, indent=1).encode())


def sweep_manifest(runs_dir, name: str) -> dict | None:
    return read_manifest(Path(runs_dir) / SWEEPS / f"{name}.json")


def list_sweeps(runs_dir) -> list[str]:
    folder = Path(runs_dir) / SWEEPS
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith(".")) if folder.is_dir() else []


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
