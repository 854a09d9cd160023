"""Exact evaluation of a batch of tabular policies π (..., S, A): values, occupancies, gradients.

All values are normalised by (1 − γ) (as in the paper's C-NPG section):
    V = μᵀ (I − γP_π)⁻¹ (1 − γ) r_π,                        P_π[s,s'] = Σ_a π(a|s) P[s,a,s']
    d = (1 − γ) μᵀ (I − γP_π)⁻¹   (discounted state occupancy, Σ_s d = 1)
    η(s, a) = d(s) π(a|s)          (state-action occupancy, Σ η = 1; V = Σ η r)
Policy gradient theorem for the softmax parametrisation (∂π(a'|s)/∂θ[s,a] = π(a'|s)(1[a'=a] − π(a|s))):
    ∂V/∂θ[s,a] = η(s,a) A(s,a),    A = Q − V the unnormalised advantage
                                   (Q(s,a) = r(s,a) + γ Σ_s' P[s,a,s'] v(s'), v = (I − γP_π)⁻¹ r_π).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cmdp import CMDP
from .policy import softmax_policy


@dataclass
class Evaluation:
    pi: np.ndarray  # π (N, S, A)
    V_r: np.ndarray  # (N,)
    V_c: np.ndarray  # (N,)
    d: np.ndarray  # d (N, S)
    eta: np.ndarray  # η (N, S, A)
    A_r: np.ndarray  # reward advantage A_r(s, a) (N, S, A), unnormalised
    A_c: np.ndarray  # cost advantage A_c(s, a) (N, S, A), unnormalised

    @property
    def grad_r(self) -> np.ndarray:
        """∇_θ V_r = η ∘ A_r (N, S, A)."""
        return self.eta * self.A_r

    @property
    def grad_c(self) -> np.ndarray:
        """∇_θ V_c = η ∘ A_c (N, S, A)."""
        return self.eta * self.A_c


def _inverse(M: np.ndarray) -> np.ndarray:
    """Batched inverse; 2×2 by the adjugate (the toy: LAPACK's per-call overhead dominates there)."""
    if M.shape[-1] != 2:
        return np.linalg.inv(M)
    det = M[..., 0, 0] * M[..., 1, 1] - M[..., 0, 1] * M[..., 1, 0]
    out = np.empty_like(M)
    out[..., 0, 0], out[..., 1, 1] = M[..., 1, 1], M[..., 0, 0]
    out[..., 0, 1], out[..., 1, 0] = -M[..., 0, 1], -M[..., 1, 0]
    return out / det[..., None, None]


def evaluate(cmdp: CMDP, pi: np.ndarray) -> Evaluation:
    """Everything exact for policies π of shape (N, S, A) (a single (S, A) policy is treated as N = 1)."""
    pi = np.asarray(pi, dtype=np.float64)
    if pi.ndim == 2:
        pi = pi[None]
    g = cmdp.gamma
    N = len(pi)
    S, A = cmdp.n_states, cmdp.n_actions
    P_pi = np.einsum("nsa,sat->nst", pi, cmdp.P)
    M_inv = _inverse(np.eye(S) - g * P_pi)  # (I − γP_π)⁻¹; cond <= (1 + γ)/(1 − γ), inverting is safe
    rc_pi = np.einsum("nsa,sak->nsk", pi, np.stack([cmdp.r, cmdp.c], -1))  # (r_π, c_π)
    v = M_inv @ rc_pi  # (N, S, 2): unnormalised v_r, v_c per state
    d = (1 - g) * (cmdp.mu @ M_inv)  # (N, S)
    V = (1 - g) * (cmdp.mu @ v)  # (N, 2)
    PV = (cmdp.P.reshape(S * A, S) @ v).reshape(N, S, A, 2)  # Σ_s' P[s,a,s'] v(s')
    A_r = cmdp.r + g * PV[..., 0] - v[:, :, None, 0]
    A_c = cmdp.c + g * PV[..., 1] - v[:, :, None, 1]
    return Evaluation(pi=pi, V_r=V[:, 0], V_c=V[:, 1], d=d, eta=d[..., None] * pi, A_r=A_r, A_c=A_c)


def evaluate_theta(cmdp: CMDP, theta: np.ndarray) -> Evaluation:
    """evaluate() at π_θ, θ of shape (N, S, A)."""
    return evaluate(cmdp, softmax_policy(np.asarray(theta, dtype=np.float64)))


def values(cmdp: CMDP, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V_r, V_c) of policies π (..., S, A), any leading shape (used on dense grids of the toy)."""
    pi = np.asarray(pi, dtype=np.float64)
    lead = pi.shape[:-2]
    ev = evaluate(cmdp, pi.reshape(-1, *pi.shape[-2:]))
    return ev.V_r.reshape(lead), ev.V_c.reshape(lead)
