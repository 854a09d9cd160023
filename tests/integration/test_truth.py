"""Ground truth (issue 20): the exact and Monte-Carlo values of a policy on the built-in tasks with a known
model, checked against the real environments, and their columns in a run's metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ctrpo_core import api
from ctrpo_core.algos import make_algorithm
from ctrpo_core.config import resolve
from ctrpo_core.envs import make_vec_env, truth
from ctrpo_core.envs.normalize import RunningNormalizer


def _policy(task, seed, **settings):
    """An initial policy of ``task``, pushed off its start by a random perturbation so that it is not a
    special case (uniform, zero mean), with a frozen identity normaliser."""
    cfg = resolve(task, "trpo", seed=seed, **settings)
    torch.manual_seed(seed)
    with make_vec_env(cfg.task, 1, seed) as env:
        algo = make_algorithm(cfg, env)
    with torch.no_grad():
        for p in algo.policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return algo.policy, RunningNormalizer(env.spec.obs_dim, frozen=True).normalize


def _sampled_episodes(task, policy, normalize, episodes, seed):
    """Whole episodes of the real environment with actions sampled from ``policy``: (returns, costs)."""
    with make_vec_env(task, episodes, seed) as env:
        obs = env.reset(seed)
        returns, costs = np.zeros(episodes), np.zeros(episodes)
        done = np.zeros(episodes, dtype=bool)
        torch.manual_seed(seed)
        while not done.all():
            with torch.no_grad():
                actions = policy.distribution(torch.as_tensor(normalize(obs))).sample().numpy()
            obs, reward, cost, terminated, truncated, _ = env.step(actions)
            returns += np.where(done, 0.0, reward)
            costs += np.where(done, 0.0, cost)
            done |= terminated | truncated
    return returns, costs


@pytest.mark.parametrize("task", ["GridHazard-v0", "HazardEdge-v0"])
def test_the_truth_agrees_with_long_runs_of_the_real_environment(task):
    """GridHazard-v0's exact values, and HazardEdge-v0's Monte Carlo, lie within the 99.9% interval of
    20,000 episodes of the real env: a wrong model, observation or unit would be many widths away."""
    policy, normalize = _policy(task, seed=4)
    ref = truth.for_task(task)
    if not ref.exact:
        ref.episodes = 20_000
    values = ref.values(policy, normalize, seed=11)
    returns, costs = _sampled_episodes(task, policy, normalize, 20_000, seed=5)
    z = 3.29  # 99.9%
    for exact, sampled, own_hw in ((values.ret, returns, values.ret_hw), (values.cost, costs, values.cost_hw)):
        tolerance = z * sampled.std(ddof=1) / math.sqrt(len(sampled)) + z / 1.96 * own_hw
        assert abs(exact - sampled.mean()) <= tolerance, (exact, sampled.mean(), tolerance)
    assert values.cost > 0.1  # the perturbed policy meets the hazard: the check is not 0 against 0
    if ref.exact:
        assert values.ret_hw == values.cost_hw == 0.0


def test_hazard_edge_monte_carlo_is_seeded_and_its_half_width_shrinks_as_one_over_root_n():
    policy, normalize = _policy("HazardEdge-v0", seed=2)
    ref = truth.for_task("HazardEdge-v0")
    first, again = ref.values(policy, normalize, seed=3), ref.values(policy, normalize, seed=3)
    assert (first.ret, first.cost, first.cost_hw) == (again.ret, again.cost, again.cost_hw)
    assert ref.values(policy, normalize, seed=4).cost != first.cost
    widths = {}
    for n in (1_000, 16_000):
        ref.episodes = n
        widths[n] = np.mean([ref.values(policy, normalize, seed=s).cost_hw for s in range(3)])
    assert widths[16_000] / widths[1_000] == pytest.approx(0.25, rel=0.15)  # √(1000/16000)


def test_a_paired_change_is_far_tighter_than_either_value():
    policy, normalize = _policy("HazardEdge-v0", seed=2)
    ref = truth.for_task("HazardEdge-v0")
    before = ref.values(policy, normalize, seed=3)
    with torch.no_grad():
        policy.mean[-1].bias.add_(0.02)  # a small step toward the hazard
    after = ref.values(policy, normalize, seed=3)
    hw = truth.difference_half_width(after, before)
    assert after.cost > before.cost and 0 < hw < 0.5 * before.cost_hw


@pytest.mark.parametrize("task,algo", [("GridHazard-v0", "c-trpo"), ("HazardEdge-v0", "trpo-lag")])
def test_runs_log_the_truth_and_true_regret_is_its_sum(tmp_path, task, algo):
    metrics = api.train(
        task, algo, seed=1, total_steps=8_000, steps_per_epoch=2_000, runs_dir=str(tmp_path), name="t"
    ).read_metrics()
    b = resolve(task, algo).cost_limit
    by_hand = np.cumsum(np.maximum(0.0, metrics.true_cost.to_numpy() - b))
    np.testing.assert_allclose(metrics.true_regret, by_hand, rtol=1e-9, atol=1e-9)
    # the change logged for update k is the next iterate's value minus this one's (frozen normaliser: the
    # same evaluation; GridHazard's normaliser moves during a rollout, so there only approximately)
    step = metrics.true_cost.diff().shift(-1).iloc[:-1]
    logged = metrics.true_cost_change.iloc[:-1]
    if task == "HazardEdge-v0":
        np.testing.assert_allclose(logged, step, atol=1e-9)
        assert (metrics.true_cost_hw > 0).all() and (metrics.true_cost_change_hw < metrics.true_cost_hw).all()
    else:
        assert (metrics.true_cost_hw == 0).all() and np.corrcoef(logged, step)[0, 1] > 0.9


def test_logging_the_truth_changes_no_training_number(tmp_path, monkeypatch):
    from ctrpo_core.runs import trainer

    with_truth = api.train(
        "HazardEdge-v0", "c-trpo", seed=2, total_steps=6_000, runs_dir=str(tmp_path), name="with"
    ).read_metrics()
    monkeypatch.setattr(trainer.TruthLog, "for_run", classmethod(lambda cls, cfg: None))
    without = api.train(
        "HazardEdge-v0", "c-trpo", seed=2, total_steps=6_000, runs_dir=str(tmp_path), name="without"
    ).read_metrics()
    assert without.true_cost.isna().all() and with_truth.true_cost.notna().all()
    trained = [c for c in without.columns if not c.startswith("true_") and c not in ("time_s", "steps_per_s")]
    assert with_truth[trained].equals(without[trained])


def test_tasks_without_a_known_model_have_no_truth():
    assert truth.for_task("PointHazard-v0") is None and truth.for_task("SafetyHopperVelocity-v1") is None


def test_grid_hazards_exact_divergence_is_the_visitation_weighted_kl_plus_the_barriers_bregman_term():
    policy, normalize = _policy("GridHazard-v0", seed=4)
    ref = truth.for_task("GridHazard-v0")
    before = ref.values(policy, normalize)
    with torch.no_grad():
        policy.logits[-1].bias.add_(torch.tensor([0.0, 0.2, 0.0, -0.1]))  # a step
    after = ref.values(policy, normalize)
    assert (
        after.visitation.sum() == pytest.approx(1.0)
        and after.visitation[truth.GridHazardTruth(50).model.terminal].sum() == 0
    )
    kl = sum(
        after.visitation[s] * np.sum(after.pi[s] * np.log(after.pi[s] / before.pi[s])) for s in range(len(after.pi))
    )
    assert truth.exact_divergence(after, before, 0.0, b=9.0) == pytest.approx(kl, rel=1e-12)
    x, x_k = 9.0 - after.cost, 9.0 - before.cost  # b = 9: both safe
    bregman = (
        x * math.log(x) - x_k * math.log(x_k) - (math.log(x_k) + 1) * (x - x_k)
    )  # φ(x) − φ(x_k) − φ'(x_k)(x − x_k)
    assert truth.exact_divergence(after, before, 2.0, b=9.0) == pytest.approx(kl + 2.0 * bregman, rel=1e-9)
    assert math.isnan(truth.exact_divergence(after, before, 2.0, b=min(before.cost, after.cost) - 0.1))
    low, high = sorted((before, after), key=lambda v: v.cost)
    assert truth.exact_divergence(high, low, 2.0, b=(low.cost + high.cost) / 2) == math.inf  # a step across b


def test_grid_hazards_exact_visitation_matches_the_real_environment():
    policy, normalize = _policy("GridHazard-v0", seed=4)
    exact = truth.for_task("GridHazard-v0").values(policy, normalize).visitation
    with make_vec_env("GridHazard-v0", 4_000, 6) as env:
        obs, counts, done = env.reset(6), np.zeros(len(exact)), np.zeros(4_000, dtype=bool)
        torch.manual_seed(6)
        while not done.all():
            counts += np.bincount(obs.argmax(1)[~done], minlength=len(exact))
            with torch.no_grad():
                actions = policy.distribution(torch.as_tensor(normalize(obs))).sample().numpy()
            obs, _, _, terminated, truncated, _ = env.step(actions)
            done |= terminated | truncated
    sampled = counts / counts.sum()
    assert np.abs(sampled - exact).max() < 0.01, np.abs(sampled - exact).max()
