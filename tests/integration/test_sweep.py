"""`ctrpo sweep`: a 2×2 grid completes; a rerun skips finished runs but never reuses a run trained with
other settings; grid values never collide; one owner per sweep; manifests merge; bad lists exit 2."""

import json
import re
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli

from ctrpo_core.config import ConfigError, resolve
from ctrpo_core.runs import RunDir, lifecycle
from ctrpo_core.sweeps.batch import classify
from ctrpo_core.sweeps.benchmark import benchmark_configs
from ctrpo_core.sweeps.plan import plan_sweep

SMALL = ["--steps-per-epoch", "500", "--num-envs", "4"]
GRID = [
    "sweep",
    "--task",
    "GridHazard-v0",
    "--beta",
    "0.1,1",
    "--bh",
    "0.8,1",
    "--seeds",
    "0",
    "--total-steps",
    "1000",
    *SMALL,
    "--name",
    "grid",
]


def run_names(runs):
    return sorted(p.name for p in runs.iterdir() if not p.name.startswith("."))


def test_sweep_runs_a_grid_and_a_rerun_skips_finished_runs(tmp_path):
    runs = tmp_path / "runs"
    first = run_cli(*GRID, "--runs-dir", runs, "--parallel", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    names = run_names(runs)
    points = [re.sub(r"_[0-9a-f]{8}$", "", n) for n in names]
    assert points == [
        "grid_beta0.1_bh0.8_delta0.02_s0",
        "grid_beta0.1_bh1_delta0.02_s0",
        "grid_beta1_bh0.8_delta0.02_s0",
        "grid_beta1_bh1_delta0.02_s0",
    ]
    for name in names:
        run = RunDir(runs / name)
        assert run.read_status()["state"] == "finished" and len(run.read_metrics()) == 2
        config = run.read_config()
        assert f"beta{config['beta']:g}_bh{config['bh']:g}" in name
    mtimes = {n: (runs / n / "metrics.csv").stat().st_mtime_ns for n in names}
    second = run_cli(*GRID, "--runs-dir", runs)
    assert second.returncode == 0
    assert "4 already done" in second.stdout and "started" not in second.stdout
    assert mtimes == {n: (runs / n / "metrics.csv").stat().st_mtime_ns for n in names}


def test_a_rerun_with_other_settings_trains_new_runs_and_merges_the_manifest(tmp_path):
    """Issue 10.1: other --total-steps or --cost-limit never reuse a run; the manifest keeps both."""
    runs = tmp_path / "runs"
    base = [
        "sweep",
        "--task",
        "GridHazard-v0",
        "--beta",
        "0.1",
        "--seeds",
        "0",
        *SMALL,
        "--name",
        "s",
        "--runs-dir",
        runs,
    ]
    assert run_cli(*base, "--total-steps", "500").returncode == 0
    longer = run_cli(*base, "--total-steps", "1000", "--cost-limit", "3")
    assert longer.returncode == 0, longer.stdout + longer.stderr
    assert "0 already done" in longer.stdout and "1 to run" in longer.stdout
    names = run_names(runs)
    assert len(names) == 2
    configs = {n: RunDir(runs / n).read_config() for n in names}
    assert sorted((c["total_steps"], c["cost_limit"]) for c in configs.values()) == [(500, 1.0), (1000, 3.0)]
    for n, c in configs.items():
        assert len(RunDir(runs / n).read_metrics()) == c["total_steps"] // 500
    manifest = json.loads((runs / ".sweeps" / "s.json").read_text())
    assert sorted(manifest["runs"]) == names


def test_a_run_with_the_planned_name_but_other_settings_is_never_reused(tmp_path):
    runs = tmp_path / "runs"
    plan = plan_sweep(
        "GridHazard-v0",
        "c-trpo",
        [1.0],
        [0.8],
        [None],
        [0],
        runs_dir=runs,
        name="x",
        total_steps=500,
        steps_per_epoch=500,
        num_envs=4,
    )
    cfg = plan.configs[0]
    other = resolve(
        "GridHazard-v0", "c-trpo", total_steps=1000, steps_per_epoch=500, num_envs=4, runs_dir=str(runs), name=cfg.name
    )
    lifecycle.create(other)  # e.g. a run extended by hand with --resume --total-steps
    settled, jobs = classify(plan.configs)
    assert not jobs and settled[cfg.name].state == "conflict" and "total_steps 1000" in settled[cfg.name].detail


def test_grid_values_never_collide(tmp_path):
    """Issue 10.3: distinct values give distinct runs; equal values one run, said once."""
    runs = tmp_path / "runs"
    distinct = plan_sweep("GridHazard-v0", "c-trpo", [1.0, 1.0000001], [0.8], [None], [0], runs_dir=runs, name="d")
    assert len({c.name for c in distinct.configs}) == 2 and not distinct.notes
    equal = run_cli(
        "sweep",
        "--task",
        "GridHazard-v0",
        "--beta",
        "1,1.0",
        "--seeds",
        "0",
        "--total-steps",
        "500",
        *SMALL,
        "--name",
        "e",
        "--runs-dir",
        runs,
    )
    assert equal.returncode == 0, equal.stdout + equal.stderr
    assert equal.stdout.count("given more than once") == 1 and "Traceback" not in equal.stdout + equal.stderr
    assert len(run_names(runs)) == 1


def test_a_sweep_has_one_owner_and_runs_are_trained_once(tmp_path):
    """Issue 10.4: two identical sweeps at once: one trains, the other exits 2; no duplicate epochs."""
    runs = tmp_path / "runs"
    args = [
        sys.executable,
        "-m",
        "ctrpo_core.cli",
        "sweep",
        "--task",
        "GridHazard-v0",
        "--beta",
        "0.1,1",
        "--seeds",
        "0",
        "--total-steps",
        "4000",
        *SMALL,
        "--name",
        "c",
        "--parallel",
        "1",
        "--runs-dir",
        str(runs),
    ]
    first = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (runs / ".sweeps" / ".c.lock").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = run_cli(*args[3:])
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    assert second.returncode == 2 and second.stderr.count("\n") == 1 and "already running" in second.stderr
    for name in run_names(runs):
        epochs = RunDir(runs / name).read_metrics().epoch.tolist()
        assert epochs == list(range(1, 9))


def test_a_run_killed_before_its_first_checkpoint_is_trained_from_the_start(tmp_path):
    """Issue 10.5: config.json but no checkpoint (killed at once): resume and sweeps start it over."""
    runs = tmp_path / "runs"
    plan = plan_sweep(
        "GridHazard-v0",
        "c-trpo",
        [1.0],
        [0.8],
        [None],
        [0],
        runs_dir=runs,
        name="k",
        total_steps=1000,
        steps_per_epoch=500,
        num_envs=4,
    )
    run = lifecycle.create(plan.configs[0])
    run.write_status("running")  # and then the process died
    assert lifecycle.state(run.path) == "stopped"
    result = run_cli(
        "sweep",
        "--task",
        "GridHazard-v0",
        "--beta",
        "1",
        "--bh",
        "0.8",
        "--seeds",
        "0",
        "--total-steps",
        "1000",
        *SMALL,
        "--name",
        "k",
        "--runs-dir",
        runs,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(resumed)" in result.stdout
    assert RunDir(run.path).read_status()["state"] == "finished"
    assert RunDir(run.path).read_metrics().epoch.tolist() == [1, 2]


def test_a_damaged_manifest_is_kept_aside_not_lost(tmp_path):
    runs = tmp_path / "runs"
    (runs / ".sweeps").mkdir(parents=True)
    (runs / ".sweeps" / "m.json").write_text("garbage")
    result = run_cli(
        "sweep",
        "--task",
        "GridHazard-v0",
        "--seeds",
        "0",
        "--total-steps",
        "500",
        *SMALL,
        "--name",
        "m",
        "--runs-dir",
        runs,
    )
    assert result.returncode == 0
    assert json.loads((runs / ".sweeps" / "m.json").read_text())["runs"] == run_names(runs)
    assert [p.read_text() for p in (runs / ".sweeps").glob(".m.json.damaged-*")] == ["garbage"]


def test_sweep_resumes_a_stopped_run(tmp_path):
    runs = tmp_path / "runs"
    grid = [
        "sweep",
        "--task",
        "GridHazard-v0",
        "--beta",
        "1",
        "--bh",
        "1",
        "--seeds",
        "0",
        *SMALL,
        "--name",
        "r",
        "--runs-dir",
        runs,
    ]
    assert run_cli(*grid, "--total-steps", "1000").returncode == 0
    name = run_names(runs)[0]
    RunDir(runs / name).write_status("stopped", "by hand")
    result = run_cli(*grid, "--total-steps", "1000")
    assert "(resumed)" in result.stdout and result.returncode == 0
    assert len(RunDir(runs / name).read_metrics()) == 2


def test_sweep_bad_lists_exit_2(tmp_path):
    for flag, value in (("--beta", "1,x"), ("--bh", "0,1"), ("--seeds", "a"), ("--delta", "-1")):
        result = run_cli("sweep", "--task", "GridHazard-v0", flag, value, "--runs-dir", tmp_path / "runs")
        assert result.returncode == 2 and flag in result.stderr and result.stderr.count("\n") == 1
        assert not (tmp_path / "runs").exists()


def test_a_grid_beyond_ten_thousand_runs_is_refused_before_anything_is_written(tmp_path):
    seeds = ",".join(map(str, range(20_000)))
    result = run_cli("sweep", "--task", "GridHazard-v0", "--seeds", seeds, "--runs-dir", tmp_path / "runs")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--seeds" in result.stderr and "20,000 runs" in result.stderr and "10,000" in result.stderr
    assert not (tmp_path / "runs").exists()
    # the bound itself: 10,000 runs plan (planning trains nothing), 3 × 3,334 do not
    assert (
        len(plan_sweep("GridHazard-v0", "c-trpo", [0.0, 1.0], [1.0], [None], range(5_000), tmp_path).configs) == 10_000
    )
    with pytest.raises(ConfigError, match="10,002 runs"):
        plan_sweep("GridHazard-v0", "c-trpo", [0.0, 1.0, 10.0], [1.0], [None], range(3_334), tmp_path)
    with pytest.raises(ConfigError, match="seeds: the grid would be"):
        benchmark_configs(["c-trpo", "trpo"], ["GridHazard-v0"], range(5_001), tmp_path)


def test_a_failed_run_s_line_names_what_failed(tmp_path):
    """A sweep on a full disk: the run's status says which file could not be written, and the sweep's report
    says it in the line before "failed NAME" (which keeps its form: the progress counter matches it)."""
    from ctrpo_core.sweeps.batch import ended, report_end

    run = lifecycle.create(resolve("HazardEdge-v0", "c-trpo", runs_dir=str(tmp_path), name="r"))
    run.write_status("failed", f"cannot write {run.path}/checkpoint.pt: No space left on device")
    lines = []
    report_end(lines.append, "r", ended(run.path, "failed"))
    assert lines == [f"r: cannot write {run.path}/checkpoint.pt: No space left on device", "failed r"]
    lines.clear()
    report_end(lines.append, "r", ended(run.path, "finished"))
    assert lines == ["finished r"]
