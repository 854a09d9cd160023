"""Safety-Gymnasium tasks stepped in subprocess workers (several envs per worker).

MuJoCo steps release no GIL and the navigation tasks spend most of their time in Python, so
parallelism needs processes. Each worker owns a contiguous slice of the envs, rescales actions
from [-1, 1] to the task's bounds, auto-resets finished episodes and sends whole slices back, so
there is one pipe round trip per worker per step.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback

import numpy as np

from .vector import EpisodeTracker, TaskSpec, VecEnv

PAPER_TASKS = [
    # id, obs dim, act dim
    ("SafetyAntVelocity-v1", 27, 8),
    ("SafetyHalfCheetahVelocity-v1", 17, 6),
    ("SafetyHopperVelocity-v1", 11, 3),
    ("SafetyHumanoidVelocity-v1", 376, 17),
    ("SafetyCarButton1-v0", 88, 2),
    ("SafetyPointGoal1-v0", 60, 2),
    ("SafetyRacecarCircle1-v0", 28, 2),
    ("SafetyPointPush1-v0", 76, 2),
]

SPECS = {
    task_id: TaskSpec(
        id=task_id,
        source="Safety-Gymnasium",
        obs_dim=obs_dim,
        act_dim=act_dim,
        discrete=False,
        max_episode_steps=1000,
        cost_limit=25.0,
        description="paper benchmark task (MuJoCo)",
    )
    for task_id, obs_dim, act_dim in PAPER_TASKS
}


def make_single(task_id: str, **kwargs):
    """One Safety-Gymnasium env (with the Python 3.11 shim applied)."""
    from .sg_compat import import_safety_gymnasium

    return import_safety_gymnasium().make(task_id, **kwargs)


class _WorkerEnvs:
    """The envs of one worker process, stepped as a slice."""

    def __init__(self, task_id: str, count: int, max_episode_steps: int | None):
        self.envs = [make_single(task_id) for _ in range(count)]
        space = self.envs[0].action_space
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.max_episode_steps = max_episode_steps
        self.elapsed = np.zeros(count, dtype=np.int64)

    def reset(self, seeds):
        self.elapsed[:] = 0
        return np.stack([env.reset(seed=int(s))[0] for env, s in zip(self.envs, seeds)]).astype(np.float32)

    def step(self, actions: np.ndarray):
        n = len(self.envs)
        scaled = self.low + (np.clip(actions, -1.0, 1.0) + 1.0) * 0.5 * (self.high - self.low)
        obs, final_obs = [], []
        reward, cost = np.zeros(n), np.zeros(n)
        terminated, truncated = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        self.elapsed += 1
        for i, env in enumerate(self.envs):
            o, reward[i], cost[i], terminated[i], truncated[i], _ = env.step(scaled[i])
            if self.max_episode_steps is not None and self.elapsed[i] >= self.max_episode_steps:
                truncated[i] = not terminated[i]
            if terminated[i] or truncated[i]:
                final_obs.append(o)
                o, _ = env.reset()
                self.elapsed[i] = 0
            else:
                final_obs.append(np.zeros_like(o))
            obs.append(o)
        return (np.stack(obs).astype(np.float32), reward, cost, terminated, truncated,
                np.stack(final_obs).astype(np.float32))

    def render(self, index: int = 0):
        return self.envs[index].render()


def _worker(conn, task_id: str, count: int, max_episode_steps: int | None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        envs = _WorkerEnvs(task_id, count, max_episode_steps)
        conn.send(("ok", None))
    except Exception:
        conn.send(("error", traceback.format_exc()))
        return
    while True:
        try:
            command, payload = conn.recv()
        except EOFError:
            break
        if command == "close":
            break
        try:
            result = getattr(envs, command)(payload)
            conn.send(("ok", result))
        except Exception:
            conn.send(("error", traceback.format_exc()))
    for env in envs.envs:
        env.close()
    conn.close()


class SubprocVecEnv(VecEnv):
    def __init__(self, spec: TaskSpec, num_envs: int, seed: int = 0,
                 max_episode_steps: int | None = None, num_workers: int | None = None):
        self.spec = spec
        self.num_envs = int(num_envs)
        self.seed = seed
        cores = os.cpu_count() or 1
        self.num_workers = max(1, min(self.num_envs, num_workers or cores, cores))
        # Contiguous slices: env i is seeded seed + i whatever the worker count.
        self.slices = np.array_split(np.arange(self.num_envs), self.num_workers)
        self.tracker = EpisodeTracker(self.num_envs)
        ctx = mp.get_context("forkserver")
        self.conns, self.procs = [], []
        for idx in self.slices:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, spec.id, len(idx), max_episode_steps), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self.closed = False
        for conn in self.conns:
            self._receive(conn)

    def _receive(self, conn):
        try:
            status, payload = conn.recv()
        except EOFError:
            self.close()
            raise RuntimeError(f"a {self.spec.id} worker process died") from None
        if status == "error":
            self.close()
            raise RuntimeError(f"{self.spec.id} worker failed:\n{payload}")
        return payload

    def _call(self, command: str, payloads):
        for conn, payload in zip(self.conns, payloads):
            conn.send((command, payload))
        return [self._receive(conn) for conn in self.conns]

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.seed = seed
        self.tracker = EpisodeTracker(self.num_envs)
        return np.concatenate(self._call("reset", [self.seed + idx for idx in self.slices]))

    def step(self, actions: np.ndarray):
        actions = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, self.spec.act_dim)
        parts = self._call("step", [actions[idx] for idx in self.slices])
        obs, reward, cost, terminated, truncated, final_obs = (np.concatenate(p) for p in zip(*parts))
        info = self.tracker.record(reward, cost, terminated | truncated)
        info["final_obs"] = final_obs
        return obs, reward, cost, terminated, truncated, info

    def close(self) -> None:
        if getattr(self, "closed", True):
            return
        self.closed = True
        for conn in self.conns:
            try:
                conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()

    def __del__(self):
        self.close()
