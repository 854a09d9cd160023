"""HazardEdge-v0, the demo task: its dynamics written out, its reference optimum (the dual dynamic
programme equals the occupancy LP on the same grid and dominates real policies), a safe initial policy."""

import numpy as np
import pytest

from ctrpo_core.algos import make_algorithm
from ctrpo_core.config import resolve
from ctrpo_core.envs import make_vec_env
from ctrpo_core.envs.builtin import hazard_edge as he
from ctrpo_core.tabular.lp import constrained_optimum_finite_horizon


def test_steps_follow_the_written_out_dynamics():
    seed, n = 7, 4
    actions = np.random.default_rng(0).normal(0.0, 1.5, size=(120, n, 1))  # beyond [-1, 1]: g is clipped
    wind = np.random.default_rng(seed)  # the env draws one gust per env per step from its seeded generator
    x = np.full(n, he.START)
    with make_vec_env("HazardEdge-v0", n, seed=seed) as env:
        obs = env.reset()
        np.testing.assert_allclose(obs, np.stack([x, np.zeros(n)], 1))
        for t, a in enumerate(actions):
            goal = np.clip(0.2 + 0.8 * a[:, 0], 0.0, 1.0)
            x = np.clip(x + 0.3 * (goal - x) + 0.08 * wind.standard_normal(n), 0.0, 1.0)
            obs, reward, cost, terminated, truncated, info = env.step(a)
            np.testing.assert_allclose(reward, np.minimum(x, 0.85), rtol=0, atol=1e-12)
            np.testing.assert_array_equal(cost, (x > 0.7).astype(float))
            ended = (t + 1) % 50 == 0
            assert terminated.all() == ended and not truncated.any()  # a fixed-length task: it terminates
            if ended:
                np.testing.assert_allclose(info["final_obs"][:, 0], x, atol=1e-6)
                x = np.full(n, he.START)
            np.testing.assert_allclose(obs[:, 0], x, atol=1e-6)
            np.testing.assert_allclose(obs[:, 1], ((t + 1) % 50) / 50, atol=1e-7)


@pytest.mark.parametrize("b", [0.5, 2.0, 5.0, 20.0])
def test_the_dual_dynamic_programme_equals_the_occupancy_lp_on_the_same_grid(b):
    m = he.exact_model(20)
    lp = constrained_optimum_finite_horizon(m.P, m.r, m.c, m.mu, m.horizon, b)
    assert he.constrained_optimum(b, cells=20) == pytest.approx(lp.reward, abs=1e-6)
    assert lp.cost == pytest.approx(b, abs=1e-6)  # the constraint binds at every b here


def hover(aim: float, episodes: int = 2000) -> tuple[float, float]:
    """Return and cost (means over episodes, in the real env) of aiming at calm position ``aim`` every step."""
    with make_vec_env("HazardEdge-v0", episodes, seed=11) as env:
        obs = env.reset()
        total_r = total_c = np.zeros(episodes)
        for _ in range(50):
            goal = np.clip((aim - 0.7 * obs[:, 0]) / 0.3, 0.0, 1.0)  # y = x + 0.3·(g − x) = aim, where reachable
            obs, reward, cost, *_ = env.step(((goal - 0.2) / 0.8)[:, None])
            total_r, total_c = total_r + reward, total_c + cost
    return float(total_r.mean()), float(total_c.mean())


def test_the_reference_dominates_real_policies_and_the_limit_binds():
    reference = he.constrained_optimum(5.0)
    for aim in (0.45, 0.5, 0.55, 0.6):  # hovering policies, evaluated by Monte Carlo
        ret, cost = hover(aim)
        assert ret <= he.constrained_optimum(cost + 0.2) + 0.1  # nothing beats the optimum at its cost
        if cost <= 5.0:
            assert ret <= reference + 0.1
    assert hover(0.55)[1] <= 5.0 and hover(0.55)[0] >= 0.9 * reference  # a simple safe policy comes close
    unconstrained_return, unconstrained_cost = he.lagrangian_values(0.0)
    assert unconstrained_cost > 40 and unconstrained_return > reference + 5  # clearly unsafe, and it pays
    assert he.constrained_optimum(5.0, cells=800) == pytest.approx(reference, abs=0.05)  # the grid is fine enough


def _initial(seed: int):
    """The C-TRPO algorithm as the Trainer builds it for ``seed`` (torch seeded first, then env, then nets)."""
    import torch

    cfg = resolve("HazardEdge-v0", "c-trpo", seed=seed)
    torch.manual_seed(seed)
    env = make_vec_env(cfg.task, cfg.num_envs, cfg.seed)
    return cfg, env, make_algorithm(cfg, env)


def test_the_initial_policy_is_safe_and_feels_the_hazard():
    """With the authors' initialisation the first policy's mean action varies with the state and seed, so
    its true cost (the ground truth, 4,000 episodes) spreads over seeds (0.4 to 5.4 over seeds 0-19, mean 2.3):
    under b on average and in nine seeds of ten, the demo's seed 0 at 2.3; its first rollout already meets
    the hazard (the cost advantages carry a signal)."""
    from ctrpo_core.envs import truth

    reference = truth.for_task("HazardEdge-v0")
    reference.episodes = 4_000
    costs = []
    for seed in range(10):
        cfg, env, algo = _initial(seed)
        with env:
            costs.append(reference.values(algo.policy, algo.normalizer.normalize, seed=99).cost)
            if seed == 0:
                algo.start()
                algo.collect()
                first = np.array(algo.episode_costs)
    assert len(first) == cfg.num_envs * (cfg.steps_per_env // 50)
    costs = np.array(costs)
    assert (
        costs.mean() <= 0.6 * cfg.cost_limit and costs[0] <= 0.5 * cfg.cost_limit
    )  # under b, the demo's seed well under
    assert (costs < cfg.cost_limit).sum() >= 9  # seed 2 starts at 5.4, just over b: the one seed in ten
    assert (first > 0).mean() >= 0.2  # ... but the cost advantages carry a signal from the start
