"""Seconds per epoch of one real training run, against the floor that MuJoCo's physics sets.

    .venv/bin/python benchmarks/epoch_time.py [--task SafetyHopperVelocity-v1] [--algo c-trpo ...]
        [--tree PATH ...] [--rounds 1]

Trains ``ctrpo train``'s way (``api.train``: the trainer, its env workers on every core this process may
use, checkpoints) for 4 epochs of the paper's settings (80,000 steps) and reports the mean of epochs 2–4
from the run's own metrics (``time_s``). Each ``--tree`` is a checkout of this project (default: this
one), each ``--algo`` an algorithm (default: c-trpo and every first-order algorithm); every (tree, algorithm)
trains in turn, round after round, in fresh processes, so what is measured in one call shares the machine's
state: the ratios are the figures to read, against the authors' code, the physics floor and, when c-trpo is
among the algorithms, a C-TRPO epoch.
A first-order epoch's cost follows its passes (up to 40, stopped early at the KL bound).

The floor: the bare physics of one epoch, ``mujoco.mj_step`` for the task's frame skip, 20,000 times with
random actions and no Python around it, divided over the same number of processes. Whatever an epoch
takes above it is the learner and the step's Python. Writes ``benchmarks/results/epoch_time.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from floor import physics_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "epoch_time.md"
AUTHORS_S_PER_EPOCH = 21.0  # the authors' code, same settings, same machine kind (lower end of 21-25 s)
EPOCHS = 4

TRAIN = """
import json, sys, tempfile
from ctrpo_core import api
from ctrpo_core.config import resolve
task, algo, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    spe = resolve(task, algo).steps_per_epoch
    run = api.train(task, algo, total_steps=spe * epochs, runs_dir=tmp, name="epoch-time", seed=0)
    times = run.read_metrics().time_s.tolist()
print(json.dumps([b - a for a, b in zip([0.0] + times, times)]))
"""


def train(tree: Path, task: str, algo: str) -> list[float]:
    """Seconds of each epoch of a run trained by the code in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", TRAIN, task, algo, str(EPOCHS)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="SafetyHopperVelocity-v1")
    parser.add_argument("--algo", action="append", help="an algorithm id (repeatable; default: c-trpo, first order)")
    parser.add_argument("--tree", action="append", type=Path, help="a checkout of this project (repeatable)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    sys.path.insert(0, str(ROOT))
    from ctrpo_core.config.algorithms import ALGORITHMS
    from ctrpo_core.util import cores

    algos = args.algo or ["c-trpo"] + [a for a, spec in ALGORITHMS.items() if spec.family == "first order"]
    epochs = {(t, a): [] for t in trees for a in algos}
    for _ in range(args.rounds):
        for tree, algo in epochs:
            seconds = train(tree, args.task, algo)
            epochs[tree, algo].extend(seconds[1:])  # epochs 2-4: the first carries the start-up
            print(f"{tree} {algo}: epochs {', '.join(f'{s:.2f}' for s in seconds)} s", flush=True)
    processes = min(10, cores.available())
    floor = physics_cpu_seconds(args.task, 20_000) / processes
    lines = [
        f"{args.task}, paper settings (20,000 steps per epoch), {cores.available()} cores, "
        f"epochs 2-{EPOCHS} of a {EPOCHS}-epoch run, {args.rounds} round(s)",
        "",
        "| code | algorithm | s/epoch | x a C-TRPO epoch | x the authors' C-TRPO | x the physics floor |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for (tree, algo), seconds in epochs.items():
        mean = float(np.mean(seconds))
        c_trpo = float(np.mean(epochs[tree, "c-trpo"])) if (tree, "c-trpo") in epochs else None
        versus = f"{mean / c_trpo:.2f}" if c_trpo else "—"
        lines.append(
            f"| {tree} | {algo} | {mean:.2f} | {versus} | {AUTHORS_S_PER_EPOCH / mean:.1f}x | {mean / floor:.1f}x |"
        )
    lines += [
        "",
        f"Physics floor: {floor:.2f} s per epoch (bare mj_step, {processes} processes). "
        f"The authors' C-TRPO: >= {AUTHORS_S_PER_EPOCH:g} s per epoch on this machine kind.",
    ]
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
