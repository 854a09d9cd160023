"""Results never mix unfinished runs (issue 29): a setting whose seeds 0 and 1 finished, seed 2 stopped part way
and seed 3 never started counts n = 2 everywhere a value is pooled (Compare, Sensitivity, the CSV, the
barrier_sensitivity report and its conclusion, `ctrpo ls`), and names the other two; "at equal steps" compares
all that trained, cut at the fewest steps any of them reached, and says so. Real runs of GridHazard-v0."""

import json
import threading

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, run_cli

from ctrpo_core.results import analysis, catalog, conclusions, plots, pooling
from ctrpo_core.runs import lifecycle
from ctrpo_core.runs.ownership import Ownership
from ctrpo_core.sweeps.manifest import write_manifest

TASK, STEPS, EPOCHS = "GridHazard-v0", 8000, 4  # 4 epochs of GridHazard-v0's 2,000 steps


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """(runs folder, plan): seeds 0 and 1 finished, seed 2 stopped after epoch 2, seed 3 queued."""
    runs_dir = tmp_path_factory.mktemp("finished_rule") / "runs"
    plan = analysis.sensitivity_plan(TASK, [1.0], [0.8], [0, 1, 2, 3], runs_dir, total_steps=STEPS, cost_limit=None)
    write_manifest(plan)  # the Sensitivity page lists it as a sweep
    paths = [lifecycle.create(cfg).path for cfg in plan.configs]
    for path in paths[:2]:
        assert lifecycle.train(path) == "finished"

    stop = threading.Event()  # set after epoch 2: the run stops at its next step, as on a stop request
    assert lifecycle.train(paths[2], lambda row: row["epoch"] == 2 and stop.set(), stop_event=stop) == "stopped"
    return runs_dir, plan, paths


def summaries_of(runs_dir) -> pd.DataFrame:
    kept, _ = pooling.one_run_per_seed(catalog.run_table(runs_dir))
    return kept


def test_a_setting_counts_only_its_finished_seeds_and_names_the_others(planted):
    runs_dir, _, paths = planted
    summaries = summaries_of(runs_dir)
    stopped_epoch = int(summaries.set_index("name").loc[paths[2].name, "epoch"])
    assert 2 <= stopped_epoch < EPOCHS
    table = pooling.comparison_table(summaries, reps=300)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["finished seeds"] == 2 and row["seed ids"] == "0,1"
    assert row["not counted"] == (f"seed 2 stopped at epoch {stopped_epoch}/{EPOCHS}; seed 3 queued (no epoch yet)")
    done = summaries[summaries.seed.isin([0, 1])]
    assert row["return median"] == pytest.approx(done.final_return.median())
    assert row["cost median"] == pytest.approx(done.final_cost.median())
    csv = table.to_csv(index=False)
    assert "finished seeds" in csv and f"seed 2 stopped at epoch {stopped_epoch}/{EPOCHS}" in csv


def test_at_equal_steps_cuts_every_run_at_the_common_step_and_says_so(planted):
    runs_dir, _, paths = planted
    summaries = summaries_of(runs_dir)
    cut, steps, left_out = pooling.at_equal_steps(summaries)
    stopped = catalog.read_run_files(paths[2])[2]
    assert steps == int(stopped.total_steps.iloc[-1]) < STEPS
    assert sorted(cut.seed) == [0, 1, 2] and len(left_out) == 1 and "seed 3 queued" in left_out[0]
    finished_metrics = catalog.read_run_files(paths[0])[2]
    expected = catalog.final_values(finished_metrics[finished_metrics.total_steps <= steps])
    first = cut.set_index("seed").loc[0]
    assert first.reg_plus == pytest.approx(expected["reg_plus"]) and first.final_cost == pytest.approx(
        expected["final_cost"]
    )
    table = pooling.comparison_table(cut, reps=300, equal_steps=steps)
    assert table.iloc[0]["seeds at equal steps"] == 3 and table.iloc[0]["cut at steps"] == steps
    assert f"{steps:,}" in pooling.equal_steps_title(steps)
    curves = pooling.cut_curves(catalog.load_curves(cut.path.tolist()), steps)
    assert curves.total_steps.max() == steps and curves.run.nunique() == 3


def test_sensitivity_heatmaps_and_the_grid_count_finished_seeds_and_mark_the_cell(planted):
    runs_dir, plan, _ = planted
    summaries = analysis.run_summaries([runs_dir / cfg.name for cfg in plan.configs])
    heat = plots.sensitivity_figures(summaries)[0].data[0]
    done = summaries[summaries.seed.isin([0, 1])]
    assert np.asarray(heat.z, dtype=float)[0][0] == pytest.approx(done.final_return.mean())
    assert heat.text[0][0].endswith("<br>2/4 seeds")
    grid = analysis.grid_table(summaries)
    assert grid.seeds.tolist() == [2] and grid.planned.tolist() == [4]
    assert "seed 3 queued" in grid["not counted"].iloc[0]
    text = conclusions.sensitivity(grid, cost_limit=float(summaries.cost_limit.iloc[0]))
    assert text.startswith("Only finished runs count") and "seed 2 stopped" in text


def test_ls_and_show_say_what_is_final_and_what_is_so_far(planted):
    runs_dir, _, paths = planted
    result = run_cli("ls", "--runs-dir", runs_dir, "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["seed"]: r for r in json.loads(result.stdout)}
    assert [rows[s]["finished"] for s in range(4)] == [True, True, False, False]
    assert [rows[s]["values"] for s in range(4)] == ["final", "final", "so far", None]
    assert len({r["label"] for r in rows.values()}) == 1
    result = run_cli("ls", "--runs-dir", runs_dir, "--by-setting", "--json")
    assert result.returncode == 0, result.stderr
    [setting] = json.loads(result.stdout)
    assert setting["finished"] == 2 and setting["seeds"] == [0, 1]
    assert [line.split(" ")[:3] for line in setting["not_counted"]] == [
        ["seed", "2", "stopped"],
        ["seed", "3", "queued"],
    ]
    text = run_cli("ls", "--runs-dir", runs_dir, "--by-setting").stdout
    assert "2 finished; seed 2 stopped at epoch" in text
    shown = run_cli("show", str(paths[2]), "--json")
    assert json.loads(shown.stdout)["final_is"] == "so far"
    assert "so far, not final" in run_cli("show", str(paths[2])).stdout


def test_the_pages_count_only_finished_runs(planted, monkeypatch):
    from streamlit.testing.v1 import AppTest

    runs_dir, plan, _ = planted
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs_dir))
    main = str(ROOT / "app" / "main.py")
    compare = AppTest.from_file(main, default_timeout=60).run().switch_page("views/compare.py").run()
    assert not compare.exception, [e.value for e in compare.exception]
    table = compare.dataframe[0].value
    assert table["finished seeds"].tolist() == [2] and "seed 3 queued" in table["not counted"].iloc[0]
    assert any("seed 2 stopped" in c.value for c in compare.caption)
    compare.toggle(key="cmp_equal_steps").set_value(True).run()
    assert not compare.exception
    table = compare.dataframe[0].value
    assert table["seeds at equal steps"].tolist() == [3] and "cut at steps" in table
    assert any("at equal steps" in h.value for h in compare.subheader)
    sensitivity = AppTest.from_file(main, default_timeout=60).run().switch_page("views/sensitivity.py").run()
    assert not sensitivity.exception, [e.value for e in sensitivity.exception]
    table = sensitivity.dataframe[0].value
    assert table["finished seeds"].tolist() == [2]
    assert any("seed 2 stopped" in w.value for w in sensitivity.warning)


def test_a_report_counts_only_finished_runs_while_others_train_elsewhere(planted):
    """barrier_sensitivity over the planted grid while seeds 2 and 3 are owned by another process (this test
    holds their locks, as a training process would): the report trains nothing, pools n = 2, names the rest."""
    runs_dir, plan, paths = planted
    with Ownership(paths[2], what="a test"), Ownership(paths[3], what="a test"):
        result = run_cli(
            "report",
            "barrier_sensitivity",
            "--runs-dir",
            runs_dir,
            "-p",
            "task",
            TASK,
            "-p",
            "betas",
            "[1.0]",
            "-p",
            "bhs",
            "[0.8]",
            "-p",
            "seeds",
            "[0, 1, 2, 3]",
            "-p",
            "total_steps",
            STEPS,
            "-p",
            "parallel",
            1,
            timeout=600,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    folder = next((runs_dir / "reports").glob("barrier_sensitivity-*"))
    results = json.loads((folder / "results.json").read_text())
    [cell] = results["grid"]
    assert cell["seeds"] == 2 and cell["planned"] == 4
    assert "seed 2 running" in cell["not counted"] and "seed 3 running (no epoch yet)" in cell["not counted"]
    html = next(folder.glob("*.html")).read_text()
    assert "Only finished runs count" in html and "not counted (not finished)" in html
    assert lifecycle.state(paths[3]) == "queued"  # the report trained nothing it does not own
