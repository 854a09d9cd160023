"""The 8 paper Safety-Gymnasium tasks behind ``make_vec_env``: shapes, costs, auto-reset, seeding.

Each task is made, reset and stepped once per module (a module-scoped fixture records the whole
rollout); the tests below only inspect the record. The navigation tasks spend ~1 s in every
``reset`` (the layout is rebuilt), so episodes are cut to ``LIMIT`` steps and the rollout is just
long enough for two auto-resets per env.
"""

from __future__ import annotations

import numpy as np
import pytest

from ctrpo_core.envs import TASKS, make_vec_env
from ctrpo_core.envs.safety_gym import PAPER_TASKS, SubprocVecEnv

pytestmark = pytest.mark.timeout(300)

TASK_IDS = [task_id for task_id, _, _ in PAPER_TASKS]
NUM_ENVS = 2
SEED = 11
LIMIT = 100
N_STEPS = 250  # two auto-resets per env for tasks that never terminate
N_REPLAY = 5  # steps replayed on a second env made with the same seed


@pytest.fixture(scope="module", params=TASK_IDS)
def rollout(request):
    task_id = request.param
    spec = TASKS[task_id]
    rng = np.random.default_rng(1234)
    actions = rng.uniform(-1.0, 1.0, size=(N_STEPS, NUM_ENVS, spec.act_dim))
    steps = []
    with make_vec_env(task_id, num_envs=NUM_ENVS, seed=SEED, max_episode_steps=LIMIT) as env:
        assert isinstance(env, SubprocVecEnv)
        obs = first_obs = env.reset()
        for t in range(N_STEPS):
            prev_obs = obs
            obs, reward, cost, terminated, truncated, info = env.step(actions[t])
            steps.append(
                dict(
                    prev_obs=prev_obs,
                    obs=obs,
                    reward=reward,
                    cost=cost,
                    terminated=terminated,
                    truncated=truncated,
                    **info,
                )
            )
    with make_vec_env(task_id, num_envs=NUM_ENVS, seed=SEED, max_episode_steps=LIMIT) as env:
        first_obs_again = env.reset()
        replay = [env.step(actions[t])[0] for t in range(N_REPLAY)]
    record = {key: np.stack([step[key] for step in steps]) for key in steps[0]}
    record.update(
        task_id=task_id, spec=spec, first_obs=first_obs, first_obs_again=first_obs_again, replay=np.stack(replay)
    )
    return record


def test_reset_observation(rollout):
    first = rollout["first_obs"]
    assert first.shape == (NUM_ENVS, rollout["spec"].obs_dim)
    assert first.dtype == np.float32
    assert np.isfinite(first).all()


def test_step_outputs_shapes_finite_and_costs_nonnegative(rollout):
    spec = rollout["spec"]
    assert rollout["obs"].shape == (N_STEPS, NUM_ENVS, spec.obs_dim)
    assert np.isfinite(rollout["obs"]).all()
    for key in ("reward", "cost", "terminated", "truncated"):
        assert rollout[key].shape == (N_STEPS, NUM_ENVS), key
    assert np.isfinite(rollout["reward"]).all()
    assert np.isfinite(rollout["cost"]).all()
    assert (rollout["cost"] >= 0).all()
    assert rollout["terminated"].dtype == bool and rollout["truncated"].dtype == bool
    assert not (rollout["terminated"] & rollout["truncated"]).any()


def _episode_lengths(done: np.ndarray) -> np.ndarray:
    """Length of the episode in flight after each step (1 on an episode's first step)."""
    lengths = np.zeros(done.shape, dtype=np.int64)
    current = np.zeros(done.shape[1], dtype=np.int64)
    for t in range(done.shape[0]):
        current += 1
        lengths[t] = current
        current[done[t]] = 0
    return lengths


def test_truncated_fires_exactly_at_the_time_limit(rollout):
    terminated, truncated = rollout["terminated"], rollout["truncated"]
    done = terminated | truncated
    assert done.any(), "no episode ended, so auto-reset was never exercised"
    lengths = _episode_lengths(done)
    assert lengths.max() <= LIMIT
    np.testing.assert_array_equal(truncated, (lengths == LIMIT) & ~terminated)
    for i in range(NUM_ENVS):
        if not terminated[:, i].any():  # e.g. HalfCheetah and the navigation tasks
            assert np.flatnonzero(truncated[:, i]).tolist() == [LIMIT - 1, 2 * LIMIT - 1]


def test_final_obs_holds_the_finished_episodes_last_observation(rollout):
    done = rollout["terminated"] | rollout["truncated"]
    final_obs, obs = rollout["final_obs"], rollout["obs"]
    assert final_obs.shape == obs.shape
    assert np.isfinite(final_obs).all()
    assert (final_obs[~done] == 0).all(), "rows of envs that did not finish must be zeros"
    finished = final_obs[done]
    assert (np.abs(finished).sum(axis=-1) > 0).all()
    # The returned obs already belongs to the next episode.
    assert (np.abs(finished - obs[done]).max(axis=-1) > 0).all()


def test_episode_statistics_reported_exactly_where_episodes_end(rollout):
    done = rollout["terminated"] | rollout["truncated"]
    for key in ("episode_return", "episode_cost", "episode_len"):
        values = rollout[key]
        assert values.shape == done.shape, key
        np.testing.assert_array_equal(np.isfinite(values), done, err_msg=key)
    # The totals are the sums of the rewards and costs since the episode began.
    ret_sum = np.zeros(NUM_ENVS)
    cost_sum = np.zeros(NUM_ENVS)
    lengths = _episode_lengths(done)
    for t in range(N_STEPS):
        ret_sum += rollout["reward"][t]
        cost_sum += rollout["cost"][t]
        d = done[t]
        np.testing.assert_allclose(rollout["episode_return"][t][d], ret_sum[d], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(rollout["episode_cost"][t][d], cost_sum[d], rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(rollout["episode_len"][t][d], lengths[t][d])
        ret_sum[d] = 0.0
        cost_sum[d] = 0.0


def test_same_seed_same_start_different_seed_different_start(rollout):
    first, again = rollout["first_obs"], rollout["first_obs_again"]
    np.testing.assert_array_equal(first, again)
    # Env i is seeded SEED + i: the two envs' first observations must differ.
    assert not np.array_equal(first[0], first[1])
    # Same seed and same actions: the first steps coincide too.
    np.testing.assert_array_equal(rollout["replay"], rollout["obs"][:N_REPLAY])
