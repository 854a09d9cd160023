"""PointHazard-v0: a 2-D point robot that must reach a goal past a hazard disc.

The robot starts near x = -1.5 (y drawn uniformly in [-0.5, 0.5]) and must reach the goal disc at
(1.5, 0). A hazard disc of radius 0.7 sits at the origin, right on the straight route: each step
inside it costs 1. Actions are velocities in [-1, 1]² scaled by ``SPEED`` per step. Reward is
dense: ``PROGRESS_SCALE`` × the decrease in distance to the goal, minus a small time penalty, plus
``GOAL_REWARD`` on arrival (which ends the episode). Going straight costs about 28 per episode;
going around costs nothing and a few steps of time.

Observation (8): position, goal − position, hazard centre − position, signed distance to the
hazard's edge, distance to the goal.
"""

from __future__ import annotations

import numpy as np

from ..vector import BatchedEnv, TaskSpec

ARENA = 2.0
SPEED = 0.05
GOAL = np.array([1.5, 0.0])
GOAL_RADIUS = 0.25
HAZARD = np.array([0.0, 0.0])
HAZARD_RADIUS = 0.7
PROGRESS_SCALE = 10.0
TIME_PENALTY = 0.01
GOAL_REWARD = 1.0
HORIZON = 200

SPEC = TaskSpec(
    id="PointHazard-v0",
    source="built-in",
    obs_dim=8,
    act_dim=2,
    discrete=False,
    max_episode_steps=HORIZON,
    cost_limit=5.0,
    description="2-D point robot, velocity control; a hazard disc lies on the straight route to the goal",
)


class PointHazardEnv(BatchedEnv):
    def __init__(self, num_envs: int, max_episode_steps: int | None = None):
        super().__init__(SPEC, num_envs, max_episode_steps)
        self.pos = np.zeros((self.num_envs, 2))
        self._obs = np.zeros((self.num_envs, SPEC.obs_dim), dtype=np.float32)

    def _reset_envs(self, mask: np.ndarray) -> None:
        n = int(mask.sum())
        starts = np.empty((n, 2))
        starts[:, 0] = self.rng.uniform(-1.7, -1.3, n)
        starts[:, 1] = self.rng.uniform(-0.5, 0.5, n)
        self.pos[mask] = starts

    def _observe(self) -> np.ndarray:
        to_goal = GOAL - self.pos
        to_hazard = HAZARD - self.pos
        obs = self._obs
        obs[:, 0:2] = self.pos
        obs[:, 2:4] = to_goal
        obs[:, 4:6] = to_hazard
        obs[:, 6] = np.sqrt((to_hazard**2).sum(1)) - HAZARD_RADIUS
        obs[:, 7] = np.sqrt((to_goal**2).sum(1))
        return obs.copy()

    def _transition(self, actions: np.ndarray):
        velocity = np.clip(actions.reshape(self.num_envs, 2), -1.0, 1.0) * SPEED
        dist_before = np.sqrt(((GOAL - self.pos) ** 2).sum(1))
        cost = (np.sqrt(((self.pos - HAZARD) ** 2).sum(1)) < HAZARD_RADIUS).astype(np.float64)
        self.pos = np.clip(self.pos + velocity, -ARENA, ARENA)
        dist_after = np.sqrt(((GOAL - self.pos) ** 2).sum(1))
        terminated = dist_after < GOAL_RADIUS
        reward = PROGRESS_SCALE * (dist_before - dist_after) - TIME_PENALTY + GOAL_REWARD * terminated
        return reward, cost, terminated

    def _state_arrays(self) -> dict:
        return {"pos": self.pos.copy()}

    def _load_state_arrays(self, state: dict) -> None:
        self.pos = np.array(state["pos"], dtype=np.float64)
