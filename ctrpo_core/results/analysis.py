"""The numbers behind the report notebooks: reusable run plans, β × b_H grids and the paper's benchmark
table with its across-task normalised scores (the paper's evaluation protocol).

Run names are derived from the settings (a short hash of every resolved setting but the seed), so a
report run again with the same parameters reuses the finished runs of the runs folder, resumes stopped
ones and trains only the rest; a change of any setting gives new names instead of wrong reuse.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..config.rules import check_grid
from ..config.schema import TrainConfig, resolve, settings_key
from ..sweeps.backends import make_backend
from ..sweeps.batch import states, train_all
from ..sweeps.plan import plan_sweep
from .catalog import summarize_run
from .pooling import complete, finished, where_it_stands
from .stats import bootstrap_ci, iqm

METRICS = [("final_return", "V_r"), ("final_cost", "V_c"), ("reg_plus", "Reg+")]
NORMALISED = [("return_norm", "return / reference"), ("cost_norm", "V_c / b − 1"), ("regret_norm", "Reg+ / CPO's Reg+")]


# ---------------------------------------------------------------------------------------------- runs
def sensitivity_plan(task: str, betas, bhs, seeds, runs_dir, algo: str = "c-trpo", **settings):
    """A :class:`ctrpo_core.sweeps.plan.SweepPlan` over β × b_H × seeds whose name carries the other settings."""
    base = resolve(task, algo, runs_dir=str(runs_dir), **settings)
    key = settings_key(base, exclude=("seed", "beta", "bh"))
    return plan_sweep(
        task,
        algo,
        betas=list(betas),
        bhs=list(bhs),
        deltas=[None],
        seeds=list(seeds),
        runs_dir=str(runs_dir),
        name=f"sens_{task}_{algo}_{key}",
        **settings,
    )


def benchmark_plan(algos, tasks, seeds, runs_dir, **settings) -> list[TrainConfig]:
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


def run_configs(configs: list[TrainConfig], parallel: int | None = 1, report=print) -> dict[str, str]:
    """Train every config that has not finished through the batch driver (``parallel``: see
    :func:`ctrpo_core.sweeps.backends.make_backend`), resuming stopped runs; returns {run name: state}. A run
    directory of the same name trained with other settings is never reused (its state says 'conflict')."""
    where = Path(configs[0].runs_dir) if configs else "-"
    return states(
        train_all(
            configs,
            make_backend(parallel),
            report,
            announce=lambda jobs, backend: (
                f"{len(configs)} runs: {len(configs) - len(jobs)} reused from {where}, {len(jobs)} to train, "
                f"{backend.describe()}"
            ),
        )
    )


def run_summaries(paths) -> pd.DataFrame:
    """One row per run: settings, final return/cost (mean of the last 10% of epochs), Reg+, and the
    number and fraction of epochs in recovery mode."""
    rows = [summarize_run(path) for path in paths]
    for row in rows:
        row["recovery_frac"] = row["recovery_epochs"] / row["epoch"] if row.get("epoch") else math.nan
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- sensitivity
def grid_table(summaries: pd.DataFrame) -> pd.DataFrame:
    """One row per planned (β, b_H): means over its finished seeds (and the seed std of the final return; NaN
    where none finished), ``seeds`` the finished ones, ``planned`` every run of the cell, ``not counted`` the
    runs that have not finished."""
    rows = []
    for (beta, bh), cell in summaries[summaries.state != "damaged"].groupby(["beta", "bh"]):
        done = finished(cell)
        rows.append(
            {
                "beta": beta,
                "bh": bh,
                "seeds": len(done),
                "planned": len(cell),
                "final_return": done.final_return.mean(),
                "return_std": done.final_return.std(),
                "final_cost": done.final_cost.mean(),
                "reg_plus": done.reg_plus.mean(),
                "recovery_frac": done.recovery_frac.mean(),
                "not counted": "; ".join(where_it_stands(r) for r in cell[~complete(cell)].itertuples()),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "beta",
            "bh",
            "seeds",
            "planned",
            "final_return",
            "return_std",
            "final_cost",
            "reg_plus",
            "recovery_frac",
            "not counted",
        ],
    )
    table["return_std"] = table["return_std"].fillna(0.0)
    return table.sort_values(["bh", "beta"]).reset_index(drop=True)


def barrier_onset(grid: pd.DataFrame, drop: float = 0.1) -> dict[float, float | None]:
    """Per b_H: the smallest β whose mean final return lies below that of the smallest β by more than
    ``tolerance = max(drop·|R(β_min)|, seed std at β_min)``; None where no β does."""
    onset = {}
    for bh, g in grid[grid.seeds > 0].sort_values("beta").groupby("bh"):
        first = g.iloc[0]
        tolerance = max(drop * abs(first.final_return), first.return_std)
        below = g[g.final_return < first.final_return - tolerance]
        onset[float(bh)] = float(below.beta.iloc[0]) if len(below) else None
    return onset


# --------------------------------------------------------------------------------------- benchmark
def _ci_row(values, reps: int, seed: int, strata=None) -> tuple[float, float, float]:
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).any():
        return math.nan, math.nan, math.nan
    samples = [np.asarray(s, dtype=float) for s in strata] if strata is not None else values
    if strata is not None:
        samples = [s[np.isfinite(s)] for s in samples]
        samples = [s for s in samples if s.size]
    low, high = bootstrap_ci(samples, reps=reps, seed=seed)
    return iqm(values[np.isfinite(values)]), low, high


def benchmark_table(summaries: pd.DataFrame, reps: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The paper's per-task table: final V_r, final V_c and Reg+ per task × algorithm as the IQM over the
    finished seeds with a 95% percentile-bootstrap CI (one task: the stratified bootstrap has one stratum);
    ``not counted`` names the runs of that task and algorithm that have not finished."""
    rows = []
    summaries = summaries[summaries.state != "damaged"]
    for (task, algo), every in summaries.groupby(["task", "algo"], sort=True):
        g = finished(every)
        row = {
            "task": task,
            "algo": algo,
            "finished seeds": len(g),
            "b": float(every.cost_limit.iloc[0]),
            "not counted": "; ".join(where_it_stands(r) for r in every[~complete(every)].itertuples()),
        }
        for column, name in METRICS:
            row[f"{name} IQM"], row[f"{name} CI low"], row[f"{name} CI high"] = _ci_row(g[column], reps, seed)
        rows.append(row)
    return pd.DataFrame(rows)


def normalise(summaries: pd.DataFrame, reference: str = "trpo", regret_reference: str = "cpo") -> pd.DataFrame:
    """Per finished run (the others never count), the across-task scores of the paper's protocol: return / the mean
    final return of ``reference``
    on the task (the paper uses unconstrained PPO), cost V_c / b − 1 (0 = at the limit), and Reg+ / the
    IQM Reg+ of ``regret_reference`` (CPO) on the task. A reference missing (or zero) on a task gives NaN."""
    frames = []
    for task, g in finished(summaries).groupby("task", sort=True):
        ref = g[g.algo == reference].final_return
        ref_return = float(ref.mean()) if len(ref) else math.nan
        reg = g[g.algo == regret_reference].reg_plus
        ref_regret = iqm(reg) if len(reg) else math.nan
        g = g.copy()
        g["return_norm"] = g.final_return / ref_return if ref_return != 0.0 else math.nan  # NaN stays NaN
        g["cost_norm"] = g.final_cost / g.cost_limit - 1.0
        g["regret_norm"] = g.reg_plus / ref_regret if ref_regret != 0.0 else math.nan
        g["reference_return"], g["reference_regret"] = ref_return, ref_regret
        frames.append(g)
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else summaries.assign(return_norm=[], cost_norm=[], regret_norm=[])
    )


def normalised_table(normalised: pd.DataFrame, reps: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per algorithm: the IQM of each normalised score over the seeds × tasks matrix with a 95%
    stratified-bootstrap CI (runs resampled within each task); 'probably safe' = the cost CI's upper end <= 0."""
    rows = []
    for algo, g in normalised.groupby("algo", sort=True):
        row = {"algo": algo, "tasks": g.task.nunique(), "runs": len(g)}
        for column, name in NORMALISED:
            strata = [t[column].to_numpy(dtype=float) for _, t in g.groupby("task", sort=True)]
            row[f"{name} IQM"], row[f"{name} CI low"], row[f"{name} CI high"] = _ci_row(g[column], reps, seed, strata)
        high = row["V_c / b − 1 CI high"]
        row["probably safe"] = bool(np.isfinite(high) and high <= 0.0)
        rows.append(row)
    return pd.DataFrame(rows)


def headline(table: pd.DataFrame) -> str | None:
    """The probably-safe algorithm with the highest normalised return IQM (None if none is)."""
    safe = table[table["probably safe"] & table["return / reference IQM"].notna()]
    return None if safe.empty else str(safe.sort_values("return / reference IQM", ascending=False).algo.iloc[0])


def with_ci_text(table: pd.DataFrame, names, digits: int = 3) -> pd.DataFrame:
    """A printable copy: 'IQM [low, high]' in one column per metric name."""
    out = table.drop(columns=[c for n in names for c in (f"{n} IQM", f"{n} CI low", f"{n} CI high")])
    for n in names:
        out[n] = [
            f"{m:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"
            for m, lo, hi in zip(table[f"{n} IQM"], table[f"{n} CI low"], table[f"{n} CI high"])
        ]
    return out
