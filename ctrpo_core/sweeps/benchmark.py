"""The paper's benchmark as one plan: tasks × algorithms × seeds at one step budget, trained as a sweep.

A benchmark is a sweep whose runs span tasks and algorithms instead of β × b_H: it has a name (default
``paper-<budget>``, e.g. ``paper-10M``), a manifest in ``<runs-dir>/.sweeps/`` that keeps its plan, one driver at a
time, the sweep's stop request and ``ctrpo sweep --resume NAME``. Its runs are named
``bench_<task>_<algo>_s<seed>_<settings key>``, so a benchmark run again reuses every finished run of the runs
folder, resumes the stopped ones and trains the rest, and a run of other settings is never reused.

Both references of the normalisation (PPO for the return, CPO for Reg+) are always planned: the aggregate needs
them on every task.
"""

from __future__ import annotations

from pathlib import Path

from ..config.algorithms import ALGORITHM_IDS, algorithm
from ..config.rules import check_grid
from ..config.schema import ConfigError, TrainConfig, resolve, settings_key, validate_name
from ..envs.safety_gym import PAPER_TASKS
from . import cost
from .manifest import manifest_kind
from .plan import SweepPlan

KIND = "benchmark"  # the manifest's plan says what kind of sweep it is
VELOCITY = [task for task, _, _ in PAPER_TASKS if "Velocity" in task]
NAVIGATION = [task for task, _, _ in PAPER_TASKS if "Velocity" not in task]
TASK_SETS = {"paper": VELOCITY + NAVIGATION, "velocity": VELOCITY, "navigation": NAVIGATION}
PAPER_STEPS = 10_000_000  # the paper's budget per run
REFERENCES = ("ppo", "cpo")  # return / PPO's final return; Reg+ / CPO's Reg+
DEFAULT_TASKS = ("paper",)
DEFAULT_SEEDS = (0, 1, 2, 3, 4)  # the paper's five


def paper_algos() -> list[str]:
    """Every algorithm of this version (C-TRPO, the baselines the paper compared, unconstrained PPO and TRPO)."""
    return list(ALGORITHM_IDS)


def budget_text(steps: int) -> str:
    """10_000_000 → '10M', 200_000 → '200k', 1_500_000 → '1.5M'."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if steps >= size:
            return f"{steps / size:g}{unit}"
    return str(steps)


def benchmark_configs(algos, tasks, seeds, runs_dir, **settings) -> list[TrainConfig]:
    """One config per task × algorithm × seed, named ``bench_<task>_<algo>_s<seed>_<settings key>``.
    Raises ConfigError/UnknownTaskError before anything starts."""
    check_grid({"tasks": list(tasks), "algos": list(algos), "seeds": list(seeds)})
    configs = []
    for task in tasks:
        for algo in algos:
            for seed in seeds:
                cfg = resolve(task, algo, seed=int(seed), runs_dir=str(runs_dir), **settings)
                cfg.name = f"bench_{task}_{algo}_s{cfg.seed}_{settings_key(cfg)}"
                configs.append(cfg)
    return configs


def expand_tasks(tasks) -> list[str]:
    """Task ids, with the sets 'paper' (the paper's eight), 'velocity' and 'navigation' expanded; repeats dropped."""
    out: list[str] = []
    for task in tasks:
        out.extend(TASK_SETS.get(task, [task]))
    return list(dict.fromkeys(out))


def plan_benchmark(
    tasks=DEFAULT_TASKS,
    algos=None,
    seeds=DEFAULT_SEEDS,
    runs_dir="runs",
    steps: int | None = None,
    name=None,
    **settings,
) -> SweepPlan:
    """The benchmark's plan (a :class:`SweepPlan` whose request has ``kind`` 'benchmark'); ConfigError naming
    the parameter on bad input, before anything is written."""
    tasks = expand_tasks(tasks)
    seeds = [int(s) for s in seeds]
    algos = list(dict.fromkeys(algos or paper_algos()))
    for algo in algos:
        try:
            algorithm(algo)
        except ConfigError as exc:
            raise ConfigError("--algos", exc.message) from None
    planned = list(dict.fromkeys([*algos, *REFERENCES]))
    steps = PAPER_STEPS if steps is None else int(steps)
    name = name or f"paper-{budget_text(steps)}"
    validate_name(name)
    configs = benchmark_configs(planned, tasks, seeds, runs_dir, total_steps=steps, **settings)
    notes = [f"also planned: {', '.join(a for a in planned if a not in algos)} (the normalisation's references)"]
    request = {
        "kind": KIND,
        "tasks": tasks,
        "algos": planned,
        "seeds": seeds,
        "steps": steps,
        "settings": dict(settings),
    }
    return SweepPlan(name, Path(runs_dir), configs, notes if len(planned) > len(algos) else [], request)


def replan_benchmark(request: dict, runs_dir, name: str) -> SweepPlan:
    """The plan a benchmark manifest's ``plan`` entry describes (the same runs, names and all), or ConfigError."""
    try:
        tasks, algos, seeds, steps = request["tasks"], request["algos"], request["seeds"], request["steps"]
        settings = dict(request.get("settings") or {})
    except (KeyError, TypeError, ValueError):
        raise ConfigError("--resume", f"the manifest of benchmark {name} does not say what it planned") from None
    return plan_benchmark(tasks, algos, seeds, runs_dir, steps=steps, name=name, **settings)


def is_benchmark(manifest: dict | None) -> bool:
    return manifest_kind(manifest) == KIND


def counted(n: int, word: str) -> str:
    """'1 task', '4 tasks'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def scope_text(request: dict, name_task=None, name_algo=None) -> str:
    """What a benchmark plans, in words: '4 tasks × 12 algorithms × 3 seeds at 1M steps'; ``name_task`` and
    ``name_algo`` (functions giving a display name) also list them: '1 task (SafetyHopperVelocity-v1) × ...'."""
    tasks, algos, seeds = request["tasks"], request["algos"], request["seeds"]
    listed = lambda items, name: f" ({', '.join(map(name, items))})" if name else ""  # noqa: E731
    return (
        f"{counted(len(tasks), 'task')}{listed(tasks, name_task)} × "
        f"{counted(len(algos), 'algorithm')}{listed(algos, name_algo)} × "
        f"{counted(len(seeds), 'seed')} at {budget_text(request['steps'])} steps"
    )


def plan_lines(plan: SweepPlan, estimate: cost.Estimate, where: str) -> list[str]:
    """What the benchmark will do, before it starts: its runs, what is reused, the CPU-hours per task (from the
    measured speed of each task) and the wall time for the cores it has (``where``: 'on 2 cores')."""
    request = plan.request
    left = estimate.planned - estimate.done
    lines = [
        f"benchmark {plan.name}: {scope_text(request)} = {estimate.planned} runs",
        f"  {estimate.done} finished (reused), {left} to train or resume",
    ]
    for task, part in estimate.per_task.items():
        lines.append(
            f"  {task}: {part.runs} runs, {part.steps:,} steps at {part.steps_per_s:,.0f} steps/s per run "
            f"= {part.cpu_s / 3600:.1f} CPU-hours ({part.source})"
        )
    if left:
        lines.append(
            f"  total {estimate.cpu_s / 3600:.1f} CPU-hours; wall time {cost.approximate(estimate.wall_s)} {where}"
            + (
                f", {estimate.slots} run{'s' if estimate.slots != 1 else ''} at a time"
                if estimate.slots < estimate.cores
                else ""
            )
        )
    return lines
