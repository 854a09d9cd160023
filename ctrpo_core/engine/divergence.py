"""The constrained divergence D_C of C-TRPO (ALGORITHM.md, 'The constrained divergence').

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


def phi(alpha: torch.Tensor, budget: float, form: str = "entropy") -> torch.Tensor:
    """Barrier φ(α) on the budget Δb; +∞ where α ≥ Δb.

    entropy: φ(α) = α + (Δb − α)·log((Δb − α)/Δb)   (slope → ∞ at the boundary)
    log:     φ(α) = −log((Δb − α)/Δb) − α/Δb          (value → ∞ at the boundary)
    """
    if budget <= 0:
        raise ValueError(f"the budget Δb = b − Ĵ_c must be > 0 in normal mode, got {budget}")
    alpha = torch.as_tensor(alpha)
    inside = alpha < budget
    remaining = torch.where(inside, budget - alpha, torch.ones_like(alpha) * budget)  # keeps grads finite
    if form == "entropy":
        value = alpha + remaining * torch.log(remaining / budget)
    elif form == "log":
        value = -torch.log(remaining / budget) - alpha / budget
    else:
        raise ValueError(f"barrier must be one of {BARRIERS}, got {form!r}")
    return torch.where(inside, value, torch.full_like(value, math.inf))


def phi_second_derivative_at_zero(budget: float, form: str = "entropy") -> float:
    """φ''(0): 1/Δb (entropy) or 1/Δb² (log). β·φ''(0) is how much the metric stiffens along ∇α."""
    if form == "entropy":
        return 1.0 / budget
    if form == "log":
        return 1.0 / budget**2
    raise ValueError(f"barrier must be one of {BARRIERS}, got {form!r}")


def constrained_divergence(kl: torch.Tensor, alpha: torch.Tensor, beta: float, budget: float,
                           form: str = "entropy") -> torch.Tensor:
    """D_C = KL + β·φ(α). With β = 0 it is the plain KL (TRPO)."""
    if beta == 0:
        return kl
    return kl + beta * phi(alpha, budget, form)
