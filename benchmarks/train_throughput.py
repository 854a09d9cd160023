"""Training speed relative to raw environment speed, measured side by side in one run.

For each task: raw steps/s of the vectorised env with random actions (same num_envs as training),
then training steps/s of a short run of each algorithm (rollout + update + critics + checkpoint).
The ratio training / raw is the share of time the learner leaves to the environment: it is
comparable across machines, unlike absolute numbers on a shared, noisy machine.

    .venv/bin/python benchmarks/train_throughput.py [--tasks A,B] [--algos c-trpo,trpo] [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ctrpo_core import api
from ctrpo_core.config import resolve
from ctrpo_core.envs import make_vec_env

RESULTS = Path(__file__).parent / "results"


def raw_steps_per_s(task: str, num_envs: int, steps: int) -> float:
    env = make_vec_env(task, num_envs, seed=0)
    try:
        env.reset()
        rng = np.random.default_rng(0)
        n_calls = max(1, steps // num_envs)
        if env.spec.discrete:
            actions = rng.integers(0, env.spec.act_dim, (n_calls, num_envs))
        else:
            actions = rng.uniform(-1, 1, (n_calls, num_envs, env.spec.act_dim))
        start = time.perf_counter()
        for a in actions:
            env.step(a)
        return n_calls * num_envs / (time.perf_counter() - start)
    finally:
        env.close()


def train_steps_per_s(task: str, algo: str, epochs: int, steps_per_epoch: int | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve(task, algo)
        spe = steps_per_epoch or cfg.steps_per_epoch
        run = api.train(task, algo, total_steps=spe * epochs, steps_per_epoch=spe, runs_dir=tmp, name="bench")
        metrics = run.read_metrics()
        return float(metrics.total_steps.iloc[-1] / metrics.time_s.iloc[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="GridHazard-v0,PointHazard-v0,SafetyHopperVelocity-v1")
    parser.add_argument("--algos", default="c-trpo,trpo,trpo-lag,cpo,pcpo,ppo-lag")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--sg-steps-per-epoch",
        type=int,
        default=4000,
        help="steps per epoch for Safety-Gymnasium tasks (the paper uses 20,000)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = ["| task | algo | raw env steps/s | training steps/s | training / raw |", "| --- | --- | --- | --- | --- |"]
    for task in args.tasks.split(","):
        cfg = resolve(task, "c-trpo")
        spe = None if task.endswith("Hazard-v0") else args.sg_steps_per_epoch
        raw = raw_steps_per_s(task, cfg.num_envs, spe or cfg.steps_per_epoch)
        for algo in args.algos.split(","):
            trained = train_steps_per_s(task, algo, args.epochs, spe)
            lines.append(f"| {task} | {algo} | {raw:,.0f} | {trained:,.0f} | {trained / raw:.3f} |")
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print("\n" + table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_throughput.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
