"""What the app's pages call in ctrpo_core for issue 18: forms that follow the chosen task and algorithm,
the ETA as a duration, the Demo's β overlays found in the runs folder, and buttons that say why they did
nothing (AppTest of the real pages on real runs)."""

import math
import time

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from ctrpo_core import api, reports
from ctrpo_core.config import ConfigError, resolve
from ctrpo_core.results.catalog import format_duration
from ctrpo_core.runs import lifecycle
from ctrpo_core.tools import demo
from ctrpo_core.ui import forms

MAIN = str(ROOT / "app" / "main.py")


# ---------------------------------------------------------------- forms
def test_a_form_takes_each_choices_defaults_and_gives_back_what_was_typed_for_it():
    state = {}
    grid, hopper = api.train_form("GridHazard-v0", "c-trpo"), api.train_form("SafetyHopperVelocity-v1", "c-trpo")
    assert forms.follow(state, "f", ("GridHazard-v0", "c-trpo"), grid)
    assert state["cost_limit"] == 1.0 and state["delta"] == 0.02 and state["total_steps"] == 60_000
    state["cost_limit"] = 3.0  # typed
    assert forms.remember(state, "f", ("GridHazard-v0", "c-trpo"), grid) == {"cost_limit": 3.0}
    assert forms.follow(state, "f", ("SafetyHopperVelocity-v1", "c-trpo"), hopper)
    assert (state["cost_limit"], state["delta"], state["total_steps"]) == (25.0, 0.01, 10_000_000)
    forms.remember(state, "f", ("SafetyHopperVelocity-v1", "c-trpo"), hopper)
    assert forms.follow(state, "f", ("GridHazard-v0", "c-trpo"), grid)
    assert state["cost_limit"] == 3.0 and state["delta"] == 0.02  # the typed b came back, the rest: defaults
    state["delta"] = 0.05
    assert not forms.follow(state, "f", ("GridHazard-v0", "c-trpo"), grid)  # same choice: typing stays
    assert state["delta"] == 0.05
    del state["total_steps"]  # Streamlit forgets a page's widgets while another page shows
    forms.follow(state, "f", ("GridHazard-v0", "c-trpo"), grid)
    assert state["total_steps"] == 60_000 and state["delta"] == 0.05


def test_form_defaults_per_task_and_algorithm():
    hopper = resolve("SafetyHopperVelocity-v1", "c-trpo")
    assert api.train_form("SafetyHopperVelocity-v1", "c-trpo") == {
        "delta": hopper.delta,
        "cost_limit": 25.0,
        "total_steps": hopper.total_steps,
        "beta": hopper.beta,
        "bh": hopper.bh,
        "barrier": "entropy",
    }
    assert set(api.train_form("GridHazard-v0", "trpo")) == {"delta", "cost_limit", "total_steps"}  # no β for TRPO
    assert api.train_form("GridHazard-v0", "ppo-lag")["delta"] == resolve("GridHazard-v0", "ppo-lag").delta
    assert api.sweep_form("HazardEdge-v0", "c-trpo") == {
        "beta": "0,0.1,1,10",
        "bh": "0.6,0.8,1",
        "delta": "0.01",
        "steps": 160_000,
    }
    assert api.sweep_form("GridHazard-v0", "trpo")["beta"] == ""
    quick = reports.form_defaults("quickstart", "GridHazard-v0", "trpo")
    assert quick["task"] == "GridHazard-v0" and quick["algo"] == "trpo"
    assert quick["total_steps"] == 60_000 and quick["cost_limit"] == 1.0  # null ("the task's") shown as its value
    assert reports.form_defaults("barrier_sensitivity", "SafetyHopperVelocity-v1")["cost_limit"] == 25.0
    assert reports.form_defaults("benchmark")["cost_limit"] is None  # several tasks: left to each task


def test_train_page_follows_the_task_and_keeps_typed_values(tmp_path, monkeypatch):
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(MAIN, default_timeout=60).run().switch_page("views/train.py").run()
    values = lambda: tuple(at.number_input(key=k).value for k in ("cost_limit", "delta", "total_steps"))
    at.number_input(key="cost_limit").set_value(3.0).run()
    at.selectbox(key="task").set_value("SafetyHopperVelocity-v1").run()
    assert values() == (25.0, 0.01, 10_000_000)
    at.selectbox(key="algo").set_value("trpo").run()
    at.selectbox(key="task").set_value("GridHazard-v0").run()
    assert values() == (1.0, 0.02, 60_000)  # GridHazard with TRPO: its defaults
    at.selectbox(key="algo").set_value("c-trpo").run()
    assert values() == (3.0, 0.02, 60_000) and not at.exception  # what was typed for GridHazard with C-TRPO


# ---------------------------------------------------------------- ETA
@pytest.mark.parametrize(
    "seconds,text",
    [
        (None, "—"),
        (math.nan, "—"),
        (-1.0, "—"),
        ("x", "—"),
        (0, "0:00"),
        (30.3855, "0:30"),
        (59.6, "1:00"),
        (754, "12:34"),
        (3725, "1:02:05"),
    ],
)
def test_eta_is_a_readable_duration(seconds, text):
    assert format_duration(seconds) == text


# ---------------------------------------------------------------- the Demo
STEPS = 2_000  # one epoch of the demo task


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    """The demo's three runs at one epoch, C-TRPO at β = 10 and 0.3 with the same settings, and runs that
    are no overlay: C-TRPO with another δ, with another seed, and TRPO."""
    runs_dir = tmp_path_factory.mktemp("demo") / "runs"
    demo.run(demo.plan(runs_dir, total_steps=STEPS))
    for name, algo, extra in (
        ("b10", "c-trpo", {"beta": 10.0}),
        ("b03", "c-trpo", {"beta": 0.3}),
        ("other_delta", "c-trpo", {"beta": 3.0, "delta": 0.02}),
        ("other_seed", "c-trpo", {"beta": 3.0, "seed": 1}),
    ):
        api.train(demo.TASK, algo, total_steps=STEPS, runs_dir=str(runs_dir), name=name, **extra)
    return runs_dir


def test_beta_overlays_come_from_the_runs_folder(demo_folder):
    found = demo.beta_runs(demo_folder, total_steps=STEPS)
    assert sorted(found) == [0.3, 1.0, 10.0]
    assert found[10.0].name == "b10" and found[0.3].name == "b03"
    base = demo.plan(demo_folder, total_steps=STEPS)
    shown = demo.shown_runs(demo_folder, base, total_steps=STEPS)
    assert [label for _, label in shown.values()] == ["C-TRPO β=1", "TRPO", "TRPO-Lag", "C-TRPO β=0.3", "C-TRPO β=10"]
    assert demo.beta_runs(demo_folder, seed=1, total_steps=STEPS) == {3.0: demo_folder / "other_seed"}
    assert demo.beta_runs(demo_folder) == {}  # the demo at its defaults: none of these runs


def test_demo_steps_come_from_the_environment_only_when_set(monkeypatch):
    monkeypatch.delenv(demo.STEPS_ENV, raising=False)
    assert demo.page_settings() == {}
    monkeypatch.setenv(demo.STEPS_ENV, "4000")
    assert demo.page_settings() == {"total_steps": 4000}
    monkeypatch.setenv(demo.STEPS_ENV, "-3")
    with pytest.raises(ConfigError, match=demo.STEPS_ENV):
        demo.page_settings()


# ---------------------------------------------------------------- buttons that did nothing say why
def page(name, runs_dir, monkeypatch, **env):
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs_dir))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return AppTest.from_file(MAIN, default_timeout=60).run().switch_page(name).run()


def test_live_resume_on_a_finished_run_says_already_finished(demo_folder, monkeypatch):
    at = page("views/live.py", demo_folder, monkeypatch)
    at.multiselect(key="live_runs").set_value(["b10"]).run()
    next(b for b in at.button if b.label == "Resume selected").click().run()
    assert not at.exception and [i.value for i in at.info] == ["b10: already finished"]


def test_live_stop_on_a_finished_run_says_not_running(demo_folder, monkeypatch):
    at = page("views/live.py", demo_folder, monkeypatch)
    at.multiselect(key="live_runs").set_value(["b10"]).run()
    next(b for b in at.button if b.label == "Stop selected").click().run()
    assert not at.exception and [i.value for i in at.info] == ["b10: not running (finished)"]


def test_demo_run_again_says_the_runs_exist(demo_folder, monkeypatch):
    at = page("views/demo.py", demo_folder, monkeypatch, **{demo.STEPS_ENV: str(STEPS)})
    assert not at.exception and len(at.image) == 3  # the three animations
    next(b for b in at.button if b.label.startswith("Run the demo")).click().run()
    assert any("trained already" in i.value for i in at.info), [i.value for i in at.info]
    at.select_slider(key="demo_beta").set_value(10.0).run()
    at.button(key="demo_rerun").click().run()
    assert any("C-TRPO β=10 has been trained already" in i.value for i in at.info), [i.value for i in at.info]
    assert not at.exception
    at.run()  # a note on runs trained already is said once, then goes
    assert not any("trained already" in i.value for i in at.info), [i.value for i in at.info]


def test_demo_notes_go_once_their_runs_have_finished_and_the_beta_slider_starts_at_the_default(tmp_path, monkeypatch):
    at = page("views/demo.py", tmp_path / "runs", monkeypatch, **{demo.STEPS_ENV: str(STEPS)})
    assert at.select_slider(key="demo_beta").value == resolve(demo.TASK, "c-trpo").beta == demo.default_beta()
    assert any("Re-run C-TRPO" in c.value and "trains nothing" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Run the demo").click().run()
    started = lambda: [i.value for i in at.info if i.value.startswith("Started 3 runs")]
    assert started(), [i.value for i in at.info]
    runs = [tmp_path / "runs" / cfg.name for cfg in demo.plan(tmp_path / "runs", total_steps=STEPS)]
    deadline = time.time() + 120
    while any(lifecycle.state(r) in ("queued", "running") for r in runs) and time.time() < deadline:
        time.sleep(0.5)
    assert {lifecycle.state(r) for r in runs} == {"finished"}
    at.run()  # the page's next run, as its refresh would do: the note is no longer true
    assert not started() and not at.exception, [i.value for i in at.info]
