"""What the paper's full protocol costs: training steps per second per core, and CPU-hours.

Trains short runs with the paper's settings (10 envs, 20,000 steps per epoch, one torch thread) in
one process pinned to one core with no env worker processes, so a run uses exactly one core, as a Ray
task with ``--cpus-per-run 1`` does (and trains its critics after the policy, not beside it). Speeds are steps per
CPU-second of that process (``time.process_time``,
env creation, rollouts with episode resets, updates and checkpoints included), which other load on
the machine barely disturbs; wall-clock speeds are shown beside them. The protocol is 8 tasks x 6
algorithms x 5 seeds x 10M steps (the paper's protocol); each task's runs are costed at the mean speed of
the algorithms measured on it.

    .venv/bin/python benchmarks/sweep_cost.py [--tasks A,B] [--algos c-trpo] [--epochs 2] [--out sweep_cost.md]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from floor import physics_cpu_seconds

from ctrpo_core.config import resolve
from ctrpo_core.runs import lifecycle
from ctrpo_core.util import cores

RESULTS = Path(__file__).parent / "results"
PAPER_TASKS = [
    "SafetyAntVelocity-v1",
    "SafetyHalfCheetahVelocity-v1",
    "SafetyHopperVelocity-v1",
    "SafetyHumanoidVelocity-v1",
    "SafetyCarButton1-v0",
    "SafetyPointGoal1-v0",
    "SafetyRacecarCircle1-v0",
    "SafetyPointPush1-v0",
]
ALGOS, SEEDS, STEPS = 6, 5, 10_000_000


def train_speed(task: str, algo: str, epochs: int) -> tuple[float, float]:
    """(steps per CPU-second, steps per wall-second) of training with the paper's settings, one core."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve(task, algo, runs_dir=tmp, name="bench")
        cfg.total_steps = cfg.steps_per_epoch * epochs
        run = lifecycle.create(cfg)
        cpu, wall = time.process_time(), time.perf_counter()
        state = lifecycle.train(run.path, env_workers=1)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert state == "finished", run.read_status()
        steps = int(run.read_metrics().total_steps.iloc[-1])
        return steps / cpu, steps / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(PAPER_TASKS), help="tasks to train (default: the paper's 8)")
    parser.add_argument("--algos", default="c-trpo", help="algorithms to train on each task (comma list)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of 20,000 steps per run")
    parser.add_argument("--out", default="sweep_cost.md", help="file name under benchmarks/results/")
    args = parser.parse_args()
    cores.pin(cores.allowed()[:1])  # one core, as a sweep run with --cpus-per-run 1: no second thread or process
    torch.set_num_threads(1)
    tasks, algos = args.tasks.split(","), args.algos.split(",")
    speeds = {}
    for task in tasks:
        for algo in algos:
            speeds[(task, algo)] = train_speed(task, algo, args.epochs)
            print(
                f"{task} {algo}: {speeds[(task, algo)][0]:,.0f} steps/CPU-s "
                f"({speeds[(task, algo)][1]:,.0f} steps/s wall)",
                flush=True,
            )
    rows = []
    for task in tasks:
        cpu = float(np.mean([speeds[(task, a)][0] for a in algos]))
        wall = float(np.mean([speeds[(task, a)][1] for a in algos]))
        floor = physics_cpu_seconds(task, 20_000)
        floor = f"{20_000 / floor:,.0f}" if floor else "—"
        rows.append((task, cpu, wall, floor, STEPS / cpu / 3600, ALGOS * SEEDS * STEPS / cpu / 3600))
    total = sum(r[5] for r in rows)
    nav = sum(r[5] for r in rows if r[0].endswith("-v0"))
    lines = [
        f"# Cost of the paper's protocol ({ALGOS} algorithms x {SEEDS} seeds x {STEPS / 1e6:g}M steps per task)",
        "",
        f"{platform.machine()}, torch {torch.__version__}; one core per run (10 envs in one process, one torch "
        f"thread); {', '.join(algos)}, {args.epochs} epochs of 20,000 steps per task.",
        "",
        "| task | training steps/CPU-s | (wall steps/s) | bare physics steps/CPU-s (the floor) "
        "| one run of 10M steps, CPU-h | 30 runs, CPU-h |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *[f"| {t} | {c:,.0f} | {w:,.0f} | {f} | {one:,.1f} | {h:,.0f} |" for t, c, w, f, one, h in rows],
        f"| **total** | | | | | **{total:,.0f}** |",
        "",
    ]
    if nav and nav < total:
        lines.append(f"Navigation tasks (-v0): {nav:,.0f} CPU-h, {nav / total:.0%} of the total.")
    lines.append(
        f"On C cores (one run per core) that is about {total:,.0f} / C hours of wall-clock time, and never "
        f"less than the slowest single run ({max(r[4] for r in rows):,.1f} h)."
    )
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
