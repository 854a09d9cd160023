"""Real browser (Chromium at 1280×720) on one app server and one runs folder: the Train form follows the
task it is switched to and launches exactly what it shows; Live keeps refreshing after Stop and Resume;
the Demo's animations appear once its runs finish, without a reload.

The Demo page's runs are shortened with CTRPO_DEMO_TOTAL_STEPS (the README's tests section), set for this
module's server only; Train and Live use HazardEdge-v0 at its defaults (a run long enough to stop and
resume)."""

import time
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, chart_points, streamlit_server

from ctrpo_core.config import resolve, result_settings
from ctrpo_core.runs import RunDir, lifecycle
from ctrpo_core.tools.demo import STEPS_ENV

DEMO_STEPS = 8_000  # 4 epochs of the demo task per run


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(url, runs folder, a Chromium page at 1280×720), shared by this module's tests."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "make test installs Debian's chromium"
    runs_dir = tmp_path_factory.mktemp("pages") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(STEPS_ENV, str(DEMO_STEPS))
        server = streamlit_server(runs_dir)
        url = server.__enter__()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                yield url, runs_dir, browser.new_page(viewport={"width": 1280, "height": 720})
            finally:
                browser.close()
    finally:
        server.__exit__(None, None, None)


def choose(page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=False).first.click()


def form_values(page) -> dict:
    field = lambda name: float(page.get_by_role("spinbutton", name=name).input_value())
    return {
        "cost_limit": field("b (cost limit)"),
        "delta": field("δ (trust radius)"),
        "total_steps": field("Total environment steps"),
    }


def wait_form(page, expected: dict, timeout: float = 30.0) -> dict:
    deadline = time.time() + timeout
    while (values := form_values(page)) != expected and time.time() < deadline:
        page.wait_for_timeout(250)
    return values


def shown(task: str) -> dict:
    cfg = resolve(task, "c-trpo")
    return {"cost_limit": float(cfg.cost_limit), "delta": float(cfg.delta), "total_steps": float(cfg.total_steps)}


@pytest.fixture(scope="module")
def launched(app):
    """The Train page switched GridHazard-v0 → SafetyHopperVelocity-v1 → HazardEdge-v0, then Launch:
    (the form's values at each task, the run directory it started)."""
    url, runs_dir, page = app
    page.goto(url + "/train")
    page.get_by_role("button", name="Launch").wait_for(timeout=60_000)
    seen = {"GridHazard-v0": form_values(page)}
    for task in ("SafetyHopperVelocity-v1", "HazardEdge-v0"):
        choose(page, "Task", task)
        seen[task] = wait_form(page, shown(task))
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url("**/live", timeout=60_000)
    runs = [p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return seen, runs


def test_train_form_follows_the_task_and_launches_what_it_shows(launched):
    seen, runs = launched
    for task, values in seen.items():
        assert values == shown(task), task  # e.g. Hopper: b = 25, δ = 0.01 (not GridHazard's 1 and 0.02)
    assert len(runs) == 1
    config = RunDir(runs[0]).read_config()
    assert result_settings(config) == result_settings(resolve("HazardEdge-v0", "c-trpo", seed=0))


def test_live_keeps_refreshing_after_stop_and_resume(app, launched):
    _, runs_dir, page = app
    run = launched[1][0]
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    page.get_by_role("button", name="Stop selected").click()
    deadline = time.time() + 60
    while lifecycle.state(run) != "stopped" and time.time() < deadline:
        time.sleep(0.2)
    assert lifecycle.state(run) == "stopped", RunDir(run).read_status()
    before = len(RunDir(run).read_metrics())
    page.get_by_role("button", name="Resume selected").click()
    page.get_by_text("resumed (was stopped)").wait_for(timeout=60_000)
    deadline = time.time() + 120
    while chart_points(page) <= before and time.time() < deadline:  # no reload: the page refreshes itself
        page.wait_for_timeout(500)
    assert chart_points(page) > before, (chart_points(page), before)
    lifecycle.stop(run)  # the rest of its epochs would only slow the next test


def test_demo_animations_appear_without_a_reload(app):
    url, _, page = app
    page.goto(url + "/demo")
    page.get_by_role("button", name="Run the demo", exact=True).click(timeout=60_000)
    page.get_by_text("Started 3 runs").wait_for(timeout=60_000)
    page.wait_for_function("document.querySelectorAll('img[src*=\"media\"]').length >= 3", timeout=240_000)
    # the rerun that drew the images removes the note at its end (Streamlit keeps stale elements until then)
    page.get_by_text("The animations appear here").wait_for(state="detached", timeout=30_000)
