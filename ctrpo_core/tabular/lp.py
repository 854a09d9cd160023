"""The constrained optimum of a tabular CMDP as a linear program over occupancy measures.

Two settings, both exact:
- finite horizon, undiscounted (the units of the built-in tasks' episode returns and costs):
  variables x_t(s, a), t < H, with Σ_a x_0(s, a) = μ(s) and Σ_a x_{t+1}(s', a) = Σ_{s,a} P(s'|s,a) x_t(s, a);
- discounted, normalised by (1 − γ): Σ_a η(s', a) − γ Σ_{s,a} P(s'|s,a) η(s, a) = (1 − γ) μ(s').
Maximise Σ x·r subject to Σ x·c <= b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog


@dataclass
class LPSolution:
    reward: float  # optimal expected return (V_r)
    cost: float  # its expected cost (V_c)
    occupancy: np.ndarray  # x_t(s, a) (finite horizon: shape (H, S, A)) or η(s, a)

    def policy(self) -> np.ndarray:
        """π(a|s) from the (first-step, for finite horizon) occupancy; uniform where it is 0."""
        occ = self.occupancy[0] if self.occupancy.ndim == 3 else self.occupancy
        total = occ.sum(axis=1, keepdims=True)
        n_actions = occ.shape[1]
        return np.where(total > 1e-12, occ / np.maximum(total, 1e-300), 1.0 / n_actions)


def _solve(objective, cost_row, cost_limit, A_eq, b_eq, shape) -> LPSolution:
    res = linprog(
        -objective, A_ub=cost_row[None, :], b_ub=[cost_limit], A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs"
    )
    if res.status != 0:
        raise RuntimeError(f"linear program failed: {res.message}")
    x = res.x
    return LPSolution(reward=float(objective @ x), cost=float(cost_row @ x), occupancy=x.reshape(shape))


def constrained_optimum_finite_horizon(P, r, c, mu, horizon: int, cost_limit: float) -> LPSolution:
    S, A = r.shape
    n = S * A
    # flow: for t = 0: Σ_a x_0(s,a) = μ(s); for t >= 1: Σ_a x_t(s',a) − Σ_{s,a} P(s'|s,a) x_{t−1}(s,a) = 0
    sum_actions = sparse.kron(sparse.eye(S), np.ones((1, A)))  # (S, S·A)
    transition = sparse.csr_matrix(P.reshape(n, S).T)  # (S, S·A): s' ← (s, a)
    blocks = [[None] * horizon for _ in range(horizon)]
    for t in range(horizon):
        blocks[t][t] = sum_actions
        if t > 0:
            blocks[t][t - 1] = -transition
    A_eq = sparse.bmat(blocks, format="csr")
    b_eq = np.concatenate([mu, np.zeros(S * (horizon - 1))])
    return _solve(
        np.tile(r.reshape(-1), horizon), np.tile(c.reshape(-1), horizon), cost_limit, A_eq, b_eq, (horizon, S, A)
    )


def constrained_optimum_discounted(P, r, c, mu, gamma: float, cost_limit: float) -> LPSolution:
    """Values normalised by (1 − γ): V = Σ η·r with Σ η = 1."""
    S, A = r.shape
    sum_actions = sparse.kron(sparse.eye(S), np.ones((1, A)))
    A_eq = sum_actions - gamma * sparse.csr_matrix(P.reshape(S * A, S).T)
    return _solve(r.reshape(-1), c.reshape(-1), cost_limit, A_eq, (1 - gamma) * mu, (S, A))
