"""Does a sweep fill the machine without oversubscribing it? Measured side by side in one run.

    .venv/bin/python benchmarks/sweep_fill.py [--task SafetyHopperVelocity-v1] [--epochs 4] [--ray]

1. reference: one run pinned alone to one core (``taskset -c <core> ctrpo train``, as the issue asks),
2. ``ctrpo sweep`` with P = C runs (C = the cores this process may use), local backend,
3. with ``--ray``: the same sweep on a local Ray instance with ``--cpus-per-run 1``.

All runs use the task's default settings (for Safety-Gymnasium: the paper's 10 envs and 20,000 steps
per epoch), ``--epochs`` epochs each. s/epoch is read from each run's metrics.csv (the time between
its first and its last epoch, so process start-up and the first epoch's warm-up are left out).
Target: every sweep run within 1.15x of the reference. Writes ``benchmarks/results/sweep_fill.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ctrpo_core.config import resolve  # noqa: E402
from ctrpo_core.runs import RunDir  # noqa: E402
from ctrpo_core.util import cores  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "sweep_fill.md"
TARGET = 1.15


def s_per_epoch(path: Path) -> float:
    metrics = RunDir(path).read_metrics()
    times = metrics.time_s.to_numpy()
    return float((times[-1] - times[0]) / (len(times) - 1))


def cli(*args, pin: int | None = None) -> None:
    command = [sys.executable, "-m", "ctrpo_core.cli", *map(str, args)]
    if pin is not None:
        command = ["taskset", "-c", str(pin), *command]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="SafetyHopperVelocity-v1")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--ray", action="store_true", help="also measure the Ray backend (--cpus-per-run 1)")
    args = parser.parse_args(argv)
    c = cores.available()
    steps = resolve(args.task, "c-trpo").steps_per_epoch * args.epochs
    seeds = ",".join(map(str, range(c)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        cli(
            "train",
            "--task",
            args.task,
            "--algo",
            "c-trpo",
            "--total-steps",
            steps,
            "--runs-dir",
            runs,
            "--name",
            "alone",
            pin=cores.allowed()[0],
        )
        reference = s_per_epoch(runs / "alone")
        rows.append(("one run pinned alone to one core (reference)", [reference]))
        backends = [("local", [])] + ([("ray", ["--backend", "ray", "--cpus-per-run", "1"])] if args.ray else [])
        for backend, extra in backends:
            cli(
                "sweep",
                "--task",
                args.task,
                "--beta",
                "1",
                "--seeds",
                seeds,
                "--parallel",
                c,
                "--total-steps",
                steps,
                "--runs-dir",
                runs,
                "--name",
                f"fill-{backend}",
                *extra,
            )
            paths = sorted(p for p in runs.iterdir() if p.name.startswith(f"fill-{backend}_"))
            rows.append((f"`ctrpo sweep` ({backend}), P = C = {c} runs", [s_per_epoch(p) for p in paths]))
    lines = [
        f"{args.task}, c-trpo, default settings, {args.epochs} epochs per run, C = {c} cores",
        "",
        "| what | s/epoch per run | worst / reference | target <= 1.15 |",
        "| --- | --- | --- | --- |",
    ]
    for what, values in rows:
        worst = max(values) / reference
        lines.append(
            f"| {what} | {', '.join(f'{v:.2f}' for v in values)} | {worst:.2f} | "
            f"{'met' if worst <= TARGET else 'not met'} |"
        )
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
