"""GridHazard-v0: a gridworld whose shortest route to the goal crosses hazard cells.

    row 0   . . . . . .
    row 1   . . . . . .
    row 2   S H H H H G      S start, H hazard (cost 1 per step spent on it), G goal
    row 3   . . . . . .
    row 4   . . . . . .

Going straight takes 5 steps and costs 4; the detour over row 1 (or 3) takes 7 steps and costs 0,
so with a cost limit below 4 the constraint binds. Each move slips with probability ``SLIP``
(the action is replaced by a uniformly random one), so the dynamics are stochastic. Reward is
``STEP_REWARD`` per step plus ``GOAL_REWARD`` on entering G, which ends the episode.

The exact model (P, r, c, μ, γ, horizon) is available from :func:`exact_model` so that policies
can be evaluated exactly and the constrained optimum solved as a linear program.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..vector import BatchedEnv, TaskSpec

ROWS, COLS = 5, 6
START = (2, 0)
GOAL = (2, 5)
HAZARDS = [(2, 1), (2, 2), (2, 3), (2, 4)]
MOVES = [(-1, 0), (0, 1), (1, 0), (0, -1)]  # up, right, down, left
ACTION_NAMES = ["up", "right", "down", "left"]
SLIP = 0.1
STEP_REWARD = -0.05
GOAL_REWARD = 1.0
GAMMA = 0.99
HORIZON = 50

N_STATES = ROWS * COLS
N_ACTIONS = len(MOVES)

SPEC = TaskSpec(
    id="GridHazard-v0",
    source="built-in",
    obs_dim=N_STATES,
    act_dim=N_ACTIONS,
    discrete=True,
    max_episode_steps=HORIZON,
    cost_limit=1.0,
    description="5x6 gridworld, one-hot observation, 4 slippery moves; the short route crosses hazards",
)


def cell(row: int, col: int) -> int:
    return row * COLS + col


def _next_state_table() -> np.ndarray:
    table = np.zeros((N_STATES, N_ACTIONS), dtype=np.int64)
    for row in range(ROWS):
        for col in range(COLS):
            for a, (dr, dc) in enumerate(MOVES):
                r2, c2 = min(max(row + dr, 0), ROWS - 1), min(max(col + dc, 0), COLS - 1)
                table[cell(row, col), a] = cell(r2, c2)
    return table


NEXT = _next_state_table()
GOAL_STATE = cell(*GOAL)
START_STATE = cell(*START)
IS_HAZARD = np.zeros(N_STATES, dtype=bool)
IS_HAZARD[[cell(*h) for h in HAZARDS]] = True
ONE_HOT = np.eye(N_STATES, dtype=np.float32)


@dataclass(frozen=True)
class TabularModel:
    """A tabular CMDP. ``P[s, a, s']``; ``r[s, a]`` and ``c[s, a]`` are expected per-step values.

    ``terminal`` marks absorbing states (entering them ends the episode; they give nothing).
    Episode returns are undiscounted sums over at most ``horizon`` steps; ``gamma`` is the
    discount the agent uses.
    """

    P: np.ndarray
    r: np.ndarray
    c: np.ndarray
    mu: np.ndarray
    gamma: float
    horizon: int
    terminal: np.ndarray


def exact_model() -> TabularModel:
    P = np.zeros((N_STATES, N_ACTIONS, N_STATES))
    for s in range(N_STATES):
        if s == GOAL_STATE:
            P[s, :, s] = 1.0
            continue
        for a in range(N_ACTIONS):
            P[s, a, NEXT[s, a]] += 1.0 - SLIP
            for a_slip in range(N_ACTIONS):
                P[s, a, NEXT[s, a_slip]] += SLIP / N_ACTIONS
    terminal = np.zeros(N_STATES, dtype=bool)
    terminal[GOAL_STATE] = True
    live = ~terminal[:, None]
    r = np.where(live, STEP_REWARD + GOAL_REWARD * P[:, :, GOAL_STATE], 0.0)
    c = np.where(live, IS_HAZARD[:, None].astype(float), 0.0) * np.ones((1, N_ACTIONS))
    mu = np.zeros(N_STATES)
    mu[START_STATE] = 1.0
    return TabularModel(P=P, r=r, c=c, mu=mu, gamma=GAMMA, horizon=HORIZON, terminal=terminal)


class GridHazardEnv(BatchedEnv):
    def __init__(self, num_envs: int, max_episode_steps: int | None = None):
        super().__init__(SPEC, num_envs, max_episode_steps)
        self.states = np.full(self.num_envs, START_STATE, dtype=np.int64)

    def _reset_envs(self, mask: np.ndarray) -> None:
        self.states[mask] = START_STATE

    def _observe(self) -> np.ndarray:
        return ONE_HOT[self.states]

    def _transition(self, actions: np.ndarray):
        actions = actions.astype(np.int64).reshape(self.num_envs)
        if actions.min() < 0 or actions.max() >= N_ACTIONS:
            raise ValueError(f"GridHazard-v0 actions must be integers in [0, {N_ACTIONS - 1}]")
        # Draw the slip noise for every env every step so the RNG stream does not depend on actions.
        slip = self.rng.random(self.num_envs) < SLIP
        random_actions = self.rng.integers(0, N_ACTIONS, self.num_envs)
        taken = np.where(slip, random_actions, actions)
        cost = IS_HAZARD[self.states].astype(np.float64)
        self.states = NEXT[self.states, taken]
        terminated = self.states == GOAL_STATE
        reward = STEP_REWARD + GOAL_REWARD * terminated
        return reward, cost, terminated

    def _state_arrays(self) -> dict:
        return {"states": self.states.copy()}

    def _load_state_arrays(self, state: dict) -> None:
        self.states = np.array(state["states"], dtype=np.int64)
