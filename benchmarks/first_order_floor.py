"""How fast could a first-order epoch be? The arithmetic of its passes alone, against a C-TRPO epoch.

    .venv/bin/python benchmarks/first_order_floor.py [--task SafetyHopperVelocity-v1] [--algo ppo]

The authors' first-order baselines (and so this project's) take up to 40 shuffled passes of minibatches of 64
over an epoch's batch, each one Adam step of the actor and both critics: on SafetyHopperVelocity-v1 (20,000
steps an epoch) 12,520 sequential steps. This script times the least any implementation must compute for them
on one core: each step's forward and backward matrix products and tanh of the three tanh networks (the task's
sizes), in float32 numpy, with no loss, no optimiser and no Python beyond the loop. Beside it, in the same
process and on the same core, it trains a C-TRPO run and a first-order run (--algo) for 3 epochs each and
reports their epochs 2-3, so the three figures share the machine's state and their ratios can be read.

If the floor alone is above a C-TRPO epoch, no implementation of these passes meets "a first-order epoch
costs no more than a C-TRPO epoch" at the authors' settings on this CPU: the difference is arithmetic, not
overhead. Writes benchmarks/results/first_order_floor.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "first_order_floor.md"


def network(sizes: list[int], rng) -> list[np.ndarray]:
    return [rng.standard_normal((o, i)).astype(np.float32) * 0.1 for i, o in zip(sizes[:-1], sizes[1:])]


def step(weights: list[np.ndarray], x: np.ndarray, grad_out: np.ndarray) -> None:
    """One forward and backward pass of a tanh MLP: the products and tanh' every implementation computes."""
    layers = [x]
    for i, w in enumerate(weights):
        z = layers[-1] @ w.T
        layers.append(np.tanh(z) if i < len(weights) - 1 else z)
    delta = grad_out
    for i in range(len(weights) - 1, -1, -1):
        _ = delta.T @ layers[i]  # the weight's gradient
        if i:
            delta = (delta @ weights[i]) * (1.0 - layers[i] * layers[i])


def floor_seconds(obs_dim: int, act_dim: int, hidden: list[int], steps: int, passes: int, minibatch: int) -> float:
    rng = np.random.default_rng(0)
    actor = network([obs_dim, *hidden, act_dim], rng)
    critics = [network([obs_dim, *hidden, 1], rng) for _ in range(2)]
    batch = rng.standard_normal((steps, obs_dim)).astype(np.float32)
    g_actor = rng.standard_normal((minibatch, act_dim)).astype(np.float32)
    g_critic = rng.standard_normal((minibatch, 1)).astype(np.float32)
    start = time.perf_counter()
    for _ in range(passes):
        for lo in range(0, steps, minibatch):
            x = batch[lo : lo + minibatch]
            n = len(x)
            step(actor, x, g_actor[:n])
            for critic in critics:
                step(critic, x, g_critic[:n])
    return time.perf_counter() - start


def epoch_seconds(task: str, algo: str, epochs: int = 3) -> float:
    """Mean seconds of epochs 2.. of a short run (api.train, one env process)."""
    from ctrpo_core.config import resolve
    from ctrpo_core.runs import lifecycle

    spe = resolve(task, algo).steps_per_epoch
    with tempfile.TemporaryDirectory() as tmp:
        run = lifecycle.create(resolve(task, algo, total_steps=spe * epochs, runs_dir=tmp, name="floor", seed=0))
        lifecycle.train(run.path, env_workers=1)  # one core, as the floor
        times = run.read_metrics().time_s.tolist()
    per_epoch = [b - a for a, b in zip([0.0] + times, times)]
    return statistics.mean(per_epoch[1:])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="SafetyHopperVelocity-v1")
    parser.add_argument("--algo", default="ppo", help="the first-order algorithm trained beside C-TRPO")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from ctrpo_core.config import resolve
    from ctrpo_core.envs import get_spec

    cfg = resolve(args.task, args.algo)
    spec = get_spec(args.task)
    obs_dim, act_dim = spec.obs_dim, spec.act_dim
    passes, minibatch, steps = cfg.ppo_epochs, cfg.ppo_minibatch, cfg.steps_per_epoch
    with threadpool_limits(1):
        floor = min(floor_seconds(obs_dim, act_dim, list(cfg.hidden), steps, passes, minibatch) for _ in range(3))
    ctrpo = epoch_seconds(args.task, "c-trpo")
    first_order = epoch_seconds(args.task, args.algo)
    minibatches = passes * -(-steps // minibatch)
    lines = [
        f"# The first-order floor on {args.task}",
        "",
        f"{passes} passes of minibatches of {minibatch} over {steps:,} steps: {minibatches:,} sequential steps; "
        f"networks {obs_dim} → {' → '.join(map(str, cfg.hidden))} → {act_dim} (actor) and → 1 (two critics).",
        "",
        "| what | s per epoch | / C-TRPO epoch |",
        "|---|---:|---:|",
        f"| the passes' arithmetic alone (numpy float32, 1 thread, best of 3) | {floor:.2f} | {floor / ctrpo:.2f} |",
        f"| a {args.algo} epoch (rollout and passes, epochs 2-3) | {first_order:.2f} | {first_order / ctrpo:.2f} |",
        f"| a C-TRPO epoch (epochs 2-3) | {ctrpo:.2f} | 1.00 |",
        "",
        f"Per minibatch step: the floor {floor / minibatches * 1e3:.3f} ms; the {args.algo} epoch's share above a "
        f"C-TRPO epoch, spread over its steps, {(first_order - ctrpo) / minibatches * 1e3:.3f} ms.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
