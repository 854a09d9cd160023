"""The classroom demo (issue 11): the behaviour the demo task promises, `ctrpo demo`, and the Demo page."""

import json
import math
import time

import pytest
from conftest import ROOT, SEEDS, run_cli, train_edge_runs
from streamlit.testing.v1 import AppTest

from ctrpo_core.results.catalog import final_window
from ctrpo_core.runs import RunDir, lifecycle
from ctrpo_core.tools import demo

# SEEDS: 0, 1, 2 (benchmarks/demo_behaviour.py runs the same grid with 5 seeds)


@pytest.fixture(scope="module")
def behaviour(shared_runs):
    """The demo grid over SEEDS at the task's settings, trained for the tests (conftest.train_edge_runs) and
    found by its settings."""
    train_edge_runs(shared_runs, betas=demo.BETAS, bhs=demo.BHS, baselines=demo.BASELINES)
    plan = demo.trained_elsewhere(demo.grid_plan(SEEDS, shared_runs), shared_runs)
    missing = [cfg for cfg in demo.unique_configs(plan) if not (shared_runs / cfg.name).is_dir()]
    assert not missing, [cfg.name for cfg in missing]
    return demo.behaviour_table(demo.grid_rows(plan))


@pytest.mark.parametrize(
    "promise",
    [
        "Reg+ decreases with β",
        "Reg+ at β=10 is at most half of β=0's",
        "final cost <= b for β >= 1",
        "final cost increases with b_H",
        "recovery epochs fall as b_H rises",
        "C-TRPO's Reg+ is below TRPO-Lag's and TRPO's",
        "C-TRPO's return is at least 80% of TRPO-Lag's",
    ],
)
def test_the_demo_task_shows_what_beta_and_b_h_do(behaviour, promise):
    checks = demo.behaviour_checks(behaviour)
    assert checks[promise], behaviour.round(3).to_string()


def test_demo_json_prints_only_the_runs_numbers(tmp_path):
    runs = tmp_path / "runs"
    result = run_cli("demo", "--json", "--total-steps", "8000", "--runs-dir", runs, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # stdout is the JSON object and nothing else
    assert set(out) == {"task", "cost_limit", "runs"} and out["task"] == "HazardEdge-v0" and out["cost_limit"] == 5.0
    assert [r["algo"] for r in out["runs"]] == ["c-trpo", "trpo", "trpo-lag"]
    for r in out["runs"]:
        assert set(r) == {"algo", "seed", "dir", "final_return", "final_cost", "reg_plus"} and r["seed"] == 0
        metrics = RunDir(r["dir"]).read_metrics()
        assert len(metrics) == 4 and final_window(4) == 1
        assert r["final_return"] == pytest.approx(metrics.ep_return.iloc[-1])
        assert r["final_cost"] == pytest.approx(metrics.ep_cost.iloc[-1])
        assert r["reg_plus"] == pytest.approx(metrics.cost_regret.iloc[-1]) and math.isfinite(r["reg_plus"])
    assert "c-trpo 4/4" in result.stderr  # progress went to stderr
    again = run_cli("demo", "--json", "--total-steps", "8000", "--runs-dir", runs, timeout=120)
    assert json.loads(again.stdout) == out  # the finished runs are reused, not retrained
    table = run_cli("demo", "--total-steps", "8000", "--runs-dir", runs, timeout=120)
    assert "c-trpo" in table.stdout and "Reg+" in table.stdout and "recovery epochs" in table.stdout


@pytest.mark.parametrize(
    "args,param",
    [(["--beta", "-1"], "--beta"), (["--seed", "-2"], "--seed"), (["--total-steps", "0"], "--total-steps")],
)
def test_demo_bad_input_exits_2(tmp_path, args, param):
    result = run_cli("demo", *args, "--runs-dir", tmp_path / "runs", timeout=60)
    assert result.returncode == 2 and param in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_demo_page_shows_the_three_runs_and_reruns_c_trpo_with_another_beta(demo_runs, monkeypatch):
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(demo_runs))
    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120).run().switch_page("views/demo.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.button[0].click().run()  # "Run the demo": the runs exist and are finished, nothing new starts
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2 and len(at.get("image")) == 3  # the curves, the shrinkage picture
    table = at.dataframe[0].value
    # the three runs, then C-TRPO runs of the demo's settings with other β found in the runs folder (here the
    # barrier_sensitivity report's): the page's β overlays survive a new browser session
    assert sorted(table.run[:3]) == ["C-TRPO β=1", "TRPO", "TRPO-Lag"] and set(table.state) == {"finished"}
    assert all(run.startswith("C-TRPO β=") for run in table.run[3:])
    at.select_slider(key="demo_beta").set_value(30.0)
    at.button(key="demo_rerun").click().run()
    assert not at.exception
    rerun = next(p for p in demo_runs.iterdir() if p.name.startswith("demo_c-trpo_beta30_"))
    try:
        deadline = time.time() + 60
        while lifecycle.state(rerun) == "queued" and time.time() < deadline:
            time.sleep(0.2)
        assert lifecycle.state(rerun) in ("running", "finished")
        assert "C-TRPO β=30" in set(at.dataframe[0].value.run)
    finally:
        lifecycle.stop(rerun)
        deadline = time.time() + 60
        while lifecycle.state(rerun) == "running" and time.time() < deadline:
            time.sleep(0.2)
