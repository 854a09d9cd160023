"""A runs folder of N finished runs, made by copying a few real trained runs (the app-scale benchmark's input).

    .venv/bin/python benchmarks/runs_folder.py OUT N [--template DIR] [--checkpoint link|copy|skip] [--no-sweep]

The templates are trained once with this repository's `ctrpo` (GridHazard-v0, 20,000 steps: 10 epochs each) and
cached in ``--template`` (default: OUT/../.template): one run of each of c-trpo, trpo-lag and trpo, and one real
sweep (`ctrpo sweep`, c-trpo, β ∈ {0.5, 2} × b_H ∈ {0.6, 1} × seeds {0, 1}: 8 runs and its manifest). OUT gets
the sweep's 8 runs under their own names with the manifest in OUT/.sweeps/ (so the Sensitivity page has a sweep
to draw; --no-sweep leaves it out), then copies of the three runs in turn until there are N run directories:
``<algo>-copy<i>``, each with its own seed in config.json (1000 + i: the copies of one algorithm are seeds of one
setting) and its own "updated" time in status.json (one second apart, the newest last). Only config.json,
status.json, metrics.csv and train.log are copied; checkpoint.pt is hard-linked by default (--checkpoint), the
lock file and checkpoints/ never. No catalog file (.catalog.json) is written: the first listing of OUT is cold.
Ten thousand copies take seconds (files are copied in this process).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASK = "GridHazard-v0"
STEPS = 20_000
ALGOS = ("c-trpo", "trpo-lag", "trpo")
SWEEP = {"name": "scale", "beta": "0.5,2", "bh": "0.6,1", "seeds": "0,1"}
SWEEPS = ".sweeps"
KEY_FILE = "template.json"  # what the cached templates were trained with; another key trains them again
COPIED = ("metrics.csv", "train.log")
SEED_BASE = 1000


def template_key() -> dict:
    sys.path.insert(0, str(ROOT))
    from ctrpo_core import __version__

    return {"task": TASK, "total_steps": STEPS, "algos": list(ALGOS), "sweep": SWEEP, "ctrpo_core": __version__}


def _ctrpo(args: list[str], log) -> None:
    cmd = [sys.executable, "-m", "ctrpo_core.cli", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)


def ensure_template(template: Path) -> Path:
    """Train the template runs into ``template`` unless a matching set is cached there; returns ``template``."""
    key = template_key()
    key_path = template / KEY_FILE
    if key_path.exists():
        try:
            if json.loads(key_path.read_text()) == key:
                return template
        except ValueError:
            pass
        shutil.rmtree(template)  # ours (it holds our key file), trained with other settings or another version
    elif template.exists() and any(template.iterdir()):
        raise SystemExit(f"{template} exists and is not a template folder of this script: choose another --template")
    template.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    print(f"training the templates into {template} (once) ...", file=sys.stderr, flush=True)
    with open(template / "train.out", "w") as log:
        for algo in ALGOS:
            _ctrpo(
                ["train", "--task", TASK, "--algo", algo, "--total-steps", str(STEPS), "--seed", "0"]
                + ["--runs-dir", str(template / "algos"), "--name", algo],
                log,
            )
        _ctrpo(
            ["sweep", "--task", TASK, "--algo", "c-trpo", "--beta", SWEEP["beta"], "--bh", SWEEP["bh"]]
            + ["--seeds", SWEEP["seeds"], "--total-steps", str(STEPS), "--runs-dir", str(template / "sweep")]
            + ["--name", SWEEP["name"], "--parallel", "2"],
            log,
        )
    key_path.write_text(json.dumps(key))
    print(f"templates trained in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return template


class _Source:
    """One template run, read once: its config and status as dicts, the paths of the files copied verbatim."""

    def __init__(self, path: Path):
        self.path = path
        self.config = json.loads((path / "config.json").read_text())
        self.status = json.loads((path / "status.json").read_text())
        assert self.status.get("state") == "finished", (path, self.status)


def _write_run(src: _Source, target: Path, out: Path, seed: int, updated: float, checkpoint: str) -> None:
    target.mkdir()
    config = {**src.config, "name": target.name, "seed": seed, "runs_dir": str(out)}
    (target / "config.json").write_text(json.dumps(config, indent=2))
    (target / "status.json").write_text(json.dumps({**src.status, "updated": updated}))
    for name in COPIED:
        if (src.path / name).exists():
            shutil.copyfile(src.path / name, target / name)
    ckpt = src.path / "checkpoint.pt"
    if checkpoint != "skip" and ckpt.exists():
        if checkpoint == "link":
            try:
                os.link(ckpt, target / "checkpoint.pt")
                return
            except OSError:  # another file system: copy it
                pass
        shutil.copyfile(ckpt, target / "checkpoint.pt")


def generate(out, n: int, template=None, checkpoint: str = "link", sweep: bool = True) -> dict:
    """Fill the empty or missing folder ``out`` with ``n`` finished runs; returns what was made."""
    out = Path(out).resolve()
    template = Path(template).resolve() if template else out.parent / ".template"
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty")
    ensure_template(template)
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    now = time.time()
    made = 0
    sweep_runs: list[str] = []
    if sweep:
        manifest_path = template / "sweep" / SWEEPS / f"{SWEEP['name']}.json"
        manifest = json.loads(manifest_path.read_text())
        sweep_runs = manifest["runs"]
        if len(sweep_runs) > n:
            raise SystemExit(f"N={n} is smaller than the sweep's {len(sweep_runs)} runs: pass --no-sweep")
        for name in sweep_runs:
            src = _Source(template / "sweep" / name)
            _write_run(src, out / name, out, src.config["seed"], now - (n - made), checkpoint)
            made += 1
        (out / SWEEPS).mkdir()
        shutil.copyfile(manifest_path, out / SWEEPS / manifest_path.name)
    sources = [_Source(template / "algos" / algo) for algo in ALGOS]
    i = 0
    while made < n:
        src = sources[i % len(sources)]
        _write_run(src, out / f"{src.config['algo']}-copy{i:05d}", out, SEED_BASE + i, now - (n - made), checkpoint)
        made += 1
        i += 1
    return {"out": str(out), "runs": made, "sweep_runs": len(sweep_runs), "seconds": time.perf_counter() - start}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the runs folder to make (missing or empty)")
    parser.add_argument("n", type=int, help="how many run directories it gets")
    parser.add_argument(
        "--template", type=Path, help="where the trained templates are cached (default OUT/../.template)"
    )
    parser.add_argument(
        "--checkpoint",
        choices=("link", "copy", "skip"),
        default="link",
        help="checkpoint.pt of each copy: a hard link to the template's (default), a copy, or none",
    )
    parser.add_argument("--no-sweep", action="store_true", help="no sweep: only copies of the three runs")
    args = parser.parse_args(argv)
    made = generate(args.out, args.n, args.template, args.checkpoint, sweep=not args.no_sweep)
    sweep = f" ({made['sweep_runs']} of sweep {SWEEP['name']})" if made["sweep_runs"] else ""
    print(f"{made['runs']} runs{sweep} in {made['out']}: {made['seconds']:.1f} s")


if __name__ == "__main__":
    main()
