"""The velocity tasks' lean step (ctrpo_core/envs/velocity_lean.py) against Safety-Gymnasium as published:
the same seed and the same actions give bit-identical observations, rewards, costs and episode ends over
several episodes, resets included, and the vectorised env uses it."""

from __future__ import annotations

import numpy as np
import pytest
from trajectories import trajectory

from ctrpo_core.envs import make_vec_env
from ctrpo_core.envs.safety_gym import PAPER_TASKS, make_single
from ctrpo_core.envs.velocity_lean import LEAN, lean_step

pytestmark = pytest.mark.timeout(300)

VELOCITY = [task for task, _, _ in PAPER_TASKS if task.endswith("Velocity-v1")]
EPISODES, LENGTH = 4, 250


@pytest.mark.parametrize("task_id", VELOCITY)
def test_lean_step_gives_identical_trajectories(task_id):
    published, lean = make_single(task_id), make_single(task_id)
    step = lean_step(task_id, lean)
    assert step is not None
    # actions beyond the bounds too: MuJoCo clamps them, the control cost sees them as given
    actions = np.random.default_rng(11).uniform(-1.5, 1.5, size=(EPISODES, LENGTH, *lean.action_space.shape))
    expected, got = trajectory(published, published.step, 5, actions), trajectory(lean, step, 5, actions)
    assert len(got) == len(expected)
    for t, (a, b) in enumerate(zip(expected, got)):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y, err_msg=f"{task_id}, output {t}")
            assert type(x) is type(y) or np.asarray(x).dtype == np.asarray(y).dtype, (task_id, t, x, y)
    steps = [row for row in expected if not isinstance(row[0], str)]
    if task_id in ("SafetyHopperVelocity-v1", "SafetyHumanoidVelocity-v1"):  # they fall under random actions
        assert any(row[3] for row in steps), "no episode ended early: the comparison missed a termination"
    published.close(), lean.close()


def test_rendering_envs_keep_the_published_step():
    env = make_single("SafetyHopperVelocity-v1", render_mode="rgb_array", width=32, height=32)
    assert lean_step("SafetyHopperVelocity-v1", env) is None
    env.close()
    assert lean_step("SafetyPointGoal1-v0", object()) is None
    assert set(LEAN) == set(VELOCITY)


def test_the_vectorised_env_steps_lean_and_keeps_the_time_limit():
    with make_vec_env("SafetyHalfCheetahVelocity-v1", 2, seed=0, num_workers=1) as env:
        assert all(step is not e.step for step, e in zip(env.local.steps, env.local.envs))
        env.reset()
        zeros = np.zeros((2, 6))
        for t in range(1000):
            *_, terminated, truncated, info = env.step(zeros)
        assert truncated.all() and not terminated.any()  # the cheetah's 1,000-step limit, as published
        assert np.all(info["episode_len"] == 1000)
