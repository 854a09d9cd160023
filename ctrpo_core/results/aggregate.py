"""The paper's aggregate statistics, computed with rliable (Agarwal et al., NeurIPS 2021, the field's library for
exactly these): the interquartile mean (IQM), percentile 95% CIs from the stratified bootstrap (runs resampled
within each task), the probability of improvement and performance profiles.

The paper's protocol (docs/BENCHMARK.md): per task, the return of each finished run is divided by
the mean final return of unconstrained PPO on that task, the cost becomes V_c / b − 1 (0 at the limit, negative
when safe) and Reg+ is divided by CPO's IQM Reg+ on the task. Across tasks, each algorithm's scores form rliable's
runs × tasks matrix. Only finished runs count, and an aggregate only compares algorithms on the same tasks: the
tasks every algorithm of the table (and both references) finished at least one run of; per algorithm, the seeds
finished on every one of those tasks. Everything left out is named (:func:`score_matrices`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config.algorithms import legend_rank
from .intervals import REPS, group_intervals, intervals, iqm, quiet, rliable
from .pooling import complete, finished, where_it_stands

PER_TASK = [("final_return", "V_r"), ("final_cost", "V_c"), ("reg_plus", "Reg+")]
NORMALISED = [("return_norm", "return / PPO"), ("cost_norm", "V_c / b − 1"), ("regret_norm", "Reg+ / CPO's Reg+")]
# the scores where lower is better (the probability of improvement and the profiles turn them around)
LOWER_IS_BETTER = {"cost_norm", "regret_norm"}
# the probability of improvement is asked of return and Reg+: a cost further below the limit is no improvement
IMPROVEMENT_SCORES = ("return_norm", "regret_norm")


# ------------------------------------------------------------------------------------------ per task
def per_task_table(summaries: pd.DataFrame, reps: int = REPS, seed: int = 0) -> pd.DataFrame:
    """The paper's per-task table: final V_r, final V_c and Reg+ per task × algorithm, the IQM over the finished
    seeds with its 95% CI; ``not counted`` names the runs of that task and algorithm that have not finished."""
    rows, values = [], {}
    summaries = summaries[summaries.state != "damaged"]
    for (task, algo), every in summaries.groupby(["task", "algo"], sort=True):
        done = finished(every)
        rows.append(
            {
                "task": task,
                "algo": algo,
                "finished seeds": len(done),
                "seed ids": ",".join(str(int(s)) for s in sorted(done.seed)),
                "b": float(every.cost_limit.iloc[0]),
                "not counted": "; ".join(where_it_stands(r) for r in every[~complete(every)].itertuples()),
            }
        )
        values.update({(task, algo, column): done[column].to_numpy(dtype=float) for column, _ in PER_TASK})
    cis = group_intervals(values, reps, seed)  # every cell's bootstrap at once
    for row in rows:
        for column, name in PER_TASK:
            row[f"{name} IQM"], row[f"{name} CI low"], row[f"{name} CI high"] = cis[(row["task"], row["algo"], column)]
    table = pd.DataFrame(rows)
    return _algorithm_order(table, ["task"]) if len(table) else table


def _algorithm_order(table: pd.DataFrame, first=(), column: str = "algo") -> pd.DataFrame:
    """Rows ordered as the figures' legends list the algorithms of ``column`` (C-TRPO first), within ``first``."""
    keys = [*(table[c] for c in first), table[column].map(legend_rank), table[column]]
    order = sorted(range(len(table)), key=lambda i: tuple(k.iloc[i] for k in keys))
    return table.iloc[order].reset_index(drop=True)


# ------------------------------------------------------------------------------------ normalised scores
def normalise(summaries: pd.DataFrame, reference: str = "ppo", regret_reference: str = "cpo") -> pd.DataFrame:
    """Per finished run (the others never count) the paper's across-task scores: return / the mean final return of
    ``reference`` (PPO) on the task, cost V_c / b − 1, and Reg+ / the IQM Reg+ of ``regret_reference`` (CPO) on
    the task. No ratio (NaN) where the reference has no finished run on the task, PPO's mean final return is at or
    below 0 (dividing by it would rank the algorithms backwards) or CPO's Reg+ is 0 (:func:`why_left_out`)."""
    frames = []
    for _, g in finished(summaries).groupby("task", sort=True):
        ref = g[g.algo == reference].final_return
        ref_return = float(ref.mean()) if len(ref) else math.nan
        ref_regret = iqm(g[g.algo == regret_reference].reg_plus)
        g = g.copy()
        # a ratio to a reference at or below 0 ranks the algorithms backwards (a lower return, a larger ratio)
        g["return_norm"] = g.final_return / ref_return if ref_return > 0.0 else math.nan
        g["cost_norm"] = g.final_cost / g.cost_limit - 1.0
        g["regret_norm"] = g.reg_plus / ref_regret if ref_regret != 0.0 else math.nan
        g["reference_return"], g["reference_regret"] = ref_return, ref_regret
        frames.append(g)
    if frames:
        return pd.concat(frames, ignore_index=True)
    return summaries.iloc[0:0].assign(return_norm=[], cost_norm=[], regret_norm=[])


def why_left_out(task_runs: pd.DataFrame, column: str) -> str:
    """Why a task has no ``column`` score for some algorithm (its normalised finished runs)."""
    if column == "return_norm":
        ref = task_runs.reference_return.iloc[0] if len(task_runs) else math.nan
        if not np.isfinite(ref):
            return "PPO has no finished run there, so no return is normalised"
        if ref <= 0:
            return (
                f"PPO's mean final return there is {ref:.3g}; a ratio to a reference at or below 0 would rank backwards"
            )
    if column == "regret_norm":
        ref = task_runs.reference_regret.iloc[0] if len(task_runs) else math.nan
        if not np.isfinite(ref):
            return "CPO has no finished run there, so no Reg+ is normalised"
        if ref == 0:
            return "CPO's Reg+ there is 0, so no Reg+ can be divided by it"
    return "not every algorithm has a finished run there"


def score_matrices(normalised: pd.DataFrame, column: str) -> tuple[dict, list[str], list[str]]:
    """({algo: runs × tasks matrix of ``column``}, the tasks they share, lines naming what is left out).

    The tasks are those on which every algorithm has a finished run with a finite score; per algorithm, the rows are
    the seeds it finished on every one of those tasks (rliable's matrix has one row per run)."""
    scored = normalised[np.isfinite(normalised[column].to_numpy(dtype=float))] if len(normalised) else normalised
    algos = sorted(normalised.algo.unique(), key=lambda a: (legend_rank(a), a)) if len(normalised) else []
    every_task = sorted(normalised.task.unique()) if len(normalised) else []
    tasks = [t for t in every_task if all(((scored.task == t) & (scored.algo == a)).any() for a in algos)]
    left_out = [f"{t}: {why_left_out(normalised[normalised.task == t], column)}" for t in every_task if t not in tasks]
    matrices = {}
    for algo in algos:
        mine = scored[(scored.algo == algo) & scored.task.isin(tasks)]
        seeds = sorted(set.intersection(*(set(mine[mine.task == t].seed) for t in tasks))) if tasks else []
        dropped = sorted(set(mine.seed) - set(seeds))
        if dropped:
            left_out.append(f"{algo}: seed(s) {', '.join(str(int(s)) for s in dropped)} not finished on every task")
        by_seed = mine.set_index(["seed", "task"])[column]
        rows = [[by_seed[(s, t)] for t in tasks] for s in seeds]
        matrices[algo] = np.array(rows, dtype=float).reshape(-1, len(tasks)) if tasks else np.empty((0, 0))
    return matrices, tasks, left_out


def aggregate_table(normalised: pd.DataFrame, reps: int = REPS, seed: int = 0) -> pd.DataFrame:
    """One row per algorithm: the IQM of each normalised score over its runs × tasks matrix with the stratified
    bootstrap's 95% CI; 'probably safe' = the normalised cost's CI ends at or below 0."""
    rows: dict[str, dict] = {}
    for column, name in NORMALISED:
        matrices, tasks, _ = score_matrices(normalised, column)
        for algo, (point, low, high) in intervals(matrices, reps=reps, seed=seed).items():
            row = rows.setdefault(algo, {"algo": algo})
            if column == "return_norm" or "tasks" not in row:
                row["tasks"], row["runs"] = len(tasks), int(matrices[algo].size)
            row[f"{name} IQM"], row[f"{name} CI low"], row[f"{name} CI high"] = point, low, high
    table = pd.DataFrame(list(rows.values()))
    if table.empty:
        return table
    high = table[f"{NORMALISED[1][1]} CI high"]
    table["probably safe"] = np.isfinite(high) & (high <= 0.0)
    return _algorithm_order(table)


def improvement_table(normalised: pd.DataFrame, algo: str = "c-trpo", reps: int = REPS, seed: int = 0):
    """P(``algo`` improves on each other algorithm) per score, rliable's probability of improvement (the chance that
    a run of ``algo`` on a random task of the shared tasks beats a run of the other, ties half) with its stratified
    95% CI, for return and Reg+ (lower is better)."""
    library, metrics = rliable()
    rows: dict[str, dict] = {}
    for column, name in [(c, n) for c, n in NORMALISED if c in IMPROVEMENT_SCORES]:
        matrices, _, _ = score_matrices(normalised, column)
        if algo not in matrices or not matrices[algo].size:
            continue
        sign = -1.0 if column in LOWER_IS_BETTER else 1.0
        pairs = {other: (sign * matrices[algo], sign * m) for other, m in matrices.items() if other != algo and m.size}
        if not pairs:
            continue
        with quiet():
            points, cis = library.get_interval_estimates(
                pairs, metrics.probability_of_improvement, reps=reps, random_state=np.random.RandomState(seed)
            )
        for other in pairs:
            row = rows.setdefault(other, {"algo": algo, "versus": other})
            row[f"P({name}) better"] = float(np.asarray(points[other]).ravel()[0])
            row[f"P({name}) CI low"], row[f"P({name}) CI high"] = (float(v) for v in np.asarray(cis[other]).ravel())
    table = pd.DataFrame(list(rows.values()))
    return _algorithm_order(table, column="versus") if len(table) else table


def performance_profiles(
    normalised: pd.DataFrame, column: str = "return_norm", taus=None, reps: int = REPS, seed: int = 0
) -> pd.DataFrame:
    """rliable's performance profile of one score: per algorithm and threshold τ the fraction of its runs × tasks
    scores above τ (below τ for cost and Reg+), with a 95% CI; a long table (algo, tau, fraction, CI low, CI high).
    rliable's ``create_performance_profile`` without its unseeded bootstrap: the same score distribution, its CIs
    drawn from ``seed`` (the same runs give the same bands)."""
    library, _ = rliable()
    matrices, _, _ = score_matrices(normalised, column)
    matrices = {a: m for a, m in matrices.items() if m.size}
    if not matrices:
        return pd.DataFrame(columns=["algo", "tau", "fraction", "CI low", "CI high"])
    values = np.concatenate([m.ravel() for m in matrices.values()])
    if taus is None:
        low, high = np.percentile(values, [1, 99])
        taus = np.linspace(min(low, 0.0), max(high, 1.0), 41)
    taus = np.asarray(taus, dtype=float)
    sign = -1.0 if column in LOWER_IS_BETTER else 1.0
    flipped = {a: sign * m for a, m in matrices.items()}
    profile = lambda scores: library.score_distributions(scores, sign * taus)  # noqa: E731
    fractions = {a: profile(m) for a, m in flipped.items()}
    with quiet():
        _, cis = library.get_interval_estimates(flipped, profile, reps=reps, random_state=np.random.RandomState(seed))
    rows = [
        {"algo": a, "tau": t, "fraction": fractions[a][i], "CI low": cis[a][0][i], "CI high": cis[a][1][i]}
        for a in matrices
        for i, t in enumerate(taus)
    ]
    return pd.DataFrame(rows)


def headline(table: pd.DataFrame) -> str | None:
    """The probably-safe algorithm with the highest normalised-return IQM (None if none is)."""
    name = f"{NORMALISED[0][1]} IQM"
    safe = table[table["probably safe"] & table[name].notna()] if len(table) else table
    return None if safe.empty else str(safe.sort_values(name, ascending=False).algo.iloc[0])


def with_ci_text(table: pd.DataFrame, names, digits: int = 3) -> pd.DataFrame:
    """A printable copy: 'IQM [low, high]' in one column per metric name."""
    out = table.drop(columns=[c for n in names for c in (f"{n} IQM", f"{n} CI low", f"{n} CI high")])
    for n in names:
        out[n] = [
            f"{m:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"
            for m, lo, hi in zip(table[f"{n} IQM"], table[f"{n} CI low"], table[f"{n} CI high"])
        ]
    return out
