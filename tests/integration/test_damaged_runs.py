"""Pages and readers survive bad folders (issue 10.9): a damaged run is one 'damaged' row with its reason,
and every page still shows the good runs."""

import json
import shutil

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from ctrpo_core import api
from ctrpo_core.results import catalog

MAIN = str(ROOT / "app" / "main.py")
PAGES = [
    "views/home.py",
    "views/train.py",
    "views/live.py",
    "views/compare.py",
    "views/sensitivity.py",
    "views/geometry.py",
    "views/rollout.py",
    "views/reports.py",
    "views/claims.py",
]


def damage(runs, good):
    """One run directory of each malformed kind next to ``good``."""
    config = json.loads((good / "config.json").read_text())
    for name, text in (
        ("config-list", "[]"),
        ("config-empty", "{}"),
        ("config-garbage", "{not json"),
        ("beta-abc", json.dumps({**config, "beta": "abc"})),
    ):
        shutil.copytree(good, runs / name)
        (runs / name / "config.json").write_text(text)
    shutil.copytree(good, runs / "metrics-text")
    with open(runs / "metrics-text" / "metrics.csv", "a") as f:
        f.write("x" + ",oops" * 20 + "\n")
    shutil.copytree(good, runs / "status-list")
    (runs / "status-list" / "status.json").write_text("[]")
    (runs / ".sweeps").mkdir(exist_ok=True)
    (runs / ".sweeps" / "garbage.json").write_text("[1, 2")
    report = runs / "reports" / "bad-1"
    report.mkdir(parents=True)
    (report / "params.json").write_text("[]")
    (report / "status.json").write_text("[]")


DAMAGED = ["config-list", "config-empty", "config-garbage", "beta-abc", "metrics-text", "status-list"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    runs = tmp_path_factory.mktemp("bad") / "runs"
    good = api.train(
        "GridHazard-v0", "c-trpo", total_steps=1000, steps_per_epoch=500, num_envs=4, runs_dir=str(runs), name="good"
    ).path
    shutil.copytree(good, runs / "good copy with spaces")
    elsewhere = runs.parent / "elsewhere"
    shutil.copytree(good, elsewhere / "linked")
    (runs / "linked").symlink_to(elsewhere / "linked", target_is_directory=True)
    damage(runs, good)
    return runs


def test_readers_report_each_damaged_run_with_its_reason(runs):
    table = catalog.run_table(runs).set_index("name")
    assert set(DAMAGED) <= set(table.index)
    for name in DAMAGED:
        assert table.loc[name, "state"] == "damaged" and table.loc[name, "message"], name
        info = api.read_run(runs / name)
        assert info.state == "damaged" and info.damaged
    for name in ("good", "good copy with spaces", "linked"):
        assert table.loc[name, "state"] == "finished" and table.loc[name, "epoch"] == 2
    assert "'beta'" in table.loc["beta-abc", "message"] and "non-numeric" in table.loc["metrics-text", "message"]
    assert len(api.list_runs(runs)) == len(table)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_over_damaged_runs(runs, name, monkeypatch):
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    at = at.switch_page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    if name == "views/live.py":
        at.multiselect(key="live_runs").set_value(["good", "good copy with spaces", "linked", *DAMAGED]).run()
        assert not at.exception, [e.value for e in at.exception]
        assert {"good", "linked"} <= set(at.dataframe[0].value["run"])
        assert len(at.get("plotly_chart")) == 3  # the curves, the shrinkage headline and its details
    if name == "views/compare.py":
        summary = at.dataframe[0].value
        assert summary["finished seeds"].tolist() == [1]  # three copies of one seed count once
        assert any("left out" in e.label for e in at.expander)
    if name == "views/sensitivity.py":
        at.selectbox(key="sw_show").set_value("garbage").run()
        assert not at.exception and any("cannot be read" in w.value for w in at.warning)
    if name == "views/rollout.py":
        assert set(at.selectbox(key="ro_run").options) == {"good", "good copy with spaces", "linked"}


def test_live_with_only_damaged_runs(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("a", "b c"):
        (runs / name).mkdir()
        (runs / name / "config.json").write_text("[]")
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
    at = AppTest.from_file(MAIN, default_timeout=60).run().switch_page("views/live.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="live_runs").set_value(["a", "b c"]).run()
    assert not at.exception and len(at.warning) == 2
