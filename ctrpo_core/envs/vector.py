"""The one step API every task shares, and the episode bookkeeping behind it.

``step(actions) -> (obs, reward, cost, terminated, truncated, info)``, all arrays over envs.
Environments reset themselves when an episode ends; ``obs`` then already holds the first
observation of the next episode, and ``info["final_obs"]`` holds the last observation of the
finished one (rows of envs that did not finish are zeros) so that truncated episodes can be
bootstrapped. ``info["episode_return"|"episode_cost"|"episode_len"]`` hold the finished
episodes' totals (NaN for envs whose episode goes on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    id: str
    source: str  # "built-in" or "Safety-Gymnasium"
    obs_dim: int
    act_dim: int  # number of actions for discrete tasks, action dimension otherwise
    discrete: bool
    max_episode_steps: int
    cost_limit: float  # the default cost limit b for this task
    description: str = ""


class EpisodeTracker:
    """Accumulates per-env episode return, cost and length; reports the ones that just ended."""

    def __init__(self, num_envs: int):
        self.returns = np.zeros(num_envs)
        self.costs = np.zeros(num_envs)
        self.lengths = np.zeros(num_envs, dtype=np.int64)

    def record(self, reward, cost, done) -> dict:
        self.returns += reward
        self.costs += cost
        self.lengths += 1
        nan = np.full(len(done), np.nan)
        info = {
            "episode_return": np.where(done, self.returns, nan),
            "episode_cost": np.where(done, self.costs, nan),
            "episode_len": np.where(done, self.lengths, nan),
        }
        self.returns[done] = 0.0
        self.costs[done] = 0.0
        self.lengths[done] = 0
        return info

    def state_dict(self) -> dict:
        return {"returns": self.returns.copy(), "costs": self.costs.copy(), "lengths": self.lengths.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.returns = np.array(state["returns"], dtype=np.float64)
        self.costs = np.array(state["costs"], dtype=np.float64)
        self.lengths = np.array(state["lengths"], dtype=np.int64)


class VecEnv:
    """Base of the vectorised environments: ``num_envs`` copies of one task, stepped together."""

    spec: TaskSpec
    num_envs: int
    processes = 1  # processes that step the envs (this one included)

    def reset(self, seed: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def step(self, actions: np.ndarray):
        raise NotImplementedError

    def close(self) -> None:
        pass

    # Exact snapshots (every RNG and env state) are available for the built-in tasks only;
    # MuJoCo tasks restart the episodes that were in flight.
    supports_state = False

    def get_state(self) -> dict:
        raise NotImplementedError(f"{self.spec.id} cannot snapshot its episodes in flight")

    def set_state(self, state: dict) -> None:
        raise NotImplementedError(f"{self.spec.id} cannot restore episodes in flight")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BatchedEnv(VecEnv):
    """In-process vectorised env for the pure-numpy built-in tasks.

    Subclasses implement the dynamics on whole batches: ``_reset_envs(mask)`` re-initialises the
    masked envs (drawing from ``self.rng``) and ``_observe()`` returns all observations;
    ``_transition(actions)`` advances every env and returns (reward, cost, terminated).
    Time limits, auto-reset and episode statistics live here once.
    """

    supports_state = True

    def __init__(self, spec: TaskSpec, num_envs: int, max_episode_steps: int | None = None):
        self.spec = spec
        self.num_envs = int(num_envs)
        self.max_episode_steps = int(max_episode_steps or spec.max_episode_steps)
        self.rng = np.random.default_rng(0)
        self.elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self.tracker = EpisodeTracker(self.num_envs)

    seed = 0

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start every env afresh from ``seed`` (default: the seed the env was made with)."""
        if seed is not None:
            self.seed = seed
        self.rng = np.random.default_rng(self.seed)
        self.elapsed[:] = 0
        self.tracker = EpisodeTracker(self.num_envs)
        self._reset_envs(np.ones(self.num_envs, dtype=bool))
        return self._observe()

    def step(self, actions: np.ndarray):
        reward, cost, terminated = self._transition(np.asarray(actions))
        self.elapsed += 1
        truncated = (self.elapsed >= self.max_episode_steps) & ~terminated
        done = terminated | truncated
        info = self.tracker.record(reward, cost, done)
        obs = self._observe()
        info["final_obs"] = np.where(done[:, None], obs, 0.0).astype(obs.dtype)
        if done.any():
            self.elapsed[done] = 0
            self._reset_envs(done)
            obs = self._observe()
        return obs, reward, cost, terminated, truncated, info

    def _state_arrays(self) -> dict:
        """The subclass's dynamic state as a dict of arrays (copied)."""
        raise NotImplementedError

    def _load_state_arrays(self, state: dict) -> None:
        raise NotImplementedError

    def get_state(self) -> dict:
        return {
            "rng": self.rng.bit_generator.state,
            "elapsed": self.elapsed.copy(),
            "tracker": self.tracker.state_dict(),
            "env": self._state_arrays(),
        }

    def set_state(self, state: dict) -> None:
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]
        self.elapsed = np.array(state["elapsed"], dtype=np.int64)
        self.tracker.load_state_dict(state["tracker"])
        self._load_state_arrays(state["env"])
