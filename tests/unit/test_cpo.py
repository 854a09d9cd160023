"""CPO's step (Achiam et al. 2017): cpo_direction against a direct numerical solution of

    max_x gᵀx   s.t.  ½ xᵀHx <= δ,   c + bᵀx <= 0

and, when that set is empty (case 0), against the recovery step x = −sqrt(2δ/s)·H⁻¹b.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from ctrpo_core.algos.cpo import cpo_direction

N = 5
DELTA = 0.02


def problem(seed: int):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(N, N))
    H = M @ M.T + 0.5 * np.eye(N)
    g = rng.normal(size=N)
    b = rng.normal(size=N)
    return H, g, b


def solve_numerically(H, g, b, c, delta, seed=0):
    """Best feasible SLSQP optimum over several starts (float64)."""
    rng = np.random.default_rng(1000 + seed)
    cons = [
        {"type": "ineq", "fun": lambda x: delta - 0.5 * x @ H @ x, "jac": lambda x: -(H @ x)},
        {"type": "ineq", "fun": lambda x: -c - b @ x, "jac": lambda x: -b},
    ]
    radius = math.sqrt(2 * delta / np.linalg.eigvalsh(H).min())
    starts = [np.zeros(N)] + [rng.normal(size=N) * radius / math.sqrt(N) for _ in range(7)]
    best = None
    for x0 in starts:
        res = minimize(
            lambda x: -g @ x,
            x0,
            jac=lambda x: -g,
            constraints=cons,
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 500},
        )
        x = res.x
        feasible = 0.5 * x @ H @ x <= delta * (1 + 1e-7) and c + b @ x <= 1e-7 * max(1.0, abs(c))
        if feasible and (best is None or g @ x > g @ best):
            best = x
    assert best is not None, "SLSQP found no feasible point"
    return best


def direction(H, g, b, c, delta):
    Hinv = np.linalg.inv(H)
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)
    x, case = cpo_direction(t(g), t(b), float(c), t(Hinv @ g), t(Hinv @ b), delta)
    return np.asarray(x, dtype=np.float64), case


def trpo_step(H, g, delta):
    Hinv_g = np.linalg.solve(H, g)
    return math.sqrt(2 * delta / (g @ Hinv_g)) * Hinv_g


def check_against_numerical(H, g, b, c, delta, seed):
    x, case = direction(H, g, b, c, delta)
    ref = solve_numerically(H, g, b, c, delta, seed)
    # constraints hold for the CPO step
    assert 0.5 * x @ H @ x <= delta * (1 + 1e-5), (case, 0.5 * x @ H @ x)
    assert c + b @ x <= 1e-5 * max(1.0, abs(c)), (case, c + b @ x)
    # same optimal value
    assert g @ x == pytest.approx(g @ ref, rel=1e-4, abs=1e-7), (case, g @ x, g @ ref)
    return x, ref, case


SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
def test_feasible_constraint_inactive(seed):
    """c < 0 and the TRPO step already satisfies c + bᵀx <= 0: CPO returns that step (case 2, ν = 0)."""
    H, g, b = problem(seed)
    x_t = trpo_step(H, g, DELTA)
    if b @ x_t > 0:
        b = -b  # the TRPO step lowers the cost
    s = b @ np.linalg.solve(H, b)
    c = -0.5 * math.sqrt(2 * DELTA * s)  # B = 2δ − c²/s > 0: the constraint plane cuts the trust region
    assert c + b @ x_t < 0
    x, ref, case = check_against_numerical(H, g, b, c, DELTA, seed)
    assert case == 2
    np.testing.assert_allclose(x, x_t, rtol=1e-4, atol=1e-6)
    assert 0.5 * x @ H @ x == pytest.approx(DELTA, rel=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
def test_feasible_constraint_active(seed):
    """c < 0 but the TRPO step would violate c + bᵀx <= 0: the optimum lies on the plane (case 2)."""
    H, g, b = problem(seed)
    x_t = trpo_step(H, g, DELTA)
    if b @ x_t < 0:
        b = -b  # the TRPO step raises the cost
    c = -0.4 * (b @ x_t)  # slack smaller than what the TRPO step would use
    x, ref, case = check_against_numerical(H, g, b, c, DELTA, seed)
    assert case == 2
    assert c + b @ x == pytest.approx(0.0, abs=1e-6)  # active
    assert g @ x < g @ x_t  # strictly worse than the unconstrained step
    np.testing.assert_allclose(x, ref, rtol=1e-3, atol=1e-4 * np.linalg.norm(ref))


@pytest.mark.parametrize("seed", SEEDS)
def test_infeasible_start_but_recoverable(seed):
    """c > 0 with the feasible set reachable inside the trust region (case 1)."""
    H, g, b = problem(seed)
    s = b @ np.linalg.solve(H, b)
    for frac in (0.2, 0.6, 0.95):
        c = frac * math.sqrt(2 * DELTA * s)  # c² < 2δs ⇔ B > 0
        x, ref, case = check_against_numerical(H, g, b, c, DELTA, seed)
        assert case == 1
        assert c + b @ x <= 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_whole_trust_region_feasible_gives_trpo_step(seed):
    """c < 0 with c² > 2δs: no point of the trust region violates the constraint (case 3)."""
    H, g, b = problem(seed)
    s = b @ np.linalg.solve(H, b)
    c = -1.5 * math.sqrt(2 * DELTA * s)
    x, ref, case = check_against_numerical(H, g, b, c, DELTA, seed)
    assert case == 3
    np.testing.assert_allclose(x, trpo_step(H, g, DELTA), rtol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_infeasible_case_minimises_cost_in_trust_region(seed):
    """c > 0 with c² > 2δs: no feasible point in the trust region; the step is the minimiser of
    bᵀx over ½xᵀHx <= δ, x = −sqrt(2δ/s)·H⁻¹b (case 0)."""
    H, g, b = problem(seed)
    Hinv_b = np.linalg.solve(H, b)
    s = b @ Hinv_b
    c = 1.5 * math.sqrt(2 * DELTA * s)
    x, case = direction(H, g, b, c, DELTA)
    assert case == 0
    expected = -math.sqrt(2 * DELTA / s) * Hinv_b
    np.testing.assert_allclose(x, expected, rtol=1e-6)
    assert 0.5 * x @ H @ x == pytest.approx(DELTA, rel=1e-6)
    # and it is the numerical minimiser of bᵀx in the trust region
    res = minimize(
        lambda y: b @ y,
        np.zeros(N),
        jac=lambda y: b,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda y: DELTA - 0.5 * y @ H @ y, "jac": lambda y: -(H @ y)}],
        options={"ftol": 1e-14},
    )
    assert b @ x == pytest.approx(b @ res.x, rel=1e-5)
    assert c + b @ x > 0  # still infeasible: the trust region cannot reach the plane


def test_zero_cost_gradient_with_slack_is_trpo():
    H, g, _ = problem(0)
    b = np.zeros(N)
    x, case = direction(H, g, b, -1.0, DELTA)
    assert case == 4
    np.testing.assert_allclose(x, trpo_step(H, g, DELTA), rtol=1e-6)
