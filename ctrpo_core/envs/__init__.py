"""The environment layer: every task behind one vectorised step API (see ``vector.py``)."""

from __future__ import annotations

from .builtin import grid_hazard, hazard_edge, point_hazard
from .normalize import RunningNormalizer
from .safety_gym import SPECS as SAFETY_GYM_SPECS
from .safety_gym import SubprocVecEnv
from .vector import TaskSpec, VecEnv

BUILTIN = {
    grid_hazard.SPEC.id: (grid_hazard.SPEC, grid_hazard.GridHazardEnv),
    point_hazard.SPEC.id: (point_hazard.SPEC, point_hazard.PointHazardEnv),
    hazard_edge.SPEC.id: (hazard_edge.SPEC, hazard_edge.HazardEdgeEnv),
}

TASKS: dict[str, TaskSpec] = {**{k: spec for k, (spec, _) in BUILTIN.items()}, **SAFETY_GYM_SPECS}


class UnknownTaskError(ValueError):
    pass


def get_spec(task_id: str) -> TaskSpec:
    try:
        return TASKS[task_id]
    except KeyError:
        raise UnknownTaskError(f"unknown task {task_id!r}; known tasks: {', '.join(TASKS)}") from None


def make_vec_env(
    task_id: str,
    num_envs: int = 1,
    seed: int = 0,
    *,
    max_episode_steps: int | None = None,
    num_workers: int | None = None,
) -> VecEnv:
    """A vectorised env of ``num_envs`` copies of ``task_id``; ``reset()`` seeds env i with seed + i.

    Built-in tasks step in-process as one numpy batch; Safety-Gymnasium tasks step in at most
    ``min(num_workers, cores)`` subprocess workers.
    """
    spec = get_spec(task_id)
    if int(num_envs) < 1:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs}")
    if task_id in BUILTIN:
        env = BUILTIN[task_id][1](num_envs, max_episode_steps)
        env.seed = seed
        return env
    return SubprocVecEnv(spec, num_envs, seed, max_episode_steps, num_workers)


__all__ = ["TASKS", "TaskSpec", "VecEnv", "RunningNormalizer", "UnknownTaskError", "get_spec", "make_vec_env"]
