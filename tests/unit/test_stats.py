"""ctrpo_core.results.stats against direct computations, and the benchmark's normalised scores on known numbers.

IQM convention: rliable's IQM is scipy's ``trim_mean(scores, 0.25)`` over the flattened runs × tasks matrix,
which drops floor(0.25·n) values at each end and averages the rest with equal weights (no fractional
weighting of boundary values when n is not divisible by 4). The hand computations below spell that out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ctrpo_core.results import analysis
from ctrpo_core.results.stats import bootstrap_ci, iqm, summarize


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


def bootstrap_by_hand(strata, reps, seed, confidence=0.95):
    """The percentile bootstrap as a plain loop: the same random draws (one (reps, n) index block per
    stratum, in order), then one replicate at a time with the hand IQM."""
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, len(s), (reps, len(s))) for s in strata]
    replicates = []
    for i in range(reps):
        values = []
        for s, idx in zip(strata, picks):
            values.extend(s[j] for j in idx[i])
        replicates.append(iqm_by_hand(values))
    replicates.sort()
    tail = (1 - confidence) / 2

    def percentile(q):  # linear interpolation between order statistics (numpy's default)
        pos = q * (reps - 1)
        lo = math.floor(pos)
        return replicates[lo] + (pos - lo) * (replicates[min(lo + 1, reps - 1)] - replicates[lo])

    return percentile(tail), percentile(1 - tail)


def test_bootstrap_matches_a_direct_resampling_loop():
    rng = np.random.default_rng(0)
    one = rng.normal(3.0, 2.0, 7)
    assert bootstrap_ci(one, reps=500, seed=4) == pytest.approx(bootstrap_by_hand([one], 500, 4), abs=1e-12)
    strata = [rng.normal(0, 1, 5), rng.normal(10, 3, 6), rng.normal(-2, 1, 3)]
    assert bootstrap_ci(strata, reps=400, seed=9) == pytest.approx(bootstrap_by_hand(strata, 400, 9), abs=1e-12)
    assert bootstrap_ci(strata, reps=400, seed=9, confidence=0.5) == pytest.approx(
        bootstrap_by_hand(strata, 400, 9, confidence=0.5), abs=1e-12
    )


def test_bootstrap_ci_of_the_mean_has_the_textbook_width_and_coverage():
    mean = lambda values: values.mean(axis=1)  # noqa: E731
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 2.0, 400)
    low, high = bootstrap_ci(x, statistic=mean, reps=4000, seed=0)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert low == pytest.approx(x.mean() - half, abs=0.1 * half) and high == pytest.approx(
        x.mean() + half, abs=0.1 * half
    )
    # a 95% interval covers the true mean in roughly 95% of repeated experiments (small n: a bit less)
    covered = 0
    for trial in range(300):
        sample = rng.normal(0.0, 1.0, 30)
        lo, hi = bootstrap_ci(sample, statistic=mean, reps=1000, seed=trial)
        covered += lo <= 0.0 <= hi
    assert 0.88 <= covered / 300 <= 0.99


def test_stratified_bootstrap_keeps_every_task_in_every_replicate():
    task_a, task_b = np.arange(5.0), 100 + np.arange(5.0)
    # each replicate holds exactly 5 runs of each task, so the count of task-B values never varies
    count_b = lambda values: (values > 50).sum(axis=1).astype(float)  # noqa: E731
    assert bootstrap_ci([task_a, task_b], statistic=count_b, reps=500) == (5.0, 5.0)
    # pooled into one stratum, the count varies and so does the IQM
    pooled = np.concatenate([task_a, task_b])
    low, high = bootstrap_ci(pooled, statistic=count_b, reps=500)
    assert low < 5.0 < high
    s_low, s_high = bootstrap_ci([task_a, task_b], reps=2000)
    p_low, p_high = bootstrap_ci(pooled, reps=2000)
    assert s_high - s_low < p_high - p_low


def test_bootstrap_input_layouts():
    matrix = np.array([[0.0, 100.0], [1.0, 101.0], [2.0, 102.0], [3.0, 103.0]])  # rliable: runs × tasks
    assert bootstrap_ci(matrix, reps=300, seed=2) == bootstrap_ci([matrix[:, 0], matrix[:, 1]], reps=300, seed=2)
    series = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0], index=[10, 11, 12, 13, 14])  # any index
    assert (
        bootstrap_ci(series, reps=300)
        == bootstrap_ci(series.to_numpy(), reps=300)
        == bootstrap_ci(list(series), reps=300)
    )
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    assert all(math.isnan(v) for v in bootstrap_ci([np.array([1.0]), np.array([])]))


def test_summarize():
    s = summarize([4.0, float("nan"), 1.0, 3.0, 2.0])
    assert s["n"] == 4 and s["iqm"] == pytest.approx(2.5) and s["ci_low"] <= 2.5 <= s["ci_high"]
    assert summarize([3.0]) == {"iqm": 3.0, "ci_low": 3.0, "ci_high": 3.0, "n": 1}
    assert summarize([])["n"] == 0 and math.isnan(summarize([])["iqm"])


# ------------------------------------------------------------------------------- normalised scores
def synthetic_summaries() -> pd.DataFrame:
    rows = []
    data = {  # task: b, {algo: [(final_return, final_cost, reg_plus) per seed]}
        "A": (
            1.0,
            {
                "trpo": [(2.0, 3.0, 40.0), (4.0, 5.0, 60.0)],
                "cpo": [(1.0, 1.5, 10.0), (1.0, 0.5, 30.0)],
                "c-trpo": [(1.5, 0.5, 5.0), (2.5, 0.7, 15.0)],
            },
        ),
        "B": (
            10.0,
            {
                "trpo": [(10.0, 30.0, 400.0), (30.0, 50.0, 600.0)],
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
    norm = analysis.normalise(synthetic_summaries())
    get = lambda task, algo, col: norm[(norm.task == task) & (norm.algo == algo)].sort_values("seed")[col].tolist()  # noqa: E731
    # return / mean final return of the reference (trpo): A 3.0, B 20.0
    assert get("A", "c-trpo", "return_norm") == pytest.approx([0.5, 2.5 / 3])
    assert get("B", "trpo", "return_norm") == pytest.approx([0.5, 1.5])
    # cost: V_c / b − 1
    assert get("A", "cpo", "cost_norm") == pytest.approx([0.5, -0.5])
    assert get("B", "c-trpo", "cost_norm") == pytest.approx([-0.5, -0.3])
    # Reg+ / CPO's IQM Reg+ on the task (A: IQM(10, 30) = 20; B: IQM(100, 300) = 200)
    assert get("A", "trpo", "regret_norm") == pytest.approx([2.0, 3.0])
    assert get("B", "c-trpo", "regret_norm") == pytest.approx([0.25, 0.75])

    table = analysis.normalised_table(norm, reps=500).set_index("algo")
    assert list(table.index) == ["c-trpo", "cpo", "trpo"] and (table.tasks == 2).all() and (table.runs == 4).all()
    c = table.loc["c-trpo"]
    # IQM over the 2 tasks × 2 seeds (n = 4: the middle two of the sorted values)
    assert c["return / reference IQM"] == pytest.approx(iqm_by_hand([0.5, 2.5 / 3, 1.0, 1.0]))
    assert c["V_c / b − 1 IQM"] == pytest.approx(iqm_by_hand([-0.5, -0.3, -0.5, -0.3]))
    assert c["V_c / b − 1 CI high"] <= 0 and bool(c["probably safe"])
    assert not table.loc["trpo", "probably safe"] and not table.loc["cpo", "probably safe"]
    # the stratified CI resamples within tasks: the draws equal the hand loop with the same seed
    strata = [np.array(get("A", "c-trpo", "regret_norm")), np.array(get("B", "c-trpo", "regret_norm"))]
    assert (c["Reg+ / CPO's Reg+ CI low"], c["Reg+ / CPO's Reg+ CI high"]) == pytest.approx(
        bootstrap_by_hand(strata, 500, 0), abs=1e-12
    )
    assert analysis.headline(table.reset_index()) == "c-trpo"


def test_benchmark_table_and_a_missing_reference():
    summaries = synthetic_summaries()
    table = analysis.benchmark_table(summaries, reps=300)
    assert len(table) == 6 and set(table.columns) >= {"V_r IQM", "V_c CI low", "Reg+ CI high", "b"}
    row = table[(table.task == "B") & (table.algo == "cpo")].iloc[0]
    assert row["V_r IQM"] == pytest.approx(10.0) and row["b"] == 10.0
    # a run that stopped part way never counts: the same table, and it is named
    stopped = {**summaries.iloc[-1].to_dict(), "seed": 2, "final_return": 1e6, "state": "stopped", "epoch": 3}
    with_stopped = analysis.benchmark_table(pd.concat([summaries, pd.DataFrame([stopped])]), reps=300)
    assert with_stopped.drop(columns="not counted").equals(table.drop(columns="not counted"))
    assert with_stopped["not counted"].tolist().count("seed 2 stopped at epoch 3/10") == 1
    without = analysis.normalise(summaries[summaries.algo != "cpo"])
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
