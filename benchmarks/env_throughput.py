"""Raw environment throughput with random actions: one process vs the vectorised layer.

    .venv/bin/python benchmarks/env_throughput.py [--tasks A,B] [--seconds 3] [--num-envs 16]

For every task, two measurements of env steps per second of wall-clock time (env creation and the
first reset excluded; the auto-resets during the run included, they are part of the cost). Each
measurement runs ``--seconds`` and then on to the next episode end (``--fixed-window`` stops at
exactly ``--seconds``): a navigation task resets for ~1 s every 1000 steps, in all its vectorised
envs at once, and a window that happened to miss or catch those resets would misstate its speed.

* 1 process: Safety-Gymnasium tasks as one plain env (``safety_gymnasium.make`` through the
  Python 3.11 shim, reset when an episode ends); built-in tasks as ``make_vec_env(task, 1)``.
* vectorised: ``make_vec_env(task, num_envs=16)``; Safety-Gymnasium tasks then step in
  ``os.cpu_count()`` slices (this process steps one, worker processes the others), built-in tasks
  as one numpy batch.

Prints a markdown table and writes it to ``benchmarks/results/env_throughput.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "env_throughput.md"
ACTION_BLOCK = 1024  # random actions are drawn ahead of time, in blocks, and cycled through
MAX_EXTENSION = 60.0  # seconds a measurement may run past --seconds to reach an episode end


def measure(step, seconds: float, envs_per_call: int, align: bool = True, warmup_calls: int = 3) -> float:
    """Env steps per second of ``step()`` calls over ``seconds`` of wall-clock time.

    ``step(i)`` returns whether an episode ended (and was reset) in that call. With ``align`` the
    window runs on past ``seconds`` until such a call (at most ``MAX_EXTENSION`` s more): resets are
    then counted in proportion even where they are rare and slow, as in the navigation tasks, whose
    vectorised envs all reset together every 1000 steps.
    """
    for i in range(warmup_calls):
        step(i)
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        ended = step(calls)
        calls += 1
        now = time.perf_counter()
        if now >= deadline and (ended or not align or now >= deadline + MAX_EXTENSION):
            break
    return calls * envs_per_call / (now - start)


def random_actions(spec, num_envs: int, rng: np.random.Generator) -> np.ndarray:
    if spec.discrete:
        return rng.integers(0, spec.act_dim, size=(ACTION_BLOCK, num_envs))
    return rng.uniform(-1.0, 1.0, size=(ACTION_BLOCK, num_envs, spec.act_dim))


def _vec_step(env, actions):
    def step(i: int) -> bool:
        _, _, _, terminated, truncated, _ = env.step(actions[i % ACTION_BLOCK])
        return bool((terminated | truncated).any())

    return step


def single_process(task_id: str, seconds: float, align: bool = True) -> float:
    from ctrpo_core.envs import BUILTIN, get_spec, make_vec_env
    from ctrpo_core.envs.sg_compat import import_safety_gymnasium

    rng = np.random.default_rng(0)
    spec = get_spec(task_id)
    if task_id in BUILTIN:
        actions = random_actions(spec, 1, rng)
        with make_vec_env(task_id, 1, seed=0) as env:
            env.reset()
            return measure(_vec_step(env, actions), seconds, 1, align)

    env = import_safety_gymnasium().make(task_id)
    try:
        space = env.action_space
        actions = rng.uniform(space.low, space.high, size=(ACTION_BLOCK, *space.shape)).astype(space.dtype)
        env.reset(seed=0)

        def step(i: int) -> bool:
            _, _, _, terminated, truncated, _ = env.step(actions[i % ACTION_BLOCK])
            if terminated or truncated:
                env.reset()
                return True
            return False

        return measure(step, seconds, 1, align)
    finally:
        env.close()


def vectorised(task_id: str, seconds: float, num_envs: int, align: bool = True) -> float:
    from ctrpo_core.envs import get_spec, make_vec_env

    actions = random_actions(get_spec(task_id), num_envs, np.random.default_rng(0))
    with make_vec_env(task_id, num_envs=num_envs, seed=0) as env:
        env.reset()
        return measure(_vec_step(env, actions), seconds, num_envs, align)


def table(rows: list[tuple[str, float, float]]) -> str:
    lines = ["| task | 1 process steps/s | vectorised steps/s | ratio |", "| --- | ---: | ---: | ---: |"]
    for task_id, single, vec in rows:
        lines.append(f"| {task_id} | {single:,.0f} | {vec:,.0f} | {vec / single:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from ctrpo_core.envs import TASKS, UnknownTaskError, get_spec

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tasks",
        default=",".join(TASKS),
        help="comma-separated task ids (default: the 2 built-in and the 8 paper tasks)",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="wall-clock seconds per measurement")
    parser.add_argument("--num-envs", type=int, default=16, help="envs in the vectorised measurement")
    parser.add_argument(
        "--fixed-window",
        action="store_true",
        help="stop each measurement at exactly --seconds instead of at the next episode end",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the markdown table")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.num_envs < 1:
        parser.error("--seconds must be positive and --num-envs at least 1")
    task_ids = [t.strip() for t in args.tasks.split(",") if t.strip()]
    try:
        for task_id in task_ids:
            get_spec(task_id)
    except UnknownTaskError as exc:
        parser.error(str(exc))

    rows = []
    for task_id in task_ids:
        print(f"{task_id}: 1 process ...", end="", file=sys.stderr, flush=True)
        single = single_process(task_id, args.seconds, not args.fixed_window)
        print(f" {single:,.0f} steps/s; vectorised x{args.num_envs} ...", end="", file=sys.stderr, flush=True)
        vec = vectorised(task_id, args.seconds, args.num_envs, not args.fixed_window)
        print(f" {vec:,.0f} steps/s", file=sys.stderr, flush=True)
        rows.append((task_id, single, vec))

    cores = os.cpu_count() or 1
    header = (
        f"Env throughput, random actions: {cores} cores, "
        f"{'' if args.fixed_window else 'at least '}{args.seconds:g} s per measurement, "
        f"vectorised = make_vec_env(task, num_envs={args.num_envs}) "
        f"(Safety-Gymnasium tasks in {min(cores, args.num_envs)} slices: this process and "
        f"{min(cores, args.num_envs) - 1} worker processes); "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}.\n\n"
        "Auto-resets are included: the first reset is excluded, and "
        + (
            "each measurement runs for exactly --seconds, so a navigation task (Goal, Button, Push, "
            "Circle: ~1 s per reset, 1000-step episodes) counts its resets only if they fall inside "
            "the window."
            if args.fixed_window
            else "each measurement runs at least --seconds and on to the next episode end, so the "
            "navigation tasks (Goal, Button, Push, Circle: ~1 s per reset, 1000-step episodes, all "
            "vectorised envs resetting together) count their resets in proportion."
        )
    )
    text = f"{header}\n\n{table(rows)}\n"
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # required: the Safety-Gymnasium workers start through forkserver
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # inherited by the worker processes
    warnings.filterwarnings("ignore")
    sys.exit(main())
