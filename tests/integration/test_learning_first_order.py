"""Learning with fixed seeds on HazardEdge-v0 (seeds 0, 1, 2): the first-order baselines as the paper's authors
ran them. PPO follows the reward into the hazard as TRPO does; the constrained ones hold their cost near the
limit b = 5. Their budgets here are 30,000 steps (15 epochs of the task's 80) and 40,000 for FOCOPS, which
comes down more slowly (its final cost is 10.3 at 15 epochs in seeds 0 and 1): at the task's full budget
their final costs are alike (CPPO-PID 5.7-6.7, IPO 4.9-5.7 over seeds 0-2; docs/BASELINES.md)."""

import pytest
from conftest import SEEDS, train_edge_runs

from ctrpo_core.config import resolve
from ctrpo_core.runs import RunDir

STEPS = {"focops": 40_000}  # else 30,000
FINAL = 5  # epochs averaged for "final" values, as in test_learning.py
B = resolve("HazardEdge-v0", "ppo").cost_limit
CONSTRAINED = ("cppo-pid", "focops", "ipo", "p3o")


@pytest.fixture(scope="module")
def runs(shared_runs):
    trained = train_edge_runs(shared_runs, baselines=("focops",), total_steps=STEPS["focops"])
    others = [algo for algo in ("ppo", "cup", *CONSTRAINED) if algo not in STEPS]
    trained |= train_edge_runs(shared_runs, baselines=others, total_steps=30_000)
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
    "3-4·b here, and to PPO's 47 at the task's full budget (docs/BASELINES.md)",
)
@pytest.mark.parametrize("seed", SEEDS)
def test_cup_holds_its_cost_near_the_limit(runs, seed):
    assert final_cost(runs[("cup", seed)]) <= 2 * B
