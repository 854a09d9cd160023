"""HazardEdge-v0: the demo task where C-TRPO's barrier is the main thing you see.

A point on the line [0, 1] starts at x = 0.1. Each step the action picks a target position
g = clip(0.2 + 0.8·a, 0, 1), the point moves 30% of the way there, and a gust of wind pushes it by
N(0, 0.08²): x ← clip(x + 0.3·(g − x) + 0.08·ε, 0, 1). The reward of a step is the new position,
capped at 0.85 (further right is better, up to the cap); every step that ends past the edge x > 0.7
costs 1. Episodes last 50 steps; the cost limit is b = 5 steps in the hazard per episode.

Why it shows the barrier:
- the initial policy (std 1, a mean action near 0 that varies with the state and the seed: PyTorch's
  default init, as the paper's authors') wanders around x ≈ 0.25 and reaches the hazard only now and
  then: its true cost is 2.3 per episode on average over seeds (0.4 to 5.4; the demo's seed 0: 2.3),
  about half of b, so training starts safe, and the cost advantages carry a signal from the first
  epoch on;
- the reward pulls every learner toward the edge and past it: the unconstrained optimum sits in the
  hazard (return ≈ 41.1 at cost ≈ 46.9), clearly unsafe; the constrained optimum is ≈ 29.6;
- the wind makes the trade-off continuous: no policy can hover exactly at the edge, so moving the
  hover point closer buys reward with a smoothly growing share of steps in the hazard, and the
  constrained optimum spends exactly b;
- the cost depends on the last few steps only (the lag forgets in a few steps), so C-TRPO's
  first-order cost surrogate α is a good guide and its barrier acts where the cost is decided.

:func:`constrained_optimum` is the reference for "% of the constrained optimum": the task on a fine
grid of positions, solved exactly through the Lagrangian dual of its occupancy linear program (one
dynamic programme per multiplier); :func:`exact_model` gives the same grid model as a tabular CMDP for
the occupancy LP of ``tabular.lp`` (the two agree, see the tests).
Observation (2): position x and the elapsed fraction of the episode t/50.
"""

from __future__ import annotations

import functools

import numpy as np

from ..vector import BatchedEnv, TaskSpec
from .grid_hazard import TabularModel

START = 0.1
LAG = 0.3  # the point moves this fraction of the way to its target each step
TARGET_CENTRE, TARGET_RANGE = 0.2, 0.8  # target g = clip(centre + range·a, 0, 1)
WIND = 0.08  # standard deviation of the gust added to the position each step
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
    description="the demo: a point in the wind, drawn by its reward toward a hazard zone (x > 0.7 costs 1 "
    "per step); the constrained optimum hugs the edge",
)


def target(actions: np.ndarray) -> np.ndarray:
    return np.clip(TARGET_CENTRE + TARGET_RANGE * actions, 0.0, 1.0)


def move(x: np.ndarray, goal: np.ndarray, gust: np.ndarray) -> np.ndarray:
    return np.clip(x + LAG * (goal - x) + WIND * gust, 0.0, 1.0)


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
        goal = target(np.asarray(actions, dtype=np.float64).reshape(self.num_envs))
        self.x = move(self.x, goal, self.rng.standard_normal(self.num_envs))
        terminated = self.elapsed + 1 >= HORIZON  # a fixed-length task: its last step ends it
        return reward_of(self.x), cost_of(self.x), terminated

    def _state_arrays(self) -> dict:
        return {"x": self.x.copy()}

    def _load_state_arrays(self, state: dict) -> None:
        self.x = np.array(state["x"], dtype=np.float64)


# ---------------------------------------------------------------------------------------------- the reference
def _grid(cells: int):
    """Positions x_i = i/cells; for each, the index range of the calm next positions y = x + 0.3·(g − x)
    one step can aim at; and G[j, k], the probability that a gust moves y_j to x_k (clipped to [0, 1]:
    the mass beyond an end lands on it; each grid point collects the mass of its cell)."""
    from scipy.stats import norm

    xs = np.linspace(0.0, 1.0, cells + 1)
    lo = np.ceil(np.round((1 - LAG) * xs * cells, 9)).astype(int)
    hi = np.floor(np.round(((1 - LAG) * xs + LAG) * cells, 9)).astype(int)
    edges = np.concatenate([[-np.inf], (xs[:-1] + xs[1:]) / 2, [np.inf]])
    cdf = norm.cdf((edges[None, :] - xs[:, None]) / WIND)
    return xs, lo, hi, np.diff(cdf, axis=1)


def _range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """max and argmax of values[lo[i]:hi[i] + 1] for every i (a sparse table: O(N log N))."""
    levels, where = [values], [np.arange(len(values))]
    while 2 ** len(levels) <= len(values):
        prev, arg, half = levels[-1], where[-1], 2 ** (len(levels) - 1)
        right = prev[half:] > prev[:-half]
        levels.append(np.where(right, prev[half:], prev[:-half]))
        where.append(np.where(right, arg[half:], arg[:-half]))
    j = np.floor(np.log2(hi - lo + 1)).astype(int)
    best, arg = np.empty(len(lo)), np.empty(len(lo), dtype=int)
    for level in np.unique(j):
        rows = j == level
        a, b = lo[rows], hi[rows] - 2**level + 1
        right = levels[level][b] > levels[level][a]
        best[rows] = np.where(right, levels[level][b], levels[level][a])
        arg[rows] = np.where(right, where[level][b], where[level][a])
    return best, arg


@functools.lru_cache(maxsize=64)
def lagrangian_values(multiplier: float, cells: int = 400) -> tuple[float, float]:
    """The best policy for reward − multiplier·cost on the grid (dynamic programming): its expected
    episode return and cost."""
    xs, lo, hi, gust = _grid(cells)
    r, c = reward_of(xs), cost_of(xs)
    value = np.zeros(len(xs))  # future reward − λ·cost from each position
    plan = []
    for _ in range(HORIZON):
        aim = gust @ (r - multiplier * c + value)  # the value of aiming at each calm position y_j
        value, choice = _range_max(aim, lo, hi)
        plan.append(choice)
    dist = np.zeros(len(xs))  # the plan's state distribution, forward in time
    dist[int(round(START * cells))] = 1.0
    ret = cost = 0.0
    for choice in reversed(plan):
        aimed = np.bincount(choice, weights=dist, minlength=len(xs))
        dist = aimed @ gust
        ret, cost = ret + dist @ r, cost + dist @ c
    return float(ret), float(cost)


def constrained_optimum(cost_limit: float = COST_LIMIT, cells: int = 400) -> float:
    """The best expected return with expected episode cost <= ``cost_limit`` on the grid (randomised
    policies allowed): min over λ >= 0 of max_π V_r − λ·(V_c − b), the LP's value by strong duality."""

    def dual(lam: float) -> float:
        ret, cost = lagrangian_values(round(lam, 10), cells)
        return ret - lam * (cost - cost_limit)

    from scipy.optimize import minimize_scalar

    if lagrangian_values(0.0, cells)[1] <= cost_limit:
        return lagrangian_values(0.0, cells)[0]
    found = minimize_scalar(dual, bounds=(0.0, 50.0), method="bounded", options={"xatol": 1e-8})
    return float(min(found.fun, dual(0.0)))


@functools.lru_cache(maxsize=8)
def exact_model(cells: int = 20):
    """The grid model of :func:`constrained_optimum` as a tabular CMDP for ``tabular.lp``: from grid
    point i, action j aims at the j-th calm position one step can reach, then the gust moves it."""
    xs, lo, hi, gust = _grid(cells)
    n_actions = int((hi - lo).max()) + 1
    aim = np.minimum(lo[:, None] + np.arange(n_actions)[None, :], hi[:, None])  # (S, A)
    P = gust[aim]  # (S, A, S)
    r, c = P @ reward_of(xs), P @ cost_of(xs)
    mu = np.zeros(len(xs))
    mu[int(round(START * cells))] = 1.0
    return TabularModel(P=P, r=r, c=c, mu=mu, gamma=0.95, horizon=HORIZON, terminal=np.zeros(len(xs), dtype=bool))
