"""Real browser (Chromium at 1280×720) on the Sensitivity page: Enter in a field launches nothing, it only
updates the line that says what the button starts and what it costs; the button launches exactly that, and
the page then shows the sweep just launched. Values typed on Sensitivity and Train survive a visit to
another page of the same browser session."""

import json
import time
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, streamlit_server

from ctrpo_core.runs import lifecycle
from ctrpo_core.ui import forms


@pytest.fixture
def app(tmp_path):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "make test installs Debian's chromium"
    runs_dir = tmp_path / "runs"
    with streamlit_server(runs_dir) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield url, runs_dir, browser.new_page(viewport={"width": 1280, "height": 720})
        finally:
            browser.close()


def type_and_enter(page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Enter")


def runs_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def test_enter_launches_nothing_and_the_button_launches_the_line(app):
    url, runs_dir, page = app
    page.goto(url + "/sensitivity")
    page.get_by_role("button", name="Launch sweep").wait_for(timeout=60_000)
    page.get_by_text("36 runs: β 0, 0.1, 1, 10 × b_H 0.6, 0.8, 1 × seeds 0, 1, 2 on HazardEdge-v0").wait_for()
    type_and_enter(page, "β values (c-trpo only)", "1")
    page.get_by_text("9 runs: β 1 × b_H 0.6, 0.8, 1 × seeds 0, 1, 2 on HazardEdge-v0").wait_for(timeout=30_000)
    type_and_enter(page, "Seeds", "0")
    type_and_enter(page, "b_H values (c-trpo only)", "1")
    type_and_enter(page, "Steps per run (0: the task's default)", "6000")
    type_and_enter(page, "Sweep name (prefix of its runs)", "enter")
    page.get_by_text("1 run: β 1 × b_H 1 × seeds 0 on HazardEdge-v0, under a minute").wait_for(timeout=30_000)
    type_and_enter(page, "b_H values (c-trpo only)", "2")  # invalid: the line says why instead
    page.get_by_text(forms.label("bh") + ": ").first.wait_for(timeout=30_000)  # the app's words for bh
    page.wait_for_timeout(3000)  # what a launch would have written by now (the old form launched on Enter)
    assert not (runs_dir / ".sweeps").exists() and runs_in(runs_dir) == []

    type_and_enter(page, "b_H values (c-trpo only)", "1")
    page.get_by_text("1 run: β 1 × b_H 1 × seeds 0 on HazardEdge-v0").wait_for(timeout=30_000)
    page.get_by_role("button", name="Launch sweep").click()
    page.get_by_text("Started sweep enter: 1 run.").wait_for(timeout=60_000)
    manifest = json.loads((runs_dir / ".sweeps" / "enter.json").read_text())
    assert runs_in(runs_dir) == manifest["runs"] and len(manifest["runs"]) == 1
    assert manifest["plan"]["betas"] == [1.0] and manifest["plan"]["seeds"] == [0]
    assert manifest["plan"]["settings"]["total_steps"] == 6000
    # the Sweep box shows the sweep just launched
    assert page.get_by_label("Sweep", exact=True).input_value() == "enter"
    run = runs_dir / manifest["runs"][0]
    deadline = time.time() + 120
    while lifecycle.state(run) != "finished" and time.time() < deadline:
        time.sleep(0.2)
    assert lifecycle.state(run) == "finished"


def test_values_typed_survive_a_visit_to_another_page(app):
    url, _, page = app
    page.goto(url + "/sensitivity")
    page.get_by_role("button", name="Launch sweep").wait_for(timeout=60_000)
    type_and_enter(page, "Seeds", "4,5")
    type_and_enter(page, "β values (c-trpo only)", "3")
    page.get_by_text("6 runs: β 3 × b_H 0.6, 0.8, 1 × seeds 4, 5 on HazardEdge-v0").wait_for(timeout=30_000)
    page.get_by_role("link", name="Train").click()
    page.get_by_role("button", name="Launch").wait_for(timeout=60_000)
    page.get_by_role("link", name="Sensitivity").click()
    page.get_by_text("6 runs: β 3 × b_H 0.6, 0.8, 1 × seeds 4, 5 on HazardEdge-v0").wait_for(timeout=60_000)
    assert page.get_by_label("Seeds", exact=True).input_value() == "4,5"
