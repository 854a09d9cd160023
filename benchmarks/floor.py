"""The floor a velocity task's training cannot go below: its bare physics.

``mujoco.mj_step`` for the task's frame skip, with random actions in [-1, 1] and nothing around it (no
observation, reward, reset or learner), as the same task's env object holds it. Used by epoch_time.py and
sweep_cost.py to say where each part stands against it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def physics_cpu_seconds(task: str, steps: int) -> float | None:
    """CPU-seconds of ``steps`` bare physics steps of ``task``; None for a task with no bare step here
    (the navigation tasks: their world is rebuilt at every reset)."""
    if not task.endswith("Velocity-v1"):
        return None
    import mujoco

    from ctrpo_core.envs.safety_gym import make_single

    env = make_single(task)
    env.reset(seed=0)
    raw = env.unwrapped
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, *env.action_space.shape))
    start = time.process_time()
    for a in actions:
        raw.data.ctrl[:] = a
        mujoco.mj_step(raw.model, raw.data, nstep=raw.frame_skip)
    seconds = time.process_time() - start
    env.close()
    return seconds
