"""The velocity tasks' step, written against MuJoCo directly: the same numbers as Safety-Gymnasium's.

A SafetyHopperVelocity-v1 step through Safety-Gymnasium spends more time in Python than in MuJoCo: its
health check runs twice per step (once for the reward, once for the episode end), each time joining
qpos and qvel into a new state vector; ``do_simulation`` re-checks the action's shape; the step builds
an info dict nobody reads and calls ``mj_rnePostConstraint``, which fills contact-force arrays that
only the Humanoid's observation contains. A lean step here keeps the env object (its model, data, reset
and seeding) and replaces only ``step``: the same MuJoCo calls on the same data, then the reward, cost,
observation and episode end computed with the same float operations in the same order, once.

tests/integration/test_envs_safety_gym.py steps each task both ways with the same actions over several
episodes, resets included, and requires bit-identical observations, rewards, costs and ends.
Episode time limits are the vectorised env's (``_SliceEnvs``), as before; the wrappers' own limit
is not consulted, since the lean step bypasses the wrappers.
"""

from __future__ import annotations

from typing import Callable

import mujoco
import numpy as np

Step = Callable[[np.ndarray], tuple]
# numpy's functions without their Python wrappers (np.clip, np.sum): the same ufuncs, the same numbers
clip = np.core.umath.clip


def _simulate(env, action: np.ndarray) -> None:
    env.data.ctrl[:] = action
    mujoco.mj_step(env.model, env.data, nstep=env.frame_skip)


def _hopper(env) -> Step:
    data, dt = env.data, env.dt
    min_state, max_state = env._healthy_state_range
    min_z, max_z = env._healthy_z_range
    min_angle, max_angle = env._healthy_angle_range
    terminate = env._terminate_when_unhealthy
    threshold, exclude = env._velocity_threshold, env._exclude_current_positions_from_observation

    def step(action):
        x_before = data.qpos[0]
        _simulate(env, action)  # no mj_rnePostConstraint: its outputs are not observed here
        qpos, qvel = data.qpos, data.qvel
        x_velocity = (qpos[0] - x_before) / dt
        ctrl_cost = env._ctrl_cost_weight * np.add.reduce(np.square(action))
        state = np.concatenate((qpos[2:], qvel))  # the state vector without x and z
        z, angle = qpos[1:3]
        healthy = bool(
            ((min_state < state) & (state < max_state)).all() and min_z < z < max_z and min_angle < angle < max_angle
        )
        healthy_reward = float(healthy or terminate) * env._healthy_reward
        reward = env._forward_reward_weight * x_velocity + healthy_reward - ctrl_cost
        velocity = clip(qvel, -10.0, 10.0)  # the ufunc behind np.clip, without its wrapper
        obs = np.concatenate((qpos[1:] if exclude else qpos, velocity))
        return obs, reward, float(x_velocity > threshold), (not healthy) if terminate else False, False, {}

    return step


def _half_cheetah(env) -> Step:
    data, dt = env.data, env.dt
    threshold, exclude = env._velocity_threshold, env._exclude_current_positions_from_observation

    def step(action):
        x_before = data.qpos[0]
        _simulate(env, action)
        x_velocity = (data.qpos[0] - x_before) / dt
        ctrl_cost = env._ctrl_cost_weight * np.add.reduce(np.square(action))
        reward = env._forward_reward_weight * x_velocity - ctrl_cost
        obs = np.concatenate((data.qpos[1:] if exclude else data.qpos, data.qvel))
        return obs, reward, float(x_velocity > threshold), False, False, {}

    return step


def _planar_speed_cost(x_velocity, y_velocity, threshold) -> float:
    return float(np.sqrt(x_velocity**2 + y_velocity**2) > threshold)


def _ant(env) -> Step:
    if env._use_contact_forces:
        return None
    data, dt = env.data, env.dt
    torso = env.model.body("torso").id
    min_z, max_z = env._healthy_z_range
    terminate, threshold = env._terminate_when_unhealthy, env._velocity_threshold

    def step(action):
        before = data.xpos[torso][:2].copy()
        _simulate(env, action)  # contact forces are not observed (use_contact_forces is off)
        x_velocity, y_velocity = (data.xpos[torso][:2].copy() - before) / dt
        state = np.concatenate([data.qpos.flat, data.qvel.flat])
        healthy = bool(np.isfinite(state).all() and min_z <= state[2] <= max_z)
        healthy_reward = float(healthy or terminate) * env._healthy_reward
        ctrl_cost = env._ctrl_cost_weight * np.add.reduce(np.square(action))
        reward = x_velocity + healthy_reward - ctrl_cost
        terminated = (not healthy) if terminate else False
        return env._get_obs(), reward, _planar_speed_cost(x_velocity, y_velocity, threshold), terminated, False, {}

    return step


def _humanoid(env) -> Step:
    data, model, dt = env.data, env.model, env.dt
    mass = np.expand_dims(model.body_mass, axis=1)
    total_mass = np.sum(mass)
    min_z, max_z = env._healthy_z_range
    terminate, threshold = env._terminate_when_unhealthy, env._velocity_threshold

    def mass_center():
        return (np.sum(mass * data.xipos, axis=0) / total_mass)[0:2].copy()

    def step(action):
        before = mass_center()
        _simulate(env, action)
        mujoco.mj_rnePostConstraint(model, data)  # the observation holds the contact forces (cfrc_ext)
        x_velocity, y_velocity = (mass_center() - before) / dt
        ctrl_cost = env._ctrl_cost_weight * np.add.reduce(np.square(data.ctrl))
        healthy = bool(min_z < data.qpos[2] < max_z)
        healthy_reward = float(healthy or terminate) * env._healthy_reward
        reward = env._forward_reward_weight * x_velocity + healthy_reward - ctrl_cost
        terminated = (not healthy) if terminate else False
        return env._get_obs(), reward, _planar_speed_cost(x_velocity, y_velocity, threshold), terminated, False, {}

    return step


LEAN = {
    "SafetyHopperVelocity-v1": _hopper,
    "SafetyHalfCheetahVelocity-v1": _half_cheetah,
    "SafetyAntVelocity-v1": _ant,
    "SafetyHumanoidVelocity-v1": _humanoid,
}


def lean_step(task_id: str, env) -> Step | None:
    """The lean ``step`` of ``env`` (a Safety-Gymnasium velocity env, wrappers and all), or None for a
    task without one or an env that renders (its step also draws the velocity marker)."""
    make = LEAN.get(task_id)
    if make is None or env.unwrapped.render_mode is not None:
        return None
    return make(env.unwrapped)
