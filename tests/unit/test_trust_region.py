"""Fisher-vector products, conjugate gradient, the trust-region scaling and the backtracking line
search, and the C-TRPO acceptance rule on a real batch.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import distribution_at, randomise
from torch import nn

from ctrpo_core.algos import make_algorithm
from ctrpo_core.algos.c_trpo import NORMAL, RECOVERY
from ctrpo_core.config import resolve
from ctrpo_core.engine import trust_region as tr
from ctrpo_core.engine.divergence import constrained_divergence, cost_surrogate
from ctrpo_core.engine.policies import CategoricalPolicy, GaussianPolicy
from ctrpo_core.envs import make_vec_env

# --------------------------------------------------------------------------- helpers


def reference_kl(policy, old, new):
    """mean KL(old‖new) written out (Gaussian: mean over batch and action dims)."""
    if isinstance(policy, GaussianPolicy):
        s1, s2 = old.scale, new.scale
        return (torch.log(s2 / s1) + (s1**2 + (old.loc - new.loc) ** 2) / (2 * s2**2) - 0.5).mean()
    p_old = torch.softmax(old.logits, -1)
    return (p_old * (torch.log_softmax(old.logits, -1) - torch.log_softmax(new.logits, -1))).sum(-1).mean()


def random_spd(n: int, cond: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    eig = torch.logspace(0, math.log10(cond), n, dtype=torch.float64)
    return Q @ torch.diag(eig) @ Q.T


# --------------------------------------------------------------------------- Fisher-vector products
@pytest.mark.parametrize("kind", ["gaussian", "categorical"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("hidden", [(4,), (4, 5)])  # the Gaussian's product is written out layer by layer
def test_kl_hessian_vector_product_is_the_autograd_hessian(kind, seed, hidden):
    torch.manual_seed(seed)
    policy = (GaussianPolicy(3, 2, hidden) if kind == "gaussian" else CategoricalPolicy(3, 3, hidden)).double()
    randomise(policy, seed=seed)
    gen = torch.Generator().manual_seed(100 + seed)
    obs = torch.randn(32, 3, generator=gen, dtype=torch.float64)
    theta_k = tr.flat_params(policy).clone()

    Fv = tr.kl_hessian_vector_product(policy, obs)
    assert isinstance(Fv, tr.GaussianFisher) == (kind == "gaussian")
    with torch.no_grad():
        old = policy.detached(policy.distribution(obs))
    F = torch.autograd.functional.hessian(
        lambda th: reference_kl(policy, old, distribution_at(policy, th, obs)), theta_k, vectorize=True
    )
    n = theta_k.numel()
    assert F.shape == (n, n)
    assert torch.linalg.eigvalsh(F).min() > -1e-10  # a Fisher matrix: PSD
    for _ in range(4):
        v = torch.randn(n, generator=gen, dtype=torch.float64)
        got, want = Fv(v), F @ v
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-8 * want.abs().max().item()), (got - want).abs().max()
    # F·e_i recovers every column: no parameter block (e.g. log std) is missing
    for i in range(n):
        e = torch.zeros(n, dtype=torch.float64)
        e[i] = 1.0
        torch.testing.assert_close(Fv(e), F[:, i], rtol=1e-5, atol=1e-10)
    assert torch.equal(tr.flat_params(policy), theta_k)


def test_gaussian_fisher_of_log_std_is_analytic():
    """For a Gaussian with state-independent log std, ∂²KL/∂(log σ_j)² at θ_k = 2 / act_dim
    (per-dimension KL averaged over the action dims): a closed-form check of the convention."""
    policy = GaussianPolicy(3, 2, (4,)).double()
    randomise(policy, seed=4)
    obs = torch.randn(16, 3, dtype=torch.float64)
    Fv = tr.kl_hessian_vector_product(policy, obs)
    n = tr.flat_params(policy).numel()
    offset = 0  # where log_std sits in the flat vector (same order as named_parameters)
    for name, p in policy.named_parameters():
        if name == "log_std":
            break
        offset += p.numel()
    for j in range(2):
        e = torch.zeros(n, dtype=torch.float64)
        e[offset + j] = 1.0
        col = Fv(e)
        assert col[offset + j].item() == pytest.approx(2.0 / 2, rel=1e-10)
        assert col[offset + (1 - j)].item() == pytest.approx(0.0, abs=1e-12)
        # log σ does not move the mean: no coupling with the mean network at θ_k
        others = torch.cat([col[:offset], col[offset + 2 :]])
        assert others.abs().max().item() < 1e-12


# --------------------------------------------------------------------------- conjugate gradient
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conjugate_gradient_solves_spd_system(seed):
    n = 20
    A = random_spd(n, cond=50.0, seed=seed)
    b = torch.randn(n, generator=torch.Generator().manual_seed(seed + 10), dtype=torch.float64)
    x = tr.conjugate_gradient(lambda v: A @ v, b, iters=60, tol=1e-24)
    exact = torch.linalg.solve(A, b)
    assert torch.allclose(x, exact, rtol=1e-8, atol=1e-10)
    assert (A @ x - b).norm() < 1e-8 * b.norm()
    # a few iterations only approximate it, but the residual must shrink (in A-norm error)
    err = lambda y: ((y - exact) @ A @ (y - exact)).item()
    e3 = err(tr.conjugate_gradient(lambda v: A @ v, b, iters=3))
    e8 = err(tr.conjugate_gradient(lambda v: A @ v, b, iters=8))
    assert err(torch.zeros(n, dtype=torch.float64)) > e3 > e8 > err(x)


def test_conjugate_gradient_exact_in_k_steps_for_k_distinct_eigenvalues():
    n, k = 20, 4
    gen = torch.Generator().manual_seed(7)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    eig = torch.tensor([1.0, 3.0, 7.0, 20.0], dtype=torch.float64).repeat_interleave(n // k)
    A = Q @ torch.diag(eig) @ Q.T
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    x = tr.conjugate_gradient(lambda v: A @ v, b, iters=k)
    assert torch.allclose(A @ x, b, atol=1e-9)


def test_conjugate_gradient_zero_rhs_and_counts_products():
    A = random_spd(5, 10.0, 0)
    calls = []

    def Avp(v):
        calls.append(1)
        return A @ v

    assert torch.equal(
        tr.conjugate_gradient(Avp, torch.zeros(5, dtype=torch.float64)), torch.zeros(5, dtype=torch.float64)
    )
    assert not calls
    tr.conjugate_gradient(Avp, torch.ones(5, dtype=torch.float64), iters=3, tol=0.0)
    assert len(calls) == 3


# --------------------------------------------------------------------------- scaling
@pytest.mark.parametrize("delta", [0.01, 0.02, 0.5])
def test_scale_to_trust_region_hits_two_delta(delta):
    H = random_spd(12, 30.0, seed=3) * 0.05
    x = torch.randn(12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = tr.scale_to_trust_region(x, lambda v: H @ v, delta, damping=0.1)
    quad = y @ (H @ y + 0.1 * y)
    assert quad.item() == pytest.approx(2 * delta, rel=1e-12)
    scale = y / x
    assert torch.allclose(scale, scale[0].expand_as(scale)) and scale[0] > 0  # same direction
    # the damping is part of the metric: without it the quadratic form is smaller
    assert (y @ (H @ y)).item() < 2 * delta


# --------------------------------------------------------------------------- line search
class _Recorder:
    """evaluate(): the fraction currently loaded, read back from the module's parameters."""

    def __init__(self, module, theta_k, step):
        self.module, self.theta_k, self.step, self.seen = module, theta_k, step, []

    def __call__(self):
        theta = tr.flat_params(self.module)
        f = ((theta - self.theta_k) @ self.step / (self.step @ self.step)).item()
        assert torch.allclose(theta, self.theta_k + f * self.step, atol=1e-6)
        self.seen.append(f)
        return {"fraction": f, "dist": (theta - self.theta_k).norm().item()}


def _module_and_step():
    torch.manual_seed(0)
    m = nn.Linear(3, 2).double()
    theta_k = tr.flat_params(m).clone()
    step = torch.randn(theta_k.numel(), dtype=torch.float64)
    return m, theta_k, step


@pytest.mark.parametrize("radius_fraction", [1.0, 0.9, 0.5, 0.3, 0.1, 0.05])
def test_line_search_accepts_the_first_fraction_the_rule_accepts(radius_fraction):
    m, theta_k, step = _module_and_step()
    radius = radius_fraction * step.norm().item() * (1 + 1e-9)
    rec = _Recorder(m, theta_k, step)
    res = tr.backtracking_line_search(m, theta_k, step, rec, lambda info: info["dist"] <= radius)
    # first j with 0.8^j ≤ radius_fraction (the distance is f·‖step‖)
    j = 0
    while 0.8**j > radius_fraction * (1 + 1e-9):
        j += 1
    assert res.accepted
    assert res.tries == j + 1
    assert res.fraction == pytest.approx(0.8**j, rel=1e-12)
    assert rec.seen == pytest.approx([0.8**i for i in range(j + 1)], rel=1e-9)
    torch.testing.assert_close(tr.flat_params(m), theta_k + 0.8**j * step)
    assert res.info["fraction"] == pytest.approx(0.8**j, rel=1e-9)


def test_line_search_rejecting_everything_restores_theta_k():
    m, theta_k, step = _module_and_step()
    rec = _Recorder(m, theta_k, step)
    res = tr.backtracking_line_search(m, theta_k, step, rec, lambda info: False)
    assert not res.accepted and res.fraction == 0.0 and res.tries == 15
    assert rec.seen == pytest.approx([0.8**i for i in range(15)], rel=1e-9)
    assert torch.equal(tr.flat_params(m), theta_k)
    # custom tries / decay
    rec = _Recorder(m, theta_k, step)
    res = tr.backtracking_line_search(m, theta_k, step, rec, lambda info: False, tries=4, decay=0.5)
    assert res.tries == 4 and rec.seen == pytest.approx([1, 0.5, 0.25, 0.125], rel=1e-9)
    assert torch.equal(tr.flat_params(m), theta_k)


def test_line_search_rejects_nonfinite_through_the_rule():
    """A rule that rejects +∞ (D_C beyond the boundary) must skip those fractions."""
    m, theta_k, step = _module_and_step()
    rec = _Recorder(m, theta_k, step)

    def evaluate():
        info = rec()
        info["divergence"] = math.inf if info["fraction"] > 0.6 else 0.0
        return info

    res = tr.backtracking_line_search(m, theta_k, step, evaluate, lambda i: i["divergence"] <= 0.01)
    assert res.accepted and res.tries == 4 and res.fraction == pytest.approx(0.8**3)


# --------------------------------------------------------------------------- C-TRPO acceptance on a real batch
@pytest.fixture(scope="module")
def grid_setup():
    cfg = resolve("GridHazard-v0", "c-trpo", steps_per_epoch=256, num_envs=4, total_steps=256)
    env = make_vec_env(cfg.task, cfg.num_envs, cfg.seed)
    algo = make_algorithm(cfg, env)
    algo.start()
    batch = algo.collect()
    assert batch.adv_c.abs().max() > 0  # hazards were visited: the barrier has something to do
    return cfg, algo, batch, tr.flat_params(algo.policy).clone()


def _measure(algo, batch, old_dist, old_logp, cfg, budget):
    with torch.no_grad():
        ev = algo.evaluate(batch, old_dist, old_logp)
        loss = -(ev.ratio * batch.adv_r).mean().item()
        kl = ev.kl.item()
        alpha = cost_surrogate(ev.ratio, batch.adv_c, cfg.gamma)
        d = constrained_divergence(ev.kl, alpha, cfg.beta, budget, cfg.barrier).item()
    return loss, kl, alpha.item(), d


@pytest.mark.parametrize("cost_estimate", [0.0, 0.75, 0.97])
def test_ctrpo_normal_step_respects_the_constrained_trust_region(grid_setup, cost_estimate):
    cfg, algo, batch, theta0 = grid_setup
    tr.set_flat_params(algo.policy, theta0)
    algo.mode = NORMAL  # (from recovery, Ĵ_c = 0.97 would keep it in recovery: hysteresis)
    batch = dataclasses.replace(batch, cost_estimate=cost_estimate)  # Δb = 1 − Ĵ_c
    budget = batch.budget
    old_dist, old_logp = algo.old_policy(batch)
    loss_k, *_ = _measure(algo, batch, old_dist, old_logp, cfg, budget)

    stats = algo.update_policy(batch)
    assert algo.mode == NORMAL and stats.recovery == 0
    assert stats.budget == pytest.approx(budget)
    assert stats.own["curvature"] == pytest.approx(cfg.beta / budget)  # entropy form: β/Δb
    assert stats.step_fraction > 0, "no step accepted on this batch"
    assert stats.step_fraction == pytest.approx(0.8 ** (stats.ls_tries - 1))

    loss, kl, alpha, d = _measure(algo, batch, old_dist, old_logp, cfg, budget)
    assert not torch.equal(tr.flat_params(algo.policy), theta0)
    assert loss <= loss_k
    assert math.isfinite(d) and d <= cfg.delta
    assert alpha < budget
    assert d == pytest.approx(stats.divergence, rel=1e-4, abs=1e-9)
    assert kl == pytest.approx(stats.kl, rel=1e-4, abs=1e-9)
    assert stats.barrier == pytest.approx(d - kl, abs=1e-7)
    assert stats.barrier >= 0
    if stats.ls_tries > 1:  # the previous (larger) fraction was rejected by the rule
        f_prev = stats.step_fraction / 0.8
        theta_acc = tr.flat_params(algo.policy).clone()
        tr.set_flat_params(algo.policy, theta0 + (f_prev / stats.step_fraction) * (theta_acc - theta0))
        loss_p, _, _, d_p = _measure(algo, batch, old_dist, old_logp, cfg, budget)
        assert not (math.isfinite(loss_p) and loss_p <= loss_k and d_p <= cfg.delta)
        tr.set_flat_params(algo.policy, theta_acc)


def test_ctrpo_trust_region_shrinks_with_the_budget(grid_setup):
    """The same batch with a smaller Δb gives a step whose KL is no larger (the metric stiffens)."""
    cfg, algo, batch, theta0 = grid_setup
    kls = []
    for cost_estimate in (0.0, 0.9, 0.99):
        tr.set_flat_params(algo.policy, theta0)
        algo.mode = NORMAL
        stats = algo.update_policy(dataclasses.replace(batch, cost_estimate=cost_estimate))
        kls.append(stats.kl)
    tr.set_flat_params(algo.policy, theta0)
    # (equal up to float32 noise while the line search takes the full step; then strictly smaller)
    assert kls[1] <= kls[0] * (1 + 1e-4) and kls[2] <= kls[1] * (1 + 1e-4)
    assert kls[2] < 0.9 * kls[0]


def test_ctrpo_recovery_step_lowers_the_cost_surrogate(grid_setup):
    cfg, algo, batch, theta0 = grid_setup
    tr.set_flat_params(algo.policy, theta0)
    algo.mode = NORMAL
    batch = dataclasses.replace(batch, cost_estimate=1.5)  # Ĵ_c > b → recovery
    old_dist, old_logp = algo.old_policy(batch)
    stats = algo.update_policy(batch)
    assert algo.mode == RECOVERY and stats.recovery == 1
    with torch.no_grad():
        ev = algo.evaluate(batch, old_dist, old_logp)
        cost_obj = (ev.ratio * batch.adv_c).mean().item()
        kl = ev.kl.item()
    assert stats.step_fraction > 0
    assert cost_obj <= (batch.adv_c.mean().item()) + 1e-7  # at θ_k the objective is mean(Â_c) = 0
    assert kl <= cfg.delta
    assert stats.divergence == pytest.approx(stats.kl)
    tr.set_flat_params(algo.policy, theta0)
