"""ctrpo train and the run directory: every algorithm, resume, signals, kill -9, NaN, bad input."""

import math
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ROOT, run_cli

from ctrpo_core import api
from ctrpo_core.config import ALGORITHM_IDS, resolve
from ctrpo_core.config.algorithms import ALGORITHMS
from ctrpo_core.runs import RunDir
from ctrpo_core.runs.lifecycle import create
from ctrpo_core.runs.store import metric_columns
from ctrpo_core.runs.trainer import Trainer

CONTRACT_COLUMNS = [
    "epoch",
    "total_steps",
    "ep_return",
    "ep_cost",
    "ep_len",
    "cost_regret",
    "kl",
    "divergence",
    "barrier",
    "trust_radius",
    "step_fraction",
    "recovery",
    "budget",
    "time_s",
    "steps_per_s",
]
TIMING = ["time_s", "steps_per_s"]
SMALL = dict(steps_per_epoch=512, num_envs=4)


def assert_valid_run(path, epochs, state="finished"):
    run = RunDir(path)
    config = run.read_config()
    for key in (
        "task",
        "algo",
        "beta",
        "bh",
        "delta",
        "cost_limit",
        "total_steps",
        "steps_per_epoch",
        "num_envs",
        "seed",
    ):
        assert key in config
    for dist in ("ctrpo_core", "python", "torch", "numpy", "mujoco", "safety-gymnasium"):
        assert config["versions"][dist]
    metrics = run.read_metrics()
    assert list(metrics.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert list(metrics.epoch) == list(range(1, epochs + 1))
    assert (metrics.trust_radius == config["delta"]).all()
    regret = np.cumsum(np.maximum(0.0, metrics.ep_cost.fillna(config["cost_limit"]) - config["cost_limit"]))
    np.testing.assert_allclose(metrics.cost_regret.fillna(0.0), regret, rtol=1e-9, atol=1e-9)
    status = run.read_status()
    assert status["state"] == state and {"pid", "message", "updated"} <= set(status)
    ckpt = torch.load(path / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == epochs
    return metrics


@pytest.mark.parametrize("task", ["GridHazard-v0", "PointHazard-v0"])
@pytest.mark.parametrize("algo", ALGORITHM_IDS)
def test_every_algorithm_writes_a_valid_run(task, algo, runs_dir):
    run = api.train(task, algo, total_steps=1024, runs_dir=str(runs_dir), name=f"{algo}", **SMALL)
    metrics = assert_valid_run(run.path, epochs=2)
    assert metrics.kl.notna().all() and (metrics.kl >= 0).all()
    if algo == "c-trpo":
        normal = metrics.recovery == 0
        assert (metrics.barrier[normal].notna()).all()
    else:
        assert metrics.barrier.isna().all()
    # a line search's fraction exactly where the algorithm's family takes one
    line_search = ALGORITHMS[algo].family == "trust region"
    assert metrics.step_fraction.notna().all() if line_search else metrics.step_fraction.isna().all()
    assert list(metrics.columns) == metric_columns(algo)  # every run's columns, then its algorithm's own


def uninterrupted(runs_dir, name, **extra):
    cfg = dict(total_steps=4096, runs_dir=str(runs_dir), name=name, seed=3, **SMALL, **extra)
    return api.train("GridHazard-v0", "c-trpo", **cfg).read_metrics()


def test_resume_reproduces_an_uninterrupted_run_exactly(runs_dir):
    full = uninterrupted(runs_dir, "full")
    api.train("GridHazard-v0", "c-trpo", total_steps=2048, runs_dir=str(runs_dir), name="split", seed=3, **SMALL)
    resumed = api.resume(runs_dir / "split", total_steps=4096).read_metrics()
    assert len(resumed) == len(full) == 8
    pd.testing.assert_frame_equal(resumed.drop(columns=TIMING), full.drop(columns=TIMING))


def wait_for_rows(path, rows, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (path / "metrics.csv").exists() and len(RunDir(path).read_metrics()) >= rows:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{path} did not reach {rows} rows")


def start_train(runs_dir, name, total_steps):
    args = [
        "--task",
        "PointHazard-v0",
        "--algo",
        "c-trpo",
        "--seed",
        "5",
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
        [sys.executable, "-m", "ctrpo_core.cli", "train", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_interrupted_cli_run_resumes_to_the_same_metrics(runs_dir, how):
    total = 12_000
    reference = api.train(
        "PointHazard-v0",
        "c-trpo",
        seed=5,
        total_steps=total,
        steps_per_epoch=1000,
        num_envs=8,
        runs_dir=str(runs_dir),
        name="reference",
    ).read_metrics()
    proc = start_train(runs_dir, "interrupted", total)
    path = runs_dir / "interrupted"
    wait_for_rows(path, 3)
    proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    partial = RunDir(path).read_metrics()  # readable after any interruption
    assert 3 <= len(partial) < 12
    ckpt_epoch = torch.load(path / "checkpoint.pt", weights_only=True)["epoch"]
    assert ckpt_epoch >= len(partial) - 1
    if how == "sigterm":
        assert proc.returncode == 130  # interrupted: `ctrpo train ... && next` does not go on
        status = RunDir(path).read_status()
        assert status["state"] == "stopped" and "SIGTERM" in status["message"]
        assert ckpt_epoch == len(partial)
    else:
        assert proc.returncode == -signal.SIGKILL
        assert api.read_run(path).state == "stopped"  # 'running' with a dead pid
    result = run_cli("train", "--resume", path)
    assert result.returncode == 0, result.stderr
    resumed = assert_valid_run(path, epochs=12)
    pd.testing.assert_frame_equal(resumed.drop(columns=TIMING), reference.drop(columns=TIMING))


def test_nan_in_the_update_fails_the_run_and_keeps_the_last_good_checkpoint(runs_dir):
    cfg = resolve("PointHazard-v0", "c-trpo", total_steps=2048, runs_dir=str(runs_dir), name="nan", **SMALL)
    run = create(cfg)
    trainer = Trainer(run)

    def poison(row):  # a NaN weight, as a diverging update would leave behind
        if row["epoch"] == 1:
            with torch.no_grad():
                next(trainer.algo.policy.parameters()).view(-1)[0] = math.nan

    assert trainer.execute(poison) == "failed"
    status = run.read_status()
    assert status["state"] == "failed" and "non-finite" in status["message"] and "epoch 2" in status["message"]
    ckpt = run.load_checkpoint()
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(p).all() for p in ckpt["algo"]["policy"].values())
    assert len(run.read_metrics()) == 1


BAD_INPUT = [
    (["--task", "Nope-v0", "--algo", "c-trpo"], "unknown task"),
    (["--task", "GridHazard-v0", "--algo", "sac"], "--algo"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--beta", "-1"], "--beta"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--beta", "nan"], "--beta"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--bh", "0"], "--bh"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--bh", "1.5"], "--bh"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--delta", "0"], "--delta"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--cost-limit", "0"], "--cost-limit"),
    # beyond what a run folder's reader accepts (1e12): refused at creation, never a folder listed 'damaged'
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--beta", "1e30"], "--beta"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--set", "delta=1e13"], "--delta"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--cost-limit", "1e13"], "--cost-limit"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--total-steps", "0"], "--total-steps"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--steps-per-epoch", "-5"], "--steps-per-epoch"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--num-envs", "0"], "--num-envs"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--total-steps", "x"], "--total-steps"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--name", "../escape"], "--name"),
    (["--task", "GridHazard-v0", "--algo", "c-trpo", "--name", "a/b"], "--name"),
    (["--resume", "/nonexistent/run"], "--resume"),
]


@pytest.mark.parametrize("args,param", BAD_INPUT)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(args, param, tmp_path, capsys):
    from ctrpo_core.cli import main

    runs = tmp_path / "runs"
    code = main(["train", *args, "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and param in err
    assert not runs.exists() and not (tmp_path / "escape").exists()


def test_bad_input_through_the_real_command(tmp_path):
    result = run_cli(
        "train", "--task", "GridHazard-v0", "--algo", "c-trpo", "--bh", "2", "--runs-dir", tmp_path / "runs"
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--bh" in result.stderr and "(0, 1]" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_existing_name_is_refused(runs_dir, capsys):
    from ctrpo_core.cli import main

    api.train("GridHazard-v0", "trpo", total_steps=512, runs_dir=str(runs_dir), name="taken", **SMALL)
    before = (runs_dir / "taken" / "metrics.csv").read_text()
    assert (
        main(["train", "--task", "GridHazard-v0", "--algo", "trpo", "--runs-dir", str(runs_dir), "--name", "taken"])
        == 2
    )
    assert "already exists" in capsys.readouterr().err
    assert (runs_dir / "taken" / "metrics.csv").read_text() == before


def test_safety_gymnasium_smoke_run(runs_dir):
    result = run_cli(
        "train",
        "--task",
        "SafetyPointGoal1-v0",
        "--algo",
        "c-trpo",
        "--total-steps",
        "400",
        "--steps-per-epoch",
        "400",
        "--num-envs",
        "2",
        "--runs-dir",
        runs_dir,
        "--name",
        "sg",
    )
    assert result.returncode == 0, result.stderr
    metrics = assert_valid_run(runs_dir / "sg", epochs=1)
    assert metrics.total_steps.iloc[0] == 400
    assert RunDir(runs_dir / "sg").read_config()["cost_limit"] == 25.0


def test_background_launch_and_read_run(runs_dir):
    run = api.launch("GridHazard-v0", "c-trpo", total_steps=2048, runs_dir=str(runs_dir), name="bg", **SMALL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (run.path / "status.json").exists() and api.read_run(run.path).status["state"] == "finished":
            break
        time.sleep(0.2)
    info = api.read_run(run.path)
    assert info.state == "finished", info.status
    assert len(info.metrics) == 4
    assert api.list_runs(runs_dir) == [run.path]
