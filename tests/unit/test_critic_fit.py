"""The critics' regression written out in numpy (engine/critic_fit.py) against autograd and torch's Adam,
and the rollout's post-rollout values against the critics evaluated step by step."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from ctrpo_core.algos import make_algorithm
from ctrpo_core.config import resolve
from ctrpo_core.engine.critic_fit import CriticFit
from ctrpo_core.engine.policies import Critics
from ctrpo_core.envs import make_vec_env

LR, L2, CLIP = 1e-3, 1e-3, 40.0


def torch_reference(critics: Critics, obs, targets, minibatches, clip=CLIP):
    """The update as it was written with autograd (the paper's loss, one joint clip, torch's Adam)."""
    opt = torch.optim.Adam(critics.parameters(), lr=LR, foreach=True)
    params = list(critics.parameters())
    losses = []
    for idx in minibatches:
        mse = ((critics(obs[idx]) - targets[:, idx]) ** 2).mean(1)
        loss = mse.sum() + L2 * sum((p**2).sum() for p in params)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        losses.append(mse.detach())
    return opt, torch.stack(losses).mean(0).tolist()


def problem(obs_dim=7, n=600, scale=3.0, seed=0):
    torch.manual_seed(seed)
    critics = Critics(obs_dim)
    obs = torch.randn(n, obs_dim)
    targets = torch.stack([obs[:, 0] * scale, torch.tanh(obs[:, 1]) * scale])
    return critics, obs, targets


@pytest.mark.parametrize("clip", [CLIP, 0.05])  # 0.05: every step's gradient is clipped
def test_fit_matches_autograd_and_torch_adam(clip):
    critics, obs, targets = problem()
    reference = copy.deepcopy(critics)
    torch.manual_seed(5)
    minibatches = [idx for _ in range(3) for idx in torch.randperm(len(obs)).split(64)]
    opt, ref_losses = torch_reference(reference, obs, targets, minibatches, clip)
    fit = CriticFit(critics, LR, L2, clip)
    torch.manual_seed(5)
    losses = fit.fit(obs, targets, CriticFit.draw_minibatches(len(obs), passes=3, minibatch=64))
    assert losses == pytest.approx(ref_losses, rel=1e-5)
    for ours, theirs in zip(critics.parameters(), reference.parameters()):
        # 30 Adam steps of 1e-3 move each weight by up to 0.03. Float32 sums taken in another order
        # leave ~1e-7 of that, except where a gradient is ~0: Adam's step there is ±lr by the sign of
        # rounding noise. So: every weight within a tenth of one step, nearly all within 1e-6.
        diff = (ours.detach() - theirs.detach()).abs()
        assert float(diff.max()) < 0.1 * LR
        assert float((diff > 1e-6).float().mean()) < 0.01
    ours, theirs = fit.state_dict(), opt.state_dict()
    assert ours["param_groups"][0].keys() == theirs["param_groups"][0].keys()
    for i, moments in theirs["state"].items():
        assert float(ours["state"][i]["step"]) == float(moments["step"]) == len(minibatches)
        for name in ("exp_avg", "exp_avg_sq"):
            scale = float(moments[name].abs().max())  # moments near 0 carry the same rounding noise
            torch.testing.assert_close(ours["state"][i][name], moments[name], rtol=1e-3, atol=1e-4 * scale)


@pytest.mark.parametrize("obs_dim", [3, 11])
def test_gradient_equals_autograd(obs_dim):
    """The written-out backpropagation against autograd of the same loss, parameter by parameter."""
    critics, obs, targets = problem(obs_dim, n=128)
    loss = (((critics(obs) - targets) ** 2).mean(1)).sum() + L2 * sum((p**2).sum() for p in critics.parameters())
    expected = torch.autograd.grad(loss, list(critics.parameters()))
    fit = CriticFit(critics, LR, L2, CLIP)
    fit.pull()
    fit.gradient(obs.numpy(), targets.numpy())
    for (a, b), e in zip(zip(fit.offsets, fit.offsets[1:]), expected):
        np.testing.assert_allclose(fit.grad[a:b], e.reshape(-1).numpy(), rtol=1e-4, atol=1e-6)
    # the comparison has teeth: the derivative of tanh taken as 1 (a plausible slip) is far off
    W1 = fit.grad[fit.offsets[0] : fit.offsets[1]].copy()
    original = np.tanh
    try:
        np.tanh = lambda x: x  # the activation dropped: every hidden derivative becomes 1
        fit.gradient(obs.numpy(), targets.numpy())
    finally:
        np.tanh = original
    assert not np.allclose(fit.grad[fit.offsets[0] : fit.offsets[1]], W1, rtol=1e-2)


def test_state_round_trips_through_torch_adam_format():
    critics, obs, targets = problem()
    fit = CriticFit(critics, LR, L2, CLIP)
    assert fit.state_dict()["state"] == {}
    fit.fit(obs, targets, CriticFit.draw_minibatches(len(obs), passes=1, minibatch=100))
    state = fit.state_dict()
    other = CriticFit(copy.deepcopy(critics), LR, L2, CLIP)
    other.load_state_dict(state)
    assert other.steps == fit.steps == 6
    np.testing.assert_array_equal(other.exp_avg, fit.exp_avg)
    np.testing.assert_array_equal(other.exp_avg_sq, fit.exp_avg_sq)
    # and torch's own Adam takes it
    torch.optim.Adam(copy.deepcopy(critics).parameters(), lr=LR).load_state_dict(state)
    # a checkpoint written before the fit was written out (torch's Adam) resumes: same steps, same moments
    critics2, obs2, targets2 = problem(seed=3)
    opt, _ = torch_reference(critics2, obs2, targets2, list(torch.randperm(len(obs2)).split(50)))
    resumed = CriticFit(critics2, LR, L2, CLIP)
    resumed.load_state_dict(opt.state_dict())
    assert resumed.steps == 12
    for i, (a, b) in enumerate(zip(resumed.offsets, resumed.offsets[1:])):
        np.testing.assert_array_equal(resumed.exp_avg[a:b], opt.state_dict()["state"][i]["exp_avg"].reshape(-1).numpy())
    bad = copy.deepcopy(state)
    bad["state"][0]["exp_avg"] = torch.zeros(3)
    with pytest.raises(ValueError, match="exp_avg"):
        other.load_state_dict(bad)


@pytest.mark.parametrize("task", ["HazardEdge-v0", "GridHazard-v0"])
def test_post_rollout_values_equal_per_step_values(task):
    """The values computed in one pass after the rollout are the critics' values of each step's
    observations, and of each truncated episode's final observation normalised at that step."""
    cfg = resolve(task, "c-trpo", seed=1, max_episode_steps=7)  # short episodes: many truncations
    torch.manual_seed(cfg.seed)
    with make_vec_env(task, cfg.num_envs, cfg.seed, max_episode_steps=cfg.max_episode_steps) as env:
        algo = make_algorithm(cfg, env)
        algo.start()
        normalizers = []
        original = algo.normalizer.normalize
        algo.normalizer.normalize = lambda obs: (normalizers.append(None), original(obs))[1]
        algo.collect()
        algo.normalizer.normalize = original
    buf = algo.buffer
    assert buf.truncated.sum() > 0
    with torch.no_grad():
        for t in range(len(buf.obs)):
            v_r, v_c = algo.critics(torch.from_numpy(buf.obs[t])).numpy()
            np.testing.assert_allclose(buf.values_r[t], v_r, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(buf.values_c[t], v_c, rtol=1e-6, atol=1e-7)
    assert np.all(buf.final_values_r[~buf.truncated] == 0.0) and np.all(buf.final_values_c[~buf.truncated] == 0.0)
    assert np.any(buf.final_values_r[buf.truncated] != 0.0)


def test_critics_trained_beside_the_policy_update_give_the_same_numbers():
    """The trainer starts the critics' update on a second core before the policy update: the minibatches are
    drawn first, so both orders give the same critics, the same policy and the same generator state."""
    results = []
    for concurrent in (False, True):
        cfg = resolve("HazardEdge-v0", "c-trpo", seed=2)
        torch.manual_seed(cfg.seed)
        with make_vec_env(cfg.task, cfg.num_envs, cfg.seed, max_episode_steps=cfg.max_episode_steps) as env:
            algo = make_algorithm(cfg, env)
            algo.start()
            for _ in range(2):
                batch = algo.collect()
                if concurrent:
                    losses = algo.begin_critic_update(batch, concurrent=True)
                    algo.update_policy(batch)
                    losses = losses()
                else:
                    algo.update_policy(batch)
                    losses = algo.update_critics(batch)
        results.append(
            (
                losses,
                [p.detach().clone() for p in algo.critics.parameters()],
                [p.detach().clone() for p in algo.policy.parameters()],
                torch.get_rng_state(),
            )
        )
    (loss_a, critics_a, policy_a, rng_a), (loss_b, critics_b, policy_b, rng_b) = results
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(critics_a, critics_b))
    assert all(torch.equal(a, b) for a, b in zip(policy_a, policy_b))
    assert torch.equal(rng_a, rng_b)
