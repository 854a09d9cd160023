"""Learning with fixed seeds on the built-in tasks: C-TRPO is safe and near the exact optimum.

The tests train their own runs (C-TRPO, TRPO-Lag and TRPO on HazardEdge-v0 at the task's settings, seeds
0, 1, 2, one process per core; conftest.train_edge_runs), so no report's defaults decide what they test."""

import numpy as np
import pytest
from conftest import SEEDS, train_edge_runs

from ctrpo_core import api
from ctrpo_core.config import resolve
from ctrpo_core.envs.builtin import hazard_edge
from ctrpo_core.envs.builtin.grid_hazard import exact_model
from ctrpo_core.runs import RunDir
from ctrpo_core.tabular.lp import constrained_optimum_finite_horizon

FINAL = 5  # epochs averaged for "final" values


@pytest.fixture(scope="module")
def edge_runs(shared_runs):
    runs = train_edge_runs(shared_runs, betas=[1.0], baselines=("trpo-lag", "trpo"))
    return {(algo, seed): RunDir(path).read_metrics() for (algo, _, _, seed), path in runs.items()}


@pytest.fixture(scope="module")
def optimum():
    return hazard_edge.constrained_optimum(resolve("HazardEdge-v0", "c-trpo").cost_limit)


def final(metrics, column):
    return metrics[column].iloc[-FINAL:].mean()


def test_grid_hazard_lp_optimum_is_binding():
    m = exact_model()
    b = resolve("GridHazard-v0", "c-trpo").cost_limit
    optimum = constrained_optimum_finite_horizon(m.P, m.r, m.c, m.mu, m.horizon, b)
    unconstrained = constrained_optimum_finite_horizon(m.P, m.r, m.c, m.mu, m.horizon, 1e6)
    assert optimum.cost == pytest.approx(1.0, abs=1e-6)
    assert unconstrained.reward > optimum.reward + 0.05 and unconstrained.cost > 3


@pytest.mark.parametrize("seed", SEEDS)
def test_c_trpo_ends_safe_and_near_the_constrained_optimum(edge_runs, optimum, seed):
    metrics = edge_runs[("c-trpo", seed)]
    b = 5.0
    assert final(metrics, "ep_cost") <= b
    assert final(metrics, "ep_return") >= 0.9 * optimum  # the exact optimum of the constrained task


def test_c_trpo_has_lower_regret_than_trpo_lag(edge_runs):
    c_trpo = np.mean([edge_runs[("c-trpo", s)].cost_regret.iloc[-1] for s in SEEDS])
    trpo_lag = np.mean([edge_runs[("trpo-lag", s)].cost_regret.iloc[-1] for s in SEEDS])
    assert c_trpo < 0.1 * trpo_lag


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_trpo_ends_unsafe(edge_runs, seed):
    assert final(edge_runs[("trpo", seed)], "ep_cost") > 8 * 5.0  # it follows the reward into the hazard


def test_c_trpo_on_point_hazard_improves_return_under_the_limit(tmp_path):
    metrics = api.train(
        "PointHazard-v0", "c-trpo", seed=0, total_steps=140_000, runs_dir=str(tmp_path), name="point"
    ).read_metrics()
    b = 5.0
    assert final(metrics, "ep_return") > metrics.ep_return.iloc[:FINAL].mean() + 10
    later = metrics.ep_cost.iloc[10:]
    assert later.mean() <= b
    assert (later > b).mean() <= 0.2 and later.max() <= 2 * b
