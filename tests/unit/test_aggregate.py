"""The benchmark's statistics (rliable underneath: results/intervals.py, results/aggregate.py) against direct
computations: the IQM, the stratified bootstrap, the normalised scores, the probability of improvement and the
performance profiles on known numbers.

IQM convention: rliable's IQM is scipy's ``trim_mean(scores, 0.25)`` over the flattened runs × tasks matrix,
which drops floor(0.25·n) values at each end and averages the rest with equal weights (no fractional
weighting of boundary values when n is not divisible by 4). The hand computations below spell that out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ctrpo_core.results import aggregate, analysis
from ctrpo_core.results.intervals import group_intervals, intervals, iqm


def iqm_by_hand(values) -> float:
    values = sorted(v for v in values if not math.isnan(v))
    cut = len(values) // 4  # floor(0.25·n) from each end
    kept = values[cut : len(values) - cut]
    return sum(kept) / len(kept)


@pytest.mark.parametrize(
    "values,expected",
    [
        (range(1, 9), (3 + 4 + 5 + 6) / 4),  # n = 8: drop 2 + 2
        ([1, 2, 3, 4, 100], (2 + 3 + 4) / 3),  # n = 5: drop 1 + 1 (floor 1.25)
        (range(1, 7), (2 + 3 + 4 + 5) / 4),  # n = 6: drop 1 + 1 (floor 1.5)
        (range(1, 8), (2 + 3 + 4 + 5 + 6) / 5),  # n = 7: drop 1 + 1 (floor 1.75)
        ([5, 1, 9], 5.0),  # n = 3: nothing dropped, the plain mean
        ([10, 0, 4, 6], 5.0),  # n = 4: drop 1 + 1
        ([7.0], 7.0),
        ([1, 2, float("nan"), 3, 4], 2.5),  # NaN runs are left out
    ],
)
def test_iqm_by_hand(values, expected):
    assert iqm(list(values)) == pytest.approx(expected, abs=1e-12)


def test_iqm_matches_the_direct_computation_for_every_n():
    rng = np.random.default_rng(3)
    for n in range(1, 41):
        values = rng.standard_normal(n) * 10
        assert iqm(values) == pytest.approx(iqm_by_hand(values), abs=1e-12), n
    assert math.isnan(iqm([])) and math.isnan(iqm([float("nan")]))


def ci(values, statistic=None, reps=2000, seed=0):
    return intervals({"x": values}, statistic=statistic, reps=reps, seed=seed)["x"]


def test_bootstrap_ci_of_the_mean_has_the_textbook_width_and_coverage():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 2.0, 400)
    point, low, high = ci(x, statistic=np.mean, reps=4000)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert point == pytest.approx(x.mean())
    assert low == pytest.approx(x.mean() - half, abs=0.1 * half) and high == pytest.approx(
        x.mean() + half, abs=0.1 * half
    )
    # a 95% interval covers the true mean in roughly 95% of repeated experiments (small n: a bit less)
    covered = sum(lo <= 0.0 <= hi for _, lo, hi in (ci(rng.normal(0.0, 1.0, 30), np.mean, 500, t) for t in range(120)))
    assert 0.85 <= covered / 120 <= 1.0


def test_the_bootstrap_is_stratified_by_task():
    matrix = np.stack([np.arange(5.0), 100 + np.arange(5.0)], axis=1)  # runs × tasks
    # each replicate holds exactly 5 runs of each task, so the count of task-B values never varies
    count_b = lambda m: float((m > 50).sum())  # noqa: E731
    assert ci(matrix, statistic=count_b, reps=300)[1:] == (5.0, 5.0)
    # pooled into one task, the count varies, and the IQM's interval is wider
    pooled = matrix.T.reshape(-1, 1)
    low, high = ci(pooled, statistic=count_b, reps=300)[1:]
    assert low < 5.0 < high
    s_point, s_low, s_high = ci(matrix, reps=1000)
    p_point, p_low, p_high = ci(pooled, reps=1000)
    assert s_point == p_point == pytest.approx(iqm_by_hand(list(matrix.ravel())))
    assert s_high - s_low < p_high - p_low


def test_intervals_of_one_run_none_and_columns():
    point, low, high = ci([3.0])  # one run: its value, and no interval
    assert point == 3.0 and math.isnan(low) and math.isnan(high)
    assert all(math.isnan(v) for v in ci([]))
    point, low, high = ci([4.0, 1.0, 3.0, 2.0], seed=3)
    assert point == pytest.approx(2.5) and low <= point <= high
    assert ci([4.0, 1.0, 3.0, 2.0], seed=3) == ci([4.0, 1.0, 3.0, 2.0], seed=3)  # seeded: reproducible
    groups = {"a": [4.0, float("nan"), 1.0, 3.0, 2.0], "b": [1.0, 1.0, 1.0, 1.0], "c": [7.0], "d": [9.0, 1.0, 5.0, 3.0]}
    cols = group_intervals(groups, reps=1000, seed=3)
    assert cols["a"][0] == pytest.approx(2.5) and cols["b"] == (1.0, 1.0, 1.0) and cols["c"][0] == 7.0
    assert math.isnan(cols["c"][1]) and cols["d"][0] == pytest.approx(4.0)
    # groups bootstrapped together (one stratum each) have the intervals of a bootstrap of each alone
    alone = ci([9.0, 1.0, 5.0, 3.0], reps=1000, seed=3)
    assert cols["d"][0] == alone[0] and cols["d"][1] == pytest.approx(alone[1], abs=1.0)
    assert cols["d"][2] == pytest.approx(alone[2], abs=1.0)


# ------------------------------------------------------------------------------- normalised scores
def synthetic_summaries() -> pd.DataFrame:
    rows = []
    data = {  # task: b, {algo: [(final_return, final_cost, reg_plus) per seed]}
        "A": (
            1.0,
            {
                "ppo": [(2.0, 3.0, 40.0), (4.0, 5.0, 60.0)],
                "cpo": [(1.0, 1.5, 10.0), (1.0, 0.5, 30.0)],
                "c-trpo": [(1.5, 0.5, 5.0), (2.5, 0.7, 15.0)],
            },
        ),
        "B": (
            10.0,
            {
                "ppo": [(10.0, 30.0, 400.0), (30.0, 50.0, 600.0)],
                "cpo": [(5.0, 8.0, 100.0), (15.0, 12.0, 300.0)],
                "c-trpo": [(20.0, 5.0, 50.0), (20.0, 7.0, 150.0)],
            },
        ),
    }
    for task, (b, algos) in data.items():
        for algo, seeds in algos.items():
            for seed, (ret, cost, reg) in enumerate(seeds):
                rows.append(
                    {
                        "task": task,
                        "algo": algo,
                        "seed": seed,
                        "cost_limit": b,
                        "final_return": ret,
                        "final_cost": cost,
                        "reg_plus": reg,
                        "state": "finished",
                        "epoch": 10,
                        "epochs": 10,
                    }
                )
    return pd.DataFrame(rows)


def test_normalised_scores_by_hand():
    norm = aggregate.normalise(synthetic_summaries())
    get = lambda task, algo, col: norm[(norm.task == task) & (norm.algo == algo)].sort_values("seed")[col].tolist()  # noqa: E731
    # return / mean final return of the reference (PPO, as the paper): A 3.0, B 20.0
    assert get("A", "c-trpo", "return_norm") == pytest.approx([0.5, 2.5 / 3])
    assert get("B", "ppo", "return_norm") == pytest.approx([0.5, 1.5])
    # cost: V_c / b − 1
    assert get("A", "cpo", "cost_norm") == pytest.approx([0.5, -0.5])
    assert get("B", "c-trpo", "cost_norm") == pytest.approx([-0.5, -0.3])
    # Reg+ / CPO's IQM Reg+ on the task (A: IQM(10, 30) = 20; B: IQM(100, 300) = 200)
    assert get("A", "ppo", "regret_norm") == pytest.approx([2.0, 3.0])
    assert get("B", "c-trpo", "regret_norm") == pytest.approx([0.25, 0.75])

    table = aggregate.aggregate_table(norm, reps=500).set_index("algo")
    assert list(table.index) == ["c-trpo", "cpo", "ppo"] and (table.tasks == 2).all() and (table.runs == 4).all()
    c = table.loc["c-trpo"]
    # IQM over the 2 tasks × 2 seeds (n = 4: the middle two of the sorted values)
    assert c["return / PPO IQM"] == pytest.approx(iqm_by_hand([0.5, 2.5 / 3, 1.0, 1.0]))
    assert c["V_c / b − 1 IQM"] == pytest.approx(iqm_by_hand([-0.5, -0.3, -0.5, -0.3]))
    assert c["V_c / b − 1 CI high"] <= 0 and bool(c["probably safe"])
    assert not table.loc["ppo", "probably safe"] and not table.loc["cpo", "probably safe"]
    # the CI of a task-stratified bootstrap: every replicate keeps 2 runs of each task
    low, high = c["Reg+ / CPO's Reg+ CI low"], c["Reg+ / CPO's Reg+ CI high"]
    possible = [
        iqm_by_hand([a, b, x, y])
        for a in (0.25, 0.75)
        for b in (0.25, 0.75)
        for x in (0.25, 0.75)
        for y in (0.25, 0.75)
    ]
    assert min(possible) <= low <= high <= max(possible)
    assert aggregate.headline(table.reset_index()) == "c-trpo"


def test_score_matrices_compare_algorithms_on_shared_tasks_and_seeds():
    summaries = synthetic_summaries()
    extra = {**summaries.iloc[0].to_dict(), "task": "C", "algo": "c-trpo", "seed": 0}  # C-TRPO alone on task C
    gap = summaries[~((summaries.task == "B") & (summaries.algo == "cpo") & (summaries.seed == 1))]  # CPO s1 on B
    norm = aggregate.normalise(pd.concat([gap, pd.DataFrame([extra])], ignore_index=True))
    matrices, tasks, left_out = aggregate.score_matrices(norm, "cost_norm")
    assert tasks == ["A", "B"] and matrices["c-trpo"].shape == (2, 2) and matrices["cpo"].shape == (1, 2)
    assert matrices["cpo"].tolist() == [[0.5, pytest.approx(-0.2)]]  # seed 0 on A (1.5/1 − 1) and on B (8/10 − 1)
    assert any(line.startswith("C:") for line in left_out) and any(
        line.startswith("cpo: seed(s) 1") for line in left_out
    )


def test_probability_of_improvement_by_hand():
    norm = aggregate.normalise(synthetic_summaries())
    table = aggregate.improvement_table(norm, "c-trpo", reps=300).set_index("versus")
    assert list(table.index) == ["cpo", "ppo"]

    # return: per task, the share of (C-TRPO run, other run) pairs C-TRPO wins (ties count half), then the task mean
    def poi(x_by_task, y_by_task):
        shares = [
            np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y])
            for x, y in zip(x_by_task, y_by_task)
        ]
        return float(np.mean(shares))

    runs = lambda algo, column: [norm[(norm.task == t) & (norm.algo == algo)][column].tolist() for t in ("A", "B")]  # noqa: E731
    assert table.loc["cpo", "P(return / PPO) better"] == pytest.approx(
        poi(runs("c-trpo", "return_norm"), runs("cpo", "return_norm"))
    )
    # Reg+: lower is better
    negate = lambda tasks: [[-v for v in t] for t in tasks]  # noqa: E731
    expected = poi(negate(runs("c-trpo", "regret_norm")), negate(runs("ppo", "regret_norm")))
    assert table.loc["ppo", "P(Reg+ / CPO's Reg+) better"] == pytest.approx(expected) == 1.0
    row = table.loc["cpo"]
    assert row["P(return / PPO) CI low"] <= row["P(return / PPO) better"] <= row["P(return / PPO) CI high"]


def test_performance_profile_by_hand():
    norm = aggregate.normalise(synthetic_summaries())
    profile = aggregate.performance_profiles(norm, "return_norm", taus=[0.0, 0.9, 2.0], reps=200)
    c = profile[profile.algo == "c-trpo"].set_index("tau").fraction
    values = norm[norm.algo == "c-trpo"].return_norm  # 0.5, 0.833, 1.0, 1.0
    assert c.tolist() == pytest.approx([(values > t).mean() for t in (0.0, 0.9, 2.0)])
    regret = aggregate.performance_profiles(norm, "regret_norm", taus=[0.5], reps=200)  # share with Reg+ below 0.5
    assert regret[regret.algo == "c-trpo"].fraction.iloc[0] == pytest.approx(
        (norm[norm.algo == "c-trpo"].regret_norm < 0.5).mean()
    )


def test_per_task_table_and_a_missing_reference():
    summaries = synthetic_summaries()
    table = aggregate.per_task_table(summaries, reps=300)
    assert len(table) == 6 and set(table.columns) >= {"V_r IQM", "V_c CI low", "Reg+ CI high", "b", "seed ids"}
    assert table.algo.tolist()[:3] == ["c-trpo", "cpo", "ppo"]  # the legends' order within each task
    row = table[(table.task == "B") & (table.algo == "cpo")].iloc[0]
    assert row["V_r IQM"] == pytest.approx(10.0) and row["b"] == 10.0 and row["seed ids"] == "0,1"
    # a run that stopped part way never counts: the same table, and it is named
    stopped = {**summaries.iloc[-1].to_dict(), "seed": 2, "final_return": 1e6, "state": "stopped", "epoch": 3}
    with_stopped = aggregate.per_task_table(pd.concat([summaries, pd.DataFrame([stopped])]), reps=300)
    assert with_stopped.drop(columns="not counted").equals(table.drop(columns="not counted"))
    assert with_stopped["not counted"].tolist().count("seed 2 stopped at epoch 3/10") == 1
    without = aggregate.normalise(summaries[summaries.algo != "cpo"])
    assert without.regret_norm.isna().all() and without.return_norm.notna().all()


def test_grid_table_and_barrier_onset():
    rows = [
        {
            "beta": beta,
            "bh": bh,
            "seed": seed,
            "state": "finished",
            "epoch": 5,
            "epochs": 5,
            "final_return": ret + seed * 0.01,
            "final_cost": 0.5,
            "reg_plus": 1.0,
            "recovery_frac": 0.1 * bh,
        }
        for bh, returns in ((0.5, {0.1: 1.0, 1.0: 0.95, 10.0: 0.5}), (1.0, {0.1: 1.0, 1.0: 1.0, 10.0: 0.98}))
        for beta, ret in returns.items()
        for seed in (0, 1)
    ]
    grid = analysis.grid_table(pd.DataFrame(rows))
    assert len(grid) == 6 and (grid.seeds == 2).all()
    assert analysis.barrier_onset(grid, drop=0.1) == {0.5: 10.0, 1.0: None}


def test_no_ratio_to_a_reference_at_or_below_zero_and_the_reason_is_said():
    summaries = synthetic_summaries()
    summaries.loc[(summaries.task == "B") & (summaries.algo == "ppo"), "final_return"] = [-1.0, -3.0]  # mean −2
    summaries.loc[(summaries.task == "A") & (summaries.algo == "cpo"), "reg_plus"] = 0.0
    norm = aggregate.normalise(summaries)
    assert norm[norm.task == "B"].return_norm.isna().all() and norm[norm.task == "A"].return_norm.notna().all()
    assert norm[norm.task == "A"].regret_norm.isna().all()
    _, tasks, left_out = aggregate.score_matrices(norm, "return_norm")
    assert tasks == ["A"] and left_out == [
        "B: PPO's mean final return there is -2; a ratio to a reference at or below 0 would rank backwards"
    ]
    _, tasks, left_out = aggregate.score_matrices(norm, "regret_norm")
    assert tasks == ["B"] and left_out == ["A: CPO's Reg+ there is 0, so no Reg+ can be divided by it"]
    _, _, left_out = aggregate.score_matrices(aggregate.normalise(summaries[summaries.algo != "ppo"]), "return_norm")
    assert left_out == [f"{t}: PPO has no finished run there, so no return is normalised" for t in ("A", "B")]


def test_the_performance_profile_is_seeded():
    norm = aggregate.normalise(synthetic_summaries())
    a = aggregate.performance_profiles(norm, "return_norm", reps=200, seed=1)
    assert a.equals(aggregate.performance_profiles(norm, "return_norm", reps=200, seed=1))
    assert (a["CI low"] <= a.fraction + 1e-12).all() and (a.fraction <= a["CI high"] + 1e-12).all()
