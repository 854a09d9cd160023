"""The behaviour snapshot: a fixed set of short runs and the CLI's ``--json`` answers about them, normalised so
that two snapshots of the same code are equal byte for byte. A refactoring that claims "no behaviour change"
records one before and one after (``python tests/golden/snapshot.py OUT_DIR``) and compares them;
``tests/e2e/test_golden.py`` compares today's code with the snapshot kept in ``tests/golden/behaviour/``.

What is left out, because it differs between two identical runs: the timing columns of metrics.csv
(``time_s``, ``steps_per_s``), wall-clock times and pids in status/config, and the runs folder's path.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ALGOS = ["c-trpo", "trpo", "trpo-lag", "cpo", "pcpo", "ppo-lag"]
# (task, algo, extra CLI arguments): every algorithm on both built-in benchmark tasks, two epochs each, and one
# short SafetyHopperVelocity-v1 run (one epoch of 1,000 steps)
RUNS = (
    [("GridHazard-v0", a, ["--total-steps", "4000", "--steps-per-epoch", "2000"]) for a in ALGOS]
    + [("HazardEdge-v0", a, ["--total-steps", "4000", "--steps-per-epoch", "2000"]) for a in ALGOS]
    + [("SafetyHopperVelocity-v1", "c-trpo", ["--total-steps", "2000", "--steps-per-epoch", "1000", "--num-envs", "2"])]
)
# the test runs the commands through cli.main in its own process (the snapshot script through the console)
IN_PROCESS = False
FINGERPRINT = "fingerprint.json"  # the machine and libraries that recorded the snapshot
TIMING_COLUMNS = {"time_s", "steps_per_s"}
# keys whose values are wall-clock times, pids, hosts or paths
VOLATILE_KEYS = {
    "updated",
    "started",
    "finished",
    "pid",
    "time_s",
    "steps_per_s",
    "elapsed_s",
    "eta_s",
    "elapsed",
    "host",
    "hostname",
    "created",
    "boot_id",
    "start_time",
    "owner",
    "mtime",
}


def run_name(task: str, algo: str) -> str:
    return f"{task.split('-')[0].lower()}_{algo}"


def _ctrpo(*args: str, runs_dir: Path) -> str:
    if IN_PROCESS:
        return _ctrpo_in_process(*args, runs_dir=runs_dir)
    env = {**os.environ, "CTRPO_RUNS_DIR": str(runs_dir), "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "ctrpo_core.cli", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=900
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ctrpo {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


def _ctrpo_in_process(*args: str, runs_dir: Path) -> str:
    """The same command through ``cli.main`` in this process: no interpreter start per command."""
    from contextlib import redirect_stdout

    from ctrpo_core import cli

    old = os.environ.get("CTRPO_RUNS_DIR")
    os.environ["CTRPO_RUNS_DIR"] = str(runs_dir)
    buffer = io.StringIO()
    try:
        with redirect_stdout(buffer):
            code = cli.main(list(args))
    finally:
        if old is None:
            os.environ.pop("CTRPO_RUNS_DIR")
        else:
            os.environ["CTRPO_RUNS_DIR"] = old
    if code:
        raise RuntimeError(f"ctrpo {' '.join(args)} exited {code}")
    return buffer.getvalue()


def _normalise(value, runs_dir: str):
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE_KEYS else _normalise(v, runs_dir)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, runs_dir) for v in value]
    if isinstance(value, str):
        return value.replace(runs_dir, "<RUNS>")
    return value


def _json(text: str, runs_dir: Path) -> str:
    return json.dumps(_normalise(json.loads(text), str(runs_dir)), indent=1, sort_keys=True) + "\n"


def metrics_without_timing(path: Path) -> str:
    rows = list(csv.reader(io.StringIO(path.read_text())))
    keep = [i for i, c in enumerate(rows[0]) if c not in TIMING_COLUMNS]
    return "".join(",".join(r[i] for i in keep) + "\n" for r in rows)


def snapshot(runs_dir: Path) -> dict[str, str]:
    """Train the fixed runs into ``runs_dir`` and return {file name: normalised text}."""
    out: dict[str, str] = {}
    for task, algo, extra in RUNS:
        name = run_name(task, algo)
        _ctrpo("train", "--task", task, "--algo", algo, "--seed", "3", "--name", name, *extra, runs_dir=runs_dir)
        out[f"{name}.metrics.csv"] = metrics_without_timing(runs_dir / name / "metrics.csv")
        out[f"{name}.show.json"] = _json(_ctrpo("show", name, "--json", runs_dir=runs_dir), runs_dir)
        out[f"{name}.eval.json"] = _json(
            _ctrpo("eval", name, "--episodes", "4", "--seed", "1", "--json", runs_dir=runs_dir), runs_dir
        )
    out["ls.json"] = _json(_ctrpo("ls", "--json", runs_dir=runs_dir), runs_dir)
    demo_dir = runs_dir / "demo"
    out["demo.json"] = _json(
        _ctrpo(
            "demo", "--runs-dir", str(demo_dir), "--seed", "2", "--total-steps", "4000", "--json", runs_dir=runs_dir
        ),
        runs_dir,
    )
    return out


def fingerprint() -> dict:
    """What decides the last bits of floating point: the CPU model and its vector extensions, torch, numpy."""
    import platform

    import numpy
    import torch

    cpu, flags = platform.processor(), ""
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), cpu)
        flags = next((line.split(":", 1)[1] for line in info.splitlines() if line.startswith("flags")), "")
    except OSError:
        pass
    vector = sorted(f for f in flags.split() if f.startswith(("avx", "fma", "sse4")))
    return {"cpu": cpu, "vector": vector, "torch": torch.__version__, "numpy": numpy.__version__}


def write(snap: dict[str, str], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in snap.items():
        (directory / name).write_text(text)
    (directory / FINGERPRINT).write_text(json.dumps(fingerprint(), indent=1) + "\n")


def main(argv: list[str]) -> int:
    global IN_PROCESS
    if argv[:1] == ["--in-process"]:
        IN_PROCESS, argv = True, argv[1:]
    if len(argv) != 1:
        print("usage: python tests/golden/snapshot.py [--in-process] OUT_DIR", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        write(snapshot(Path(tmp)), Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
