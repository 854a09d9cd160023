"""The paper's claims, each checked where the truth is known, with a verdict computed from the numbers.

Runs on the built-in tasks with a known model log the true value of every policy iterate (envs/truth.py);
from those this module counts, per run, the updates that cross from truly safe to truly unsafe, the share
of truly unsafe iterates and the true Reg+, and turns the numbers into one verdict per claim:

    (a) trust regions contain only safe policies      C-TRPO's crossings against TRPO-Lag, CPO and TRPO
    (b) the surrogate is first-order exact            α and D̂_C against V_c and D_C on a tabular model
    (c) C-NPG keeps the safe set and converges        the exact flows (tabular/flows.py)
    (d) lower Reg+ at competitive return              true Reg+ and return, per algorithm
    (e) β trades return for safety                    true Reg+ and return along β

Every threshold is an argument (the report's parameters), so a verdict is never hard-coded: the tests
feed each rule numbers on both sides of its threshold.
"""

from __future__ import annotations

import functools
import json
import math
import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .. import reports
from ..config.schema import resolve, settings_key
from ..envs import get_spec
from ..results.catalog import format_duration, run_dirs, summarize_run
from ..runs import lifecycle
from ..runs.store import RunDir
from ..sweeps import cost
from ..sweeps.cost import approximate
from ..tabular.cmdp import grid_hazard_cmdp
from ..tabular.fisher import cnpg_direction
from ..tabular.policy import softmax_policy
from ..tabular.starts import safe_starts
from ..tabular.values import evaluate
from . import claims_figures as figures
from .demo import trained_elsewhere

HOLDS, FAILS, UNTESTED = "holds", "does not hold", "not tested at this budget"
BASELINES = ("trpo-lag", "cpo", "trpo")


@dataclass
class Verdict:
    claim: str  # "a" ... "e"
    statement: str  # the claim in one sentence
    verdict: str  # HOLDS, FAILS or UNTESTED
    because: str  # the numbers behind it, in one sentence
    numbers: dict = field(default_factory=dict)
    paper: str = ""  # what the paper reports, where it states a number

    def as_dict(self) -> dict:
        return {
            "claim": self.claim,
            "statement": self.statement,
            "verdict": self.verdict,
            "because": self.because,
            "numbers": self.numbers,
            "paper": self.paper,
        }


SHORT = {
    "a": "safe trust regions",
    "b": "first-order surrogate",
    "c": "C-NPG: safe and optimal",
    "d": "lower Reg+",
    "e": "the β trade-off",
}
STATEMENTS = {
    "a": "C-TRPO's trust regions contain only safe policies: an update from a safe policy stays safe.",
    "b": "The surrogate divergence approximates the exact constrained divergence to first order.",
    "c": "C-NPG keeps the safe set invariant and converges to the optimal safe policy.",
    "d": "C-TRPO has a lower cost regret Reg+ than the baselines at a competitive return.",
    "e": "β trades return for safety: a larger β lowers Reg+ and the return with it.",
}


# --------------------------------------------------------------------------------- safety in training
def crossings(metrics: pd.DataFrame, b: float) -> int:
    """Updates k with V_c(π_k) < b and V_c(π_{k+1}) > b, both beyond their 95% half-width (exact: 0)."""
    before = metrics.true_cost.to_numpy(float)
    after = before + metrics.true_cost_change.to_numpy(float)
    margin = metrics.true_cost_hw.fillna(0.0).to_numpy(float)
    return int(np.sum((before < b - margin) & (after > b + margin)))


def run_safety(metrics: pd.DataFrame, b: float, final_share: float = 0.1) -> dict:
    """One run's safety in training, measured with the ground truth (empty when the run has none)."""
    if "true_cost" not in metrics or metrics.true_cost.isna().all():
        return {}
    final = metrics.iloc[-max(1, int(math.ceil(final_share * len(metrics)))) :]
    return {
        "updates": len(metrics),
        "crossings": crossings(metrics, b),
        "unsafe_share": float((metrics.true_cost > b + metrics.true_cost_hw.fillna(0.0)).mean()),
        "true_reg_plus": float(metrics.true_regret.iloc[-1]),
        "reg_plus": float(metrics.cost_regret.iloc[-1]),
        "true_return": float(final.true_return.mean()),
        "true_cost": float(final.true_cost.mean()),
        "cost_hw": float(metrics.true_cost_hw.mean()),
        "alpha_scale": alpha_scale(metrics),
    }


def alpha_scale(metrics: pd.DataFrame) -> float:
    """How much the surrogate α of the accepted steps overstates (> 1) or understates (< 1) the true cost
    change of the same updates: the least-squares slope through 0 of ``alpha_step`` on ``true_cost_change``
    (NaN without α, e.g. PPO-Lag, or without a change)."""
    if "alpha_step" not in metrics:
        return math.nan
    rows = metrics[["alpha_step", "true_cost_change"]].dropna()
    change = rows.true_cost_change.to_numpy(float)
    denominator = float(change @ change)
    return float(rows.alpha_step.to_numpy(float) @ change / denominator) if denominator > 0 else math.nan


def safety_table(paths) -> pd.DataFrame:
    """One row per run with ground truth: its settings and :func:`run_safety` (one read of each file)."""
    rows = []
    for path in paths:
        run = RunDir(path)
        config = run.read_config()
        b = float(config["cost_limit"])
        safety = run_safety(run.read_metrics(), b)
        if safety:
            rows.append(
                {
                    "name": Path(path).name,
                    "task": config["task"],
                    "algo": config["algo"],
                    "seed": config["seed"],
                    "beta": config.get("beta"),
                    "bh": config.get("bh"),
                    "hidden": "×".join(map(str, config.get("hidden", []))),
                    "steps_per_epoch": config.get("steps_per_epoch"),
                    "num_envs": config.get("num_envs"),
                    "b": b,
                    **safety,
                }
            )
    return pd.DataFrame(rows)


def per_setting(table: pd.DataFrame, by) -> pd.DataFrame:
    """Means over seeds (and the seed count) of the safety numbers, per setting ``by``."""
    numbers = ["crossings", "unsafe_share", "true_reg_plus", "reg_plus", "true_return", "true_cost", "alpha_scale"]
    grouped = table.groupby(list(by), sort=False)
    out = grouped[numbers].mean()
    out.insert(0, "seeds", grouped.size())
    return out.reset_index()


# --------------------------------------------------------------------------------- verdicts
def _mean(table: pd.DataFrame, algo: str, column: str) -> float | None:
    rows = table[table.algo == algo]
    return float(rows[column].mean()) if len(rows) else None


def verdict_safe_regions(table: pd.DataFrame, max_crossings_per_run: float = 0.5) -> Verdict:
    """(a) holds when C-TRPO's crossings per run are at most ``max_crossings_per_run`` and no more than any
    baseline's that ran (where nothing crosses, nothing contradicts the claim)."""
    ours = _mean(table, "c-trpo", "crossings")
    others = {a: _mean(table, a, "crossings") for a in BASELINES if _mean(table, a, "crossings") is not None}
    numbers = {
        "crossings per run": {"c-trpo": ours, **others},
        "unsafe share": {a: _mean(table, a, "unsafe_share") for a in ("c-trpo", *others)},
    }
    if ours is None or not others:
        return Verdict("a", STATEMENTS["a"], UNTESTED, "no C-TRPO run or no baseline run with a ground truth", numbers)
    ok = ours <= max_crossings_per_run and all(ours <= v for v in others.values())
    listing = ", ".join(f"{a} {v:.2f}" for a, v in others.items())
    because = (
        f"truly safe → truly unsafe updates per run: C-TRPO {ours:.2f} (at most {max_crossings_per_run:g} "
        f"allowed), against {listing}"
    )
    return Verdict("a", STATEMENTS["a"], HOLDS if ok else FAILS, because, numbers)


def per_task(rule, table: pd.DataFrame, *args, **kwargs) -> Verdict:
    """``rule`` applied to each task's runs separately (a result never pools tasks), then joined: the claim
    holds when it holds on every task tested, fails when it fails on one; the numbers are kept per task."""
    if "task" not in table or table.task.nunique() <= 1:
        return rule(table, *args, **kwargs)
    parts = {task: rule(rows, *args, **kwargs) for task, rows in table.groupby("task", sort=True)}
    tested = [v for v in parts.values() if v.verdict != UNTESTED]
    verdict = UNTESTED if not tested else (HOLDS if all(v.verdict == HOLDS for v in tested) else FAILS)
    first = next(iter(parts.values()))
    because = "; ".join(f"{task}: {v.verdict}, {v.because}" for task, v in parts.items())
    return Verdict(
        first.claim, first.statement, verdict, because, {t: v.numbers for t, v in parts.items()}, first.paper
    )


def verdict_surrogate(check, max_error: float = 0.01, slope_range=(0.8, 1.2)) -> Verdict:
    """(b) holds when at the smallest step both relative errors are below ``max_error`` and both grow
    with the step at a log–log slope within ``slope_range`` (first order: 1)."""
    small_alpha, small_dc = float(check.alpha_error[0]), float(check.divergence_error[0])
    slopes = (check.slope(check.alpha_error), check.slope(check.divergence_error))
    numbers = {
        "steps": check.steps.tolist(),
        "alpha_error": check.alpha_error.tolist(),
        "divergence_error": check.divergence_error.tolist(),
        "alpha_slope": slopes[0],
        "divergence_slope": slopes[1],
        "budget": check.budget,
    }
    ok = max(small_alpha, small_dc) < max_error and all(slope_range[0] <= s <= slope_range[1] for s in slopes)
    because = (
        f"at the smallest step t = {check.steps[0]:.2g} the relative error of α is {small_alpha:.1e} and of "
        f"D̂_C {small_dc:.1e} (bound {max_error:g}); log–log slopes against t: {slopes[0]:.2f} and "
        f"{slopes[1]:.2f} (first order: 1)"
    )
    return Verdict("b", STATEMENTS["b"], HOLDS if ok else FAILS, because, numbers)


def verdict_cnpg(max_excess: float, max_gap: float, excess_tol: float = 1e-8, gap_tol: float = 1e-3) -> Verdict:
    """(c) holds when no exact C-NPG flow from a safe start exceeds b by more than ``excess_tol`` and every
    one ends within ``gap_tol`` of the LP optimum's return."""
    ok = max_excess <= excess_tol and max_gap <= gap_tol
    because = (
        f"largest max V_c − b over the C-NPG flows {max_excess:.1e} (tolerance {excess_tol:g}); largest gap of "
        f"the final V_r to the LP optimum {max_gap:.1e} (tolerance {gap_tol:g})"
    )
    return Verdict(
        "c", STATEMENTS["c"], HOLDS if ok else FAILS, because, {"max_excess": max_excess, "max_gap": max_gap}
    )


def verdict_regret(table: pd.DataFrame, return_share: float = 0.8) -> Verdict:
    """(d) holds when C-TRPO's mean true Reg+ is below TRPO-Lag's and CPO's and its final true return is at
    least ``return_share`` of the higher of theirs."""
    rivals = [a for a in ("trpo-lag", "cpo") if _mean(table, a, "true_reg_plus") is not None]
    ours = _mean(table, "c-trpo", "true_reg_plus")
    numbers = {
        "true Reg+": {a: _mean(table, a, "true_reg_plus") for a in ("c-trpo", *rivals)},
        "estimated Reg+": {a: _mean(table, a, "reg_plus") for a in ("c-trpo", *rivals)},
        "final true return": {a: _mean(table, a, "true_return") for a in ("c-trpo", *rivals)},
    }
    paper = "across 8 Safety-Gymnasium tasks at 10M steps, about half of CPO's Reg+ at the highest probably-safe return"
    if ours is None or not rivals:
        return Verdict(
            "d", STATEMENTS["d"], UNTESTED, "no C-TRPO run or no TRPO-Lag/CPO run with a ground truth", numbers, paper
        )
    best_return = max(numbers["final true return"][a] for a in rivals)
    ours_return = numbers["final true return"]["c-trpo"]
    lower = all(ours < numbers["true Reg+"][a] for a in rivals)
    competitive = ours_return >= return_share * best_return
    listing = ", ".join(f"{a} {numbers['true Reg+'][a]:.3g}" for a in rivals)
    because = (
        (
            f"true Reg+: C-TRPO {ours:.3g} against {listing}; final true return: C-TRPO {ours_return:.3g}, "
            f"{ours_return / best_return:.0%} of the best rival's {best_return:.3g} (at least {return_share:.0%} "
            f"needed)"
        )
        if best_return > 0
        else f"true Reg+: C-TRPO {ours:.3g} against {listing}"
    )
    return Verdict("d", STATEMENTS["d"], HOLDS if lower and competitive else FAILS, because, numbers, paper)


def verdict_tradeoff(table: pd.DataFrame) -> Verdict:
    """(e) holds when, over C-TRPO's β values (means over seeds), true Reg+ never rises as β grows and
    the largest β has a lower return than the smallest."""
    runs = table[table.algo == "c-trpo"]
    line = runs.groupby("beta")[["true_reg_plus", "true_return"]].mean().sort_index()
    numbers = {
        "beta": line.index.tolist(),
        "true Reg+": line.true_reg_plus.tolist(),
        "final true return": line.true_return.tolist(),
    }
    if len(line) < 2:
        return Verdict("e", STATEMENTS["e"], UNTESTED, "fewer than two values of β were run", numbers)
    regret = line.true_reg_plus.to_numpy()
    falls = bool(np.all(np.diff(regret) <= 0)) and regret[-1] < regret[0]
    costs_return = line.true_return.iloc[-1] < line.true_return.iloc[0]
    because = (
        f"true Reg+ along β = {', '.join(f'{b:g}' for b in line.index)}: "
        f"{', '.join(f'{v:.3g}' for v in regret)}; final true return: "
        f"{', '.join(f'{v:.3g}' for v in line.true_return)}"
    )
    return Verdict("e", STATEMENTS["e"], HOLDS if falls and costs_return else FAILS, because, numbers)


# --------------------------------------------------------------------------------- experiments
def plan(tasks, algos, seeds, betas, noise_steps_per_epoch, hiddens, runs_dir, **settings) -> list[tuple[str, object]]:
    """(experiment, config) for every run the claims need, each named after its settings and, where a
    finished run of exactly those settings exists in ``runs_dir`` under another name (the benchmark or
    barrier_sensitivity reports', the demo's), that run instead. Experiments: "algorithms" (every
    algorithm at the task's defaults), "beta" (C-TRPO's β line), "noise" (C-TRPO with fewer steps per
    epoch: noisier Ĵ_c and α), "network" (C-TRPO with other policy and critic widths)."""
    points = [("algorithms", algo, {}) for algo in algos]
    points += [("beta", "c-trpo", {"beta": float(b)}) for b in betas]
    points += [("noise", "c-trpo", {"steps_per_epoch": int(n)}) for n in noise_steps_per_epoch]
    points += [("network", "c-trpo", {"hidden": tuple(int(w) for w in h)}) for h in hiddens]
    out = []
    for task in tasks:
        for experiment, algo, extra in points:
            for seed in seeds:
                cfg = resolve(task, algo, seed=int(seed), runs_dir=str(runs_dir), **{**settings, **extra})
                cfg.name = f"claims_{task}_{algo}_s{cfg.seed}_{settings_key(cfg)}"
                out.append((experiment, cfg))
    # a run of the same settings trained before the ground truth was logged has no truth to read: not reused
    found = trained_elsewhere(out, runs_dir)
    return [
        (experiment, match if has_truth(Path(match.runs_dir) / match.name) else own)
        for (experiment, own), (_, match) in zip(out, found)
    ]


def has_truth(path) -> bool:
    """Whether the finished run at ``path`` logged the ground truth (its first row has ``true_cost``); a run
    that does not exist yet counts as having it (it will be trained by this version)."""
    metrics = Path(path) / "metrics.csv"
    if not metrics.exists():
        return True
    try:
        first = pd.read_csv(metrics, nrows=1)
    except Exception:
        return False
    return "true_cost" in first and (first.empty or bool(first.true_cost.notna().all()))


def surrogate_experiment(steps, beta: float = 1.0, seed: int = 0):
    """Claim (b) on GridHazard-v0's exact model: a strictly safe random π_k and a unit direction v (the
    C-NPG direction, which moves cost as well as reward), at the step sizes ``steps``."""
    from ..tabular.surrogate import surrogate_check  # torch: here, not on the Claims page's path

    cmdp = grid_hazard_cmdp()
    theta_k = safe_starts(cmdp, 1, seed=seed)[0]
    direction = cnpg_direction(evaluate(cmdp, softmax_policy(theta_k)), beta, cmdp.b)[0]
    return surrogate_check(cmdp, theta_k, direction / np.linalg.norm(direction), steps, beta)


def paper_task_runs(runs_dir) -> pd.DataFrame:
    """Finished runs of the Safety-Gymnasium tasks in ``runs_dir`` (no ground truth there: estimated Reg+),
    per task, algorithm and length: seeds, median final return, final cost and Reg+."""
    rows = []
    for path in run_dirs(runs_dir):
        summary = summarize_run(path)
        try:
            built_in = get_spec(summary.get("task")).source == "built-in"
        except Exception:
            continue
        if summary.get("state") == "finished" and not built_in and summary.get("algo") in ("c-trpo", *BASELINES):
            rows.append(summary)
    if not rows:
        return pd.DataFrame(columns=["task", "algo", "total_steps", "seeds", "final_return", "final_cost", "reg_plus"])
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["task", "algo", "total_steps"])
    out = grouped[["final_return", "final_cost", "reg_plus"]].median()
    out.insert(0, "seeds", grouped.size())
    return out.reset_index()


# --------------------------------------------------------------------------------- the latest report
REPORT = "claims"  # notebooks/claims.ipynb


def command_line(parameters: dict) -> str:
    """The `ctrpo report claims` command that reproduces a report with these parameters."""
    parts = ["ctrpo", "report", REPORT]
    for key, value in (parameters or {}).items():
        parts += ["-p", key, value if isinstance(value, str) else json.dumps(value)]
    return " ".join(shlex.quote(p) for p in parts)


def latest_report(runs_dir) -> dict | None:
    """The newest finished claims report in ``runs_dir`` as {"row": its reports.list_reports row,
    "verdicts": [Verdict, ...], "results": results.json, "command": how to reproduce it}; None if none."""
    for row in reports.list_reports(runs_dir):
        if row["report"] != REPORT or row["state"] != "finished":
            continue
        results = reports.read_results_file(Path(row["path"]))
        found = results.get("verdicts") if isinstance(results, dict) else None
        if not isinstance(found, dict):
            continue
        verdicts = [
            Verdict(**{k: v[k] for k in ("claim", "statement", "verdict", "because", "numbers", "paper")})
            for v in found.values()
            if isinstance(v, dict)
        ]
        return {
            "row": row,
            "verdicts": sorted(verdicts, key=lambda v: v.claim),
            "results": results,
            "command": command_line(row["parameters"]),
        }
    return None


def running_report(runs_dir) -> dict | None:
    """A claims report queued or running in ``runs_dir`` (its reports row), else None."""
    return next(
        (r for r in reports.list_reports(runs_dir) if r["report"] == REPORT and r["state"] in ("queued", "running")),
        None,
    )


# --------------------------------------------------------------------------------- a report's time
# A claims report's own work besides training, measured on the 2-core machine (the report at its defaults,
# started from the Claims page: 3:32 in all, 27 runs trained in 3:18, each about 2 s beyond its epochs, as
# cost.STARTUP_S counts): from the click to the first run, the report's process, the kernel, the imports and
# the pool's workers; after the last run, the surrogate check, the exact C-NPG flows, the tables and the HTML.
REPORT_START_S = 7.0
REPORT_FINISH_S = 10.0


def notebook_defaults(name: str = REPORT) -> dict:
    """The claims notebook's parameters at their defaults (read once per version of the notebook: papermill
    takes seconds to load, and the Claims page asks every few seconds)."""
    return _defaults_of(name, reports.notebook_path(name).stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _defaults_of(name: str, mtime_ns: int) -> dict:
    return {key: spec["value"] for key, spec in reports.parameters(name).items()}


def planned_runs(parameters: dict | None, runs_dir) -> tuple[list, int | None]:
    """(the runs a claims report with ``parameters`` (over the notebook's defaults) trains, one config per run
    name as :func:`plan` finds them in ``runs_dir`` now, its ``parallel``)."""
    values = {**notebook_defaults(), **(parameters or {})}
    planned = plan(
        values["tasks"],
        values["algos"],
        values["seeds"],
        values["betas"],
        values["noise_steps_per_epoch"],
        values["hiddens"],
        runs_dir,
        total_steps=values["total_steps"],
    )
    return list({cfg.name: cfg for _, cfg in planned}.values()), values.get("parallel")


@dataclass
class ReportProgress:
    """Where a claims report stands (or would start): its planned runs and the time it takes on this machine."""

    planned: int
    finished: int  # planned runs finished (reused ones included)
    training: int  # planned runs a process trains now
    elapsed_s: float | None  # since the report was started (None: not started)
    left_s: float  # what is still to go: the runs left, on this machine's measured speed, and the report's own work
    speed_from: str  # where the training speed comes from (finished runs here, or the measured table)

    def line(self) -> str:
        """While it runs: '12 of 27 runs finished, 2 training; 1:40 elapsed, about 3 min left'. Before it
        starts: '27 runs, 3 of them already finished here; about 4 min on this machine'."""
        if self.elapsed_s is None:
            reused = (
                ""
                if not self.finished
                else ", all already finished here"
                if self.finished == self.planned
                else f", {self.finished} of them already finished here"
            )
            return f"{self.planned} runs{reused}; {approximate(self.left_s)} on this machine"
        runs = f"{self.finished} of {self.planned} runs finished" + (
            f", {self.training} training" if self.training else ""
        )
        left = f"{approximate(self.left_s)} left" if self.left_s > 0 else "finishing"
        return f"{runs}; {format_duration(self.elapsed_s)} elapsed, {left}"


def _timestamp(text) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


def report_progress(runs_dir, report: dict | None = None, cores: int | None = None) -> ReportProgress:
    """The progress of the claims report ``report`` (a ``reports.list_reports`` row; its parameters come from
    its params.json) or, without one, what starting a claims report at its defaults would take. The time
    left is :func:`ctrpo_core.sweeps.cost.estimate` of the planned runs not yet finished (finished and
    reused runs cost nothing) plus the report's own work."""
    values, created = {}, None
    if report is not None:
        params = reports.read_params(report["path"])
        values = params.get("parameters") if isinstance(params.get("parameters"), dict) else {}
        created = _timestamp(params.get("created"))
    configs, parallel = planned_runs(values, runs_dir)
    paths = [Path(cfg.runs_dir) / cfg.name for cfg in configs]
    states = [lifecycle.state(p) if p.is_dir() else "queued" for p in paths]
    estimate = cost.estimate(configs, cores=cores, runs_dir=runs_dir, parallel=parallel)
    elapsed = None if created is None else max(0.0, time.time() - created)
    if estimate.to_train:
        left = estimate.wall_s + REPORT_FINISH_S + max(0.0, REPORT_START_S - (elapsed or 0.0))
    else:  # training is done: what is left is the report's own work since its last run ended
        ended = max(
            (p.joinpath("status.json").stat().st_mtime for p in paths if p.joinpath("status.json").exists()),
            default=time.time(),
        )
        since = time.time() - max(ended, created or ended) if elapsed is not None else 0.0
        left = max(0.0, REPORT_FINISH_S + (REPORT_START_S if elapsed is None else 0.0) - since)
    sources = "; ".join(sorted({t.source for t in estimate.per_task.values()})) or "nothing left to train"
    return ReportProgress(len(configs), states.count("finished"), states.count("running"), elapsed, left, sources)


def report_figures(latest: dict) -> dict:
    """{claim: figure} drawn from a claims report's results.json (what the Claims page shows beside each
    verdict); a claim whose numbers the report did not record has none."""
    results, out = latest["results"], {}
    task = (results.get("tasks") or [None])[0]  # the report's first task: figures never pool tasks
    runs = pd.DataFrame(results.get("runs") or [])
    if len(runs) and {"experiments", "task"} <= set(runs):
        base = runs[runs.experiments.str.contains("algorithms") & (runs.task == task)]
        if len(base):
            out["a"] = figures.crossings_figure(base, title=task)
            out["d"] = figures.regret_return_figure(base, title=task)
    numbers = {v.claim: v.numbers for v in latest["verdicts"]}
    b = numbers.get("b", {})
    if {"steps", "alpha_error", "divergence_error"} <= set(b):
        out["b"] = figures.surrogate_error_figure(
            SimpleNamespace(
                steps=np.asarray(b["steps"]),
                alpha_error=np.asarray(b["alpha_error"]),
                divergence_error=np.asarray(b["divergence_error"]),
            )
        )
    line = pd.DataFrame(results.get("beta_line") or [])
    if "task" in line:
        line = line[line.task == task]
    if len(line) >= 2:
        out["e"] = figures.beta_line_figure(line, title=task)
    return out
