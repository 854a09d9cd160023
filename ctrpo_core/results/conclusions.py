"""The written conclusions that close the report notebooks, computed from the numbers they just produced.

Each function returns plain sentences. A grid whose numbers come out flat is said to be flat (with
what to change), never dressed up as an effect: a flat table is a finding to investigate.
"""

from __future__ import annotations

import math

import pandas as pd

from ..envs.builtin.hazard_edge import constrained_optimum

FLAT = 0.01  # a spread below 1% of the largest value (or below 1e-9) counts as "no change"


def _num(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3g}"


def _change(start: float, end: float) -> str:
    """'fell by 12%' / 'rose by 3%' / 'did not change' (relative to ``start``)."""
    if not (math.isfinite(start) and math.isfinite(end)):
        return "cannot be compared (missing values)"
    if abs(end - start) <= max(1e-9, FLAT * max(abs(start), abs(end))):
        return "did not change"
    if start == 0:
        return f"{'rose' if end > start else 'fell'} from 0 to {_num(end)}"
    percent = 100 * abs(end - start) / abs(start)
    return f"{'rose' if end > start else 'fell'} by {percent:.0f}%"


def _flat(values) -> bool:
    values = [v for v in values if math.isfinite(v)]
    return len(values) > 1 and max(values) - min(values) <= max(1e-9, FLAT * max(abs(v) for v in values))


def reference_return(task: str, cost_limit: float) -> float | None:
    """The constrained optimum of a task that has an exact reference (HazardEdge-v0), else None."""
    if task != "HazardEdge-v0":
        return None

    return constrained_optimum(cost_limit)


def quickstart(task: str, algo: str, summary, cost_limit: float) -> str:
    """One run: where its return and cost ended against b, what it paid in Reg+, how often it recovered."""
    safe = summary.final_cost <= cost_limit
    text = (
        f"{algo} on {task} ended with a final return of {_num(summary.final_return)} and a final cost of "
        f"{_num(summary.final_cost)} against the limit b = {cost_limit:g}: "
        f"{'safe' if safe else 'above the limit'} at the end of training. Over {int(summary.epoch)} epochs it "
        f"accumulated Reg+ = {_num(summary.reg_plus)}, and {int(summary.recovery_epochs)} epochs "
        f"({summary.recovery_frac:.0%}) used the recovery update."
    )
    best = reference_return(task, cost_limit)
    if best is not None:
        text += (
            f" The best return any policy reaches at cost <= b is {best:.3g}; this run reached "
            f"{100 * summary.final_return / best:.0f}% of it."
        )
    if summary.reg_plus == 0:
        text += " Reg+ stayed at 0: the policy never exceeded the limit in any epoch."
    return text


def _ends(grid: pd.DataFrame, fixed: str, varied: str):
    """(value of ``fixed``, first row, last row along ``varied``) for each value of ``fixed`` with 2+ rows."""
    for value, g in grid.sort_values(varied).groupby(fixed):
        if len(g) >= 2:
            yield value, g.iloc[0], g.iloc[-1]


def _thinner_than_planned(table: pd.DataFrame, name) -> list[str]:
    """A sentence naming the rows whose values pool fewer runs than were planned (only finished runs count)."""
    if "not counted" not in table:
        return []
    rows = table[table["not counted"].fillna("").astype(str).str.strip() != ""]
    if rows.empty:
        return []
    return [
        "Only finished runs count; not counted: "
        + "; ".join(f"{name(r)}: {r['not counted']}" for _, r in rows.iterrows())
        + "."
    ]


def sensitivity(grid: pd.DataFrame, cost_limit: float) -> str:
    """β × b_H grid (``analysis.grid_table``): Reg+ and return from the smallest to the largest β per
    b_H; final cost and recovery from the smallest to the largest b_H per β."""
    notes = _thinner_than_planned(grid, lambda r: f"β = {r.beta:g}/b_H = {r.bh:g}")
    grid = grid[grid.seeds > 0] if "seeds" in grid else grid
    if grid.empty:
        return "\n".join(["No finished runs: nothing to conclude.", *notes])
    if _flat(grid.reg_plus) and _flat(grid.final_cost) and _flat(grid.final_return):
        return (
            "Every cell of the grid has the same Reg+, final cost and final return: neither β nor b_H acted in "
            "these runs. This is a finding, not a result: the runs are probably too short, or the policy never "
            "came near the limit b. Try a task whose reward pulls toward the limit (HazardEdge-v0) or more steps."
        )
    lines = notes
    for bh, first, last in _ends(grid, fixed="bh", varied="beta"):
        lines.append(
            f"b_H = {bh:g}: Reg+ {_change(first.reg_plus, last.reg_plus)} from {_num(first.reg_plus)} at "
            f"β = {first.beta:g} to {_num(last.reg_plus)} at β = {last.beta:g}, while the final return "
            f"{_change(first.final_return, last.final_return)} ({_num(first.final_return)} → "
            f"{_num(last.final_return)})."
        )
    safe = grid[grid.final_cost <= cost_limit]
    if len(safe) == len(grid):
        lines.append(f"Every grid point ended with a mean final cost at or below b = {cost_limit:g}.")
    else:
        unsafe = grid[grid.final_cost > cost_limit]
        where = ", ".join(f"β = {r.beta:g}/b_H = {r.bh:g}" for r in unsafe.itertuples())
        lines.append(f"The mean final cost ended above b = {cost_limit:g} at {where}.")
    for beta, first, last in _ends(grid, fixed="beta", varied="bh"):
        lines.append(
            f"At β = {beta:g}, from b_H = {first.bh:g} to {last.bh:g} the final cost "
            f"{_change(first.final_cost, last.final_cost)} ({_num(first.final_cost)} → {_num(last.final_cost)}) "
            f"and the share of epochs in recovery {_change(first.recovery_frac, last.recovery_frac)} "
            f"({first.recovery_frac:.0%} → {last.recovery_frac:.0%})."
        )
    return "\n".join(lines)


def _improvement(p: float, low: float, high: float) -> str:
    """What a probability of improvement with its CI says: better, worse, or no clear difference."""
    if not all(math.isfinite(v) for v in (p, low, high)):
        return "cannot be told (too few runs)"
    if low > 0.5:
        return "probably better"
    if high < 0.5:
        return "probably worse"
    return "no clear difference at these seeds"


def benchmark(
    per_task: pd.DataFrame,
    scores: pd.DataFrame,
    improvement: pd.DataFrame,
    best: str | None,
    not_counted=(),
    left_out=(),
    algo: str = "c-trpo",
) -> str:
    """The benchmark's conclusion (``benchmark_results.tables``): what does not count; per task the lowest Reg+
    and the highest return among the algorithms whose IQM cost is <= b; across tasks ``algo``'s normalised
    scores, the probably-safe algorithm with the highest normalised return (``best``) and, per baseline,
    whether the probability that ``algo`` improves on it is above 0.5 beyond its CI (return and Reg+).
    ``not_counted`` and ``left_out`` (what the aggregate could not compare, and why): lines said first."""
    from .aggregate import NORMALISED  # noqa: PLC0415 (aggregate imports rliable's helpers: only a report does)

    lines = [f"Only finished runs count; not counted: {'; '.join(not_counted)}."] if len(not_counted) else []
    done = per_task[per_task["finished seeds"] > 0] if "finished seeds" in per_task else per_task
    if done.empty:
        return "\n".join([*lines, "No finished runs: nothing to conclude."])
    for task, g in done.groupby("task", sort=True):
        b = float(g.b.iloc[0])
        least = g.sort_values("Reg+ IQM").iloc[0]
        line = f"{task} (b = {b:g}): the lowest Reg+ is {least.algo}'s ({_num(least['Reg+ IQM'])})"
        if _flat(g["Reg+ IQM"]):
            line = f"{task} (b = {b:g}): every algorithm has the same Reg+ ({_num(least['Reg+ IQM'])})"
        safe = g[g["V_c IQM"] <= b]
        if safe.empty:
            line += "; no algorithm ended with an IQM cost at or below b."
        else:
            top = safe.sort_values("V_r IQM", ascending=False).iloc[0]
            if len(safe) > 1:
                line += (
                    f"; among the {len(safe)} algorithms whose IQM final cost is at or below b, {top.algo} has the "
                    f"highest return ({_num(top['V_r IQM'])})."
                )
            else:
                line += f"; only {top.algo} ended with an IQM cost at or below b (return {_num(top['V_r IQM'])})."
        lines.append(line)
    lines += [f"Left out of the aggregate: {line}." for line in left_out]
    if scores.empty:
        return "\n".join([*lines, "No task has a finished run of every algorithm: no aggregate yet."])
    names = [name for _, name in NORMALISED]
    mine = scores[scores.algo == algo]
    if len(mine):
        row = mine.iloc[0]
        parts = [
            f"{name} {_num(row[f'{name} IQM'])} [{_num(row[f'{name} CI low'])}, {_num(row[f'{name} CI high'])}]"
            for name in names
        ]
        lines.append(
            f"Across {int(row.tasks)} tasks ({int(row.runs)} runs), {algo}'s IQM scores are: "
            + "; ".join(parts)
            + f" ({'probably safe' if row['probably safe'] else 'not probably safe'})."
        )
    if all(_flat(scores[f"{name} IQM"]) for name in names):
        lines.append(
            "Every algorithm has the same normalised scores: the runs are probably too short for the algorithms "
            "to differ, which is a finding, not a result."
        )
    lines.append(
        f"Across tasks, the probably-safe algorithm with the highest normalised return: {best or 'none'} "
        f"(of {len(scores)} algorithms; probably safe = the upper end of the cost CI is at most 0)."
    )
    for _, row in improvement.iterrows():
        said = []
        for name in names:
            if f"P({name}) better" in row:
                p, low, high = row[f"P({name}) better"], row[f"P({name}) CI low"], row[f"P({name}) CI high"]
                score = "Reg+" if "Reg+" in name else "return"
                said.append(f"{score}: P = {p:.2f} [{low:.2f}, {high:.2f}], {_improvement(p, low, high)}")
        if said:
            lines.append(f"{algo} against {row.versus}: " + "; ".join(said) + ".")
    return "\n".join(lines)


def geometry(labels, max_vc, final_vr, b: float, lp_value: float, tol: float) -> str:
    """The exact flows: which stayed in the safe set and how close each got to the LP optimum."""
    lines = []
    for label, vc, vr in zip(labels, max_vc, final_vr):
        excess, gap = max(vc) - b, max(abs(v - lp_value) for v in vr)
        where = "stayed inside the safe set" if excess <= tol else f"crossed the boundary (max V_c − b = {excess:.2e})"
        lines.append(
            f"{label}: {where}; the largest gap of its final V_r to the LP optimum {lp_value:.4f} is {gap:.2e}."
        )
    return "\n".join(lines)
