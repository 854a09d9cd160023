"""Recorded trajectories, to compare two implementations of one task step for step (test_sg_lean.py,
test_velocity_lean.py)."""

from __future__ import annotations

import numpy as np


def trajectory(env, step, seed: int, actions: np.ndarray) -> list:
    """Every output of ``len(actions)`` episodes of ``env`` stepped by ``step`` (the first episode seeded,
    the others continuing the env's own RNG), each up to its end or its row of actions."""
    out = []
    for episode, row in enumerate(actions):
        obs, _ = env.reset(seed=seed) if episode == 0 else env.reset()
        out.append(("reset", obs))
        for a in row:
            obs, reward, cost, terminated, truncated, _ = step(a)
            out.append((obs, reward, cost, terminated, truncated))
            if terminated or truncated:
                break
    return out
