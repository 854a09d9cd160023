"""Learning with fixed seeds on the built-in tasks: C-TRPO is safe and near the exact optimum."""

import numpy as np
import pytest

from ctrpo_core import api
from ctrpo_core.analysis import run_configs
from ctrpo_core.runs import RunDir
from ctrpo_core.config import resolve
from ctrpo_core.envs.builtin.grid_hazard import exact_model
from ctrpo_core.tabular.lp import constrained_optimum_finite_horizon

SEEDS = (0, 1, 2)
FINAL = 5  # epochs averaged for "final" values


@pytest.fixture(scope="module")
def grid_runs(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("grid")
    configs = {}
    for algo in ("c-trpo", "trpo-lag", "trpo"):
        for seed in SEEDS:
            configs[(algo, seed)] = cfg = resolve("GridHazard-v0", algo, seed=seed, runs_dir=str(runs_dir))
            cfg.name = f"{algo}-{seed}"
    states = run_configs(list(configs.values()), parallel=2, report=lambda line: None)  # one process per core
    assert set(states.values()) == {"finished"}, states
    return {key: RunDir(runs_dir / cfg.name).read_metrics() for key, cfg in configs.items()}


@pytest.fixture(scope="module")
def optimum():
    m = exact_model()
    b = resolve("GridHazard-v0", "c-trpo").cost_limit
    return constrained_optimum_finite_horizon(m.P, m.r, m.c, m.mu, m.horizon, b)


def final(metrics, column):
    return metrics[column].iloc[-FINAL:].mean()


def test_lp_optimum_is_binding(optimum):
    m = exact_model()
    unconstrained = constrained_optimum_finite_horizon(m.P, m.r, m.c, m.mu, m.horizon, 1e6)
    assert optimum.cost == pytest.approx(1.0, abs=1e-6)
    assert unconstrained.reward > optimum.reward + 0.05 and unconstrained.cost > 3


@pytest.mark.parametrize("seed", SEEDS)
def test_c_trpo_ends_safe_and_near_the_constrained_optimum(grid_runs, optimum, seed):
    metrics = grid_runs[("c-trpo", seed)]
    b = 1.0
    assert final(metrics, "ep_cost") <= b
    assert metrics.ep_cost.iloc[-1] <= b
    assert final(metrics, "ep_return") >= 0.9 * optimum.reward


def test_c_trpo_has_lower_regret_than_trpo_lag(grid_runs):
    c_trpo = np.mean([grid_runs[("c-trpo", s)].cost_regret.iloc[-1] for s in SEEDS])
    trpo_lag = np.mean([grid_runs[("trpo-lag", s)].cost_regret.iloc[-1] for s in SEEDS])
    assert c_trpo < trpo_lag


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_trpo_ends_unsafe(grid_runs, seed):
    assert final(grid_runs[("trpo", seed)], "ep_cost") > 2.0  # b = 1: the constraint binds


def test_c_trpo_on_point_hazard_improves_return_under_the_limit(tmp_path):
    metrics = api.train("PointHazard-v0", "c-trpo", seed=0, total_steps=140_000, runs_dir=str(tmp_path),
                        name="point").read_metrics()
    b = 5.0
    assert final(metrics, "ep_return") > metrics.ep_return.iloc[:FINAL].mean() + 10
    later = metrics.ep_cost.iloc[10:]
    assert later.mean() <= b
    assert (later > b).mean() <= 0.2 and later.max() <= 2 * b
