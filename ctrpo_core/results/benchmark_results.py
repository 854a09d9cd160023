"""Where a benchmark stands and what its finished runs say: the one source of the Benchmark page and report.

A benchmark's plan comes from its manifest (``ctrpo benchmark``; ``sweeps/benchmark.py``): every planned run is
listed, whether it exists yet or not. Only finished runs are counted (``pooling.finished``); the others are named
per task and algorithm ("seed 2 running (epoch 12/50)", "seed 3 not started").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config.algorithms import legend_rank
from ..sweeps.benchmark import KIND, is_benchmark, replan_benchmark
from ..sweeps.manifest import list_sweeps, sweep_manifest, sweep_running
from ..sweeps.plan import SweepPlan
from . import aggregate
from .catalog import CURVE_COLUMNS, load_curves, summarize_run
from .pooling import complete, finished, where_it_stands

NOT_STARTED = "not started"


def list_benchmarks(runs_dir) -> list[str]:
    """The benchmarks of a runs folder (the sweeps whose manifest keeps a benchmark plan), by name."""
    return list_sweeps(runs_dir, kind=KIND)


@dataclass
class BenchmarkState:
    name: str
    plan: SweepPlan
    summaries: pd.DataFrame  # one row per planned run that exists (catalog.summarize_run)
    not_started: list[str] = field(default_factory=list)  # planned runs without a directory yet
    driver: dict | None = None  # the process training it now, if any

    @property
    def request(self) -> dict:
        return self.plan.request

    @property
    def counted(self) -> pd.DataFrame:
        """The finished runs: the only ones any number or figure uses."""
        return finished(self.summaries) if len(self.summaries) else self.summaries

    @property
    def planned(self) -> int:
        return len(self.plan.configs)

    @property
    def uncounted(self) -> pd.DataFrame:
        """The planned runs that exist and do not count (running, stopped, failed, queued, damaged)."""
        return self.summaries[~complete(self.summaries)] if len(self.summaries) else self.summaries

    def progress(self) -> dict:
        """{"planned", "finished", "running", "not started"}."""
        uncounted = self.uncounted
        return {
            "planned": self.planned,
            "finished": len(self.counted),
            "running": int((uncounted.state == "running").sum()) if len(uncounted) else 0,
            NOT_STARTED: len(self.not_started),
        }

    def missing(self) -> pd.DataFrame:
        """One row per task × algorithm with runs that do not count yet: which, and where each stands."""
        rows = []
        by_name = {cfg.name: cfg for cfg in self.plan.configs}
        absent = pd.DataFrame(
            [{"task": by_name[n].task, "algo": by_name[n].algo, "seed": by_name[n].seed} for n in self.not_started],
            columns=["task", "algo", "seed"],
        )
        rest = self.uncounted
        keys = sorted(
            {(r.task, r.algo) for r in rest.itertuples()} | {(r.task, r.algo) for r in absent.itertuples()},
            key=lambda k: (k[0], legend_rank(k[1]), k[1]),
        )
        for task, algo in keys:
            here = rest[(rest.task == task) & (rest.algo == algo)].sort_values("seed") if len(rest) else rest
            lines = [where_it_stands(r) for r in here.itertuples()]
            seeds = absent[(absent.task == task) & (absent.algo == algo)].seed
            lines += [f"seed {int(s)} {NOT_STARTED}" for s in sorted(seeds)]
            rows.append({"task": task, "algo": algo, "not counted": "; ".join(lines)})
        return pd.DataFrame(rows, columns=["task", "algo", "not counted"])

    def curves(self) -> pd.DataFrame:
        """The learning curves (return, cost, Reg+ per epoch) of the finished runs."""
        counted = self.counted
        return load_curves(counted.path.tolist(), columns=CURVE_COLUMNS) if len(counted) else pd.DataFrame()

    def progress_line(self) -> str:
        """'12 of 45 runs finished; 2 running, 3 stopped, 28 not started; its driver is running (pid 123)'."""
        progress, rest = self.progress(), self.uncounted
        states = rest.state.value_counts() if len(rest) else pd.Series(dtype=int)
        parts = [f"{progress['running']} running"] if progress["running"] else []
        parts += [f"{int(states[s])} {s}" for s in sorted(states.index) if s != "running"]  # stopped, queued, ...
        if progress[NOT_STARTED]:
            parts.append(f"{progress[NOT_STARTED]} {NOT_STARTED}")
        line = f"{progress['finished']} of {progress['planned']} runs finished" + (
            f"; {', '.join(parts)}" if parts else ""
        )
        if self.driver is not None:
            return line + f"; its driver is running (pid {self.driver.get('pid', '?')})"
        return line + ("; no driver is running" if progress["finished"] < progress["planned"] else "")


def load(runs_dir, name: str) -> BenchmarkState:
    """The benchmark ``name`` of ``runs_dir`` as its manifest plans it; ConfigError when there is none."""
    manifest = sweep_manifest(runs_dir, name)
    if not is_benchmark(manifest):
        from ..config.schema import ConfigError  # noqa: PLC0415 (only on this error)

        raise ConfigError("name", f"no benchmark {name!r} in {str(runs_dir)!r}; run `ctrpo benchmark` first")
    plan = replan_benchmark(manifest["plan"], runs_dir, name)
    paths = [Path(runs_dir) / cfg.name for cfg in plan.configs]
    present = [p for p in paths if p.is_dir()]
    summaries = pd.DataFrame([summarize_run(p) for p in present])
    return BenchmarkState(
        name, plan, summaries, [p.name for p in paths if not p.is_dir()], sweep_running(runs_dir, name)
    )


@dataclass
class BenchmarkTables:
    per_task: pd.DataFrame  # aggregate.per_task_table
    normalised: pd.DataFrame  # one row per finished run with its normalised scores
    aggregate: pd.DataFrame  # aggregate.aggregate_table
    improvement: pd.DataFrame  # aggregate.improvement_table of C-TRPO
    left_out: list[str]  # what the aggregate could not compare (tasks without every algorithm, seeds)


def tables(
    state: BenchmarkState, reps: int = aggregate.REPS, seed: int = 0, improvement_reps: int | None = None
) -> BenchmarkTables:
    """Every table of the benchmark from its finished runs (unfinished ones are listed in ``per_task``)."""
    return summary_tables(state.summaries, reps, seed, improvement_reps)


def summary_tables(
    summaries: pd.DataFrame, reps: int = aggregate.REPS, seed: int = 0, improvement_reps: int | None = None
) -> BenchmarkTables:
    """:func:`tables` of these summary rows: a page passes ``state.counted`` alone, so that what it caches
    changes only when a run finishes (the others are ``state.missing()``'s). ``improvement_reps``: the
    probability of improvement's replicates (default ``reps``; its bootstrap is the slow one)."""
    if summaries.empty:
        empty = pd.DataFrame()
        return BenchmarkTables(empty, empty, empty, empty, [])
    normalised = aggregate.normalise(summaries)
    scores: dict[str, list[str]] = {}  # what is left out: of which scores (a line of every score is said once)
    for column, name in aggregate.NORMALISED:
        for line in aggregate.score_matrices(normalised, column)[2]:
            scores.setdefault(line, []).append(name)
    every = len(aggregate.NORMALISED)
    left_out = [line if len(of) == every else f"{line} (of {', '.join(of)})" for line, of in scores.items()]
    return BenchmarkTables(
        aggregate.per_task_table(summaries, reps, seed),
        normalised,
        aggregate.aggregate_table(normalised, reps, seed),
        aggregate.improvement_table(normalised, "c-trpo", improvement_reps or reps, seed),
        left_out,
    )
