"""The Claims report and page (issue 20): the surrogate against the exact tabular truth, crossings counted
from the logged ground truth, verdicts computed from numbers on both sides of every threshold, the notebook
executed with small parameters, and the page showing its verdicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from ctrpo_core.tools import claims

STEPS = np.array([1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1])


# ------------------------------------------------------------------ (b): the surrogate against the truth
def test_the_surrogate_is_first_order_exact_on_grid_hazards_model():
    check = claims.surrogate_experiment(STEPS)
    assert check.budget > 0 and np.all(check.exact_divergence > 0)
    assert check.alpha_error[0] < 1e-3 and check.divergence_error[0] < 1e-3  # a tiny step: nearly exact
    # first order: the relative errors grow in proportion to the step (slope 1 on a log-log plot) ...
    assert check.slope(check.alpha_error) == pytest.approx(1.0, abs=0.1)
    assert check.slope(check.divergence_error) == pytest.approx(1.0, abs=0.1)
    # ... and the true change of V_c itself is first order in t, D_C second order
    assert np.polyfit(np.log(STEPS[:4]), np.log(np.abs(check.true_change[:4])), 1)[0] == pytest.approx(1.0, abs=0.05)
    assert np.polyfit(np.log(STEPS[:4]), np.log(check.exact_divergence[:4]), 1)[0] == pytest.approx(2.0, abs=0.05)


def test_the_surrogate_alpha_is_the_performance_difference_with_pi_ks_states():
    """α(π) with d_π in place of d_k is the exact change (the performance-difference lemma), so the
    surrogate's only approximation is the state distribution."""
    from ctrpo_core.tabular.cmdp import grid_hazard_cmdp
    from ctrpo_core.tabular.policy import softmax_policy
    from ctrpo_core.tabular.starts import safe_starts
    from ctrpo_core.tabular.values import evaluate

    cmdp = grid_hazard_cmdp()
    theta = safe_starts(cmdp, 2, seed=3)
    ev_k, ev = evaluate(cmdp, softmax_policy(theta[0])), evaluate(cmdp, softmax_policy(theta[1]))
    exact = np.einsum("s,sa,sa->", ev.d[0], ev.pi[0], ev_k.A_c[0])
    assert exact == pytest.approx(ev.V_c[0] - ev_k.V_c[0], rel=1e-9)


# ------------------------------------------------------------------ crossings from the logged truth
def _metrics(costs, changes, hw=0.0):
    n = len(costs)
    return pd.DataFrame(
        {
            "true_cost": costs,
            "true_cost_change": changes,
            "true_cost_hw": [hw] * n,
            "true_return": [1.0] * n,
            "true_regret": np.cumsum(np.maximum(0, np.array(costs) - 5)),
            "cost_regret": [0.0] * n,
        }
    )


def test_crossings_count_only_safe_to_unsafe_updates_beyond_the_half_width():
    metrics = _metrics([4.0, 6.0, 4.5, 4.6], [2.0, -1.5, 0.1, 0.2])  # 4→6 crosses; 6→4.5 recovers; the rest stay
    assert claims.crossings(metrics, 5.0) == 1
    assert claims.crossings(_metrics([4.9], [0.2], hw=0.15), 5.0) == 0  # within the Monte-Carlo half-width
    assert claims.crossings(_metrics([4.8], [0.4], hw=0.15), 5.0) == 1
    safety = claims.run_safety(metrics, 5.0)
    assert safety["unsafe_share"] == 0.25 and safety["true_reg_plus"] == 1.0


# ------------------------------------------------------------------ verdicts on both sides of each threshold
def _table(values: dict, column: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "algo": algo,
                "seed": s,
                column: v,
                "true_return": 10.0,
                "true_reg_plus": 1.0,
                "unsafe_share": 0.0,
                "reg_plus": 1.0,
            }
            for algo, vs in values.items()
            for s, v in enumerate(vs)
        ]
    )


def test_verdict_a_follows_its_threshold_and_the_baselines():
    table = _table({"c-trpo": [0, 1], "trpo-lag": [2, 3], "trpo": [4, 4]}, "crossings")  # C-TRPO 0.5 per run
    assert claims.verdict_safe_regions(table, max_crossings_per_run=0.5).verdict == claims.HOLDS
    assert claims.verdict_safe_regions(table, max_crossings_per_run=0.4).verdict == claims.FAILS
    worse = _table({"c-trpo": [1, 1], "trpo-lag": [0, 1]}, "crossings")  # more than a baseline
    assert claims.verdict_safe_regions(worse, 2.0).verdict == claims.FAILS
    none = _table({"c-trpo": [0, 0], "trpo-lag": [0, 0]}, "crossings")  # nothing crossed: nothing contradicts it
    assert claims.verdict_safe_regions(none, 0.5).verdict == claims.HOLDS
    assert claims.verdict_safe_regions(_table({"c-trpo": [0]}, "crossings")).verdict == claims.UNTESTED


def test_verdict_b_follows_its_error_bound_and_slope_range():
    check = claims.surrogate_experiment(STEPS)
    first = max(check.alpha_error[0], check.divergence_error[0])
    assert claims.verdict_surrogate(check, max_error=first * 1.01).verdict == claims.HOLDS
    assert claims.verdict_surrogate(check, max_error=first * 0.99).verdict == claims.FAILS
    assert claims.verdict_surrogate(check, slope_range=(1.3, 2.0)).verdict == claims.FAILS


def test_verdict_c_follows_its_tolerances():
    assert claims.verdict_cnpg(1e-9, 1e-4, excess_tol=1e-8, gap_tol=1e-3).verdict == claims.HOLDS
    assert claims.verdict_cnpg(2e-8, 1e-4, excess_tol=1e-8, gap_tol=1e-3).verdict == claims.FAILS
    assert claims.verdict_cnpg(1e-9, 2e-3, excess_tol=1e-8, gap_tol=1e-3).verdict == claims.FAILS


def test_verdict_d_follows_regret_and_the_return_share():
    rows = [("c-trpo", 1.0, 8.0), ("trpo-lag", 5.0, 10.0), ("cpo", 3.0, 9.0)]
    table = pd.DataFrame(
        [{"algo": a, "seed": 0, "true_reg_plus": r, "reg_plus": r, "true_return": v} for a, r, v in rows]
    )
    assert claims.verdict_regret(table, return_share=0.8).verdict == claims.HOLDS  # 8 >= 0.8 · 10
    assert claims.verdict_regret(table, return_share=0.81).verdict == claims.FAILS
    table.loc[table.algo == "cpo", "true_reg_plus"] = 0.5  # CPO regrets less
    assert claims.verdict_regret(table, return_share=0.8).verdict == claims.FAILS


def test_verdicts_never_pool_tasks():
    table = pd.concat(
        [
            _table({"c-trpo": [0], "trpo-lag": [2]}, "crossings").assign(task="A"),
            _table({"c-trpo": [3], "trpo-lag": [1]}, "crossings").assign(task="B"),
        ]
    )
    joined = claims.per_task(claims.verdict_safe_regions, table, 0.5)
    assert joined.verdict == claims.FAILS and set(joined.numbers) == {"A", "B"}
    assert "A: holds" in joined.because and "B: does not hold" in joined.because
    assert claims.per_task(claims.verdict_safe_regions, table[table.task == "A"], 0.5).verdict == claims.HOLDS


def test_verdict_e_needs_regret_falling_and_return_paid_along_beta():
    def line(regrets, returns):
        return pd.DataFrame(
            [
                {"algo": "c-trpo", "beta": b, "true_reg_plus": r, "true_return": v}
                for b, r, v in zip([0.1, 1.0, 10.0], regrets, returns)
            ]
        )

    assert claims.verdict_tradeoff(line([3.0, 1.0, 0.5], [10.0, 9.5, 9.0])).verdict == claims.HOLDS
    assert claims.verdict_tradeoff(line([3.0, 3.5, 0.5], [10.0, 9.5, 9.0])).verdict == claims.FAILS  # not monotone
    assert claims.verdict_tradeoff(line([3.0, 1.0, 0.5], [9.0, 9.5, 10.0])).verdict == claims.FAILS  # no price
    assert claims.verdict_tradeoff(line([3.0], [9.0])[:1]).verdict == claims.UNTESTED


# ------------------------------------------------------------------ the report and the page
@pytest.fixture(scope="module")
def claims_runs(claims_report):
    return claims_report[0]  # conftest: the report run once with small parameters


def test_the_claims_report_computes_a_verdict_for_every_claim(claims_runs):
    latest = claims.latest_report(claims_runs)
    assert [v.claim for v in latest["verdicts"]] == ["a", "b", "c", "d", "e"]
    for verdict in latest["verdicts"]:
        assert verdict.verdict in (claims.HOLDS, claims.FAILS, claims.UNTESTED) and any(
            ch.isdigit() for ch in verdict.because
        )
    assert latest["verdicts"][1].verdict == claims.HOLDS  # (b) is exact arithmetic: it does not depend on the budget
    assert latest["verdicts"][2].verdict == claims.HOLDS  # (c) likewise
    assert "-p seeds '[0]'" in latest["command"] and latest["command"].startswith("ctrpo report claims")
    safety = pd.DataFrame(latest["results"]["safety"])
    assert set(safety.algo) == {"c-trpo", "trpo-lag", "cpo", "trpo"} and (safety.seeds == 1).all()
    noise = pd.DataFrame(latest["results"]["noise"])
    assert sorted(noise.steps_per_epoch) == [1000, 2000]  # the noisier batches beside the task's default
    params = json.loads((claims_runs / "reports" / latest["row"]["folder"] / "params.json").read_text())
    assert params["parameters"]["seeds"] == [0]


def test_the_claims_page_shows_the_latest_verdicts(claims_runs, monkeypatch):
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(claims_runs))
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60).run()
    at = at.switch_page("views/claims.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    for claim in "abcde":
        assert f"**({claim})**" in text
    assert "ctrpo report claims" in text and text.count("badge[") == 10  # the summary row, then each claim
    assert len(at.get("plotly_chart")) == 4  # (a), (b), (d), (e); (c) is numbers only


def test_runs_without_ground_truth_are_not_reused_for_claims(tmp_path, monkeypatch):
    """A finished run of exactly the planned settings but trained before the truth was logged (here: with it
    switched off) cannot answer a claim: the plan keeps its own name, so that run is trained anew."""
    from ctrpo_core import api
    from ctrpo_core.runs import trainer

    runs = tmp_path / "runs"
    monkeypatch.setattr(trainer.TruthLog, "for_run", classmethod(lambda cls, cfg: None))
    api.train("HazardEdge-v0", "trpo", seed=0, total_steps=4000, runs_dir=str(runs), name="old_trpo")
    monkeypatch.undo()
    api.train("HazardEdge-v0", "cpo", seed=0, total_steps=4000, runs_dir=str(runs), name="new_cpo")
    plan = claims.plan(["HazardEdge-v0"], ["trpo", "cpo"], [0], [], [], [], runs, total_steps=4000)
    names = {cfg.algo: cfg.name for _, cfg in plan}
    assert names["cpo"] == "new_cpo"  # reused: it has the truth
    assert names["trpo"].startswith("claims_HazardEdge-v0_trpo")  # not the old run
