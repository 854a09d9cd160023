"""Trust-region shrinkage (engine/shrinkage.py, issue 18): α_max^KL and α_max^C against closed forms and
dense solves, s = uᵀ(F + damping·I)⁻¹u with the real policy's Fisher, the exact reach along ∇α, and the
columns alpha_max, alpha_max_kl, alpha_max_exact, alpha_step of real runs.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from conftest import distribution_at

from ctrpo_core import api
from ctrpo_core.algos import make_algorithm
from ctrpo_core.algos.c_trpo import NORMAL, RECOVERY
from ctrpo_core.config import resolve
from ctrpo_core.engine import shrinkage
from ctrpo_core.engine import trust_region as tr
from ctrpo_core.engine.divergence import cost_surrogate
from ctrpo_core.envs import make_vec_env
from ctrpo_core.runs import RunDir

SHRINKAGE_COLUMNS = ["alpha_max", "alpha_max_kl", "alpha_max_exact", "alpha_step"]
# How far the exact reach along (F + damping·I)⁻¹∇α may exceed the quadratic α_max^C, relative. Both
# barriers are at least their quadratic for α >= 0 (φ(α) >= φ''(0)·α²/2: their series have positive
# terms), and KL >= 0, so D_C >= κα²/2 and the exact reach is at most √(2δ/κ) = α_max^C·√(1 + 1/(κs)):
# only a KL below its damped quadratic model ½xᵀ(F + damping·I)x lets the exact D_C reach further, and
# only by much where κs is small. Measured (30-epoch seed-0 runs): GridHazard entropy 0.950-0.962× the
# model, log barrier 0.882-0.893×, HazardEdge-v0 0.896-1.041× (κs ≈ 1 there). 10% covers these with room;
# a wrong model (κ dropped: 10-25× larger on GridHazard; a missing √) is caught by the other checks.
EXACT_OVER_MODEL = 0.10


def random_spd(n: int, cond: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    eig = torch.logspace(0, math.log10(cond), n, dtype=torch.float64)
    return Q @ torch.diag(eig) @ Q.T


def boundary_max(
    M: torch.Tensor, u: torch.Tensor, delta: float, samples: int, seed: int, around: torch.Tensor | None = None
) -> float:
    """max uᵀx over random x (or ``around`` + 1% noise) scaled onto ½xᵀMx = δ: a lower bound of the maximum."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(samples, M.shape[0], generator=gen, dtype=torch.float64)
    if around is not None:
        X = around + 0.01 * around.norm() * X
    X = X * torch.sqrt(2 * delta / torch.einsum("si,ij,sj->s", X, M, X))[:, None]
    return float((X @ u).max())


# --------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("delta", [0.01, 0.2])
def test_alpha_max_kl_is_the_maximum_over_the_quadratic_kl_ball(seed, delta):
    A = random_spd(6, 50.0, seed)
    u = torch.randn(6, generator=torch.Generator().manual_seed(10 + seed), dtype=torch.float64)
    s = float(u @ torch.linalg.solve(A, u))
    got = shrinkage.alpha_max_kl(s, delta)
    # the analytic maximiser x* = √(2δ/s)·A⁻¹u lies on the boundary and reaches uᵀx* = α_max^KL
    x_star = math.sqrt(2 * delta / s) * torch.linalg.solve(A, u)
    assert float(0.5 * x_star @ A @ x_star) == pytest.approx(delta, rel=1e-12)
    assert float(u @ x_star) == pytest.approx(got, rel=1e-12)
    # no other boundary point does better: random ones, and ones next to x* (which come close)
    assert boundary_max(A, u, delta, 20000, seed) <= got * (1 + 1e-12)
    near = boundary_max(A, u, delta, 2000, seed, around=x_star)
    assert got * (1 - 1e-3) < near <= got * (1 + 1e-12)
    # the KKT form: maximise uᵀx over the ellipsoid through its eigenbasis (an independent dense route)
    eig, V = torch.linalg.eigh(A)
    assert got == pytest.approx(math.sqrt(2 * delta * float(((V.T @ u) ** 2 / eig).sum())), rel=1e-10)


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("kappa", [0.0, 0.3, 5.0, 1e4])
def test_alpha_max_constrained_is_sherman_morrison_of_the_dense_solve(seed, kappa):
    delta = 0.02
    A = random_spd(7, 100.0, seed)
    u = torch.randn(7, generator=torch.Generator().manual_seed(20 + seed), dtype=torch.float64)
    s = float(u @ torch.linalg.solve(A, u))
    M = A + kappa * torch.outer(u, u)  # the Hessian of D_C at θ_k (damped like the step)
    dense = math.sqrt(2 * delta * float(u @ torch.linalg.solve(M, u)))
    got = shrinkage.alpha_max_constrained(s, kappa, delta)
    assert got == pytest.approx(dense, rel=1e-9)
    assert got <= shrinkage.alpha_max_kl(s, delta) * (1 + 1e-15)
    assert got < math.sqrt(2 * delta / kappa) if kappa > 0 else got == shrinkage.alpha_max_kl(s, delta)
    assert boundary_max(M, u, delta, 20000, seed) <= got * (1 + 1e-12)
    # the maximiser lies on the ray t·A⁻¹u at the model's length, and on the boundary of M's region
    t = shrinkage.model_length(s, kappa, delta)
    x = t * torch.linalg.solve(A, u)
    assert float(u @ x) == pytest.approx(got, rel=1e-10)
    assert float(0.5 * x @ M @ x) == pytest.approx(delta, rel=1e-10)


def test_natural_cost_direction_solves_a_damped_spd_system():
    A = random_spd(8, 20.0, 5)
    u = torch.randn(8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    x_u, s = shrinkage.natural_cost_direction(lambda v: A @ v, u, iters=30)
    few, s_few = shrinkage.natural_cost_direction(lambda v: A @ v, u, iters=3)
    assert s_few <= s  # fewer iterations never overstate s (nor α_max)
    torch.testing.assert_close(x_u, torch.linalg.solve(A, u), rtol=1e-8, atol=1e-10)
    assert s == pytest.approx(float(u @ torch.linalg.solve(A, u)), rel=1e-10)
    zero, s0 = shrinkage.natural_cost_direction(lambda v: A @ v, torch.zeros(8, dtype=torch.float64), 10)
    assert s0 == 0.0 and not zero.any()


# --------------------------------------------------------------------------- the exact search along a ray
def test_exact_alpha_max_finds_the_boundary_of_a_known_divergence():
    """D(t) = a·t² + t⁴ with α(t) = 3t: the crossing D = δ has a closed form."""
    a, delta = 0.5, 0.01
    t_star = math.sqrt((-a + math.sqrt(a * a + 4 * delta)) / 2)
    calls = []

    def evaluate(t):
        calls.append(t)
        return a * t * t + t**4, 3 * t

    for t0 in (0.01 * t_star, 0.9 * t_star, t_star, 1.1 * t_star, 30 * t_star):  # inside, near, far outside
        calls.clear()
        got = shrinkage.exact_alpha_max(evaluate, t0, delta)
        # stopped by the bracket (t to 1e-3) or by D >= (1 − 1e-3)·δ (t to ~5e-4 as D ≈ a·t²)
        assert 3 * t_star * (1 - 1.1e-3) <= got <= 3 * t_star
        if 0.5 < t0 / t_star < 2:  # a start near the boundary, like the model's length: few evaluations
            assert len(calls) <= 8, len(calls)  # regula falsi, not a dozen bisections


def test_exact_alpha_max_at_a_wall_and_in_degenerate_cases():
    """A barrier's wall: D stays below δ up to t = 1, then is +∞ (α >= Δb); the reach is the wall."""
    delta = 0.01
    wall = lambda t: (0.005 * t * t if t < 1.0 else math.inf, 2 * t)
    got = shrinkage.exact_alpha_max(wall, 0.3, delta)
    assert 2 * (1 - 1.1e-3) <= got < 2
    # NaN counts as outside; never inside gives 0; never outside gives the longest length tried
    assert shrinkage.exact_alpha_max(lambda t: (math.nan, t), 1.0, delta) == 0.0
    assert shrinkage.exact_alpha_max(lambda t: (0.0, t), 1.0, delta) == 2.0**shrinkage.EXPAND_STEPS


# --------------------------------------------------------------------------- the real policy's Fisher
@pytest.fixture(scope="module")
def grid_batch():
    """A GridHazard batch, a small policy (284 parameters) and, at its θ_k, F + damping·I built densely
    from the autograd Hessian of the mean KL (as tests/test_trust_region.py) and u = ∇α."""
    cfg = resolve("GridHazard-v0", "c-trpo", steps_per_epoch=256, num_envs=4, total_steps=256, hidden=(8,))
    env = make_vec_env(cfg.task, cfg.num_envs, cfg.seed)
    algo = make_algorithm(cfg, env)
    algo.start()
    batch = algo.collect()
    assert batch.adv_c.abs().max() > 0  # hazards were visited: ∇α is not zero
    theta0 = tr.flat_params(algo.policy).clone()
    with torch.no_grad():
        old = algo.policy.detached(algo.policy.distribution(batch.obs))
    F = torch.autograd.functional.hessian(
        lambda th: algo.policy.kl(old, distribution_at(algo.policy, th, batch.obs)).mean(), theta0, vectorize=True
    )
    A = F.double() + cfg.cg_damping * torch.eye(theta0.numel(), dtype=torch.float64)
    old_dist, old_logp = algo.old_policy(batch)
    ev = algo.evaluate(batch, old_dist, old_logp)
    u = tr.flat_grad(cost_surrogate(ev.ratio, batch.adv_c, cfg.gamma), algo.policy).double()
    return cfg, algo, batch, theta0, A, u


@pytest.mark.parametrize("mode,cost_estimate", [(NORMAL, 0.3), (NORMAL, 0.9), (RECOVERY, 1.5)])
def test_logged_reach_matches_the_dense_solve_with_the_real_fisher(grid_batch, mode, cost_estimate):
    """The update's alpha_max_kl = √(2δ·uᵀ(F + damping·I)⁻¹u) and alpha_max = α_max^C with the logged κ,
    F dense from autograd; alpha_step is α at the new parameters; the exact reach is inside the region."""
    cfg, algo, batch, theta0, A, u = grid_batch
    tr.set_flat_params(algo.policy, theta0)
    algo.mode = mode
    batch = dataclasses.replace(batch, cost_estimate=cost_estimate)  # b = 1 on GridHazard
    s = float(u @ torch.linalg.solve(A, u))
    old_dist, old_logp = algo.old_policy(batch)

    stats = algo.update_policy(batch)
    # CG (cg_iters = 15, float32) against the dense float64 solve
    assert stats.alpha_max_kl == pytest.approx(math.sqrt(2 * cfg.delta * s), rel=2e-3)
    with torch.no_grad():
        ev = algo.evaluate(batch, old_dist, old_logp)
        assert stats.alpha_step == pytest.approx(
            cost_surrogate(ev.ratio, batch.adv_c, cfg.gamma).item(), rel=1e-6, abs=1e-9
        )
    if stats.recovery:
        assert stats.alpha_max == stats.alpha_max_kl and stats.alpha_max_exact is None
        assert stats.alpha_step < 0  # the recovery step lowers the cost
    else:
        kappa = stats.own["curvature"]
        assert kappa == pytest.approx(cfg.beta / batch.budget)
        dense_c = math.sqrt(2 * cfg.delta * float(u @ torch.linalg.solve(A + kappa * torch.outer(u, u), u)))
        assert stats.alpha_max == pytest.approx(dense_c, rel=2e-3)
        assert 0 < stats.alpha_max_exact < batch.budget  # D_C = ∞ at α >= Δb
        assert stats.alpha_max_exact <= stats.alpha_max * (1 + EXACT_OVER_MODEL)
        assert stats.alpha_max_exact <= math.sqrt(2 * cfg.delta / kappa) * (1 + 1e-6)
        assert stats.alpha_step < batch.budget
    tr.set_flat_params(algo.policy, theta0)


def test_the_exact_measurement_restores_theta_k_bit_for_bit(grid_batch):
    cfg, algo, batch, theta0, *_ = grid_batch
    tr.set_flat_params(algo.policy, theta0)
    batch = dataclasses.replace(batch, cost_estimate=0.5)
    old_dist, old_logp = algo.old_policy(batch)
    ev = algo.evaluate(batch, old_dist, old_logp)
    u = tr.flat_grad(algo.cost_increase(batch, ev), algo.policy).detach()
    Fv = tr.kl_hessian_vector_product(algo.policy, batch.obs)
    calls = []

    def divergence(ev):
        calls.append(1)
        return ev.kl

    reach = algo.region_reach(batch, old_dist, old_logp, theta0, u, Fv, curvature=0.0, divergence=divergence)
    assert calls and torch.equal(tr.flat_params(algo.policy), theta0)
    assert reach.alpha_max == reach.alpha_max_kl > 0 and reach.alpha_max_exact > 0


# --------------------------------------------------------------------------- real runs
def train(tmp_path, algo, total_steps, **settings):
    run = api.train("GridHazard-v0", algo, total_steps=total_steps, runs_dir=str(tmp_path), name=algo, **settings)
    return RunDir(run.path).read_metrics()


def test_ctrpo_run_reach_is_inside_the_budget_and_the_kl_ball(tmp_path):
    """Every normal-mode update of a short GridHazard C-TRPO run: α_max^C <= Δb, α_max^C <= α_max^KL,
    the exact reach within EXACT_OVER_MODEL of the model and below Δb, the step's α below Δb."""
    m = train(tmp_path, "c-trpo", 24_000)  # 12 epochs: recovery first, then normal mode
    normal, recovery = m[m.recovery == 0], m[m.recovery == 1]
    assert len(normal) >= 3 and len(recovery) >= 1
    for col in SHRINKAGE_COLUMNS:
        assert normal[col].notna().all(), col
    assert (normal.alpha_max > 0).all()
    # α_max^C < √(2δ/κ) = √(2δ·Δb/β) (entropy barrier) is below Δb whenever Δb >= 2δ/β: the model keeps
    # the first-order cost increase inside the budget there (for smaller budgets only the exact D_C does)
    assert (normal.budget >= 2 * m.trust_radius[normal.index] / 1.0).all()  # β = 1: every update qualifies
    assert (normal.alpha_max <= normal.budget).all()
    assert (normal.alpha_max <= normal.alpha_max_kl).all()
    # the logged columns are tied by Sherman–Morrison: α_max^C² = α_max^KL²/(1 + κ·s), s = α_max^KL²/(2δ)
    s = normal.alpha_max_kl**2 / (2 * m.trust_radius[normal.index])
    np.testing.assert_allclose(normal.alpha_max**2, normal.alpha_max_kl**2 / (1 + normal.curvature * s), rtol=1e-9)
    assert (normal.alpha_max_exact <= normal.alpha_max * (1 + EXACT_OVER_MODEL)).all()
    # the rigorous bound D_C >= β·φ(α) >= κα²/2 (see EXACT_OVER_MODEL): the exact reach <= √(2δ/κ)
    assert (normal.alpha_max_exact <= np.sqrt(2 * m.trust_radius[normal.index] / normal.curvature) * (1 + 1e-6)).all()
    assert (normal.alpha_max_exact < normal.budget).all()
    assert (normal.alpha_step < normal.budget).all()
    assert (recovery.alpha_max == recovery.alpha_max_kl).all() and recovery.alpha_max_exact.isna().all()
    assert recovery.budget.notna().all() and recovery.alpha_step.notna().all()
    assert (m.alpha_step[m.step_fraction == 0] == 0).all()


@pytest.mark.parametrize("algo", ["trpo", "trpo-lag", "cpo", "pcpo"])
def test_kl_ball_algorithms_log_their_reach(tmp_path, algo):
    m = train(tmp_path, algo, 4_000)
    assert m.budget.notna().all() and m.alpha_max.notna().all() and (m.alpha_max > 0).all()
    assert (m.alpha_max == m.alpha_max_kl).all()
    assert m.alpha_max_exact.isna().all() and m.alpha_step.notna().all()


def test_ppo_lag_leaves_the_shrinkage_columns_empty(tmp_path):
    m = train(tmp_path, "ppo-lag", 1_024, steps_per_epoch=512, num_envs=4)
    assert m.budget.notna().all()
    for col in SHRINKAGE_COLUMNS:
        assert m[col].isna().all(), col
