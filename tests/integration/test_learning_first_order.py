"""Learning with fixed seeds on HazardEdge-v0 (seeds 0, 1, 2): the first-order baselines as the paper's authors
ran them. PPO follows the reward into the hazard as TRPO does; the constrained ones hold their cost near the
limit b = 5. Their budget here is 40,000 steps (20 epochs, a quarter of the task's): at the full budget their
final costs are alike (CPPO-PID 6.4 at seed 0), and the test stays under a minute on 2 cores."""

import pytest
from conftest import SEEDS, train_edge_runs

from ctrpo_core.config import resolve
from ctrpo_core.runs import RunDir

STEPS = 40_000
FINAL = 5  # epochs averaged for "final" values, as in test_learning.py
B = resolve("HazardEdge-v0", "ppo").cost_limit
CONSTRAINED = ("cppo-pid", "focops", "ipo", "p3o")


@pytest.fixture(scope="module")
def runs(shared_runs):
    trained = train_edge_runs(shared_runs, baselines=("ppo", "cup", *CONSTRAINED), total_steps=STEPS)
    return {(algo, seed): RunDir(path).read_metrics() for (algo, _, _, seed), path in trained.items()}


def final_cost(metrics) -> float:
    return float(metrics.ep_cost.iloc[-FINAL:].mean())


@pytest.mark.parametrize("seed", SEEDS)
def test_ppo_ends_unsafe(runs, seed):
    assert final_cost(runs[("ppo", seed)]) > 8 * B  # it follows the reward into the hazard, as TRPO does


@pytest.mark.parametrize("algo", CONSTRAINED)
@pytest.mark.parametrize("seed", SEEDS)
def test_the_constrained_ones_hold_their_cost_near_the_limit(runs, algo, seed):
    """Within 2·b, the bound test_learning.py puts on C-TRPO's worst epoch on PointHazard-v0, at a fifth of
    PPO's cost; P3O's exact penalty ends under b itself."""
    cost, ppo = final_cost(runs[(algo, seed)]), final_cost(runs[("ppo", seed)])
    assert cost <= 2 * B and cost < 0.2 * ppo, (algo, seed, cost)
    if algo == "p3o":
        assert cost <= B


@pytest.mark.xfail(
    strict=True,
    reason="CUP as the authors ran it (ν ≤ 0.2, one Adam optimiser for both stages) lowers the cost only to "
    "about 4·b here, and to PPO's 47 at the task's full budget (docs/BASELINES.md)",
)
@pytest.mark.parametrize("seed", SEEDS)
def test_cup_holds_its_cost_near_the_limit(runs, seed):
    assert final_cost(runs[("cup", seed)]) <= 2 * B
