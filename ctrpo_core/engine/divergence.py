"""The constrained divergence D_C of C-TRPO (the paper's constrained divergence).

D_C(θ) = mean KL(π_k ‖ π_θ) + β · φ(α(θ)), with
  α(θ) = 1/(1−γ) · E_{π_k}[(π_θ/π_k − 1) · Â_c]   (surrogate cost increase, 0 at θ = θ_k)
and φ a convex barrier on the budget Δb = b − Ĵ_c(π_k), +∞ for α ≥ Δb.
"""

from __future__ import annotations

import math

import torch

BARRIERS = ("entropy", "log")


def cost_surrogate(ratio: torch.Tensor, adv_c: torch.Tensor, gamma: float) -> torch.Tensor:
    """α(θ): first-order estimate of V_c(π_θ) − V_c(π_k); the '− 1' keeps α(θ_k) = 0 exactly."""
    return ((ratio - 1.0) * adv_c).mean() / (1.0 - gamma)


SERIES_BELOW = 0.05  # |α/Δb| under which φ is summed as its power series (25 terms: exact in float64)
SERIES_TERMS = 25


def _series(u: torch.Tensor, form: str) -> torch.Tensor:
    """Σ_{n≥2} uⁿ/(n(n−1)) (entropy) or Σ_{n≥2} uⁿ/n (log): φ near 0 without cancellation."""
    total, power = torch.zeros_like(u), u * u
    for n in range(2, SERIES_TERMS + 2):
        total = total + power / (n * (n - 1) if form == "entropy" else n)
        power = power * u
    return total


def phi(alpha: torch.Tensor, budget: float, form: str = "entropy") -> torch.Tensor:
    """Barrier φ(α) on the budget Δb; +∞ where α ≥ Δb. Float64, and >= 0 for every α.

    entropy: φ(α) = α + (Δb − α)·log((Δb − α)/Δb) = Δb·g(u)    (slope → ∞ at the boundary)
    log:     φ(α) = −log((Δb − α)/Δb) − α/Δb      = h(u)       (value → ∞ at the boundary)
    with u = α/Δb. Near u = 0 both are differences of nearly equal numbers (g(u) ≈ u²/2), which in
    float32 goes negative by ~1e-7·|α| and then, times a large β, made D_C negative; so g and h are
    evaluated in float64, as their power series where |u| is small.
    """
    if budget <= 0:
        raise ValueError(f"the budget Δb = b − Ĵ_c must be > 0 in normal mode, got {budget}")
    if form not in BARRIERS:
        raise ValueError(f"barrier must be one of {BARRIERS}, got {form!r}")
    alpha = torch.as_tensor(alpha)
    u = alpha.to(torch.float64) / budget
    inside = u < 1.0
    small = u.abs() < SERIES_BELOW
    near = _series(torch.where(small, u, torch.zeros_like(u)), form)  # masked inputs keep every branch finite
    rest = torch.where(inside & ~small, u, torch.full_like(u, 0.5))
    far = rest + (1.0 - rest) * torch.log1p(-rest) if form == "entropy" else -torch.log1p(-rest) - rest
    value = torch.where(small, near, far).clamp_min(0.0)
    if form == "entropy":
        value = budget * value
    return torch.where(inside, value, torch.full_like(value, math.inf))


def phi_second_derivative_at_zero(budget: float, form: str = "entropy") -> float:
    """φ''(0): 1/Δb (entropy) or 1/Δb² (log). β·φ''(0) is how much the metric stiffens along ∇α."""
    if form == "entropy":
        return 1.0 / budget
    if form == "log":
        return 1.0 / budget**2
    raise ValueError(f"barrier must be one of {BARRIERS}, got {form!r}")


def constrained_divergence(
    kl: torch.Tensor, alpha: torch.Tensor, beta: float, budget: float, form: str = "entropy"
) -> torch.Tensor:
    """D_C = KL + β·φ(α). With β = 0 it is the plain KL (TRPO)."""
    if beta == 0:
        return kl
    return kl + beta * phi(alpha, budget, form)
