"""Safety-Gymnasium tasks stepped in parallel processes (several envs per process).

MuJoCo steps hold the GIL and the navigation tasks spend most of their time in Python, so
parallelism needs processes. The envs are split into contiguous slices, one per core: this
process steps the first slice itself while worker processes step the others. Each slice rescales
actions from [-1, 1] to the task's bounds (without clipping) and auto-resets finished episodes, reading actions from
and writing results to shared memory; per step, a pipe carries one short wake-up message each way.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback

import numpy as np

from ..util.cores import available as available_cores
from .sg_compat import import_safety_gymnasium
from .sg_lean import make_lean
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


def make_single(task_id: str, lean: bool | None = None, **kwargs):
    """One Safety-Gymnasium env (with the Python 3.11 shim applied). ``lean`` (default: when no
    ``render_mode`` is asked for) compiles navigation worlds without visual-only assets (sg_lean.py)."""
    env = import_safety_gymnasium().make(task_id, **kwargs)
    if kwargs.get("render_mode") is None if lean is None else lean:
        make_lean(env)
    return env


class SharedBuffers:
    """Actions in and step results out, in shared memory: a step sends one byte per worker.

    Pickling six small arrays through a pipe per step costs more than a fast MuJoCo step; here
    the pipe only carries a wake-up byte and every process reads/writes its own rows in place.
    """

    FIELDS = {  # name: (dtype code, numpy dtype, per-env width attribute)
        "actions": ("d", np.float64, "act_dim"),
        "obs": ("f", np.float32, "obs_dim"),
        "final_obs": ("f", np.float32, "obs_dim"),
        "reward": ("d", np.float64, None),
        "cost": ("d", np.float64, None),
        "terminated": ("B", np.uint8, None),
        "truncated": ("B", np.uint8, None),
    }

    def __init__(self, ctx, spec: TaskSpec, num_envs: int, raws: dict | None = None):
        self.raws = raws or {
            name: ctx.RawArray(code, num_envs * (getattr(spec, width) if width else 1))
            for name, (code, _, width) in self.FIELDS.items()
        }
        self.views = {}
        for name, (_, dtype, width) in self.FIELDS.items():
            view = np.frombuffer(self.raws[name], dtype=dtype)
            self.views[name] = view.reshape(num_envs, getattr(spec, width)) if width else view

    def rows(self, index) -> dict:
        return {name: view[index] for name, view in self.views.items()}


class _SliceEnvs:
    """The envs of one slice (a worker process, or the parent's own share), stepped in place."""

    def __init__(self, task_id: str, count: int, max_episode_steps: int | None, rows: dict):
        from .velocity_lean import lean_step

        self.envs = [make_single(task_id) for _ in range(count)]
        # the velocity tasks step through MuJoCo directly (velocity_lean.py), past the wrappers
        self.steps = [lean_step(task_id, env) or env.step for env in self.envs]
        if max_episode_steps is None and any(step is not env.step for step, env in zip(self.steps, self.envs)):
            max_episode_steps = self.envs[0].spec.max_episode_steps  # the time limit the wrappers kept
        space = self.envs[0].action_space
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.unit_bounds = bool(np.all(self.low == -1.0) and np.all(self.high == 1.0))
        self.max_episode_steps = max_episode_steps
        self.elapsed = np.zeros(count, dtype=np.int64)
        self.rows = rows  # views of this slice's rows in the shared buffers

    def reset(self, seeds) -> None:
        self.elapsed[:] = 0
        for i, (env, seed) in enumerate(zip(self.envs, seeds)):
            self.rows["obs"][i] = env.reset(seed=int(seed))[0]

    def step(self) -> None:
        rows = self.rows
        # [-1, 1] → the task's bounds, not clipped (as the authors' runs): MuJoCo clamps the controls
        # itself, and the velocity tasks charge their control cost on the action as sampled
        actions = rows["actions"]
        scaled = actions if self.unit_bounds else self.low + (actions + 1.0) * 0.5 * (self.high - self.low)
        self.elapsed += 1
        limit = self.max_episode_steps
        results, ended = [], []
        for i, (env, env_step) in enumerate(zip(self.envs, self.steps)):  # plain lists, one array write per field below
            obs, reward, cost, terminated, truncated, _ = env_step(scaled[i])
            if limit is not None and self.elapsed[i] >= limit:
                truncated = not terminated
            if terminated or truncated:
                ended.append((i, obs))
                obs, _ = env.reset()
                self.elapsed[i] = 0
            results.append((obs, reward, cost, terminated, truncated))
        obs, reward, cost, terminated, truncated = zip(*results)
        rows["obs"][:] = np.stack(obs)
        rows["reward"][:], rows["cost"][:] = reward, cost
        rows["terminated"][:], rows["truncated"][:] = terminated, truncated
        rows["final_obs"][:] = 0.0
        for i, last in ended:
            rows["final_obs"][i] = last

    def close(self) -> None:
        for env in self.envs:
            env.close()


SPIN_S = 0.002  # poll this long before blocking on a pipe


def _recv_spinning(conn) -> bytes:
    """Receive, polling briefly first: on virtual machines a blocked process's idle vCPU can take
    100+ µs to wake, longer than a fast MuJoCo step; a short spin keeps the round trip short."""
    deadline = time.perf_counter() + SPIN_S
    while not conn.poll() and time.perf_counter() < deadline:
        pass
    return conn.recv_bytes()


def _worker(conn, spec: TaskSpec, num_envs: int, raws: dict, index: list[int], max_episode_steps: int | None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        buffers = SharedBuffers(None, spec, num_envs, raws)
        envs = _SliceEnvs(spec.id, len(index), max_episode_steps, buffers.rows(slice(index[0], index[-1] + 1)))
        conn.send_bytes(b"ok")
    except Exception:
        conn.send_bytes(traceback.format_exc().encode())
        return
    while True:
        try:
            message = _recv_spinning(conn)
        except EOFError:
            break
        if message == b"close":
            break
        try:
            if message == b"step":
                envs.step()
            else:  # b"reset <seed0> <seed1> ..."
                envs.reset(message.split()[1:])
            conn.send_bytes(b"ok")
        except Exception:
            conn.send_bytes(traceback.format_exc().encode())
    envs.close()
    conn.close()


class SubprocVecEnv(VecEnv):
    """Safety-Gymnasium envs in slices, one per core this process may use (``num_workers`` caps the
    count): one stepped by this process, the others by worker processes at the same time (so at most
    cores − 1 workers, never more processes than cores)."""

    def __init__(
        self,
        spec: TaskSpec,
        num_envs: int,
        seed: int = 0,
        max_episode_steps: int | None = None,
        num_workers: int | None = None,
    ):
        self.spec = spec
        self.num_envs = int(num_envs)
        self.seed = seed
        cores = available_cores()  # this process's affinity: a pinned sweep run sees its own cores only
        num_slices = max(1, min(self.num_envs, num_workers or cores, cores))
        # Contiguous slices: env i is seeded seed + i whatever the slice count.
        self.slices = [idx for idx in np.array_split(np.arange(self.num_envs), num_slices)]
        self.processes = num_slices
        self.tracker = EpisodeTracker(self.num_envs)
        ctx = mp.get_context("forkserver")
        self.buffers = SharedBuffers(ctx, spec, self.num_envs)
        self.conns, self.procs = [], []
        self.closed = False
        for idx in self.slices[1:]:
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker,
                daemon=True,
                args=(child, spec, self.num_envs, self.buffers.raws, idx.tolist(), max_episode_steps),
            )
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        own = self.slices[0]
        self.local = _SliceEnvs(spec.id, len(own), max_episode_steps, self.buffers.rows(slice(own[0], own[-1] + 1)))
        for conn in self.conns:
            self._receive(conn)

    def _receive(self, conn) -> None:
        try:
            reply = _recv_spinning(conn)
        except EOFError:
            self.close()
            raise RuntimeError(f"a {self.spec.id} worker process died") from None
        if reply != b"ok":
            self.close()
            raise RuntimeError(f"{self.spec.id} worker failed:\n{reply.decode()}")

    def _run(self, messages: list[bytes], local_call) -> None:
        for conn, message in zip(self.conns, messages):
            conn.send_bytes(message)
        local_call()  # this process's share, while the workers step theirs
        for conn in self.conns:
            self._receive(conn)

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.seed = seed
        self.tracker = EpisodeTracker(self.num_envs)
        seeds = [[self.seed + int(i) for i in idx] for idx in self.slices]
        self._run([("reset " + " ".join(map(str, s))).encode() for s in seeds[1:]], lambda: self.local.reset(seeds[0]))
        return self.buffers.views["obs"].copy()

    def step(self, actions: np.ndarray):
        views = self.buffers.views
        views["actions"][:] = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, self.spec.act_dim)
        self._run([b"step"] * len(self.conns), self.local.step)
        terminated, truncated = views["terminated"].astype(bool), views["truncated"].astype(bool)
        reward, cost = views["reward"].copy(), views["cost"].copy()
        info = self.tracker.record(reward, cost, terminated | truncated)
        info["final_obs"] = views["final_obs"].copy()
        return views["obs"].copy(), reward, cost, terminated, truncated, info

    def render(self, index: int = 0):
        """A frame of env ``index`` of this process's own slice (made with render_mode)."""
        return self.local.envs[index].render()

    def close(self) -> None:
        if getattr(self, "closed", True):
            return
        self.closed = True
        for conn in self.conns:
            try:
                conn.send_bytes(b"close")
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        if hasattr(self, "local"):
            self.local.close()

    def __del__(self):
        self.close()
