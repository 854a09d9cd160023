"""Results and settings from the command line (issue 14): `ctrpo ls` / `ctrpo show` (text and --json),
sweeps that count "k of N" with an ETA and end with the ls table, every setting through --set and
--config (round trip into config.json, errors naming the key), settings an algorithm does not read refused,
checkpoint copies every K epochs, and TensorBoard scalars of every metrics column."""

from __future__ import annotations

import json
import math
import sys

import pandas as pd
import pytest
from conftest import ROOT, run_cli

from ctrpo_core.config import overrides
from ctrpo_core.runs import METRIC_COLUMNS, RunDir
from ctrpo_core.sweeps.execute import SweepProgress, format_duration

SMALL = ["--steps-per-epoch", "500", "--num-envs", "4"]
LS_KEYS = {
    "name",
    "path",
    "task",
    "algo",
    "beta",
    "bh",
    "delta",
    "seed",
    "state",
    "message",
    "epoch",
    "epochs",
    "final_return",
    "final_cost",
    "reg_plus",
    "label",
    "finished",
    "values",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two finished GridHazard runs (c-trpo, trpo) made through --config / --set, with checkpoint copies
    and TensorBoard output."""
    root = tmp_path_factory.mktemp("results")
    runs = root / "runs"
    config = root / "exp.toml"
    config.write_text('task = "GridHazard-v0"\nalgo = "c-trpo"\ngamma = 0.98\nhidden = [32, 32]\nname = "ct"\n')
    first = run_cli(
        "train",
        "--config",
        config,
        "--set",
        "lam=0.9",
        "--set",
        "critic_passes=3",
        "--total-steps",
        "2000",
        *SMALL,
        "--checkpoint-every",
        "2",
        "--tensorboard",
        "--runs-dir",
        runs,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    second = run_cli(
        "train",
        "--task",
        "GridHazard-v0",
        "--algo",
        "trpo",
        "--total-steps",
        "1500",
        *SMALL,
        "--name",
        "plain",
        "--runs-dir",
        runs,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    return runs


def test_set_and_config_reach_config_json(trained):
    config = RunDir(trained / "ct").read_config()
    assert config["gamma"] == 0.98 and config["hidden"] == [32, 32] and config["lam"] == 0.9
    assert config["critic_passes"] == 3 and config["task"] == "GridHazard-v0" and config["algo"] == "c-trpo"
    assert config["total_steps"] == 2000 and config["checkpoint_every"] == 2 and config["tensorboard"] is True


def test_ls_lists_every_run_with_its_numbers(trained):
    result = run_cli("ls", "--runs-dir", trained, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["ct", "plain"] and all(set(r) == LS_KEYS for r in rows)
    ct, plain = rows
    assert ct["beta"] == 1.0 and ct["bh"] == 0.8 and ct["state"] == "finished" and (ct["epoch"], ct["epochs"]) == (4, 4)
    assert plain["beta"] is None and plain["bh"] is None  # trpo reads neither: not applicable
    metrics = RunDir(trained / "ct").read_metrics()
    assert ct["reg_plus"] == pytest.approx(metrics.cost_regret.iloc[-1])
    assert ct["final_return"] == pytest.approx(metrics.ep_return.iloc[-1])  # 10% of 4 epochs: the last one
    only = json.loads(run_cli("ls", "--runs-dir", trained, "--algo", "trpo", "--json").stdout)
    assert [r["name"] for r in only] == ["plain"]
    text = run_cli("ls", "--runs-dir", trained).stdout.splitlines()
    assert text[0].split()[:4] == ["name", "task", "algo", "β"] and len(text) == 3
    assert text[2].split()[3:5] == ["-", "-"]  # trpo's β and b_H
    bad = run_cli("ls", "--runs-dir", trained, "--algo", "nope")
    assert bad.returncode == 2 and "--algo" in bad.stderr and bad.stderr.count("\n") == 1


def test_show_prints_settings_status_metrics_and_plots(trained):
    result = run_cli("show", "ct", "--runs-dir", trained)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "gamma = 0.98" in out and "status: finished" in out and "return (epochs 1-4)" in out
    assert "cost (epochs 1-4)" in out and "b=1 |" in out.replace("b=1.0", "b=1")
    assert "lagrange_lr" not in out  # a setting c-trpo does not read is not shown
    info = json.loads(run_cli("show", str(trained / "ct"), "--json").stdout)  # a path works too
    assert set(info) == {"name", "path", "state", "config", "status", "last_metrics", "final", "final_is", "curves"}
    assert info["last_metrics"]["epoch"] == 4 and len(info["curves"]["ep_cost"]) == 4
    missing = run_cli("show", "nope", "--runs-dir", trained)
    assert missing.returncode == 2 and "RUN" in missing.stderr and missing.stderr.count("\n") == 1


def test_checkpoint_copies_every_k_epochs(trained):
    run = RunDir(trained / "ct")
    assert sorted(run.checkpoint_copies()) == [2, 4]
    assert run.load_checkpoint(epoch=2)["epoch"] == 2 and run.load_checkpoint()["epoch"] == 4
    assert not RunDir(trained / "plain").checkpoint_copies()


def test_tensorboard_holds_every_numeric_metrics_column(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained / "ct" / "tensorboard")).Reload()
    tags = set(events.Tags()["scalars"])
    metrics = RunDir(trained / "ct").read_metrics()
    numeric = [
        c
        for c in METRIC_COLUMNS
        if c not in ("epoch", "total_steps") and pd.to_numeric(metrics[c], errors="coerce").notna().any()
    ]
    assert {f"metrics/{c}" for c in numeric} <= tags and len(numeric) > 15
    cost = events.Scalars("metrics/ep_cost")
    assert [e.step for e in cost] == metrics.total_steps.tolist()
    assert [e.value for e in cost] == pytest.approx(metrics.ep_cost.tolist(), rel=1e-6)


def test_tensorboard_without_the_package_exits_2_and_writes_nothing(tmp_path):
    code = (
        "import sys; sys.modules['tensorboard'] = None; from ctrpo_core.cli import main; "
        f"sys.exit(main(['train', '--task', 'GridHazard-v0', '--algo', 'trpo', '--tensorboard', '--runs-dir', "
        f"{str(tmp_path / 'runs')!r}]))"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and "--tensorboard" in result.stderr and "pip install" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args,param",
    [
        (["--set", "gama=0.9"], "gama"),
        (["--set", "gamma=2"], "gamma"),
        (["--set", "gamma=x"], "gamma"),
        (["--set", "hidden=64,x"], "hidden"),
        (["--set", "cg_iters=1.5"], "cg_iters"),
        (["--set", "nokey"], "--set"),
        (["--set", "normalize_obs=maybe"], "normalize_obs"),
        (["--set", "beta=2", "--beta", "3"], "--beta"),
        (["--set", "lagrange_lr=0.1"], "lagrange_lr"),  # c-trpo has no multiplier
        (["--config", "missing.toml"], "--config"),
    ],
)
def test_bad_settings_exit_2_naming_the_key(tmp_path, args, param):
    result = run_cli(
        "train",
        "--task",
        "GridHazard-v0",
        "--algo",
        "c-trpo",
        *args,
        "--runs-dir",
        tmp_path / "runs",
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.startswith(f"ctrpo: error: {param}:"), result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "runs").exists()


def test_a_bad_toml_file_names_the_file(tmp_path):
    (tmp_path / "bad.toml").write_text("gamma = = 1\n")
    result = run_cli("train", "--config", tmp_path / "bad.toml", "--runs-dir", tmp_path / "runs", timeout=120)
    assert result.returncode == 2 and "--config" in result.stderr and "bad.toml" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--algo", "trpo", "--beta", "5"],
        ["--algo", "trpo-lag", "--set", "bh=0.5"],
        ["--algo", "cpo", "--barrier", "log"],
    ],
)
def test_a_setting_the_algorithm_does_not_read_is_refused(tmp_path, args):
    result = run_cli("train", "--task", "GridHazard-v0", *args, "--runs-dir", tmp_path / "runs", timeout=120)
    assert result.returncode == 2 and "does not use it" in result.stderr and not (tmp_path / "runs").exists()
    sweep = run_cli(
        "sweep",
        "--task",
        "GridHazard-v0",
        "--algo",
        "trpo",
        "--beta",
        "0.1,1",
        "--runs-dir",
        tmp_path / "runs",
        timeout=120,
    )
    assert sweep.returncode == 2 and "--beta" in sweep.stderr and not (tmp_path / "runs").exists()


def test_every_setting_parses_from_text_and_round_trips():
    from ctrpo_core.config import TrainConfig, resolve

    cfg = resolve("PointHazard-v0", "ppo-lag")
    for key in overrides.SETTABLE:
        value = getattr(cfg, key)
        if value is None or key in ("task", "algo"):
            continue
        assert overrides.parse_value(key, overrides.as_text(value)) == value, key
    # every field of a run's config is a declared setting (settable, or the code's own conventions)
    assert set(overrides.SETTABLE) | {"conventions", "task", "algo", "extra"} == set(TrainConfig.__dataclass_fields__)


def test_a_sweep_counts_k_of_n_with_an_eta_and_ends_with_its_table(tmp_path):
    runs = tmp_path / "runs"
    result = run_cli(
        "sweep",
        "--task",
        "GridHazard-v0",
        "--beta",
        "0.1,1",
        "--seeds",
        "0",
        "--total-steps",
        "1000",
        *SMALL,
        "--set",
        "critic_passes=2",
        "--name",
        "k",
        "--parallel",
        "1",
        "--runs-dir",
        runs,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    ended = [line for line in lines if line.startswith("finished ")]
    assert "[1 of 2, ETA " in ended[0] and ended[1].endswith("[2 of 2]")
    header = next(i for i, line in enumerate(lines) if line.startswith("name "))
    assert len(lines[header + 1 :]) == 2 and all(line.split()[7] == "finished" for line in lines[header + 1 :])
    assert all(RunDir(p).read_config()["critic_passes"] == 2 for p in runs.iterdir() if not p.name.startswith("."))


def test_sweep_progress_eta_is_the_mean_run_time_times_what_is_left():
    now = [0.0]
    lines = []
    progress = SweepProgress(lines.append, ["a", "b", "c", "d"], clock=lambda: now[0])
    progress("started a (new)")
    now[0] = 30.0
    progress("finished a")
    now[0] = 60.0
    progress("failed (NaN) b")
    assert lines[1].endswith("[1 of 4, ETA 1:30]") and lines[2].endswith("[2 of 4, ETA 1:00]")
    assert lines[0] == "started a (new)" and not math.isnan(len(lines))
    # a plan of 6 runs, 2 of them finished before this launch: the plan's count too (a failed run is not finished)
    lines.clear()
    progress.start(["c", "d"], planned=6, before=2)
    now[0] = 90.0
    progress("finished c")
    progress("failed (NaN) d")
    assert lines == [
        "finished c  [1 of 2, ETA 0:30; 3 of 6 planned finished]",
        "failed (NaN) d  [2 of 2; 3 of 6 planned finished]",
    ]


def test_sweep_progress_eta_is_the_time_the_pending_runs_take_at_the_measured_speed(tmp_path):
    """Where a backend measures (this machine): the ETA is the wall time of the pending runs' steps left at the
    speed of the runs finished in the folder, not the mean time of the runs that ended (a resumed half run
    ends quickly, a first-order run takes several times a trust-region one)."""
    from ctrpo_core.sweeps import cost
    from ctrpo_core.sweeps.backends import LocalBackend
    from ctrpo_core.sweeps.execute import speed_eta
    from ctrpo_core.sweeps.plan import parse_grid, plan_sweep

    runs = tmp_path / "runs"
    grid = parse_grid("1", "0.8", "", "0, 1, 2")
    plan = plan_sweep(
        "GridHazard-v0", "c-trpo", **grid, runs_dir=runs, name="eta", total_steps=1000, steps_per_epoch=500
    )
    remaining = speed_eta(plan, LocalBackend(parallel=2))
    names = {cfg.name for cfg in plan.configs}
    assert remaining(names) == pytest.approx(cost.estimate(plan.configs, parallel=2).wall_s)
    lines, now = [], [0.0]
    progress = SweepProgress(lines.append, sorted(names), clock=lambda: now[0], remaining=remaining)
    first = sorted(names)[0]
    now[0] = 1000.0  # a mean of 1000 s a run would say 33:20
    progress(f"finished {first}")
    left = cost.estimate([c for c in plan.configs if c.name != first], parallel=2).wall_s  # no run of it exists yet
    assert lines[0] == f"finished {first}  [1 of 3, ETA {format_duration(left)}]"
    assert speed_eta(plan, object()) is None  # a Ray cluster's CPUs are not this machine's: the mean time then


def test_a_file_given_as_the_runs_folder_is_refused_by_name(tmp_path):
    afile = tmp_path / "runs"
    afile.write_text("not a folder")
    for command in (["ls"], ["ls", "--json"], ["show", "x"], ["sweep", "--task", "GridHazard-v0"]):
        result = run_cli(*command, "--runs-dir", afile)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, (command, result.stderr)
        assert "--runs-dir" in result.stderr and "not a" in result.stderr, (command, result.stderr)  # folder/directory
    assert afile.read_text() == "not a folder"
    empty = run_cli("ls", "--runs-dir", tmp_path / "none")  # a folder that does not exist yet holds no runs
    assert empty.returncode == 0 and "no runs" in empty.stderr
