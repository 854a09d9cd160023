"""Kakade's Fisher matrix G_K, the C-NPG metric G_C, and their pseudo-inverses applied to gradients.

G_K = Σ_{s,a} η(s,a) ∇log π(a|s) ∇log π(a|s)ᵀ. For the tabular softmax ∇_θ[s'] log π(a|s) = 1[s'=s](e_a − π(·|s)),
so G_K is block diagonal with blocks d(s)(diag π(·|s) − π(·|s)π(·|s)ᵀ) (one A×A block per state).

Null space. softmax is invariant to adding a constant to θ[s, ·], so each block kills the all-ones
vector (and a block is 0 where d(s) = 0). We keep θ ∈ R^{S×A} and use the Moore–Penrose
pseudo-inverse, i.e. the minimum-norm θ̇: it has zero mean over actions in every state, so the
flow never moves along the null directions (the same as fixing the per-state logit mean; the
policy path is the same for any choice). The block pseudo-inverse has a closed form: for x ⟂ 1,
    (d (diag π − ππᵀ))⁺ x = z − mean_a z,   z = x / (d π) = x / η
(check: d(π∘z − π πᵀz) = x − π Σ_a x = x). For a gradient x = η ∘ A this is A − mean_a A
(the natural gradient of tabular softmax is the advantage), which is how the flows compute it:
no division by small η. ``kakade_fisher`` builds the dense matrix for tests and inspection.

C-NPG metric (the paper's): G_C = G_K + β φ''(b − V_c) ∇V_c ∇V_cᵀ with φ(x) = x log x, φ''(x) = 1/x.
This rank-one term is the Hessian of the barrier's Bregman divergence β D_φ(b − V_c(π) ‖ b − V_c(π_k))
at π = π_k — the barrier divergence itself — NOT the Gramian from the Jacobian of the log occupancy
that the authors' script uses. Because ∇V_c lies in the range of G_K (Σ_a η A_c = 0 per state), G_C has
the same null space and Sherman–Morrison gives its pseudo-inverse exactly:
    G_C⁺ ∇V_r = g − h (∇V_cᵀ g) / (s + ∇V_cᵀ h),   g = G_K⁺∇V_r, h = G_K⁺∇V_c, s = (b − V_c)/β = 1/(βφ'').
"""

from __future__ import annotations

import numpy as np

from .values import Evaluation


def kakade_fisher(ev: Evaluation) -> np.ndarray:
    """Dense G_K (N, S·A, S·A), block diagonal: blocks d(s)(diag π − ππᵀ)."""
    N, S, A = ev.pi.shape
    blocks = ev.d[..., None, None] * (
        np.einsum("nsa,ab->nsab", ev.pi, np.eye(A)) - np.einsum("nsa,nsb->nsab", ev.pi, ev.pi)
    )
    G = np.zeros((N, S, A, S, A))
    idx = np.arange(S)
    G[:, idx, :, idx, :] = np.moveaxis(blocks, 1, 0)
    return G.reshape(N, S * A, S * A)


def cnpg_metric(ev: Evaluation, beta, b: float) -> np.ndarray:
    """Dense G_C = G_K + β/(b − V_c) ∇V_c ∇V_cᵀ (N, S·A, S·A), for V_c < b.

    The rank-one term is the Hessian of the barrier divergence itself (β φ''(x_k) ∇x∇xᵀ, x = b − V_c),
    not the authors' script's Gramian built from the Jacobian of the log occupancy."""
    N = len(ev.V_c)
    u = ev.grad_c.reshape(N, -1)
    k = np.broadcast_to(np.asarray(beta, dtype=float), (N,)) / (b - ev.V_c)  # β φ''(b − V_c), φ''(x) = 1/x
    return kakade_fisher(ev) + k[:, None, None] * u[:, :, None] * u[:, None, :]


def fisher_pinv(ev: Evaluation, x: np.ndarray) -> np.ndarray:
    """G_K⁺ x for any x (N, S, A), block by block (project onto 1⟂, divide by η, centre)."""
    x = x - x.mean(axis=-1, keepdims=True)
    z = np.divide(x, ev.eta, out=np.zeros_like(x), where=ev.eta > 0)
    return z - z.mean(axis=-1, keepdims=True)


def natural_gradient(ev: Evaluation, A: np.ndarray) -> np.ndarray:
    """G_K⁺ (η ∘ A) = A − mean_a A on states with d(s) > 0, 0 elsewhere (A: an advantage, (N, S, A))."""
    out = A - A.sum(axis=-1, keepdims=True) / A.shape[-1]
    return out if np.all(ev.d > 0) else np.where(ev.d[..., None] > 0, out, 0.0)


def cnpg_direction(ev: Evaluation, beta, b: float) -> np.ndarray:
    """θ̇ = G_C⁺ ∇V_r (N, S, A) by Sherman–Morrison; β = 0 gives NPG (θ̇ = G_K⁺ ∇V_r).

    At or beyond the boundary (V_c >= b, where φ''(b − V_c) is undefined) the β > 0 field is continued
    by its limit s → 0 (the component along h removed, no push back); the flows stop or flag such points.
    """
    N = len(ev.V_c)
    g = natural_gradient(ev, ev.A_r)
    h = natural_gradient(ev, ev.A_c)
    u = ev.grad_c
    beta = np.broadcast_to(np.asarray(beta, dtype=float), (N,))
    positive = beta > 0
    s = np.maximum(b - ev.V_c, 0.0) / np.where(positive, beta, 1.0)  # 1/(β φ''(b − V_c)); only used where β > 0
    ug = np.einsum("nsa,nsa->n", u, g)
    uh = np.einsum("nsa,nsa->n", u, h)
    denom = s + uh
    coef = np.where(positive & (denom > 0), ug / np.where(denom > 0, denom, 1.0), 0.0)
    return g - coef[:, None, None] * h


def lagrangian_direction(ev: Evaluation, lam) -> np.ndarray:
    """Primal-dual NPG: θ̇ = G_K⁺(∇V_r − λ∇V_c) = Ã_r − λ Ã_c (N, S, A)."""
    lam = np.maximum(np.broadcast_to(np.asarray(lam, dtype=float), ev.V_c.shape), 0.0)
    return natural_gradient(ev, ev.A_r) - lam[:, None, None] * natural_gradient(ev, ev.A_c)
