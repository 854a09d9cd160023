"""The numbers behind the report notebooks: reusable run plans and β × b_H grids (the benchmark's statistics:
``results/aggregate.py``).

Run names are derived from the settings (a short hash of every resolved setting but the seed), so a
report run again with the same parameters reuses the finished runs of the runs folder, resumes stopped
ones and trains only the rest; a change of any setting gives new names instead of wrong reuse.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..config.schema import TrainConfig, resolve, settings_key
from ..sweeps.backends import make_backend
from ..sweeps.batch import states, train_all
from ..sweeps.plan import plan_sweep
from .catalog import summarize_run
from .pooling import complete, finished, where_it_stands


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
