"""`ctrpo benchmark`: the plan and its cost stated first, the runs trained with progress, finished runs reused, an
interrupted benchmark resumed by running the same command again (each epoch once), bad input refused."""

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli

from ctrpo_core.runs import RunDir
from ctrpo_core.sweeps.benchmark import budget_text, expand_tasks, plan_benchmark

TINY = ["--tasks", "HazardEdge-v0", "--algos", "c-trpo", "--seeds", "0", "--steps", "4000", "--parallel", "2"]


def runs_of(folder):
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_the_plan_names_its_runs_cost_and_references_and_writes_nothing(tmp_path):
    result = run_cli(
        "benchmark", "--plan-only", "--runs-dir", tmp_path / "runs", "--tasks", "velocity", "--seeds", "0,1"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # every algorithm of this version (12) on the 4 velocity tasks, 2 seeds, at the paper's 10M steps
    assert lines[0] == "benchmark paper-10M: 4 tasks × 12 algorithms × 2 seeds at 10M steps = 96 runs"
    assert lines[1] == "  0 finished (reused), 96 to train or resume"
    hopper = next(line for line in lines if "SafetyHopperVelocity-v1" in line)
    assert "24 runs, 240,000,000 steps at 8,420 steps/s per run" in hopper and "CPU-hours" in hopper
    assert "wall time about" in lines[-1] and "on " in lines[-1]
    assert not (tmp_path / "runs").exists() or runs_of(tmp_path / "runs") == []
    # the references of the normalisation are always planned
    plan = plan_benchmark(["HazardEdge-v0"], ["c-trpo"], [0], tmp_path, steps=4000)
    assert plan.request["algos"] == ["c-trpo", "ppo", "cpo"] and plan.name == "paper-4k" and plan.kind == "benchmark"
    assert expand_tasks(["navigation", "SafetyPointGoal1-v0"])[-1] == "SafetyPointPush1-v0"  # one of each
    assert budget_text(1_500_000) == "1.5M" and budget_text(200_000) == "200k" and budget_text(999) == "999"


def test_a_benchmark_trains_with_progress_and_a_second_call_reuses_every_run(tmp_path):
    runs = tmp_path / "runs"
    first = run_cli("benchmark", *TINY, "--runs-dir", runs, timeout=240)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "benchmark paper-4k: 1 task × 3 algorithms × 1 seed at 4k steps = 3 runs" in out
    assert "[3 of 3]" in out and "[1 of 3, ETA" in out and "benchmark paper-4k: 3 finished" in out
    assert [n.split("_")[2] for n in runs_of(runs)] == ["c-trpo", "cpo", "ppo"]
    manifest = json.loads((runs / ".sweeps" / "paper-4k.json").read_text())
    assert manifest["plan"]["kind"] == "benchmark" and len(manifest["runs"]) == 3
    again = run_cli("benchmark", *TINY, "--runs-dir", runs, timeout=120)
    assert again.returncode == 0 and "3 finished (reused), 0 to train or resume" in again.stdout
    assert "started" not in again.stdout and "3 already done" in again.stdout


def test_an_interrupted_benchmark_resumes_when_started_again(tmp_path):
    runs = tmp_path / "runs"
    args = ["--tasks", "HazardEdge-v0", "--algos", "c-trpo", "--seeds", "0", "--steps", "40000", "--parallel", "1"]
    cmd = [sys.executable, "-m", "ctrpo_core.cli", "benchmark", *args, "--runs-dir", str(runs)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the first run has trained an epoch
            trained = [RunDir(p).read_metrics() for p in runs.glob("bench_*") if (p / "metrics.csv").exists()]
            if any(len(m) >= 1 for m in trained):
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # the process this test started: Ctrl-C
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, out
    states = {p.name: RunDir(p).read_status()["state"] for p in runs.glob("bench_*")}
    assert "stopped" in states.values(), (states, out)
    again = run_cli("benchmark", *args, "--runs-dir", runs, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(resumed)" in again.stdout and "benchmark paper-40k: 3 finished" in again.stdout
    for path in runs.glob("bench_*"):
        epochs = RunDir(path).read_metrics().epoch.tolist()
        assert epochs == list(range(1, len(epochs) + 1)) and RunDir(path).read_status()["state"] == "finished"


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--algos", "c-trpo,nope"], "--algos: unknown algorithm 'nope'"),
        (["--tasks", " , "], "--tasks: the list is empty"),
        (["--tasks", "nosuch"], "unknown task 'nosuch'"),
        (["--steps", "0"], "--steps: must be an integer"),
        (["--seeds", "0,x"], "--seeds: expected a comma-separated list of integers"),
        (["--cost-limit", "-1"], "--cost-limit: must be a number"),
        (["--name", "../x"], "name"),
        (["--address", "127.0.0.1:1"], "--address: only with --backend ray"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(tmp_path, flags, message):
    base = {"--tasks": "HazardEdge-v0", "--algos": "c-trpo", "--seeds": "0", "--steps": "4000"}
    for flag, value in zip(flags[::2], flags[1::2]):
        base[flag] = value
    result = run_cli("benchmark", *[x for kv in base.items() for x in kv], "--runs-dir", tmp_path / "runs")
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "runs").exists() or runs_of(tmp_path / "runs") == []
