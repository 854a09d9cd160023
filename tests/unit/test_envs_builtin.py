"""The built-in tasks (GridHazard-v0, PointHazard-v0, HazardEdge-v0): seeding, snapshots, shapes, and
for GridHazard-v0 agreement of the batched env with its exact tabular model (HazardEdge-v0's model:
tests/test_demo_task.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ctrpo_core.envs import make_vec_env
from ctrpo_core.envs.builtin import grid_hazard as gh
from ctrpo_core.envs.builtin import point_hazard as ph

BUILTIN_IDS = ["GridHazard-v0", "PointHazard-v0", "HazardEdge-v0"]
SIGMAS = 5.0  # tolerance, in binomial / sample standard errors


def random_actions(task_id: str, rng: np.random.Generator, steps: int, num_envs: int) -> np.ndarray:
    if task_id == "GridHazard-v0":
        return rng.integers(0, gh.N_ACTIONS, size=(steps, num_envs))
    return rng.uniform(-1.0, 1.0, size=(steps, num_envs, 1 if task_id == "HazardEdge-v0" else 2))


def run(env, actions) -> list[tuple]:
    """Step through ``actions`` and return every step's outputs (info as sorted items)."""
    out = []
    for a in actions:
        obs, reward, cost, terminated, truncated, info = env.step(a)
        out.append((obs, reward, cost, terminated, truncated, sorted(info.items())))
    return out


def assert_same_trajectory(first: list[tuple], second: list[tuple]) -> None:
    assert len(first) == len(second)
    for t, (a, b) in enumerate(zip(first, second)):
        for x, y in zip(a[:5], b[:5]):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
        assert [k for k, _ in a[5]] == [k for k, _ in b[5]]
        for (key, x), (_, y) in zip(a[5], b[5]):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}, info[{key!r}]")


def trajectories_differ(first: list[tuple], second: list[tuple]) -> bool:
    return any(not np.array_equal(a[0], b[0]) for a, b in zip(first, second))


# --------------------------------------------------------------------------- determinism, snapshots


@pytest.mark.parametrize("task_id", BUILTIN_IDS)
def test_same_seed_same_actions_same_trajectory(task_id):
    num_envs, steps = 8, 450  # past PointHazard's 200-step limit twice: auto-resets included
    actions = random_actions(task_id, np.random.default_rng(0), steps, num_envs)
    with make_vec_env(task_id, num_envs, seed=5) as a, make_vec_env(task_id, num_envs, seed=5) as b:
        first_a, first_b = a.reset(), b.reset()
        np.testing.assert_array_equal(first_a, first_b)
        traj_a, traj_b = run(a, actions), run(b, actions)
    assert_same_trajectory(traj_a, traj_b)
    done = np.array([step[3] | step[4] for step in traj_a])
    assert done.any(), "no episode ended: auto-reset not exercised"
    # Resetting an env with its seed replays the trajectory as well.
    with make_vec_env(task_id, num_envs, seed=123) as c:
        c.reset(seed=5)
        assert_same_trajectory(traj_a, run(c, actions))
    # ... and a different seed gives a different trajectory (so the check above is not vacuous).
    with make_vec_env(task_id, num_envs, seed=6) as d:
        d.reset()
        assert trajectories_differ(traj_a, run(d, actions))


@pytest.mark.parametrize("task_id", BUILTIN_IDS)
def test_get_state_set_state_mid_episode_reproduces_exactly(task_id):
    num_envs = 6
    rng = np.random.default_rng(1)
    before = random_actions(task_id, rng, 37, num_envs)
    after = random_actions(task_id, rng, 250, num_envs)
    with make_vec_env(task_id, num_envs, seed=3, max_episode_steps=60) as env:
        env.reset()
        run(env, before)
        assert env.supports_state
        snapshot = env.get_state()
        assert (snapshot["elapsed"] > 0).any(), "the snapshot should be taken mid-episode"
        continued = run(env, after)
        # Restoring into the same env after it moved on (the snapshot must not alias its state) ...
        env.set_state(snapshot)
        assert_same_trajectory(continued, run(env, after))
    # ... and into a fresh env made with another seed.
    with make_vec_env(task_id, num_envs, seed=99, max_episode_steps=60) as other:
        other.reset()
        other.set_state(snapshot)
        restored = run(other, after)
    assert_same_trajectory(continued, restored)
    done = np.array([step[3] | step[4] for step in continued])
    assert done.any(), "episodes in flight at the snapshot should finish and auto-reset"


# --------------------------------------------------------------------------- shapes


def test_grid_hazard_observations_are_one_hot_states():
    with make_vec_env("GridHazard-v0", 5, seed=0) as env:
        obs = env.reset()
        assert obs.shape == (5, gh.N_STATES) == (5, env.spec.obs_dim)
        assert obs.dtype == np.float32
        np.testing.assert_array_equal(obs.argmax(1), gh.START_STATE)
        for a in random_actions("GridHazard-v0", np.random.default_rng(0), 80, 5):
            obs, reward, cost, terminated, truncated, info = env.step(a)
            assert obs.shape == (5, gh.N_STATES)
            assert reward.shape == cost.shape == terminated.shape == truncated.shape == (5,)
            np.testing.assert_array_equal(obs.sum(1), 1.0)
            np.testing.assert_array_equal(obs.argmax(1), env.states)
            assert info["final_obs"].shape == (5, gh.N_STATES)


def test_grid_hazard_rejects_invalid_actions():
    with make_vec_env("GridHazard-v0", 2, seed=0) as env:
        env.reset()
        with pytest.raises(ValueError):
            env.step(np.array([0, gh.N_ACTIONS]))
        with pytest.raises(ValueError):
            env.step(np.array([-1, 0]))


def test_point_hazard_observation_layout():
    with make_vec_env("PointHazard-v0", 64, seed=2) as env:
        obs = env.reset()
        assert obs.shape == (64, ph.SPEC.obs_dim) == (64, 8)
        assert obs.dtype == np.float32
        pos = obs[:, 0:2]
        assert ((pos[:, 0] >= -1.7) & (pos[:, 0] <= -1.3)).all()
        assert ((pos[:, 1] >= -0.5) & (pos[:, 1] <= 0.5)).all()
        for a in random_actions("PointHazard-v0", np.random.default_rng(0), 30, 64):
            obs = env.step(a)[0]
        pos = obs[:, 0:2].astype(np.float64)
        np.testing.assert_allclose(obs[:, 2:4], ph.GOAL - pos, atol=1e-6)
        np.testing.assert_allclose(obs[:, 4:6], ph.HAZARD - pos, atol=1e-6)
        np.testing.assert_allclose(obs[:, 6], np.linalg.norm(ph.HAZARD - pos, axis=1) - ph.HAZARD_RADIUS, atol=1e-6)
        np.testing.assert_allclose(obs[:, 7], np.linalg.norm(ph.GOAL - pos, axis=1), atol=1e-6)


# --------------------------------------------------------------------------- PointHazard clipping


def test_point_hazard_actions_outside_unit_box_are_clipped():
    num_envs, steps = 16, 300
    actions = np.random.default_rng(4).uniform(-6.0, 6.0, size=(steps, num_envs, 2))
    assert (np.abs(actions) > 1).mean() > 0.5
    with (
        make_vec_env("PointHazard-v0", num_envs, seed=8) as big,
        make_vec_env("PointHazard-v0", num_envs, seed=8) as clipped,
    ):
        big.reset(), clipped.reset()
        traj_big = run(big, actions)
        traj_clipped = run(clipped, np.clip(actions, -1.0, 1.0))
    assert_same_trajectory(traj_big, traj_clipped)


def test_point_hazard_moves_at_most_speed_per_axis():
    with make_vec_env("PointHazard-v0", 3, seed=0) as env:
        pos = env.reset()[:, 0:2].astype(np.float64)
        obs = env.step(np.array([[1.0, 0.0], [50.0, -50.0], [0.3, -0.2]]))[0]
        step = obs[:, 0:2] - pos
        np.testing.assert_allclose(
            step, [[ph.SPEED, 0.0], [ph.SPEED, -ph.SPEED], [0.3 * ph.SPEED, -0.2 * ph.SPEED]], atol=1e-6
        )


# --------------------------------------------------------------------------- GridHazard vs exact model


def sample_actions(policy: np.ndarray, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per env from ``policy[state]`` (inverse CDF)."""
    cdf = np.cumsum(policy[states], axis=1)
    u = rng.random(len(states))[:, None]
    return np.minimum((u > cdf).sum(axis=1), gh.N_ACTIONS - 1)


def test_grid_hazard_transition_frequencies_match_exact_model():
    model = gh.exact_model()
    assert np.allclose(model.P.sum(axis=2), 1.0)
    live = np.flatnonzero(~model.terminal)
    pairs_s = np.repeat(live, gh.N_ACTIONS)
    pairs_a = np.tile(np.arange(gh.N_ACTIONS), len(live))
    n_pairs = len(pairs_s)
    per_round, rounds = 2000, 10
    samples = per_round * rounds
    counts = np.zeros((n_pairs, gh.N_STATES), dtype=np.int64)
    with make_vec_env("GridHazard-v0", n_pairs * per_round, seed=2024, max_episode_steps=10**9) as env:
        env.reset()
        states = np.tile(pairs_s, per_round)
        actions = np.tile(pairs_a, per_round)
        pair_index = np.tile(np.arange(n_pairs), per_round)
        for _ in range(rounds):
            snapshot = env.get_state()
            snapshot["env"] = {"states": states}
            env.set_state(snapshot)
            obs, reward, cost, terminated, truncated, info = env.step(actions)
            assert not truncated.any()
            done = terminated | truncated
            next_states = np.where(done[:, None], info["final_obs"], obs).argmax(axis=1)
            np.testing.assert_array_equal(terminated, next_states == gh.GOAL_STATE)
            # Per-step reward and cost are exact functions of (s, a, s').
            np.testing.assert_allclose(reward, gh.STEP_REWARD + gh.GOAL_REWARD * terminated)
            np.testing.assert_array_equal(cost, model.c[states, actions])
            np.add.at(counts, (pair_index, next_states), 1)
    assert (counts.sum(axis=1) == samples).all()
    freq = counts / samples
    P = model.P[pairs_s, pairs_a]
    se = np.sqrt(P * (1 - P) / samples)
    bad = np.abs(freq - P) > SIGMAS * se + 1e-12
    assert not bad.any(), [
        (int(s), gh.ACTION_NAMES[a], int(s2), freq[i, s2], P[i, s2])
        for i, s2 in zip(*np.nonzero(bad))
        for s, a in [(pairs_s[i], pairs_a[i])]
    ][:10]
    # The expected reward of each pair (goal bonus on entering G) agrees too.
    r_hat = gh.STEP_REWARD + gh.GOAL_REWARD * freq[:, gh.GOAL_STATE]
    np.testing.assert_allclose(r_hat, model.r[pairs_s, pairs_a], atol=SIGMAS * se[:, gh.GOAL_STATE].max() + 1e-12)


def exact_policy_value(model: gh.TabularModel, policy: np.ndarray, signal: np.ndarray) -> float:
    """Expected undiscounted sum of ``signal[s, a]`` over ``model.horizon`` steps from ``mu``."""
    value = np.zeros(model.P.shape[0])
    for _ in range(model.horizon):
        q = signal + model.P @ value  # (S, A)
        value = (policy * q).sum(axis=1)
        value[model.terminal] = 0.0
    return float(model.mu @ value)


def test_grid_hazard_policy_return_and_cost_match_dynamic_programming():
    model = gh.exact_model()
    rng = np.random.default_rng(7)
    # A fixed, state-dependent stochastic policy with a pull to the right (so it reaches G often).
    policy = 0.5 * rng.dirichlet(np.ones(gh.N_ACTIONS), size=gh.N_STATES) + 0.5 * np.array([0.2, 0.5, 0.15, 0.15])
    exact_return = exact_policy_value(model, policy, model.r)
    exact_cost = exact_policy_value(model, policy, model.c)
    assert exact_cost > 0.5 and exact_return > -gh.HORIZON * abs(gh.STEP_REWARD)

    num_envs = 20000
    returns = np.full(num_envs, np.nan)
    costs = np.full(num_envs, np.nan)
    with make_vec_env("GridHazard-v0", num_envs, seed=31) as env:
        assert env.max_episode_steps == model.horizon
        obs = env.reset()
        # Every env's first episode ends within the horizon; keep exactly that one per env
        # (counting every episode finished in a fixed window would favour short ones).
        for _ in range(model.horizon):
            actions = sample_actions(policy, obs.argmax(axis=1), rng)
            obs, reward, cost, terminated, truncated, info = env.step(actions)
            first = (terminated | truncated) & np.isnan(returns)
            returns[first] = info["episode_return"][first]
            costs[first] = info["episode_cost"][first]
    assert np.isfinite(returns).all() and np.isfinite(costs).all()
    for name, samples, exact in (("return", returns, exact_return), ("cost", costs, exact_cost)):
        se = samples.std(ddof=1) / np.sqrt(num_envs)
        assert abs(samples.mean() - exact) < SIGMAS * se, (name, samples.mean(), exact, se)


DETOUR = [0, 1, 1, 1, 1, 1, 2]  # up, right x5, down
STRAIGHT = [1, 1, 1, 1, 1]  # right x5


def test_grid_hazard_routes_on_the_deterministic_moves():
    model = gh.exact_model()
    for route, expected_cost in ((DETOUR, 0.0), (STRAIGHT, 4.0)):
        s, total_cost, total_reward = gh.START_STATE, 0.0, 0.0
        for t, a in enumerate(route):
            assert not model.terminal[s], f"reached G before the end of the route, at step {t}"
            total_cost += model.c[s, a]
            s = gh.NEXT[s, a]
            total_reward += gh.STEP_REWARD + gh.GOAL_REWARD * (s == gh.GOAL_STATE)
        assert s == gh.GOAL_STATE
        assert total_cost == expected_cost
        assert total_reward == pytest.approx(len(route) * gh.STEP_REWARD + gh.GOAL_REWARD)
    # Under the deterministic moves the detour never sets foot on a hazard; the straight route does.
    for route, crosses in ((DETOUR, False), (STRAIGHT, True)):
        visited = [gh.START_STATE]
        for a in route:
            visited.append(gh.NEXT[visited[-1], a])
        assert gh.IS_HAZARD[visited].any() == crosses


def open_loop_expected_cost(model: gh.TabularModel, route: list[int]) -> float:
    dist, total = model.mu.copy(), 0.0
    for a in route:
        total += dist @ model.c[:, a]
        dist = dist @ model.P[:, a, :]
    return float(total)


@pytest.mark.parametrize("route,low,high", [(DETOUR, 0.0, 0.6), (STRAIGHT, 3.0, 4.0)], ids=["detour", "straight"])
def test_grid_hazard_routes_sampled_with_slip(route, low, high):
    """Open-loop routes in the slippery env: the detour is cheap, the straight route costs ~4."""
    model = gh.exact_model()
    exact = open_loop_expected_cost(model, route)
    assert low <= exact <= high
    num_envs = 20000
    with make_vec_env("GridHazard-v0", num_envs, seed=17) as env:
        env.reset()
        total = np.zeros(num_envs)
        running = np.ones(num_envs, dtype=bool)  # until the first episode ends
        for a in route:
            _, _, cost, terminated, truncated, _ = env.step(np.full(num_envs, a))
            total += np.where(running, cost, 0.0)
            running &= ~(terminated | truncated)
    se = total.std(ddof=1) / np.sqrt(num_envs)
    assert low <= total.mean() <= high
    assert abs(total.mean() - exact) < SIGMAS * se, (total.mean(), exact, se)
