"""A tabular CMDP (P[s,a,s'], r[s,a], c[s,a], μ, γ, b) in discounted, (1 − γ)-normalised units.

Two named instances: the 2-state toy of the paper's C-NPG section (its Figure),
and GridHazard-v0 read from its exact model. Values are V = μᵀ(I − γP_π)⁻¹(1 − γ)r_π throughout,
so V_r, V_c and the cost limit b live in per-step units (an occupancy η sums to 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..envs.builtin.grid_hazard import exact_model
from .lp import LPSolution, constrained_optimum_discounted


@dataclass(frozen=True)
class CMDP:
    P: np.ndarray  # P[s, a, s'] transition probabilities
    r: np.ndarray  # r[s, a] expected reward
    c: np.ndarray  # c[s, a] expected cost (>= 0)
    mu: np.ndarray  # μ[s] initial distribution
    gamma: float  # γ
    b: float  # cost limit on the normalised V_c
    name: str = "cmdp"

    @property
    def n_states(self) -> int:
        return self.r.shape[0]

    @property
    def n_actions(self) -> int:
        return self.r.shape[1]


def toy_cmdp(b: float = 0.2) -> CMDP:
    """The authors' toy: 2 states, 2 actions, γ = 0.9, μ = (0.8, 0.2), cost limit b = 0.2.

    s1: a1 stays in s1, a2 moves to s2; s2: a1 stays in s2, a2 moves to s1.
    r = [[1, 0], [2, 0]], c = [[0.1, 0], [1.0, 0.01]] (rows: state, columns: action).
    Policy space: (x, y) = (π(a1|s1), π(a1|s2)) in the unit square.
    """
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0  # s1, a1 -> s1
    P[0, 1, 1] = 1.0  # s1, a2 -> s2
    P[1, 0, 1] = 1.0  # s2, a1 -> s2
    P[1, 1, 0] = 1.0  # s2, a2 -> s1
    r = np.array([[1.0, 0.0], [2.0, 0.0]])
    c = np.array([[0.1, 0.0], [1.0, 0.01]])
    return CMDP(P=P, r=r, c=c, mu=np.array([0.8, 0.2]), gamma=0.9, b=float(b), name="toy")


# GridHazard-v0 in normalised discounted units (γ = 0.99): the least-cost policy has V_c ≈ 0.0003 (slips
# can still land on a hazard), the unconstrained optimum (straight through the hazards, V_r ≈ 0.0067)
# V_c ≈ 0.036; at b = 0.01 the constraint binds (LP optimum V_r ≈ 0.00585 at V_c = b).
GRID_HAZARD_B = 0.01


def grid_hazard_cmdp(b: float = GRID_HAZARD_B) -> CMDP:
    """GridHazard-v0's exact model as an infinite-horizon discounted CMDP (its own γ = 0.99).

    The goal is absorbing with zero reward and cost, so the episode's end needs no special case;
    the finite horizon (50 steps) of the env is dropped: this is the discounted problem.
    """
    m = exact_model()
    return CMDP(
        P=m.P.copy(), r=m.r.copy(), c=m.c.copy(), mu=m.mu.copy(), gamma=float(m.gamma), b=float(b), name="GridHazard-v0"
    )


def constrained_optimum(cmdp: CMDP) -> LPSolution:
    """max Σ η r s.t. Σ η c <= b over discounted occupancies η (the LP of lp.py, normalised units)."""
    return constrained_optimum_discounted(cmdp.P, cmdp.r, cmdp.c, cmdp.mu, cmdp.gamma, cmdp.b)
