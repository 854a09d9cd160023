"""The navigation tasks as published against the project's lean worlds (ctrpo_core/envs/sg_lean.py).

    .venv/bin/python benchmarks/navigation_speed.py [--tasks A,B] [--episodes 2]

One process, random actions, whole 1,000-step episodes with their resets (a reset builds and compiles
a new world), on each of the four navigation tasks of the paper. The two variants alternate episode by
episode in this one run, so a noisy machine slows both alike; the ratio is the figure to read.
Per variant: seconds per reset, milliseconds per step, episode steps per second. Prints a markdown
table and writes it to ``benchmarks/results/navigation_speed.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ctrpo_core.envs.safety_gym import PAPER_TASKS, make_single  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "navigation_speed.md"
NAVIGATION = [task for task, _, _ in PAPER_TASKS if not task.endswith("Velocity-v1")]
VARIANTS = {"published": False, "lean": True}


def episode(env, rng) -> tuple[float, float, int]:
    """Seconds in reset, seconds in steps, steps of one episode (up to its end, at most 1,000 steps)."""
    start = time.perf_counter()
    env.reset(seed=int(rng.integers(2**31)))
    reset_s = time.perf_counter() - start
    actions = rng.uniform(-1.0, 1.0, size=(1000, *env.action_space.shape))
    start, steps = time.perf_counter(), 0
    for a in actions:
        steps += 1
        *_, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            break
    return reset_s, time.perf_counter() - start, steps


def measure(task: str, episodes: int) -> dict:
    envs = {name: make_single(task, lean=lean) for name, lean in VARIANTS.items()}
    totals = {name: np.zeros(3) for name in VARIANTS}
    for name, env in envs.items():  # the first reset builds the world twice: not part of the figure
        env.reset(seed=0)
    for k in range(episodes):
        for name, env in envs.items():
            totals[name] += episode(env, np.random.default_rng(k))
    for env in envs.values():
        env.close()
    row = {"task": task}
    for name, (reset_s, step_s, steps) in totals.items():
        row[f"{name} reset s"] = reset_s / episodes
        row[f"{name} step ms"] = 1e3 * step_s / steps
        row[f"{name} steps/s"] = steps / (reset_s + step_s)
    row["speed-up"] = row["lean steps/s"] / row["published steps/s"]
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(NAVIGATION))
    parser.add_argument("--episodes", type=int, default=2, help="episodes per variant and task (default 2)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    lines = [
        "| task | published: reset s / step ms / steps/s | lean: reset s / step ms / steps/s | speed-up |",
        "| --- | --- | --- | --- |",
    ]
    print(lines[0], lines[1], sep="\n", flush=True)
    for task in args.tasks.split(","):
        r = measure(task, args.episodes)
        line = (
            f"| {task} | {r['published reset s']:.3f} / {r['published step ms']:.3f} / {r['published steps/s']:.0f} "
            f"| {r['lean reset s']:.3f} / {r['lean step ms']:.3f} / {r['lean steps/s']:.0f} | {r['speed-up']:.2f}× |"
        )
        lines.append(line)
        print(line, flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
