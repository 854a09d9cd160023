"""The Benchmark page (AppTest of the real page, in process) on a real tiny benchmark trained with `ctrpo benchmark`
and then planned again with a third seed: it says how far the benchmark is, names the runs that do not count
(one created and never started, the others not started) and counts only the finished ones in its figures and
tables; the CSV download is there. With no benchmark it says how to start one."""

import json
import time

import pytest
from conftest import ROOT, run_cli
from streamlit.testing.v1 import AppTest

from ctrpo_core.runs import lifecycle
from ctrpo_core.sweeps.benchmark import plan_benchmark
from ctrpo_core.sweeps.manifest import write_manifest

MAIN = str(ROOT / "app" / "main.py")
PAGE = "views/benchmark.py"
TASKS = ["GridHazard-v0", "HazardEdge-v0"]
STEPS = 4000  # two epochs per run: a curve and a band, a few seconds per run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`ctrpo benchmark` of C-TRPO (with PPO and CPO, always added) on two tasks × seeds 0, 1: 12 finished runs.
    Then the same benchmark planned with seeds 0-2, as `ctrpo benchmark --seeds 0,1,2` writes its manifest before
    it trains: of seed 2, C-TRPO's GridHazard-v0 run is created and never started (queued), five are not started."""
    folder = tmp_path_factory.mktemp("benchmark_page") / "runs"
    args = ["--tasks", ",".join(TASKS), "--algos", "c-trpo", "--steps", STEPS, "--name", "tiny"]
    result = run_cli("benchmark", *args, "--seeds", "0,1", "--parallel", 2, "--runs-dir", folder, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    plan = plan_benchmark(TASKS, ["c-trpo"], [0, 1, 2], folder, steps=STEPS, name="tiny")
    write_manifest(plan)
    lifecycle.create(next(c for c in plan.configs if (c.task, c.algo, c.seed) == ("GridHazard-v0", "c-trpo", 2)))
    return folder


def page(monkeypatch, folder) -> tuple[AppTest, float]:
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(folder))
    at = AppTest.from_file(MAIN, default_timeout=180).run()
    start = time.perf_counter()
    at.switch_page(PAGE).run()
    return at, time.perf_counter() - start


def test_the_page_shows_progress_names_what_does_not_count_and_counts_only_finished_runs(runs, monkeypatch):
    at, cold = page(monkeypatch, runs)
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="bm_name").value == "tiny"
    plan = next(m.value for m in at.markdown if m.value.startswith("**tiny**"))
    assert "2 tasks" in plan and "3 algorithms" in plan and "3 seeds at 4k steps" in plan
    (progress,) = at.get("progress")
    assert progress.proto.text == "12 of 18 runs finished; 1 queued, 5 not started; no driver is running"
    assert progress.proto.value == 100 * 12 // 18
    assert any("6 runs do not count yet" in w.value for w in at.warning)
    missing = at.dataframe[0].value
    assert len(missing) == 6 and set(missing.algo) == {"C-TRPO", "PPO", "CPO"}
    named = dict(zip(zip(missing.task, missing.algo), missing["not counted"]))
    assert named[("GridHazard-v0", "C-TRPO")] == "seed 2 queued (no epoch yet)"
    assert named[("HazardEdge-v0", "CPO")] == "seed 2 not started"
    assert any("ctrpo sweep --resume tiny" in c.value for c in at.caption)

    # only the finished seeds 0 and 1 count: in the aggregate, the probabilities and every per-task table
    aggregate = at.dataframe[1].value
    # at 4k steps PPO's return on GridHazard-v0 is below 0: no ratio there, and the page says why
    assert aggregate.algo.tolist() == ["C-TRPO", "CPO", "PPO"] and set(aggregate.runs) == {"2 (1 task)"}
    assert any("GridHazard-v0: PPO's mean final return there is -" in c.value for c in at.caption)
    assert at.dataframe[2].value.versus.tolist() == ["CPO", "PPO"]
    per_task = [d.value for d in at.dataframe[3:]]
    assert len(per_task) == 2 and all(set(t["seed ids"]) == {"0,1"} for t in per_task)
    assert all(set(t["finished seeds"]) == {2} for t in per_task)

    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 4  # the aggregate, the probability of improvement, the curve grid, the profile
    aggregate_fig, improvement_fig, grid, profile = charts
    assert {t.get("y", [None])[0] for t in aggregate_fig["data"] if t.get("mode") == "markers"} >= {"C-TRPO", "PPO"}
    limits = sorted(t["y"][0] for t in grid["data"] if t.get("line", {}).get("dash") == "dash")
    assert limits == [1.0, 5.0]  # each task's b on its cost panel
    assert [a["text"].split("</b>")[0] for a in grid["layout"]["annotations"]] == [f"<b>{t}" for t in TASKS]
    seeds = {t["name"]: t for t in grid["data"] if t.get("showlegend")}
    assert set(seeds) == {"C-TRPO", "CPO", "PPO", "limit b (per task)"}
    assert {t["name"] for t in profile["data"] if t.get("showlegend") is not False} >= {"C-TRPO", "CPO", "PPO"}
    assert improvement_fig["layout"]["xaxis"]["range"] == [-0.03, 1.03]
    assert any("bootstrap" in c.value and "500 resamples" in c.value for c in at.caption)

    (download,) = at.get("download_button")
    assert download.proto.label == "Download CSV (per task)"

    start = time.perf_counter()
    at.run()  # the statistics come from the cache: nothing has finished since
    warm = time.perf_counter() - start
    assert not at.exception
    print(f"\nBenchmark page: first render {cold:.1f} s, rerun {warm:.1f} s")
    assert warm < cold


def test_without_a_benchmark_the_page_says_how_to_start_one(tmp_path, monkeypatch):
    at, _ = page(monkeypatch, tmp_path / "runs")
    assert not at.exception, [e.value for e in at.exception]
    assert any("No benchmark in" in i.value for i in at.info)
    assert any(c.value.startswith("ctrpo benchmark --tasks") for c in at.code)
    assert not at.get("plotly_chart")
