"""C-TRPO's two approximations against the truth, on a tabular CMDP where everything is exact.

C-TRPO never sees V_c(π) or the occupancy of π: it steps with surrogates built from π_k's data.

    α(π)   = Σ_s d_k(s) Σ_a π(a|s) A_c^k(s, a)                 (the paper's cost surrogate: the performance
                                                              difference with d_π replaced by d_k)
    D̂_C(π‖π_k) = Σ_s d_k(s) KL(π_k(·|s) ‖ π(·|s)) + β·φ(α)    (engine/divergence.py: the KL of the batch
                                                              and the barrier on α, budget Δb = b − V_c(π_k))

against the exact V_c(π) − V_c(π_k) and the exact D_C(π‖π_k) of ``tabular/divergence.py`` (the Bregman
divergence on occupancy measures, with d_π and the true V_c). Both surrogates agree with the truth to
first order in the step: along π_t = softmax(θ_k + t·v), α − ΔV_c = O(t²) while ΔV_c = O(t), and
D̂_C − D_C = O(t³) while D_C = O(t²), so both relative errors grow like t (slope 1 on a log–log plot).
All values are in the normalised units of ``tabular/values.py`` (× (1 − γ)), the units of ``cmdp.b``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..engine.divergence import constrained_divergence as surrogate_dc
from .cmdp import CMDP
from .divergence import constrained_divergence as exact_dc
from .policy import softmax_policy
from .values import Evaluation, evaluate


def surrogate_alpha(ev_k: Evaluation, pi: np.ndarray) -> np.ndarray:
    """α(π) = Σ_s d_k(s) Σ_a π(a|s) A_c^k(s, a) for π (N, S, A); Σ_a π_k A_c^k = 0 makes α(π_k) = 0."""
    return np.einsum("s,nsa,sa->n", ev_k.d[0], pi, ev_k.A_c[0])


def surrogate_divergence(ev_k: Evaluation, pi: np.ndarray, beta: float, b: float) -> np.ndarray:
    """D̂_C(π‖π_k) for π (N, S, A), as C-TRPO computes it from π_k's data (exact expectations here)."""
    pi_k = ev_k.pi[0]
    kl = np.einsum("s,nsa->n", ev_k.d[0], pi_k * (np.log(pi_k) - np.log(pi)))
    alpha = surrogate_alpha(ev_k, pi)
    budget = b - float(ev_k.V_c[0])
    return surrogate_dc(torch.as_tensor(kl), torch.as_tensor(alpha), beta, budget).numpy()


@dataclass
class SurrogateCheck:
    """Along π_t = softmax(θ_k + t·v): the surrogates and the truth at each step size t."""

    steps: np.ndarray  # t
    true_change: np.ndarray  # V_c(π_t) − V_c(π_k)
    alpha: np.ndarray  # α(π_t)
    exact_divergence: np.ndarray  # D_C(π_t‖π_k)
    surrogate_divergence: np.ndarray  # D̂_C(π_t‖π_k)
    budget: float  # b − V_c(π_k)

    @property
    def alpha_error(self) -> np.ndarray:
        """|α − ΔV_c| / |ΔV_c|."""
        return np.abs(self.alpha - self.true_change) / np.abs(self.true_change)

    @property
    def divergence_error(self) -> np.ndarray:
        """|D̂_C − D_C| / D_C."""
        return np.abs(self.surrogate_divergence - self.exact_divergence) / self.exact_divergence

    def slope(self, errors: np.ndarray) -> float:
        """The least-squares slope of log(error) against log(t): 1 for a first-order approximation."""
        return float(np.polyfit(np.log(self.steps), np.log(errors), 1)[0])


def surrogate_check(cmdp: CMDP, theta_k: np.ndarray, direction: np.ndarray, steps, beta: float) -> SurrogateCheck:
    """The surrogates against the truth at π_k = softmax(θ_k) (strictly safe) along ``direction``."""
    steps = np.asarray(steps, dtype=float)
    ev_k = evaluate(cmdp, softmax_policy(theta_k))
    budget = cmdp.b - float(ev_k.V_c[0])
    if budget <= 0:
        raise ValueError(f"π_k must be strictly safe: V_c(π_k) = {float(ev_k.V_c[0]):.4g} >= b = {cmdp.b}")
    pis = softmax_policy(theta_k[None] + steps[:, None, None] * direction[None])
    ev = evaluate(cmdp, pis)
    return SurrogateCheck(
        steps=steps,
        true_change=ev.V_c - ev_k.V_c[0],
        alpha=surrogate_alpha(ev_k, pis),
        exact_divergence=exact_dc(cmdp, pis, ev_k.pi[0], beta),
        surrogate_divergence=surrogate_divergence(ev_k, pis, beta, cmdp.b),
        budget=budget,
    )
