"""`ctrpo sweep`: a 2×2 grid completes; a rerun skips the finished runs; bad lists exit 2."""

from conftest import run_cli
from ctrpo_core.runs import RunDir

GRID = ["sweep", "--task", "GridHazard-v0", "--beta", "0.1,1", "--bh", "0.8,1", "--seeds", "0",
        "--total-steps", "1000", "--steps-per-epoch", "500", "--num-envs", "4", "--name", "grid"]


def test_sweep_runs_a_grid_and_a_rerun_skips_finished_runs(tmp_path):
    runs = tmp_path / "runs"
    first = run_cli(*GRID, "--runs-dir", runs, "--parallel", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    names = sorted(p.name for p in runs.iterdir() if not p.name.startswith("."))
    assert names == ["grid_beta0.1_bh0.8_delta0.02_s0", "grid_beta0.1_bh1_delta0.02_s0",
                     "grid_beta1_bh0.8_delta0.02_s0", "grid_beta1_bh1_delta0.02_s0"]
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


def test_sweep_resumes_a_stopped_run(tmp_path):
    runs = tmp_path / "runs"
    grid = ["sweep", "--task", "GridHazard-v0", "--beta", "1", "--bh", "1", "--seeds", "0", "--steps-per-epoch", "500",
            "--num-envs", "4", "--name", "r", "--runs-dir", runs]
    assert run_cli(*grid, "--total-steps", "1000").returncode == 0
    name = "r_beta1_bh1_delta0.02_s0"
    RunDir(runs / name).write_status("stopped", "by hand")
    result = run_cli(*grid, "--total-steps", "1000")
    assert "(resumed)" in result.stdout and result.returncode == 0
    assert len(RunDir(runs / name).read_metrics()) == 2


def test_sweep_bad_lists_exit_2(tmp_path):
    for flag, value in (("--beta", "1,x"), ("--bh", "0,1"), ("--seeds", "a"), ("--delta", "-1")):
        result = run_cli("sweep", "--task", "GridHazard-v0", flag, value, "--runs-dir", tmp_path / "runs")
        assert result.returncode == 2 and flag in result.stderr and result.stderr.count("\n") == 1
        assert not (tmp_path / "runs").exists()
