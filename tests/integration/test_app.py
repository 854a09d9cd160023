"""Streamlit AppTest of every page: widgets render, defaults are valid, bad input shows errors,
Train launches a real background run and Live shows its data."""

import json
import time

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from ctrpo_core import api
from ctrpo_core.runs import RunDir

MAIN = str(ROOT / "app" / "main.py")
PAGES = [
    "views/home.py",
    "views/train.py",
    "views/live.py",
    "views/compare.py",
    "views/sensitivity.py",
    "views/geometry.py",
    "views/rollout.py",
    "views/claims.py",
]


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    path = tmp_path / "runs"
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(path))
    return path


def page(name: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    return at.switch_page(name).run()


def wait_finished(path, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (path / "status.json").exists() and RunDir(path).read_status()["state"] in ("finished", "failed"):
            return
        time.sleep(0.2)
    raise TimeoutError(path)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_with_no_runs(name, runs_dir):
    at = page(name)
    assert not at.exception, [e.value for e in at.exception]


def test_train_defaults_launch_a_real_run_and_live_shows_it(runs_dir):
    at = page("views/train.py")
    assert at.selectbox(key="task").value == "GridHazard-v0" and at.selectbox(key="algo").value == "c-trpo"
    at.number_input(key="total_steps").set_value(6000)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    runs = [p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(runs) == 1
    wait_finished(runs[0])
    assert RunDir(runs[0]).read_status()["state"] == "finished"
    live = page("views/live.py")
    assert not live.exception
    assert runs[0].name in live.multiselect(key="live_runs").value
    assert len(live.get("plotly_chart")) == 3  # return, cost and Reg+ in one figure; the trust region; its details
    table = live.dataframe[0].value
    assert (
        table.state.tolist() == ["finished"]
        and table.epoch.tolist() == ["3/3"]
        and table["values"].tolist() == ["final"]
    )


@pytest.mark.parametrize(
    "key,value,param",
    [
        ("beta", -1.0, "β (barrier weight)"),
        ("bh", 1.5, "b_H (hysteresis"),
        ("delta", 0.0, "δ (trust radius)"),
        ("cost_limit", -2.0, "b (cost limit)"),
        ("total_steps", 0, "Total environment steps"),
    ],
)
def test_train_bad_input_shows_the_error_next_to_the_field_and_starts_nothing(runs_dir, key, value, param):
    at = page("views/train.py")
    at.number_input(key=key).set_value(value)
    at.button[0].click().run()
    assert not at.exception
    assert any(param in e.value for e in at.error), [e.value for e in at.error]
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_train_bad_seed_list(runs_dir):
    at = page("views/train.py")
    at.text_input(key="seeds").set_value("0,x")
    at.button[0].click().run()
    assert any("--seeds" in e.value for e in at.error)


@pytest.fixture
def finished_runs(runs_dir):
    for seed in (0, 1):
        api.train(
            "GridHazard-v0",
            "c-trpo",
            seed=seed,
            total_steps=2000,
            steps_per_epoch=500,
            num_envs=4,
            runs_dir=str(runs_dir),
            name=f"g{seed}",
        )
    return runs_dir


def test_live_and_compare_with_runs_and_a_damaged_directory(finished_runs):
    damaged = finished_runs / "broken"
    damaged.mkdir()
    (damaged / "config.json").write_text("{not json")
    live = page("views/live.py")
    assert not live.exception
    live.multiselect(key="live_runs").set_value(["g0", "g1", "broken"]).run()
    assert not live.exception
    assert any("broken" in w.value for w in live.warning)
    live.toggle(key="live_pooled").set_value(True).run()
    assert not live.exception and len(live.get("plotly_chart")) == 3
    compare = page("views/compare.py")
    assert not compare.exception
    summary = compare.dataframe[0].value
    assert summary["finished seeds"].tolist() == [2] and "return IQM" in summary
    assert compare.get("download_button")


def test_compare_never_offers_a_setting_the_algorithm_does_not_read(finished_runs):
    api.train(
        "GridHazard-v0",
        "trpo",
        seed=0,
        total_steps=1000,
        steps_per_epoch=500,
        num_envs=4,
        runs_dir=str(finished_runs),
        name="t0",
    )
    compare = page("views/compare.py")
    assert not compare.exception
    assert compare.multiselect(key="cmp_beta").options == ["1.0"]  # c-trpo's β only; trpo's is N/A
    assert compare.multiselect(key="cmp_algo").value == ["c-trpo", "trpo"]
    assert sorted(compare.dataframe[0].value["finished seeds"].tolist()) == [1, 2]  # the trpo run is not filtered out


def test_train_advanced_settings_reach_the_run(runs_dir):
    from ctrpo_core.config import overrides, resolve

    on_page = ("beta", "bh", "delta", "cost_limit", "total_steps", "barrier", "seed", "tensorboard", "checkpoint_every")
    rows = list(overrides.advanced_defaults(resolve("GridHazard-v0", "c-trpo"), skip=on_page))
    edit = lambda at, changes: at.session_state.__setitem__(
        "advanced_GridHazard-v0_c-trpo",
        {
            "edited_rows": {str(rows.index(k)): {"value": v} for k, v in changes.items()},
            "added_rows": [],
            "deleted_rows": [],
        },
    )
    at = page("views/train.py")
    at.number_input(key="total_steps").set_value(2000)
    edit(at, {"gamma": "1.5"})
    at.button[0].click().run()
    assert any(e.value.startswith("gamma:") for e in at.error) and not runs_dir.exists()
    edit(at, {"gamma": "0.97", "hidden": "32,16"})
    at.checkbox(key="tensorboard").check()
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    run = next(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    config = RunDir(run).read_config()
    assert config["gamma"] == 0.97 and config["hidden"] == [32, 16] and config["tensorboard"] is True
    wait_finished(run)
    assert (run / "tensorboard").is_dir()


def test_live_stop_and_resume_buttons(finished_runs):
    live = page("views/live.py")
    live.multiselect(key="live_runs").set_value(["g0"]).run()
    live.button[0].click().run()  # stop: the run is finished, nothing to stop
    assert not live.exception


def test_sensitivity_bad_input_and_launch(runs_dir):
    at = page("views/sensitivity.py")
    at.text_input(key="sw_beta").set_value("1,-2")
    at.button[0].click().run()
    assert any(e.value.startswith("β") and "-2" in e.value for e in at.error)
    assert at.selectbox(key="sw_task").value == "HazardEdge-v0"  # the demo task by default
    at.selectbox(key="sw_task").set_value("GridHazard-v0").run()  # small runs here; the fields follow the task
    assert at.number_input(key="sw_steps").value == 60_000 and at.text_input(key="sw_delta").value == "0.02"
    at.text_input(key="sw_beta").set_value("0.5")
    at.text_input(key="sw_bh").set_value("1")
    at.text_input(key="sw_seeds").set_value("0")
    at.number_input(key="sw_steps").set_value(2000)
    at.text_input(key="sw_name").set_value("apptest")
    at.button[0].click().run()
    assert not at.exception and not at.error
    manifest = json.loads((runs_dir / ".sweeps" / "apptest.json").read_text())
    wait_finished(runs_dir / manifest["runs"][0])
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 6


def test_rollout_renders_a_built_in_episode(finished_runs):
    at = page("views/rollout.py")
    at.button[0].click().run()
    assert not at.exception and not at.warning
    assert len(at.get("image")) == 1


def test_geometry_page_sliders(runs_dir):
    at = page("views/geometry.py")
    assert not at.exception
    at.select_slider(key="geo_beta").set_value(0.01).run()
    assert not at.exception and len(at.get("plotly_chart")) == 3
