"""Sweeps a user controls: a whole sweep stopped and resumed from the CLI and from the Sensitivity page (real
drivers, real runs, no process left defunct), cost estimates that follow the speed of the runs finished
in the folder, the Claims page's progress, and form values that outlive a visit to another page."""

import json
import os
import statistics
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT, run_cli
from streamlit.testing.v1 import AppTest

from ctrpo_core import reports
from ctrpo_core.config import resolve
from ctrpo_core.results.catalog import active_runs
from ctrpo_core.runs import RunDir, lifecycle
from ctrpo_core.runs.ownership import Ownership
from ctrpo_core.sweeps import cost
from ctrpo_core.sweeps.manifest import own_sweep, sweep_running, sweep_status, write_manifest
from ctrpo_core.sweeps.plan import parse_grid, plan_sweep
from ctrpo_core.tools import claims

MAIN = str(ROOT / "app" / "main.py")


def wait_until(predicate, what: str, timeout: float = 180.0):
    """Poll ``predicate`` until it is true (the timeout only keeps a broken build from hanging the suite)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)
    return value


def process_state(pid: int) -> str:
    """ps's STAT of ``pid`` ('' when no such process exists, i.e. it ended and was reaped)."""
    return subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()


def defunct_children(pid: int) -> list[str]:
    listing = subprocess.run(["ps", "-o", "pid=,stat=,args=", "--ppid", str(pid)], capture_output=True, text=True)
    return [line for line in listing.stdout.splitlines() if line.split()[1].startswith("Z")]


def epochs(path) -> list[int]:
    return RunDir(path).read_metrics().epoch.tolist()


def training(runs, count: int) -> bool:
    """``count`` runs of the folder are owned and have trained an epoch (so a stop reaches them mid-run)."""
    paths = [p for p in runs.iterdir() if not p.name.startswith(".") and lifecycle.state(p) == "running"]
    return len(paths) >= count and all(RunDir(p).read_status().get("epoch", 0) >= 1 for p in paths)


# ---------------------------------------------------------------------------------------------- the CLI
def test_cli_stops_a_whole_sweep_and_resumes_it(tmp_path):
    runs = tmp_path / "runs"
    grid = [
        "--task",
        "HazardEdge-v0",
        "--beta",
        "0,1,10",
        "--bh",
        "0.8",
        "--seeds",
        "0",
        "--total-steps",
        "100000",
        "--steps-per-epoch",
        "500",
        "--parallel",
        "2",
        "--name",
        "s",
        "--runs-dir",
        str(runs),
    ]
    driver = subprocess.Popen(
        [sys.executable, "-m", "ctrpo_core.cli", "sweep", *grid],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: runs.is_dir() and training(runs, 2), "two runs training")
        stop = run_cli("sweep", "--stop", "s", "--runs-dir", runs)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert "waiting for them to checkpoint" in stop.stdout and "ctrpo sweep --resume s" in stop.stdout
        now = sweep_status(runs, "s")
        assert now["driver"] is None and now["runs"] == [] and len(now["unfinished"]) == 3
        assert defunct_children(driver.pid) == []  # the driver reaped every run process it started
        out, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 1 and "stop requested" in out and "2 stopped" in out, out
    names = json.loads((runs / ".sweeps" / "s.json").read_text())["runs"]
    states = {n: lifecycle.state(runs / n) for n in names}
    assert sorted(states.values()) == ["queued", "stopped", "stopped"], states  # the third never started
    for name, state in states.items():
        trained = len(epochs(runs / name))
        assert (0 < trained < 200) if state == "stopped" else trained == 0

    again = run_cli("sweep", "--stop", "s", "--runs-dir", runs)
    assert again.returncode == 0 and "not running" in again.stdout
    resumed = run_cli("sweep", "--resume", "s", "--runs-dir", runs)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert resumed.stdout.count("(resumed)") == 3 and "3 finished" in resumed.stdout
    for name in names:  # every epoch once: the stopped runs went on from their checkpoints
        assert lifecycle.state(runs / name) == "finished" and epochs(runs / name) == list(range(1, 201))


def test_cli_stop_and_resume_refuse_what_they_cannot_do(tmp_path):
    runs = tmp_path / "runs"
    missing = run_cli("sweep", "--stop", "nope", "--runs-dir", runs)
    assert missing.returncode == 2 and "--stop" in missing.stderr and missing.stderr.count("\n") == 1
    assert run_cli("sweep", "--resume", "nope", "--runs-dir", runs).returncode == 2
    mixed = run_cli("sweep", "--resume", "nope", "--beta", "1", "--runs-dir", runs)
    assert mixed.returncode == 2 and "--beta: not with --resume" in mixed.stderr
    old = runs / ".sweeps"
    old.mkdir(parents=True)
    (old / "old.json").write_text(json.dumps({"name": "old", "runs": [], "grid": []}))  # before plans were kept
    before = run_cli("sweep", "--resume", "old", "--runs-dir", runs)
    assert before.returncode == 2 and "run its `ctrpo sweep` command again" in before.stderr


def test_queued_runs_of_a_sweep_whose_driver_is_gone_are_not_active(tmp_path, monkeypatch):
    """A sweep (a benchmark too) creates its runs queued up front. While its driver runs they are about to
    train; once it is gone nothing will start them, so the Live page neither keeps refreshing for them nor
    lists them as training."""
    runs = tmp_path / "runs"
    plan = plan_sweep("GridHazard-v0", "c-trpo", **parse_grid("1", "0.8", "", "0, 1"), runs_dir=runs, name="up")
    for cfg in plan.configs:
        lifecycle.create(cfg)
    write_manifest(plan)
    names = sorted(cfg.name for cfg in plan.configs)
    assert [lifecycle.state(runs / n) for n in names] == ["queued", "queued"]
    assert active_runs(runs) == []  # no driver: nothing is about to happen to them
    with own_sweep(runs, "up"):  # a driver owns the sweep: its queued runs are next
        assert active_runs(runs) == names
        monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
        page = AppTest.from_file(MAIN, default_timeout=60).run().switch_page("views/live.py").run()
        assert not page.exception, [e.value for e in page.exception]
    page.run()  # the driver is gone
    assert not page.exception, [e.value for e in page.exception]
    assert active_runs(runs) == []


# ---------------------------------------------------------------------------------------------- cost
def median_epoch_speed(run: RunDir) -> float:
    """A finished run's speed as estimates take it: steps per second of its median epoch (an epoch that
    spent time paused does not count)."""
    metrics = run.read_metrics()
    steps = metrics.total_steps.diff().fillna(metrics.total_steps)
    return statistics.median(steps / metrics.time_s.diff().fillna(metrics.time_s))


def test_an_estimate_follows_the_speed_of_the_runs_finished_here(tmp_path):
    runs = tmp_path / "runs"
    plan = plan_sweep(
        "GridHazard-v0",
        "c-trpo",
        [1.0],
        [0.8],
        [None],
        [0, 1, 2, 3],
        runs_dir=runs,
        name="h",
        total_steps=2000,
        steps_per_epoch=500,
        num_envs=4,
    )
    for cfg in plan.configs[:2]:
        assert lifecycle.train(lifecycle.create(cfg).path) == "finished"
    measured = [median_epoch_speed(RunDir(runs / c.name)) for c in plan.configs[:2]]
    third = lifecycle.create(plan.configs[2])  # stopped after its first epoch: it costs the steps it has left
    stop = threading.Event()
    assert lifecycle.train(third.path, callback=lambda row: stop.set(), stop_event=stop) == "stopped"
    assert third.read_status()["total_steps"] == 500

    estimate = cost.estimate(plan.configs, cores=2)
    task = estimate.per_task["GridHazard-v0"]
    speed = statistics.median(measured)
    assert (estimate.planned, estimate.done, estimate.to_train) == (4, 2, 2)  # the finished runs cost nothing
    assert task.source == f"the runs finished in {runs}" and task.steps_per_s == pytest.approx(speed)
    assert task.steps == 1500 + 2000
    runs_s = [1500 / speed + cost.STARTUP_S, 2000 / speed + cost.STARTUP_S]
    assert estimate.cpu_s == pytest.approx(sum(runs_s)) and estimate.wall_s == pytest.approx(max(runs_s))
    other = plan_sweep("HazardEdge-v0", "c-trpo", [1.0], [0.8], [None], [0], runs_dir=runs, name="o")
    assert cost.estimate(other.configs, cores=2).per_task["HazardEdge-v0"].source == cost.TABLE  # another task


# ---------------------------------------------------------------------------------------------- Claims
def test_claims_progress_counts_the_report_plans_runs_and_times_what_is_left(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    values = {
        "tasks": ["GridHazard-v0"],
        "algos": ["c-trpo", "trpo"],
        "seeds": [0],
        "betas": [1.0],
        "noise_steps_per_epoch": [],
        "hiddens": [],
        "total_steps": 4000,
    }
    configs, parallel = claims.planned_runs(values, runs)
    assert len(configs) == 2 and parallel is None
    assert lifecycle.train(lifecycle.create(configs[0]).path) == "finished"  # one run of the plan is done
    folder = reports.prepare(claims.REPORT, values, runs)  # a real report folder, as the button writes it
    with Ownership(folder, what="executing the report"):  # and a process executing it
        row = claims.running_report(runs)
        assert row is not None and row["folder"] == folder.name
        progress = claims.report_progress(runs, row, cores=2)
        one_run = 4000 / median_epoch_speed(RunDir(runs / configs[0].name)) + cost.STARTUP_S
        assert (progress.planned, progress.finished, progress.training) == (2, 1, 0)
        assert progress.elapsed_s is not None and progress.left_s == pytest.approx(
            one_run + claims.REPORT_FINISH_S + max(0.0, claims.REPORT_START_S - progress.elapsed_s), rel=1e-6
        )
        assert progress.line().startswith("1 of 2 runs finished; 0:") and "left" in progress.line()

        monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
        page = AppTest.from_file(MAIN, default_timeout=60).run().switch_page("views/claims.py").run()
        assert not page.exception, [e.value for e in page.exception]
        bars = [p.proto.text for p in page.get("progress")]
        assert any(folder.name in t and "1 of 2 runs finished" in t and "elapsed" in t for t in bars), bars
    before = claims.report_progress(runs, cores=2)  # nothing running: what the button would start
    assert before.elapsed_s is None and before.planned == 27 and before.line().startswith("27 runs; ")


# ---------------------------------------------------------------------------------------------- the app
def test_sensitivity_page_stops_and_resumes_the_sweep_it_shows(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
    at = AppTest.from_file(MAIN, default_timeout=60).run().switch_page("views/sensitivity.py").run()
    at.text_input(key="sw_beta").set_value("1")
    at.text_input(key="sw_bh").set_value("0.8,1")
    at.text_input(key="sw_seeds").set_value("0")
    at.text_input(key="sw_name").set_value("app").run()
    line = [m.value for m in at.markdown if m.value.startswith("2 runs:")]
    assert line and line[0].startswith("2 runs: β 1 × b_H 0.8, 1 × seeds 0 on HazardEdge-v0, ") and "core" in line[0]
    at.button(key="sw_launch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="sw_show").value == "app"  # the sweep just launched is the one shown
    driver = sweep_running(runs, "app")
    assert driver is not None  # launch_sweep returned once its driver owned the sweep
    wait_until(lambda: training(runs, 2), "two runs training")
    at.run()
    at.button(key="sw_stop").click().run()
    assert any("Stopping sweep app" in i.value for i in at.info) or sweep_status(runs, "app")["driver"] is None
    wait_until(lambda: not (s := sweep_status(runs, "app"))["driver"] and not s["runs"], "the sweep stopped")
    # the driver the page started ended and was reaped: no zombie left in the app's process
    wait_until(lambda: process_state(driver["pid"]) == "", f"driver {driver['pid']} reaped", timeout=30)
    at.run()
    assert not any("Stopping" in i.value for i in at.info)  # the message went with the stop
    assert sorted(lifecycle.state(runs / n) for n in sweep_status(runs, "app")["unfinished"]) == ["stopped", "stopped"]
    at.button(key="sw_resume").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wait_until(lambda: not (s := sweep_status(runs, "app"))["unfinished"] and not s["driver"], "the sweep finished")
    at.run()
    assert not [b for b in at.button if b.key in ("sw_stop", "sw_resume")]
    for name in json.loads((runs / ".sweeps" / "app.json").read_text())["runs"]:
        assert epochs(runs / name) == list(range(1, 81))  # 160,000 steps of 2,000: every epoch once


def test_form_values_outlive_a_visit_to_another_page(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
    one = resolve("GridHazard-v0", "c-trpo", total_steps=500, steps_per_epoch=500, num_envs=4, runs_dir=str(runs))
    lifecycle.train(lifecycle.create(one).path)  # Live with a run draws its whole page (with none it stops early)
    at = AppTest.from_file(MAIN, default_timeout=60).run().switch_page("views/train.py").run()
    at.selectbox(key="task").set_value("SafetyHopperVelocity-v1").run()
    at.number_input(key="cost_limit").set_value(30.0)
    at.number_input(key="beta").set_value(2.0)
    at.text_input(key="seeds").set_value("3,4").run()
    at.switch_page("views/live.py").run()
    assert "task" not in at.session_state  # Streamlit deleted the Train page's widgets while Live showed
    at.switch_page("views/train.py").run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="task").value == "SafetyHopperVelocity-v1"
    assert (at.number_input(key="cost_limit").value, at.number_input(key="beta").value) == (30.0, 2.0)
    assert at.text_input(key="seeds").value == "3,4" and at.number_input(key="total_steps").value == 10_000_000

    at.switch_page("views/sensitivity.py").run()
    at.text_input(key="sw_beta").set_value("0.5,2")
    at.text_input(key="sw_seeds").set_value("7").run()
    at.switch_page("views/train.py").run()
    at.switch_page("views/sensitivity.py").run()
    assert not at.warning, [w.value for w in at.warning]
    assert (at.text_input(key="sw_beta").value, at.text_input(key="sw_seeds").value) == ("0.5,2", "7")
    assert any(m.value.startswith("6 runs: β 0.5, 2 × b_H 0.6, 0.8, 1 × seeds 7 on") for m in at.markdown)

    at.switch_page("views/reports.py").run()
    at.selectbox(key="rep_name").set_value("quickstart").run()
    at.selectbox(key="rep_quickstart_task").set_value("GridHazard-v0").run()
    at.text_input(key="rep_quickstart_seed").set_value("5").run()
    at.switch_page("views/train.py").run()
    at.switch_page("views/reports.py").run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="rep_name").value == "quickstart"
    assert at.selectbox(key="rep_quickstart_task").value == "GridHazard-v0"
    assert at.text_input(key="rep_quickstart_seed").value == "5"
    assert not os.path.exists(runs / "reports")  # typing and Enter started nothing
