"""Trust-region shrinkage: how much one step may raise the cost surrogate α (issue 18).

With u = ∇α(θ_k) (α = ``divergence.cost_surrogate``, the units of the budget Δb = b − Ĵ_c) and
A = F + damping·I (the step's own damped Fisher matrix), s = uᵀA⁻¹u. The largest first-order cost
increase over the quadratic model of a region {½ xᵀMx ≤ δ} is max uᵀx = √(2δ · uᵀM⁻¹u) (Cauchy–Schwarz
in the M-norm, reached at x ∝ M⁻¹u):

- the KL ball, M = A:                        α_max^KL = √(2δ·s)
- C-TRPO's region, M = A + κ uuᵀ with κ = β·φ''(0) (the Hessian of D_C at θ_k: α(θ_k) = 0, φ'(0) = 0),
  and by Sherman–Morrison uᵀ(A + κuuᵀ)⁻¹u = s/(1 + κs):   α_max^C = √(2δ·s/(1 + κs))

(A + κuuᵀ)⁻¹u = A⁻¹u/(1 + κs) points along A⁻¹u, so both maximisers lie on the ray θ_k + t·A⁻¹u; the
barrier is not quadratic near α = Δb, so C-TRPO's reach is also measured on that ray with the exact
D_C (``exact_alpha_max``). docs/ALGORITHM.md ("Trust-region shrinkage") has the derivation.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .trust_region import conjugate_gradient

REACH_CG_ITERS = 6  # CG iterations for s (capped by cg_iters): s_k = uᵀx_k rises to s, and measured on
# GridHazard, HazardEdge and SafetyHopperVelocity it was within 1e-4 of s at 6 iterations (damping 0.1
# keeps A well conditioned), so α_max to ~5e-5: the step's 15 would double the cost of these metrics
EXPAND_STEPS = 10  # doublings (or halvings) of t from the model's length before giving up
LENGTH_RTOL = 1e-3  # stop once the bracket on t is this narrow, relative ...
DIVERGENCE_RTOL = 1e-3  # ... or once an inside length has D >= (1 − this)·δ: α then within ~0.05% of the reach
MAX_ROOT_STEPS = 30  # safety cap on the root-finding evaluations (about 4 are typical)


def natural_cost_direction(
    Avp: Callable[[torch.Tensor], torch.Tensor], u: torch.Tensor, iters: int
) -> tuple[torch.Tensor, float]:
    """x_u ≈ A⁻¹u by ``iters`` conjugate-gradient iterations and s = uᵀx_u >= 0 (a lower bound of
    uᵀA⁻¹u that CG raises with every iteration)."""
    x_u = conjugate_gradient(Avp, u, iters)
    return x_u, max(float(u @ x_u), 0.0)


def alpha_max_kl(s: float, delta: float) -> float:
    """α_max^KL = max uᵀx s.t. ½ xᵀAx <= δ = √(2δ·s)."""
    return math.sqrt(2.0 * delta * s)


def alpha_max_constrained(s: float, kappa: float, delta: float) -> float:
    """α_max^C = max uᵀx s.t. ½ xᵀ(A + κuuᵀ)x <= δ = √(2δ·s/(1 + κs)) (Sherman–Morrison)."""
    return math.sqrt(2.0 * delta * s / (1.0 + kappa * s))


def model_length(s: float, kappa: float, delta: float) -> float:
    """t with θ_k + t·x_u the quadratic model's maximiser: t·s = α_max^C, so t = √(2δ/(s(1 + κs)))."""
    return math.sqrt(2.0 * delta / (s * (1.0 + kappa * s)))


def exact_alpha_max(
    evaluate: Callable[[float], tuple[float, float]],
    t0: float,
    delta: float,
    expand: int = EXPAND_STEPS,
    length_rtol: float = LENGTH_RTOL,
    divergence_rtol: float = DIVERGENCE_RTOL,
) -> float:
    """α at the largest step length t found with D(θ_k + t·x_u) <= δ.

    ``evaluate(t)`` loads θ_k + t·x_u and returns (D, α) there (the caller restores θ_k). Starting at the
    model's length t0, t is doubled until D > δ (or halved until D <= δ); the crossing D = δ inside that
    bracket is then found by the Illinois variant of regula falsi (bisection where D is +∞ or NaN, as
    beyond the barrier's wall), a few evaluations instead of a dozen bisections. NaN counts as outside.
    The first crossing found is reported (D need not be monotone along the ray). Returns 0 when no t > 0
    was inside, and α at the longest tried length when none was outside.
    """

    def inside(t: float) -> tuple[bool, float, float]:
        d, a = evaluate(t)
        return d <= delta and math.isfinite(a), a, d - delta

    # the bracket: lo inside (t = 0 is: D(θ_k) = 0), hi outside; f = D − δ at each end
    ok, a, f = inside(t0)
    lo, f_lo, alpha_lo = (t0, f, a) if ok else (0.0, -delta, 0.0)
    hi, f_hi = (None, math.nan) if ok else (t0, f)
    for _ in range(expand):
        if hi is not None and lo > 0.0:
            break
        t = 2.0 * lo if hi is None else 0.5 * hi
        ok, a, f = inside(t)
        if ok:
            lo, f_lo, alpha_lo = t, f, a
        else:
            hi, f_hi = t, f
    if hi is None or lo == 0.0:
        return alpha_lo
    side = 0  # which end the last step kept: Illinois halves that end's f when it is kept twice
    for _ in range(MAX_ROOT_STEPS):
        if hi - lo <= length_rtol * hi or -f_lo <= divergence_rtol * delta:
            break
        t = 0.5 * (lo + hi)
        if math.isfinite(f_hi):
            secant = lo - f_lo * (hi - lo) / (f_hi - f_lo)
            if lo < secant < hi:
                t = secant
        ok, a, f = inside(t)
        if ok:
            lo, f_lo, alpha_lo = t, f, a
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = t, f
            if side == 1:
                f_lo *= 0.5
            side = 1
    return alpha_lo
