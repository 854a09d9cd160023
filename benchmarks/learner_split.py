"""Where one epoch of training goes: rollout (env steps / policy and critic inference) / policy update /
critic update, per epoch, for one run at the task's default settings on every core this process may use.

    .venv/bin/python benchmarks/learner_split.py [--task SafetyHopperVelocity-v1] [--algo c-trpo] [--epochs 4]

Trains through the same calls as the trainer (``collect``, ``update_policy``, ``update_critics``) with
the env's ``step`` timed from outside, so nothing in the core is instrumented. The first epoch (warm-up)
is shown but left out of the mean. Writes ``benchmarks/results/learner_split.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ctrpo_core.algos import make_algorithm  # noqa: E402
from ctrpo_core.config import resolve  # noqa: E402
from ctrpo_core.envs import make_vec_env  # noqa: E402
from ctrpo_core.util import cores  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "learner_split.md"
AUTHORS_S_PER_EPOCH = 21.0  # the authors' code, same settings, same machine kind (lower end of 21-25 s)


class TimedEnv:
    """The env with its ``step`` calls timed."""

    def __init__(self, env):
        self.env, self.seconds = env, 0.0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, actions):
        start = time.perf_counter()
        try:
            return self.env.step(actions)
        finally:
            self.seconds += time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="SafetyHopperVelocity-v1")
    parser.add_argument("--algo", default="c-trpo")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    cfg = resolve(args.task, args.algo, seed=0)
    cores.limit_threads(cfg.torch_threads)
    torch.manual_seed(cfg.seed)
    rows = []
    with make_vec_env(cfg.task, cfg.num_envs, cfg.seed, max_episode_steps=cfg.max_episode_steps) as raw:
        env = TimedEnv(raw)
        algo = make_algorithm(cfg, env)
        algo.start()
        for epoch in range(1, args.epochs + 1):
            env.seconds = 0.0
            t0 = time.perf_counter()
            batch = algo.collect()
            t1 = time.perf_counter()
            algo.update_policy(batch)
            t2 = time.perf_counter()
            algo.update_critics(batch)
            t3 = time.perf_counter()
            rows.append(
                {
                    "epoch": epoch,
                    "env": env.seconds,
                    "inference": (t1 - t0) - env.seconds,
                    "policy": t2 - t1,
                    "critics": t3 - t2,
                    "total": t3 - t0,
                }
            )
        processes = raw.processes
    lines = [
        f"{args.task}, {args.algo}, {cfg.num_envs} envs, {cfg.steps_per_epoch} steps per epoch, "
        f"{processes} env process(es) on {cores.available()} cores, torch threads {cfg.torch_threads}",
        "",
        "| epoch | rollout: env s | rollout: inference and buffers s | policy update s | critics s | s/epoch |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['epoch']} | {r['env']:.2f} | {r['inference']:.2f} | {r['policy']:.2f} | {r['critics']:.2f} "
            f"| {r['total']:.2f} |"
        )
    steady = rows[1:] or rows
    mean = {k: float(np.mean([r[k] for r in steady])) for k in ("env", "inference", "policy", "critics", "total")}
    lines.append(
        f"| mean of epochs 2+ | {mean['env']:.2f} | {mean['inference']:.2f} | {mean['policy']:.2f} "
        f"| {mean['critics']:.2f} | {mean['total']:.2f} |"
    )
    lines += [
        "",
        f"s/epoch {mean['total']:.2f} (target <= 2.2); the authors' code: >= {AUTHORS_S_PER_EPOCH:g} s/epoch "
        f"on this machine kind, i.e. {AUTHORS_S_PER_EPOCH / mean['total']:.1f}x (target >= 10x)",
    ]
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
