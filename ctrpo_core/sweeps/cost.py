"""What planned runs cost before they train: CPU time, and wall time on C cores, from measured speed.

Each run is costed at one core for its length: its environment steps still to train divided by a training
speed, plus the start-up of its process (torch, the package, the envs: :data:`STARTUP_S`). The speed comes
from the runs folder when it can: the median steps per second of the finished runs of the same task, the
most alike first (the same algorithm and settings; the same algorithm; the same family, since a first-order
algorithm's 40 passes of minibatches cost several times a trust-region step; then any algorithm on the
task). A run's speed is its steps per epoch over its median epoch time (metrics.csv's ``time_s``), so an
epoch that spent hours paused (SIGSTOP, a suspended laptop) does not make the run look slow; status.json's
``total_steps``/``elapsed`` stands in when metrics.csv cannot be read. A task without history takes
:data:`MEASURED_STEPS_PER_S`, training steps per CPU-second measured on this project's 2-core machine kind.
So an estimate follows the machine it runs on as soon as a few runs finished there.

A planned run that already finished costs nothing; one stopped part-way costs the steps it has left. The
wall time places the runs, longest first, on ``min(parallel, cores)`` slots (runs beyond the cores share
them, and end no sooner), as the batch driver starts them.

``estimate(configs, cores, runs_dir)`` serves the Sensitivity page's line before a sweep, the Claims page's
time and ETA, and a benchmark plan's CPU-hours per task alike.
"""

from __future__ import annotations

import csv
import heapq
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from ..config.algorithms import algorithm
from ..config.rules import ConfigError
from ..config.schema import TrainConfig
from ..runs import lifecycle
from ..runs.store import CONFIG, METRICS, STATUS
from ..util import cores as machine
from .batch import settings_conflict

STARTUP_S = 2.5  # a training process's start-up before its first step (2.0-4 s measured, more under load)
# Training steps per CPU-second, one core per run (C-TRPO at each task's defaults). The built-in tasks:
# `ctrpo sweep --seeds 0,1 --parallel 2 --total-steps 40000` on the 2-core machine (each run pinned to its
# core); the Safety-Gymnasium tasks: README "How much compute" (benchmarks/sweep_cost.py).
MEASURED_STEPS_PER_S = {
    "HazardEdge-v0": 15_000,
    "GridHazard-v0": 7_500,
    "PointHazard-v0": 11_000,
    "SafetyAntVelocity-v1": 3_790,
    "SafetyHalfCheetahVelocity-v1": 11_420,
    "SafetyHopperVelocity-v1": 8_420,
    "SafetyHumanoidVelocity-v1": 2_710,
    "SafetyCarButton1-v0": 906,
    "SafetyPointGoal1-v0": 2_375,
    "SafetyRacecarCircle1-v0": 868,
    "SafetyPointPush1-v0": 1_584,
}
UNMEASURED_STEPS_PER_S = 868  # a task in neither: the slowest measured one, so an estimate never flatters
TABLE = "measured on this project's machine kind"


@dataclass(frozen=True)
class TaskCost:
    """One task's share of an estimate."""

    task: str
    runs: int  # planned runs of this task that still have steps to train
    steps: int  # their environment steps still to train
    steps_per_s: float  # training speed of one run on one core
    source: str  # where the speed comes from: "the runs finished in <folder>" or TABLE
    cpu_s: float


@dataclass(frozen=True)
class Estimate:
    cpu_s: float  # every run's remaining time, one core each, start-up included
    wall_s: float  # the runs placed on the slots, longest first
    cores: int
    slots: int  # runs at a time
    planned: int  # planned runs (one per distinct name)
    done: int  # of them already finished (they cost nothing)
    per_task: dict[str, TaskCost]

    @property
    def to_train(self) -> int:
        return sum(t.runs for t in self.per_task.values())


def approximate(seconds: float) -> str:
    """A duration as a person says it: 'under a minute', 'about 7 min', 'about 2.5 h'."""
    if seconds < 45:
        return "under a minute"
    minutes = seconds / 60
    if minutes < 90:
        return f"about {max(1, round(minutes))} min"
    return f"about {minutes / 60:.1f} h" if minutes < 600 else f"about {round(minutes / 60)} h"


def planned_steps(cfg: TrainConfig) -> int:
    """The environment steps a run of ``cfg`` trains: whole epochs of whole per-env rollouts."""
    return cfg.epochs * cfg.steps_per_env * cfg.num_envs


def steps_left(cfg: TrainConfig) -> int:
    """What the planned run still has to train in its runs folder: all of it when its directory does not
    exist, 0 when it finished or holds other settings (a batch never trains those), else what its status
    says is left (a stopped run resumes at its checkpoint; a running one goes on)."""
    path = Path(cfg.runs_dir) / cfg.name
    total = planned_steps(cfg)
    if not (path / CONFIG).exists():
        return total
    try:
        config = json.loads((path / CONFIG).read_text())
        status = json.loads((path / STATUS).read_text())
    except (OSError, ValueError):
        return 0  # damaged: the batch settles it without training
    if settings_conflict(cfg, config) or lifecycle.state(path) in ("finished", "damaged"):
        return 0
    trained = status.get("total_steps") if isinstance(status, dict) else None
    return max(0, total - int(trained)) if isinstance(trained, (int, float)) else total


# finished runs seen in a runs folder: {run path: (status.json's mtime, its record or None)}; a page that
# estimates on every rerun reads only what changed
_seen: dict[Path, tuple[int, dict | None]] = {}


def _family(algo) -> str | None:
    try:
        return algorithm(algo).family
    except (ConfigError, TypeError):
        return None


def _epoch_speed(path: Path) -> float | None:
    """Steps per second of a run's median epoch (metrics.csv's cumulative ``total_steps`` and ``time_s``), or
    None when its metrics cannot be read."""
    try:
        with open(path / METRICS, newline="") as f:
            rows = [(float(r["total_steps"]), float(r["time_s"])) for r in csv.DictReader(f)]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    previous, rates = (0.0, 0.0), []
    for steps, seconds in rows:
        if seconds > previous[1] and steps > previous[0]:
            rates.append((steps - previous[0]) / (seconds - previous[1]))
        previous = (steps, seconds)
    return statistics.median(rates) if rates else None


def _finished_record(path: Path) -> dict | None:
    """Task, settings and speed of a finished run (None for any other run or an unreadable one)."""
    try:
        mtime = (path / STATUS).stat().st_mtime_ns
    except OSError:
        return None
    cached = _seen.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    record = None
    try:
        status = json.loads((path / STATUS).read_text())
        config = json.loads((path / CONFIG).read_text())
        steps, elapsed = float(status.get("total_steps") or 0), float(status.get("elapsed") or 0)
        if status.get("state") == "finished" and steps > 0 and elapsed > 0:
            record = {
                "task": config["task"],
                "steps_per_s": _epoch_speed(path) or steps / elapsed,
                "family": _family(config.get("algo")),
                "alike": (
                    config.get("algo"),
                    config.get("steps_per_epoch"),
                    config.get("num_envs"),
                    tuple(config.get("hidden") or ()),
                ),
            }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        record = None
    _seen[path] = (mtime, record)
    return record


def history(runs_dir) -> list[dict]:
    """The finished runs of ``runs_dir`` with a measured speed."""
    folder = Path(runs_dir)
    if not folder.is_dir():
        return []
    records = (_finished_record(p) for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir())
    return [r for r in records if r is not None]


def speed(cfg: TrainConfig, finished: list[dict], where: str = "the runs folder") -> tuple[float, str]:
    """(steps per second of one run of ``cfg``, where that number comes from)."""
    alike = (cfg.algo, cfg.steps_per_epoch, cfg.num_envs, tuple(cfg.hidden))
    family = _family(cfg.algo)
    same_task = [r for r in finished if r["task"] == cfg.task]
    for matches in (
        [r for r in same_task if r["alike"] == alike],
        [r for r in same_task if r["alike"][0] == cfg.algo],
        [r for r in same_task if r["family"] == family],
        same_task,
    ):
        if matches:
            return statistics.median(r["steps_per_s"] for r in matches), f"the runs finished in {where}"
    return float(MEASURED_STEPS_PER_S.get(cfg.task, UNMEASURED_STEPS_PER_S)), TABLE


def makespan(durations: list[float], slots: int) -> float:
    """The time ``durations`` take on ``slots`` workers that each take the longest job left when free."""
    finish = [0.0] * max(1, slots)
    for duration in sorted(durations, reverse=True):
        heapq.heapreplace(finish, finish[0] + duration)
    return max(finish)


def estimate(
    configs: list[TrainConfig],
    cores: int | None = None,
    runs_dir=None,
    parallel: int | None = None,
    startup_s: float = STARTUP_S,
) -> Estimate:
    """The cost of training ``configs`` (each in its own runs folder) with ``parallel`` runs at a time
    (default: one per core) on ``cores`` cores (default: the cores this process may use). ``runs_dir``:
    where finished runs give the speed (default: the folder of the first config)."""
    cores = max(1, int(cores or machine.available()))
    configs = list({cfg.name: cfg for cfg in configs}.values())  # one run per name, as the batch trains it
    folder = Path(runs_dir if runs_dir is not None else (configs[0].runs_dir if configs else "."))
    finished = history(folder)
    slots = max(1, min(parallel or cores, cores))  # runs beyond the cores share them: no sooner done
    per_task: dict[str, dict] = {}
    durations, done = [], 0
    for cfg in configs:
        left = steps_left(cfg)
        if left <= 0:
            done += 1
            continue
        rate, source = speed(cfg, finished, str(folder))
        seconds = left / rate + startup_s
        durations.append(seconds)
        task = per_task.setdefault(cfg.task, {"runs": 0, "steps": 0, "cpu_s": 0.0, "rates": [], "sources": set()})
        task["runs"] += 1
        task["steps"] += left
        task["cpu_s"] += seconds
        task["rates"].append(rate)
        task["sources"].add(source)
    tasks = {
        name: TaskCost(
            name, t["runs"], t["steps"], statistics.median(t["rates"]), "; ".join(sorted(t["sources"])), t["cpu_s"]
        )
        for name, t in per_task.items()
    }
    wall = makespan(durations, slots) if durations else 0.0
    return Estimate(sum(t.cpu_s for t in tasks.values()), wall, cores, slots, len(configs), done, tasks)


def wall_text(estimate: Estimate) -> str:
    """'about 4 min on 2 cores' (or 'nothing left to train')."""
    if not estimate.to_train:
        return "nothing left to train"
    return f"{approximate(estimate.wall_s)} on {estimate.cores} core{'s' if estimate.cores != 1 else ''}"


def cpu_hours(estimate: Estimate) -> dict[str, float]:
    """CPU-hours per task (what a benchmark plan states), ordered as the tasks were planned."""
    return {task: cost.cpu_s / 3600 for task, cost in estimate.per_task.items()}


def sweep_line(plan, estimate: Estimate | None) -> str:
    """What a sweep's launch button will start, in one line: '27 runs: β 0, 1, 10 × b_H 0.6, 0.8, 1 ×
    seeds 0, 1, 2 on HazardEdge-v0, about 4 min on 2 cores' (``estimate`` None: a cluster's, not known here)."""
    runs = len(plan.configs)
    line = f"{runs} run{'s' if runs != 1 else ''}: {plan.describe()}"
    if estimate is None:
        return line
    if estimate.done:
        line += f" ({estimate.done} already finished)"
    return f"{line}, {wall_text(estimate)}"
