"""The constrained divergence D_C = KL + β·φ(α) and its barrier φ (defined in ctrpo_core/engine/divergence.py),
and the Hessian the engine uses for it: F + β·φ''(0)·∇α∇αᵀ, checked against the full
autograd Hessian of D_C at θ_k.
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import distribution_at, randomise

from ctrpo_core.algos import make_algorithm
from ctrpo_core.config import resolve
from ctrpo_core.engine import trust_region as tr
from ctrpo_core.engine.divergence import (
    constrained_divergence,
    cost_surrogate,
    phi,
    phi_second_derivative_at_zero,
)
from ctrpo_core.engine.policies import CategoricalPolicy, GaussianPolicy
from ctrpo_core.engine.rollout import Batch
from ctrpo_core.envs import make_vec_env

FORMS = ("entropy", "log")


# --------------------------------------------------------------------------- helpers
def closed_form_phi(alpha: float, budget: float, form: str) -> float:
    """φ written out from its definition (engine/divergence.py) with plain floats."""
    if alpha >= budget:
        return math.inf
    if form == "entropy":
        return alpha + (budget - alpha) * math.log((budget - alpha) / budget)
    return -math.log((budget - alpha) / budget) - alpha / budget


def closed_form_phi_second(alpha: float, budget: float, form: str) -> float:
    # entropy: φ' = −log((Δb−α)/Δb), φ'' = 1/(Δb−α);  log: φ' = 1/(Δb−α) − 1/Δb, φ'' = 1/(Δb−α)²
    return 1.0 / (budget - alpha) if form == "entropy" else 1.0 / (budget - alpha) ** 2


def derivatives(alpha: float, budget: float, form: str):
    """φ, φ', φ'' at α by autograd (float64)."""
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
    value = phi(a, budget, form)
    (d1,) = torch.autograd.grad(value, a, create_graph=True)
    (d2,) = torch.autograd.grad(d1, a)
    return value.item(), d1.item(), d2.item()


def reference_kl(policy, old, new) -> torch.Tensor:
    """mean KL(old‖new), written out: Gaussian per action dimension (mean over batch and dims),
    categorical summed over actions (mean over batch)."""
    if isinstance(policy, GaussianPolicy):
        s1, s2 = old.scale, new.scale
        kl = torch.log(s2 / s1) + (s1**2 + (old.loc - new.loc) ** 2) / (2 * s2**2) - 0.5
        return kl.mean()
    p_old = torch.softmax(old.logits, -1)
    return (p_old * (torch.log_softmax(old.logits, -1) - torch.log_softmax(new.logits, -1))).sum(-1).mean()


def log_prob(policy, dist, actions):
    if isinstance(policy, GaussianPolicy):
        return dist.log_prob(actions).sum(-1)
    return dist.log_prob(actions.long())


def make_batch(policy, obs_dim: int, n: int, cost_estimate: float, cost_limit: float, seed: int = 1) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, obs_dim, generator=gen, dtype=torch.float64)
    torch.manual_seed(seed)
    with torch.no_grad():
        actions = policy.distribution(obs).sample().to(torch.float64)
    adv_c = torch.randn(n, generator=gen, dtype=torch.float64)
    adv_c = adv_c - adv_c.mean()
    zeros = torch.zeros(n, dtype=torch.float64)
    return Batch(
        obs=obs,
        actions=actions,
        adv_r=torch.randn(n, generator=gen, dtype=torch.float64),
        adv_c=adv_c,
        target_r=zeros,
        target_c=zeros,
        cost_estimate=cost_estimate,
        cost_limit=cost_limit,
    )


# --------------------------------------------------------------------------- φ
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("budget", [0.3, 1.0, 25.0])
def test_phi_matches_closed_form(form, budget):
    alphas = [
        -3.0 * budget,
        -budget,
        -0.4 * budget,
        -1e-3 * budget,
        0.0,
        1e-3 * budget,
        0.25 * budget,
        0.5 * budget,
        0.9 * budget,
        0.999 * budget,
    ]
    got = phi(torch.tensor(alphas, dtype=torch.float64), budget, form)
    expected = torch.tensor([closed_form_phi(a, budget, form) for a in alphas], dtype=torch.float64)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
    for a in alphas:  # scalar input too
        assert phi(torch.tensor(a, dtype=torch.float64), budget, form).item() == pytest.approx(
            closed_form_phi(a, budget, form), rel=1e-12, abs=1e-14
        )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("budget", [0.3, 1.0, 25.0])
def test_phi_value_slope_and_curvature_at_zero(form, budget):
    value, d1, d2 = derivatives(0.0, budget, form)
    assert value == 0.0
    assert d1 == pytest.approx(0.0, abs=1e-14)
    expected = 1.0 / budget if form == "entropy" else 1.0 / budget**2
    assert d2 == pytest.approx(expected, rel=1e-10)
    assert phi_second_derivative_at_zero(budget, form) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("budget", [0.5, 2.0])
def test_phi_convex_on_a_grid(form, budget):
    grid = torch.linspace(-5 * budget, 0.99 * budget, 61, dtype=torch.float64).tolist()
    for a in grid:
        value, _, d2 = derivatives(a, budget, form)
        assert value >= -1e-15  # convex with φ(0) = 0, φ'(0) = 0 ⇒ φ >= 0
        assert d2 > 0
        assert d2 == pytest.approx(closed_form_phi_second(a, budget, form), rel=1e-9)


def test_phi_boundary_behaviour():
    budget = 2.0
    eps = [1e-1, 1e-3, 1e-5, 1e-7, 1e-9]
    # entropy form: the value stays bounded (→ Δb) while the slope diverges like −log(ε/Δb)
    slopes, values = [], []
    for e in eps:
        value, d1, _ = derivatives(budget - e, budget, "entropy")
        values.append(value)
        slopes.append(d1)
        assert d1 == pytest.approx(-math.log(e / budget), rel=1e-6)
    assert all(s2 > s1 for s1, s2 in zip(slopes, slopes[1:]))
    assert slopes[-1] > 20
    assert all(v <= budget for v in values) and values[-1] == pytest.approx(budget, rel=1e-7)
    # log form: the value itself diverges
    logs = [phi(torch.tensor(budget - e, dtype=torch.float64), budget, "log").item() for e in eps]
    assert all(v2 > v1 for v1, v2 in zip(logs, logs[1:]))
    assert logs[-1] > 20
    # at and beyond the boundary: +∞ for both forms, and D_C = +∞
    for form in FORMS:
        for a in (budget, budget + 1e-12, budget * 1.5, 1e6):
            assert phi(torch.tensor(a, dtype=torch.float64), budget, form).item() == math.inf
            d = constrained_divergence(torch.tensor(0.003), torch.tensor(a), 1.0, budget, form)
            assert d.item() == math.inf
        # vectorised: only the entries at/after the boundary are infinite
        out = phi(torch.tensor([0.5 * budget, budget, 3 * budget]), budget, form)
        assert math.isfinite(out[0].item()) and out[1].item() == math.inf and out[2].item() == math.inf


def test_phi_gradient_finite_beyond_boundary():
    """Inside a batch of α's, an infeasible entry must not poison the gradient of the others."""
    a = torch.tensor([0.2, 5.0], dtype=torch.float64, requires_grad=True)
    out = phi(a, 1.0, "entropy")
    (grad,) = torch.autograd.grad(out[0], a)
    assert torch.all(torch.isfinite(grad))
    assert grad[0].item() == pytest.approx(-math.log(0.8), rel=1e-12)


def test_phi_errors():
    with pytest.raises(ValueError):
        phi(torch.tensor(0.1), 1.0, "quadratic")
    with pytest.raises(ValueError):
        phi(torch.tensor(0.1), 0.0, "entropy")
    with pytest.raises(ValueError):
        phi(torch.tensor(0.1), -2.0, "log")
    with pytest.raises(ValueError):
        phi_second_derivative_at_zero(1.0, "quadratic")


# --------------------------------------------------------------------------- D_C
@pytest.mark.parametrize("form", FORMS)
def test_constrained_divergence_increases_with_beta(form):
    kl = torch.tensor(0.004, dtype=torch.float64)
    budget = 1.5
    for a in (-2.0, -0.3, 0.01, 0.7, 1.4):
        alpha = torch.tensor(a, dtype=torch.float64)
        values = [constrained_divergence(kl, alpha, beta, budget, form).item() for beta in (0.0, 0.1, 1.0, 10.0)]
        assert values[0] == pytest.approx(kl.item())
        assert all(v2 > v1 for v1, v2 in zip(values, values[1:]))
        for beta, v in zip((0.0, 0.1, 1.0, 10.0), values):
            assert v == pytest.approx(kl.item() + beta * closed_form_phi(a, budget, form), rel=1e-12)
    # at α = 0 the barrier contributes nothing, whatever β
    zero = torch.tensor(0.0, dtype=torch.float64)
    assert constrained_divergence(kl, zero, 100.0, budget, form).item() == pytest.approx(kl.item(), rel=1e-15)


def test_beta_zero_is_plain_kl_even_past_the_boundary():
    kl = torch.tensor(0.01)
    assert constrained_divergence(kl, torch.tensor(10.0), 0.0, 1.0).item() == pytest.approx(0.01)


@pytest.mark.parametrize("policy_cls", [GaussianPolicy, CategoricalPolicy])
@pytest.mark.parametrize("form", FORMS)
def test_constrained_divergence_zero_with_zero_gradient_at_theta_k(policy_cls, form):
    torch.manual_seed(0)
    policy = policy_cls(3, 2 if policy_cls is GaussianPolicy else 3, (4,)).double()
    randomise(policy)
    batch = make_batch(policy, 3, 40, cost_estimate=0.5, cost_limit=1.0)
    with torch.no_grad():  # as the engine does: log π_k from the live distribution
        dist_k = policy.distribution(batch.obs)
        old, old_logp = policy.detached(dist_k), log_prob(policy, dist_k, batch.actions)
    new = policy.distribution(batch.obs)
    ratio = torch.exp(log_prob(policy, new, batch.actions) - old_logp)
    assert torch.equal(ratio, torch.ones_like(ratio))  # exactly 1 at θ_k
    alpha = cost_surrogate(ratio, batch.adv_c, 0.99)
    assert alpha.item() == 0.0
    d = constrained_divergence(policy.kl(old, new).mean(), alpha, 2.0, batch.budget, form)
    assert d.item() == pytest.approx(0.0, abs=1e-15)
    grad = tr.flat_grad(d, policy, retain_graph=True)
    assert grad.abs().max().item() < 1e-12
    # ... whereas ∇α itself is not zero (so the zero gradient is φ'(0) = 0 at work, not a trivial α)
    assert tr.flat_grad(alpha, policy).abs().max().item() > 1e-3


def test_cost_surrogate_formula():
    ratio = torch.tensor([1.0, 1.5, 0.5, 2.0], dtype=torch.float64)
    adv_c = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)
    # (0·1 + 0.5·(−2) + (−0.5)·3 + 1·0.5)/4 / (1 − 0.9) = (−1 − 1.5 + 0.5)/4 · 10 = −5
    assert cost_surrogate(ratio, adv_c, 0.9).item() == pytest.approx(-5.0, rel=1e-12)


# --------------------------------------------------------------------------- Hessian of D_C
def _algo(task: str):
    cfg = resolve(task, "c-trpo", hidden=(4,))
    env = make_vec_env(task, 1, 0)
    algo = make_algorithm(cfg, env)
    algo.policy.double()
    randomise(algo.policy, seed=3)
    return cfg, algo


@pytest.mark.parametrize("task", ["PointHazard-v0", "GridHazard-v0"])
@pytest.mark.parametrize("form,beta", [("entropy", 3.0), ("log", 0.5)])
def test_barrier_hessian_vector_product_matches_autograd(task, form, beta):
    cfg, algo = _algo(task)
    policy = algo.policy
    budget = 0.7
    batch = make_batch(
        policy, algo.spec.obs_dim, 48, cost_estimate=cfg.cost_limit - budget, cost_limit=cfg.cost_limit, seed=5
    )
    assert batch.budget == pytest.approx(budget)

    old_dist, old_logp = algo.old_policy(batch)
    ev = algo.evaluate(batch, old_dist, old_logp)

    def alpha(ev):
        return cost_surrogate(ev.ratio, batch.adv_c, cfg.gamma)

    curvature = beta * phi_second_derivative_at_zero(budget, form)
    Hv = algo.hessian_vector_product(batch, ev, alpha, curvature)

    theta_k = tr.flat_params(policy).clone()
    with torch.no_grad():
        old = policy.detached(policy.distribution(batch.obs))

    def d_c(theta):
        new = distribution_at(policy, theta, batch.obs)
        ratio = torch.exp(log_prob(policy, new, batch.actions) - old_logp)
        a = cost_surrogate(ratio, batch.adv_c, cfg.gamma)
        return constrained_divergence(reference_kl(policy, old, new), a, beta, budget, form)

    assert d_c(theta_k).item() == pytest.approx(0.0, abs=1e-14)
    H = torch.autograd.functional.hessian(d_c, theta_k, vectorize=True)
    assert torch.allclose(H, H.T, atol=1e-10)

    def kl_only(theta):
        return reference_kl(policy, old, distribution_at(policy, theta, batch.obs))

    F = torch.autograd.functional.hessian(kl_only, theta_k, vectorize=True)
    gen = torch.Generator().manual_seed(11)
    for _ in range(3):
        v = torch.randn(theta_k.numel(), generator=gen, dtype=torch.float64)
        got, want = Hv(v), H @ v
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-7 * want.abs().max().item()), (got - want).abs().max()
        # the barrier part is a real contribution here (so a wrong curvature would fail)
        assert (want - F @ v).norm() > 0.1 * want.norm()
    # the policy was not moved by building the products
    assert torch.equal(tr.flat_params(policy), theta_k)
