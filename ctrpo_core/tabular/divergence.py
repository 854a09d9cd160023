"""The exact constrained divergence D_C(π‖π_k) of C-NPG / C-TRPO on tabular policies, and trust-region areas.

    D_C(π‖π_k) = Σ_s d_π(s) KL(π(·|s) ‖ π_k(·|s))                       Bregman divergence of the conditional
                                                                         entropy on occupancy measures
               + β [φ(x) − φ(x_k) − φ'(x_k)(x − x_k)],  x = b − V_c(π), x_k = b − V_c(π_k)
                                                                         Bregman divergence of the barrier
    φ(x) = x log x, φ'(x) = log x + 1, so the barrier term is x log(x/x_k) − x + x_k; D_C = +∞ where V_c(π) >= b.

Note: with φ = x log x the barrier term stays finite (→ β x_k) as π approaches the boundary; its slope
and its curvature 1/x_k (along ∇V_c) blow up instead. The region {D_C <= δ} is safe because D_C = +∞
beyond the boundary, and it shrinks along the cost gradient as x_k → 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cmdp import CMDP, toy_cmdp
from .policy import toy_policy
from .values import evaluate


def conditional_kl(cmdp: CMDP, pi: np.ndarray, pi_k: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
    """Σ_s d_π(s) KL(π(·|s) ‖ π_k(·|s)) for π (N, S, A), π_k (S, A) or (N, S, A); d = d_π if known."""
    if d is None:
        d = evaluate(cmdp, pi).d
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pi > 0, pi * (np.log(pi) - np.log(pi_k)), 0.0)
    return np.einsum("ns,ns->n", d, terms.sum(axis=-1))


def barrier_bregman(V_c: np.ndarray, V_c_k: float | np.ndarray, b: float) -> np.ndarray:
    """φ(x) − φ(x_k) − φ'(x_k)(x − x_k) with φ(x) = x log x, x = b − V_c, x_k = b − V_c_k; +∞ where x <= 0."""
    x = b - np.asarray(V_c, dtype=float)
    x_k = b - np.asarray(V_c_k, dtype=float)
    if np.any(x_k <= 0):
        raise ValueError("the base policy π_k must be strictly safe (V_c(π_k) < b)")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(x / x_k) - x + x_k
    return np.where(x > 0, out, np.inf)


def constrained_divergence(cmdp: CMDP, pi: np.ndarray, pi_k: np.ndarray, beta: float) -> np.ndarray:
    """D_C(π‖π_k) for π (N, S, A) and one base policy π_k (S, A); +∞ where V_c(π) >= b."""
    ev = evaluate(cmdp, pi)
    V_c_k = evaluate(cmdp, pi_k).V_c[0]
    kl = conditional_kl(cmdp, ev.pi, pi_k, ev.d)
    return kl + beta * barrier_bregman(ev.V_c, V_c_k, cmdp.b) if beta > 0 else np.where(ev.V_c < cmdp.b, kl, np.inf)


@dataclass
class ToyDivergenceGrid:
    """D_C and the plain KL ball around base policies of the toy, on an n×n grid of cell centres."""

    x: np.ndarray  # (n,) cell centres in (0, 1): x = π(a1|s1)
    y: np.ndarray  # (n,)                          y = π(a1|s2)
    V_c: np.ndarray  # (n, n), indexed [iy, ix]
    kl: np.ndarray  # (K, n, n) Σ_s d_π KL(π‖π_k)
    dc: np.ndarray  # (K, n, n) D_C(π‖π_k), +∞ outside the safe set
    bases: np.ndarray  # (K, 2) base policies (x_k, y_k)
    V_c_bases: np.ndarray  # (K,)
    beta: float
    b: float

    @property
    def cell_area(self) -> float:
        return 1.0 / len(self.x) ** 2


# base policies at several distances from the boundary V_c = b of the toy, on the line x = 0.5 (the boundary
# crosses it at y ≈ 0.394): V_c(π_k) ≈ 0.108, 0.143, 0.167, 0.182, 0.193, i.e. b − V_c ≈ 0.09 … 0.007
TOY_TRUST_REGION_BASES = ((0.5, 0.2), (0.5, 0.28), (0.5, 0.33), (0.5, 0.36), (0.5, 0.38))


def toy_divergence_grid(
    beta: float, bases=TOY_TRUST_REGION_BASES, n: int = 400, cmdp: CMDP | None = None
) -> ToyDivergenceGrid:
    cmdp = toy_cmdp() if cmdp is None else cmdp
    bases = np.asarray(bases, dtype=float).reshape(-1, 2)
    x = (np.arange(n) + 0.5) / n
    y = x.copy()
    X, Y = np.meshgrid(x, y)  # [iy, ix]
    ev = evaluate(cmdp, toy_policy(X, Y).reshape(-1, 2, 2))
    pi_k = toy_policy(bases[:, 0], bases[:, 1])
    V_c_k = evaluate(cmdp, pi_k).V_c
    if np.any(V_c_k >= cmdp.b):
        raise ValueError(f"base policies must be strictly safe: V_c = {V_c_k} vs b = {cmdp.b}")
    kl = np.stack([conditional_kl(cmdp, ev.pi, pk, ev.d) for pk in pi_k]).reshape(len(bases), n, n)
    barrier = np.stack([barrier_bregman(ev.V_c, vk, cmdp.b) for vk in V_c_k]).reshape(len(bases), n, n)
    safe = (ev.V_c < cmdp.b).reshape(n, n)
    dc = np.where(safe, kl + beta * np.where(safe, barrier, 0.0), np.inf)
    return ToyDivergenceGrid(
        x=x, y=y, V_c=ev.V_c.reshape(n, n), kl=kl, dc=dc, bases=bases, V_c_bases=V_c_k, beta=float(beta), b=cmdp.b
    )


def trust_region_areas(delta: float, beta: float, bases=TOY_TRUST_REGION_BASES, n: int = 400) -> dict:
    """Areas (in the toy's unit square) of {D_C(·‖π_k) <= δ} and of the KL ball {Σ d KL <= δ}, per base.

    Counted on an n×n grid of cell centres (area = count / n²). Also returns each base's V_c and the
    largest V_c found inside each D_C region.
    """
    grid = toy_divergence_grid(beta, bases, n)
    inside_dc = grid.dc <= delta
    inside_kl = grid.kl <= delta
    max_V_c = np.where(inside_dc, grid.V_c[None], -np.inf).max(axis=(1, 2))
    return {
        "bases": grid.bases,
        "V_c_bases": grid.V_c_bases,
        "D_C": inside_dc.sum(axis=(1, 2)) * grid.cell_area,
        "KL": inside_kl.sum(axis=(1, 2)) * grid.cell_area,
        "max_V_c_inside": max_V_c,
    }
