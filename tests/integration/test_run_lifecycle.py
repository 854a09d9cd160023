"""One run lifecycle (issue 10): one owner per run, restart and resume from any interruption, the
checkpoint as the truth, stop requests that never signal anything, limits and one-line errors."""

import math
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from conftest import ROOT, run_cli

from ctrpo_core import api
from ctrpo_core.config import resolve
from ctrpo_core.engine.divergence import constrained_divergence, phi
from ctrpo_core.results import catalog
from ctrpo_core.runs import RunDir, lifecycle
from ctrpo_core.runs.ownership import is_owned

SMALL = dict(steps_per_epoch=500, num_envs=4)
TIMING = ["time_s", "steps_per_s"]


def start_training(runs_dir, name, total_steps=40_000, task="PointHazard-v0"):
    args = [
        "train",
        "--task",
        task,
        "--algo",
        "c-trpo",
        "--total-steps",
        str(total_steps),
        "--steps-per-epoch",
        "1000",
        "--num-envs",
        "8",
        "--runs-dir",
        str(runs_dir),
        "--name",
        name,
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "ctrpo_core.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError


def rows(path):
    try:
        return len(RunDir(path).read_metrics())
    except Exception:
        return 0


# ---------------------------------------------------------------------------------------------- one owner
def test_a_second_owner_of_a_running_run_exits_2_and_nothing_is_trained_twice(runs_dir):
    """Issue 10.4: `ctrpo train --resume RUN` while RUN trains: exit 2, one line, no duplicate epochs."""
    proc = start_training(runs_dir, "busy", total_steps=400_000)
    path = runs_dir / "busy"
    wait_for(lambda: rows(path) >= 2)
    assert lifecycle.state(path) == "running" and is_owned(path)
    second = run_cli("train", "--resume", path)
    assert second.returncode == 2, second.stderr
    assert second.stderr.count("\n") == 1 and "already being trained by pid" in second.stderr
    assert catalog.stop_run(path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err  # stopped: interrupted
    epochs = RunDir(path).read_metrics().epoch.tolist()
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) < 400
    assert lifecycle.state(path) == "stopped" and not is_owned(path)


def test_ownership_dies_with_the_process(runs_dir):
    proc = start_training(runs_dir, "killed")
    path = runs_dir / "killed"
    wait_for(lambda: rows(path) >= 1)
    proc.kill()
    proc.wait()
    assert not is_owned(path)
    assert RunDir(path).read_status()["state"] == "running" and lifecycle.state(path) == "stopped"


# ---------------------------------------------------------------------------------------------- restart and resume
def test_a_run_killed_right_after_config_json_restarts_from_scratch(runs_dir):
    """Issue 10.5: a run directory with config.json but no checkpoint trains from the start on resume."""
    cfg = resolve("GridHazard-v0", "c-trpo", total_steps=1000, runs_dir=str(runs_dir), name="early", seed=3, **SMALL)
    run = lifecycle.create(cfg)
    assert RunDir(run.path).read_status()["state"] == "queued" and not run.has_checkpoint()
    result = run_cli("train", "--resume", run.path)
    assert result.returncode == 0, result.stderr
    reference = api.train(
        "GridHazard-v0", "c-trpo", total_steps=1000, runs_dir=str(runs_dir), name="ref", seed=3, **SMALL
    ).read_metrics()
    pd.testing.assert_frame_equal(RunDir(run.path).read_metrics().drop(columns=TIMING), reference.drop(columns=TIMING))
    again = run_cli("train", "--task", "GridHazard-v0", "--algo", "c-trpo", "--runs-dir", runs_dir, "--name", "early")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_resume_refuses_fewer_total_steps_than_trained(runs_dir):
    """Issue 10.6: --resume --total-steps below the steps trained: exit 2, config.json unchanged."""
    run = api.train("GridHazard-v0", "c-trpo", total_steps=2000, runs_dir=str(runs_dir), name="short", **SMALL)
    before = (run.path / "config.json").read_text()
    result = run_cli("train", "--resume", run.path, "--total-steps", "1000")
    assert result.returncode == 2 and "--total-steps" in result.stderr and "2000 steps" in result.stderr
    assert result.stderr.count("\n") == 1
    assert (run.path / "config.json").read_text() == before
    longer = run_cli("train", "--resume", run.path, "--total-steps", "3000")
    assert longer.returncode == 0
    assert RunDir(run.path).read_metrics().epoch.tolist() == [1, 2, 3, 4, 5, 6]
    assert RunDir(run.path).read_config()["epochs"] == 6


def test_a_metrics_file_cut_mid_line_is_rewritten_from_the_checkpoint(runs_dir):
    """Issue 10.7: the checkpoint is the truth: no epoch is ever skipped; kill leftovers are removed."""
    full = api.train(
        "GridHazard-v0", "c-trpo", total_steps=3000, runs_dir=str(runs_dir), name="full", seed=2, **SMALL
    ).read_metrics()
    run = api.train("GridHazard-v0", "c-trpo", total_steps=2000, runs_dir=str(runs_dir), name="cut", seed=2, **SMALL)
    text = (run.path / "metrics.csv").read_text()
    (run.path / "metrics.csv").write_text(text[: text.rindex("\n", 0, len(text) - 1) + 20])  # row 4 cut mid-line
    (run.path / ".checkpoint.pt.tmp12345").write_bytes(b"half a checkpoint")
    RunDir(run.path).write_status("stopped", "by hand")
    api.resume(run.path, total_steps=3000)
    resumed = RunDir(run.path).read_metrics()
    assert resumed.epoch.tolist() == [1, 2, 3, 4, 5, 6]
    pd.testing.assert_frame_equal(resumed.drop(columns=TIMING), full.drop(columns=TIMING))
    assert not list(run.path.glob(".*.tmp*"))


# ---------------------------------------------------------------------------------------------- stop
def test_stop_never_signals_a_process_that_is_not_the_runs_owner(runs_dir, monkeypatch):
    """Issue 10.8: status.json naming an unrelated live process, or pid 0 / −1: nothing is signalled."""
    run = api.train("GridHazard-v0", "c-trpo", total_steps=500, runs_dir=str(runs_dir), name="done", **SMALL)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for pid in (sleeper.pid, 0, -1, 1, os.getpid()):
            RunDir(run.path).write_status("running", pid=pid)
            sent = []
            monkeypatch.setattr(os, "kill", lambda *a: sent.append(a))
            monkeypatch.setattr(os, "killpg", lambda *a: sent.append(a))
            assert catalog.stop_run(run.path) is False
            monkeypatch.undo()
            assert sent == []
            assert catalog.summarize_run(run.path)["state"] == "stopped"
        assert sleeper.poll() is None  # the unrelated process lives
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stop_asks_the_live_owner_and_the_run_checkpoints(runs_dir):
    proc = start_training(runs_dir, "tostop")
    path = runs_dir / "tostop"
    wait_for(lambda: rows(path) >= 2)
    assert catalog.stop_run(path) is True
    proc.communicate(timeout=120)
    assert proc.returncode == 130  # stopped: interrupted
    status = RunDir(path).read_status()
    assert status["state"] == "stopped" and "request" in status["message"]
    assert torch.load(path / "checkpoint.pt", weights_only=True)["epoch"] == rows(path)
    assert lifecycle.state(path) == "stopped"
    result = run_cli("train", "--resume", path, "--total-steps", str(1000 * (rows(path) + 1)))
    assert result.returncode == 0 and rows(path) == RunDir(path).read_config()["epochs"]


def test_a_new_owner_clears_only_stop_requests_older_than_itself(runs_dir):
    """A request left by an earlier owner is cleared; one made as the lock is taken (a stopper polling
    lifecycle.stop until the run is owned) is this owner's, and is kept: clearing it lost the stop."""
    from ctrpo_core.runs import STOP_REQUEST

    cfg = resolve("GridHazard-v0", "c-trpo", runs_dir=str(runs_dir), name="owned", total_steps=4000)
    lifecycle.create(cfg)
    request = runs_dir / "owned" / STOP_REQUEST
    for offset, kept in ((-5.0, False), (+0.5, True)):  # +0.5: touched while the lock was being taken
        request.touch()
        os.utime(request, (time.time() + offset,) * 2)
        ownership = lifecycle.own(RunDir(runs_dir / "owned"))
        try:
            assert request.exists() is kept
        finally:
            ownership.release()


# ---------------------------------------------------------------------------------------------- limits and errors
BAD = [
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--seed", str(2**32)], "--seed"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--name", "n" * 300], "--name"),
    (
        [
            "--task",
            "GridHazard-v0",
            "--algo",
            "c-trpo",
            "--num-envs",
            "16",
            "--steps-per-epoch",
            "100000000",
            "--total-steps",
            "100000000",
        ],
        "--steps-per-epoch",
    ),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--num-envs", "100000000"], "--num-envs"),  # 1-1024 (issue 19)
    (
        [
            "--task",
            "SafetyHopperVelocity-v1",
            "--algo",
            "c-trpo",
            "--num-envs",
            "100000",
            "--steps-per-epoch",
            "100000",
        ],
        "--num-envs",
    ),
]


@pytest.mark.parametrize("args,param", BAD)
def test_sizes_and_names_beyond_what_can_run_exit_2(args, param, tmp_path):
    """Issues 10.10 and 10.11: refused before anything is written or allocated."""
    runs = tmp_path / "runs"
    result = run_cli("train", *args, "--runs-dir", runs, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and param in result.stderr and "Traceback" not in result.stderr
    assert not runs.exists()


def test_network_sizes_beyond_memory_are_refused():
    from ctrpo_core.config import ConfigError

    with pytest.raises(ConfigError) as exc:
        resolve("GridHazard-v0", "c-trpo", hidden=(200_000, 200_000))
    assert exc.value.param == "hidden" and "GiB" in str(exc.value)


def test_runs_dir_that_is_a_file_exits_2_for_train_and_report(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    train = run_cli("train", "--task", "GridHazard-v0", "--algo", "c-trpo", "--runs-dir", blocker)
    assert train.returncode == 2 and "--runs-dir" in train.stderr and train.stderr.count("\n") == 1
    report = run_cli("report", "cnpg_geometry", "--runs-dir", blocker)
    assert report.returncode == 2 and "--runs-dir" in report.stderr and report.stderr.count("\n") == 1
    assert blocker.read_text() == "x"


def test_cnpg_out_under_a_file_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("cnpg", "--out", blocker / "figures", "--starts", "1")
    assert result.returncode == 2 and "--out" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("damage", ["empty checkpoint", "garbage checkpoint", "garbage config", "list config"])
def test_resume_of_a_damaged_run_exits_2_and_changes_nothing(runs_dir, damage):
    run = api.train("GridHazard-v0", "c-trpo", total_steps=500, runs_dir=str(runs_dir), name="d", **SMALL)
    RunDir(run.path).write_status("stopped", "by hand")
    target = {
        "empty checkpoint": ("checkpoint.pt", b""),
        "garbage checkpoint": ("checkpoint.pt", b"\x00garbage"),
        "garbage config": ("config.json", b"{not json"),
        "list config": ("config.json", b"[]"),
    }[damage]
    (run.path / target[0]).write_bytes(target[1])
    before = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file() and p.name != ".lock"}
    result = run_cli("train", "--resume", run.path)
    assert result.returncode == 2 and "--resume" in result.stderr and result.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file() and p.name != ".lock"} == before


@pytest.mark.parametrize(
    "params,key",
    [
        (["-p", "task", "Nope-v0"], "-p task"),
        (["-p", "betas", "[NaN]"], "-p betas"),
        (["-p", "betas", "[]"], "-p betas"),
        (["-p", "seeds", "[]"], "-p seeds"),
        (["-p", "bhs", "[0]"], "-p bhs"),
    ],
)
def test_report_parameters_are_checked_before_anything_starts(tmp_path, params, key):
    result = run_cli("report", "barrier_sensitivity", *params, "--runs-dir", tmp_path / "runs", timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and key in result.stderr
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("form", ["entropy", "log"])
@pytest.mark.parametrize("budget", [1e-9, 1e-4, 1.0, 25.0])
def test_the_barrier_is_never_negative_at_extreme_beta_and_tiny_budgets(form, budget):
    """Issue 10.12: φ >= 0 for every α, so D_C = KL + β·φ >= 0 for every β the CLI accepts."""
    u = torch.cat([-torch.logspace(-12, 3, 200), torch.logspace(-12, 0, 200) * 0.999999, torch.tensor([0.0])])
    for dtype in (torch.float32, torch.float64):
        alpha = (u * budget).to(dtype)
        values = phi(alpha, budget, form)
        assert (values >= 0).all() and torch.isfinite(values).all()
        for beta in (1e6, 1e12, 1e300):
            d = constrained_divergence(torch.zeros(()), alpha, beta, budget, form)
            assert (d >= 0).all()
    # and against the closed form where it is well conditioned
    a = torch.tensor(0.3 * budget, dtype=torch.float64)
    exact = 0.3 * budget + 0.7 * budget * math.log(0.7) if form == "entropy" else -math.log(0.7) - 0.3
    assert phi(a, budget, form).item() == pytest.approx(exact, rel=1e-12)


def test_recorded_divergence_stays_non_negative_at_huge_beta(runs_dir):
    for beta in (1e6, 1e12):
        metrics = api.train(
            "PointHazard-v0",
            "c-trpo",
            beta=beta,
            total_steps=8000,
            steps_per_epoch=2000,
            num_envs=8,
            runs_dir=str(runs_dir),
            name=f"b{beta:g}",
        ).read_metrics()
        assert (metrics.divergence.dropna() >= 0).all() and (metrics.barrier.dropna() >= 0).all()
