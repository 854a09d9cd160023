"""The first-order algorithms' updates against hand computations on a tiny real batch (PointHazard-v0, a 2-D
Gaussian policy): PPO's clipped loss, CPPO-PID's multiplier, FOCOPS' KL-weighted loss and its ν bound, CUP's
two stages, IPO's barrier and recovery, P3O's exact penalty; and CPO's hysteresis. Each hand computation is
written in numpy from the formulas of docs/BASELINES.md, not from the code under test."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import randomise

from ctrpo_core.algos import make_algorithm
from ctrpo_core.config import resolve
from ctrpo_core.engine.first_order_step import Minibatch
from ctrpo_core.envs import make_vec_env

TASK = "PointHazard-v0"
SMALL = dict(steps_per_epoch=256, num_envs=4, total_steps=2560)


@pytest.fixture(scope="module")
def env():
    with make_vec_env(TASK, SMALL["num_envs"], 0) as env:
        yield env


def setup(env, algo, **settings):
    """A learner with its batch; the policy moved away from π_k, so ratios and KLs are not trivial."""
    torch.manual_seed(0)
    learner = make_algorithm(resolve(TASK, algo, seed=0, **SMALL, **settings), env)
    learner.start()
    batch = learner.collect()
    pi_k, logp_k = learner.old_policy(batch)
    randomise(learner.policy, scale=0.05, seed=1)
    return learner, batch, pi_k, logp_k


def minibatch(learner, batch, pi_k, logp_k, n=64):
    idx = torch.arange(n)
    dist = learner.policy.distribution(batch.obs[idx])
    ratio = torch.exp(learner.policy.log_prob(dist, batch.actions[idx]) - logp_k[idx])
    return Minibatch(batch, idx, dist, ratio, learner.policy, pi_k)


def numbers(mb):
    """ratio, Â_r, Â_c and the two Gaussians (mean, std) of the minibatch, as numpy."""
    r = mb.ratio.detach().numpy().astype(np.float64)
    new = (mb.dist.loc.detach().numpy().astype(np.float64), mb.dist.scale.detach().numpy().astype(np.float64))
    old = (mb.old_dist.loc.numpy().astype(np.float64), mb.old_dist.scale.numpy().astype(np.float64))
    return r, mb.adv_r.numpy().astype(np.float64), mb.adv_c.numpy().astype(np.float64), new, old


def clipped(r, a, eps=0.2):
    return np.minimum(r * a, np.clip(r, 1 - eps, 1 + eps) * a)


def gaussian_kl(p, q):
    """KL(p‖q) per sample, summed over action dimensions (closed form)."""
    (mp, sp), (mq, sq) = p, q
    return (np.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5).sum(-1)


def test_ppo_minimises_the_clipped_reward_surrogate(env):
    learner, batch, pi_k, logp_k = setup(env, "ppo")
    mb = minibatch(learner, batch, pi_k, logp_k)
    r, adv_r, _, _, _ = numbers(mb)
    assert abs(r - 1).max() > 0.01  # the ratio is not trivially 1
    assert learner.policy_loss(mb).item() == pytest.approx(-clipped(r, adv_r).mean(), rel=1e-5)


def test_cppo_pid_sets_its_multiplier_by_the_pid_recurrence():
    from types import SimpleNamespace

    from ctrpo_core.algos.cppo_pid import PIDMultiplier

    cfg = SimpleNamespace(pid_kp=0.1, pid_ki=0.01, pid_kd=0.01, pid_ema=0.95, pid_d_delay=3, lagrange_init=0.001)
    pid, b = PIDMultiplier(cfg), 25.0
    costs = [0.0, 40.0, 60.0, 80.0, 70.0, 50.0, 20.0, 10.0]
    integral, p, d, history, expected = 0.001, 0.0, 0.0, [0.0], []
    for cost in costs:  # the recurrence written out (Stooke et al. with SafePO's smoothing and delay)
        integral = max(0.0, integral + 0.01 * (cost - b))
        p = 0.95 * p + 0.05 * (cost - b)
        d = 0.95 * d + 0.05 * cost
        derivative = max(0.0, d - history[0])
        expected.append(max(0.0, 0.1 * p + integral + 0.01 * derivative))
        history = (history + [d])[-3:]
    got = [pid.update(cost, b) for cost in costs]
    assert got == pytest.approx(expected, rel=1e-12)
    assert got[0] == 0.0 and got[3] > got[1] > 0  # starts at 0 below the limit, grows while the cost is above it
    restored = PIDMultiplier(cfg)
    restored.load_state_dict(pid.state_dict())
    assert restored.update(30.0, b) == pid.update(30.0, b)


def test_focops_loss_weights_advantage_against_kl_and_drops_samples_past_delta(env):
    learner, batch, pi_k, logp_k = setup(env, "focops")
    learner.before_passes(batch)
    nu = learner.multiplier.value
    mb = minibatch(learner, batch, pi_k, logp_k)
    r, adv_r, adv_c, new, old = numbers(mb)
    kl = gaussian_kl(new, old)  # KL(π_θ‖π_k): new first
    adv = (adv_r - nu * adv_c) / (1 + nu)
    delta = learner.cfg.delta
    expected = ((kl - r * adv / 1.5) * (kl <= delta)).mean()
    assert learner.policy_loss(mb).item() == pytest.approx(expected, rel=1e-4)
    assert 0 < (kl <= delta).mean() < 1  # both kinds of sample are in this minibatch
    big = make_algorithm(resolve(TASK, "focops", seed=0, lagrange_lr=100.0, **SMALL), env)
    for _ in range(5):  # Adam pushes ν up while the cost is over b, never past focops_nu_max
        big.multiplier.update(cost_estimate=10.0, cost_limit=1.0)
    assert big.multiplier.value == big.cfg.focops_nu_max == 2.0


def test_cup_projects_on_the_cost_surrogate_within_the_kl_to_its_first_stage(env):
    learner, batch, pi_k, logp_k = setup(env, "cup", lagrange_init=0.2)
    mb = minibatch(learner, batch, pi_k, logp_k)
    r, adv_r, _, _, _ = numbers(mb)
    assert learner.policy_loss(mb).item() == pytest.approx(-clipped(r, adv_r).mean(), rel=1e-5)  # stage 1
    cfg = learner.cfg
    coef = 0.2 * (1 - cfg.gamma * cfg.lam) / (1 - cfg.gamma)  # ν·(1 − γλ)/(1 − γ)
    surrogate = lambda: float((learner.evaluate(batch, pi_k, logp_k).ratio * batch.adv_c).mean().detach())
    before = surrogate()
    half = learner.policy.detached(learner.policy.distribution(batch.obs))
    kl = learner.after_passes(batch, (pi_k, logp_k), 0.0)  # stage 2, with ν = 0.2 (its upper bound)
    assert surrogate() < before  # the projection lowered the cost surrogate
    assert learner.projection_kl == pytest.approx(learner.summed_kl(batch, half)) and learner.projection_kl > 0
    assert kl == pytest.approx(learner.summed_kl(batch, pi_k))
    # the projection's loss on a minibatch, by hand: ν·c·r·Â_c + KL(π_θ‖π_{k+½}), r against π_k
    mb = minibatch(learner, batch, pi_k, logp_k)
    r, _, adv_c, new, _ = numbers(mb)
    half_mb = (half.loc[:64].numpy().astype(np.float64), half.scale[:64].numpy().astype(np.float64))
    expected = (coef * r * adv_c + gaussian_kl(new, half_mb)).mean()
    got = (coef * mb.ratio * mb.adv_c + learner.policy.summed_kl(mb.dist, learner.policy.select(half, mb.idx))).mean()
    assert got.item() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("barrier", ["authors", "paper"])
def test_ipo_adds_its_barrier_term_below_the_limit_and_recovers_above_it(env, barrier):
    learner, batch, pi_k, logp_k = setup(env, "ipo", ipo_barrier=barrier)
    b = batch.cost_limit
    below = dataclasses.replace(batch, cost_estimate=0.5 * b)
    mb = minibatch(learner, below, pi_k, logp_k)
    r, adv_r, adv_c, _, _ = numbers(mb)
    t, gap = learner.cfg.ipo_t, 0.5 * b - b
    term = (r * adv_c).mean() / (t * gap)  # the authors' sign; the log barrier's is the opposite
    expected = -clipped(r, adv_r).mean() + (term if barrier == "authors" else -term)
    assert learner.policy_loss(mb).item() == pytest.approx(expected, rel=1e-4)
    above = dataclasses.replace(batch, cost_estimate=1.5 * b)
    mb = minibatch(learner, above, pi_k, logp_k)
    r, _, adv_c, _, _ = numbers(mb)
    recovery = np.maximum(r * adv_c, np.clip(r, 0.8, 1.2) * adv_c).mean()  # the pessimistic cost surrogate
    assert learner.policy_loss(mb).item() == pytest.approx(recovery, rel=1e-4)


def test_p3o_penalises_the_clipped_cost_surrogate_only_when_it_violates(env):
    learner, batch, pi_k, logp_k = setup(env, "p3o")
    gamma, kappa = learner.cfg.gamma, learner.cfg.p3o_kappa
    for cost_estimate in (0.0, 50.0):  # far below b: no penalty; far above: κ times the violation
        shifted = dataclasses.replace(batch, cost_estimate=cost_estimate)
        mb = minibatch(learner, shifted, pi_k, logp_k)
        r, adv_r, adv_c, _, _ = numbers(mb)
        cost = np.maximum(r * adv_c, np.clip(r, 0.8, 1.2) * adv_c).mean()
        violation = cost + (1 - gamma) * (cost_estimate - batch.cost_limit)
        expected = -clipped(r, adv_r).mean() + kappa * max(0.0, violation)
        assert learner.policy_loss(mb).item() == pytest.approx(expected, rel=1e-4, abs=1e-7)
        assert (violation > 0) == (cost_estimate > batch.cost_limit)


def test_cpo_with_hysteresis_keeps_recovering_until_the_cost_is_below_bh_times_b():
    with make_vec_env("GridHazard-v0", 4, 0) as env:
        runs = {}
        for bh in (1.0, 0.8):
            torch.manual_seed(0)
            learner = make_algorithm(
                resolve("GridHazard-v0", "cpo", seed=0, bh=bh, steps_per_epoch=256, num_envs=4, total_steps=2560), env
            )
            learner.start()
            batch = learner.collect()
            b = batch.cost_limit
            cases = []
            for cost in (2.0 * b, 0.9 * b, 0.7 * b):  # over the limit, then between b_H·b and b, then under b_H·b
                result = learner.update_policy(dataclasses.replace(batch, cost_estimate=cost))
                cases.append(result.own["cpo_case"])
            runs[bh] = cases
    assert runs[1.0][0] == 0 and runs[0.8][0] == 0  # infeasible: the recovery step
    assert runs[1.0][1] != 0  # plain CPO takes a constrained step as soon as Ĵ_c < b ...
    assert runs[0.8][1] == 0  # ... with hysteresis it keeps recovering until Ĵ_c < b_H·b
    assert runs[0.8][2] != 0


@pytest.mark.parametrize("task", ["PointHazard-v0", "GridHazard-v0"])
def test_the_written_out_actor_step_equals_autograd_and_torch_adam(task):
    """The first-order family's numpy actor (engine/first_order_step.ActorFit): its gradient of an algorithm's
    loss equals autograd's through the torch policy, parameter by parameter (a Gaussian's log std included),
    and its Adam step equals torch.optim.Adam's."""
    from ctrpo_core.engine.first_order_step import ActorFit
    from ctrpo_core.engine.policies import make_policy
    from ctrpo_core.envs import get_spec

    spec = get_spec(task)
    torch.manual_seed(0)
    policy = make_policy(spec, (32, 16))
    randomise(policy, scale=0.3, seed=2)
    obs = torch.randn(64, spec.obs_dim)
    with torch.no_grad():
        actions = policy.distribution(obs).sample()
        old_logp = policy.log_prob(policy.distribution(obs), actions) + 0.1 * torch.randn(64)
    adv = torch.randn(64)

    with torch.no_grad():  # a fixed reference policy for a KL term (FOCOPS' and CUP's kind of loss)
        moved = make_policy(spec, (32, 16))
        reference = moved.distribution(obs)

    def loss(dist):  # PPO's clipped loss plus a KL term: a loss of the outputs' distribution, as algorithms write
        ratio = torch.exp(policy.log_prob(dist, actions) - old_logp)
        clipped = -torch.min(ratio * adv, torch.clamp(ratio, 0.8, 1.2) * adv).mean()
        return clipped + policy.summed_kl(dist, reference).mean()

    expected = torch.autograd.grad(loss(policy.distribution(obs)), list(policy.parameters()))
    fit = ActorFit(policy, lr=1e-2)
    fit.pull()
    layers = fit.forward(obs.numpy())
    out = torch.from_numpy(layers[-1]).requires_grad_()
    extra = [torch.from_numpy(v.copy()).requires_grad_() for v in fit.extra]
    loss(policy.distribution_from(out, *extra)).backward()
    fit.backward(layers, out.grad.numpy(), [e.grad.numpy() for e in extra])
    for (a, b), e in zip(zip(fit.offsets, fit.offsets[1:]), expected):
        np.testing.assert_allclose(fit.grad[a:b], e.reshape(-1).numpy(), rtol=1e-4, atol=1e-6)
    adam = torch.optim.Adam(policy.parameters(), lr=1e-2)
    for p, g in zip(policy.parameters(), expected):
        p.grad = g.clone()
    adam.step()
    fit.step()
    for (a, b), p in zip(zip(fit.offsets, fit.offsets[1:]), policy.parameters()):
        np.testing.assert_allclose(fit.theta[a:b], p.detach().reshape(-1).numpy(), rtol=1e-5, atol=1e-7)
