"""Wall time of the README's commands on this machine, each in a fresh runs folder (nothing reused).

    .venv/bin/python benchmarks/command_times.py [--only train,demo,...]

Prints a table and writes it to benchmarks/results/command_times.md. The README quotes these times;
rerun this after a change that makes training slower or faster. About 12 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CTRPO = [sys.executable, "-m", "ctrpo_core.cli"]

# name → (the command as the README writes it, the arguments run here; RUNS is the fresh runs folder)
COMMANDS = {
    "train": (
        "ctrpo train --task HazardEdge-v0 --algo c-trpo",
        ["train", "--task", "HazardEdge-v0", "--algo", "c-trpo", "--name", "edge", "--runs-dir", "RUNS"],
    ),
    "ls": ("ctrpo ls", ["ls", "--runs-dir", "RUNS"]),
    "show": ("ctrpo show <name>", ["show", "edge", "--runs-dir", "RUNS"]),
    "eval": (
        "ctrpo eval <name> --episodes 100 --deterministic",
        ["eval", "edge", "--episodes", "100", "--deterministic", "--runs-dir", "RUNS"],
    ),
    "export": (
        "ctrpo export <name> --out policy.pt",
        ["export", "edge", "--out", "RUNS/policy.pt", "--runs-dir", "RUNS"],
    ),
    # its own folder: in RUNS it would reuse the C-TRPO run `train` made (the same settings)
    "demo": ("ctrpo demo", ["demo", "--runs-dir", "RUNS-demo"]),
    "sweep": (
        "ctrpo sweep --task HazardEdge-v0 --beta 0,0.1,1,10 --bh 0.6,1 --seeds 0,1,2",
        [
            "sweep",
            "--task",
            "HazardEdge-v0",
            "--beta",
            "0,0.1,1,10",
            "--bh",
            "0.6,1",
            "--seeds",
            "0,1,2",
            "--runs-dir",
            "RUNS",
        ],
    ),
    "cnpg": ("ctrpo cnpg", ["cnpg", "--out", "RUNS/cnpg"]),
    "report quickstart": ("ctrpo report quickstart", ["report", "quickstart", "--runs-dir", "RUNS"]),
    "report barrier_sensitivity": (
        "ctrpo report barrier_sensitivity",
        ["report", "barrier_sensitivity", "--runs-dir", "RUNS"],
    ),
    "report benchmark": ("ctrpo report benchmark", ["report", "benchmark", "--runs-dir", "RUNS"]),
    "report cnpg_geometry": ("ctrpo report cnpg_geometry", ["report", "cnpg_geometry", "--runs-dir", "RUNS"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma list of the names to time (default: all)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(COMMANDS)
    unknown = [n for n in names if n not in COMMANDS]
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(COMMANDS)}")
    lines = ["| command | wall time (s) | exit |", "| --- | ---: | ---: |"]
    with tempfile.TemporaryDirectory(prefix="ctrpo-times-") as tmp:
        runs = Path(tmp) / "runs"
        for name in names:
            shown, argv = COMMANDS[name]
            argv = [a.replace("RUNS", str(runs)) for a in argv]
            started = time.perf_counter()
            result = subprocess.run([*CTRPO, *argv], cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - started
            lines.append(f"| `{shown}` | {wall:.1f} | {result.returncode} |")
            print(lines[-1], flush=True)
            if result.returncode != 0:
                print(result.stderr[-2000:], file=sys.stderr)
    text = "\n".join([f"# README command times ({os.cpu_count()} cores, fresh runs folder)", "", *lines])
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "command_times.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
