"""HazardEdge-v0: the demo task where C-TRPO's barrier is the main thing you see.

A point on a line [0, 1] starts at x = 0.1. Each step the action picks a target position
g = clip(0.35 + 0.65·a, 0, 1) and the point moves a fraction ``LAG`` of the way there:
x ← x + 0.3·(g − x). The reward of a step is its new position, capped at 0.85 (further right is
better, up to the cap); every step that ends past the edge x > 0.7 costs 1. Episodes last 50 steps.

Why it shows the barrier:
- the initial policy (mean action 0, std 1) hovers around x ≈ 0.35 and touches the hazard only by
  chance: its cost is about 2 per episode, well under b = 5, so training starts safe, and the cost
  advantages carry a signal from the first epoch on;
- the reward pulls the policy toward the edge and past it: the unconstrained optimum sits in the
  hazard (cost ≈ 47, return ≈ 41), clearly unsafe;
- the constrained optimum sits on the boundary (episode cost exactly b), and the trade-off is
  continuous: moving the hover point (or the policy's spread) a little moves cost and return a little;
- the cost depends on the last few actions only (the lag forgets in a few steps), so the first-order
  cost surrogate α of C-TRPO is a good guide and the barrier acts where the cost is decided.

:func:`exact_model` discretises the positions and solves the constrained problem as a linear program
over occupancy measures (``tabular.lp``): the reference optimum for "% of the constrained optimum".
Observation (2): position x and the elapsed fraction of the episode t/50.
"""

from __future__ import annotations

import functools

import numpy as np

from ..vector import BatchedEnv, TaskSpec

START = 0.1
LAG = 0.3  # the point moves this fraction of the way to its target each step
TARGET_CENTRE, TARGET_RANGE = 0.35, 0.65  # target g = clip(centre + range·a, 0, 1)
EDGE = 0.7  # positions x > EDGE are the hazard
REWARD_CAP = 0.85  # reward = min(x, REWARD_CAP)
HORIZON = 50
COST_LIMIT = 5.0

SPEC = TaskSpec(
    id="HazardEdge-v0",
    source="built-in",
    obs_dim=2,
    act_dim=1,
    discrete=False,
    max_episode_steps=HORIZON,
    cost_limit=COST_LIMIT,
    description="the demo: a point drawn by its reward toward a hazard zone (x > 0.7 costs 1 per step); "
                "the constrained optimum hugs the edge",
)


def target(actions: np.ndarray) -> np.ndarray:
    return np.clip(TARGET_CENTRE + TARGET_RANGE * actions, 0.0, 1.0)


def move(x: np.ndarray, goal: np.ndarray) -> np.ndarray:
    return x + LAG * (goal - x)


def reward_of(x: np.ndarray) -> np.ndarray:
    return np.minimum(x, REWARD_CAP)


def cost_of(x: np.ndarray) -> np.ndarray:
    return (x > EDGE).astype(np.float64)


class HazardEdgeEnv(BatchedEnv):
    def __init__(self, num_envs: int, max_episode_steps: int | None = None):
        super().__init__(SPEC, num_envs, max_episode_steps)
        self.x = np.full(self.num_envs, START)

    def _reset_envs(self, mask: np.ndarray) -> None:
        self.x[mask] = START

    def _observe(self) -> np.ndarray:
        obs = np.empty((self.num_envs, 2), dtype=np.float32)
        obs[:, 0] = self.x
        obs[:, 1] = self.elapsed / HORIZON
        return obs

    def _transition(self, actions: np.ndarray):
        self.x = move(self.x, target(np.asarray(actions, dtype=np.float64).reshape(self.num_envs)))
        terminated = self.elapsed + 1 >= HORIZON  # a fixed-length task: its last step ends it
        return reward_of(self.x), cost_of(self.x), terminated

    def _state_arrays(self) -> dict:
        return {"x": self.x.copy()}

    def _load_state_arrays(self, state: dict) -> None:
        self.x = np.array(state["x"], dtype=np.float64)


@functools.lru_cache(maxsize=8)
def exact_model(cells: int = 100):
    """The task on the grid x ∈ {0, 1/cells, ..., 1} (START, EDGE and REWARD_CAP lie on it for
    cells = 20, 100, 200, ...): from grid point i, action j moves to the j-th grid point the point can
    reach in one step (x' ∈ [(1 − LAG)·x, (1 − LAG)·x + LAG]), exactly. Returns a
    ``grid_hazard.TabularModel``-like model: P[s, a, s'], r[s, a], c[s, a], μ, horizon.

    Restricting positions to the grid can only lower the optimum, so its LP value is a lower bound
    of the task's constrained optimum that tightens as ``cells`` grows."""
    from .grid_hazard import TabularModel

    xs, lo, hi = _reachable(cells)
    n_actions = int((hi - lo).max()) + 1
    S = cells + 1
    nxt = np.minimum(lo[:, None] + np.arange(n_actions)[None, :], hi[:, None])  # (S, A): reachable points
    P = np.zeros((S, n_actions, S))
    P[np.arange(S)[:, None], np.arange(n_actions)[None, :], nxt] = 1.0
    r, c = reward_of(xs[nxt]), cost_of(xs[nxt])
    mu = np.zeros(S)
    mu[int(round(START * cells))] = 1.0
    return TabularModel(P=P, r=r, c=c, mu=mu, gamma=0.99, horizon=HORIZON, terminal=np.zeros(S, dtype=bool))


def _reachable(cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid x_i = i/cells, and for each point the index range of the grid points one step can reach."""
    xs = np.linspace(0.0, 1.0, cells + 1)
    lo = np.ceil(np.round((1 - LAG) * xs * cells, 9)).astype(int)
    hi = np.floor(np.round(((1 - LAG) * xs + LAG) * cells, 9)).astype(int)
    return xs, lo, hi


def _range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """max(values[lo[i]:hi[i] + 1]) along axis 0 for every i (a sparse table: O(N log N))."""
    levels = [values]
    while 2 ** len(levels) <= len(values):
        prev, half = levels[-1], 2 ** (len(levels) - 1)
        levels.append(np.maximum(prev[:-half], prev[half:]))
    j = np.floor(np.log2(hi - lo + 1)).astype(int)
    out = np.empty((len(lo), *values.shape[1:]))
    for level in np.unique(j):
        rows = j == level
        table = levels[level]
        out[rows] = np.maximum(table[lo[rows]], table[hi[rows] - 2**level + 1])
    return out


@functools.lru_cache(maxsize=16)
def episode_values(cells: int = 1400) -> np.ndarray:
    """R[k]: the best return of an episode with at most k steps in the hazard, k = 0..50, by
    dynamic programming over the positions i/cells (the plan moves from grid point to grid point, which
    the continuous task allows exactly): R is a lower bound of the task's optimum, tight to ~1/cells."""
    xs, lo, hi = _reachable(cells)
    budgets = np.arange(HORIZON + 1)
    r, c = reward_of(xs), cost_of(xs).astype(int)
    value = np.zeros((len(xs), len(budgets)))  # V_H(x, k) = 0
    for _ in range(HORIZON):
        # W(x', k) = r(x') + V(x', k − c(x')), impossible (−∞) when the step would exceed the budget k
        shifted = np.full_like(value, -np.inf)
        shifted[c == 0] = value[c == 0]
        shifted[c == 1, 1:] = value[c == 1, :-1]
        value = _range_max(r[:, None] + shifted, lo, hi)
    return value[int(round(START * cells))]


def constrained_optimum(cost_limit: float = COST_LIMIT, cells: int = 1400) -> float:
    """The best expected return with expected episode cost <= ``cost_limit``: the concave hull of the
    deterministic plans' R[k] at ``cost_limit`` (randomising between two plans is allowed, as in the
    occupancy LP of :func:`exact_model`, which gives the same value on the same grid)."""
    values = episode_values(cells)
    if cost_limit >= HORIZON:
        return float(values[-1])
    best = -np.inf
    for k1 in range(int(np.floor(cost_limit)) + 1):
        for k2 in range(int(np.ceil(cost_limit)), HORIZON + 1):
            w = 1.0 if k2 == k1 else (k2 - cost_limit) / (k2 - k1)
            best = max(best, w * values[k1] + (1 - w) * values[k2])
    return float(best)
