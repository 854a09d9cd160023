"""A real browser: `streamlit run app/main.py` on a free port, headless Chromium driven by
Playwright launches a run from Train and watches Live's chart gain points; the Demo and Geometry pages
at 1280×720 draw every figure with no title, legend, axis title or tick label on top of another
(tests/plotly_layout.js), with screenshots in tests/output/."""

import time
from pathlib import Path

import pytest

from browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, chart_points, layout_problems, streamlit_server
from ctrpo_core.config import resolve


@pytest.fixture
def server(tmp_path):
    with streamlit_server(tmp_path / "runs") as url:
        yield url, tmp_path / "runs"


def test_launch_from_train_and_watch_live_in_chromium(server):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "make test installs Debian's chromium"
    url, runs_dir = server
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(url + "/train")
        page.get_by_role("button", name="Launch").click(timeout=60_000)
        page.wait_for_url("**/live", timeout=60_000)
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        deadline = time.time() + 90
        first = chart_points(page)
        while chart_points(page) <= first and time.time() < deadline:
            page.wait_for_timeout(500)
        later = chart_points(page)
        page.screenshot(path=str(OUTPUT / "live.png"), full_page=True)
        browser.close()
    assert later > first >= 0, (first, later)
    assert any(p.is_dir() and not p.name.startswith(".") for p in runs_dir.iterdir())


def test_demo_and_geometry_pages_lay_out_cleanly_at_1280_by_720(demo_runs):
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with streamlit_server(demo_runs) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url + "/demo")
            page.get_by_role("button", name="Run the demo", exact=True).click(timeout=60_000)
            demo_problems = layout_problems(page, 2)  # return, cost and Reg+ in one figure; the trust region
            steps = page.evaluate("new Set(document.querySelector('.js-plotly-plot')._fullData[0].x).size")
            page.wait_for_function("document.querySelectorAll('img[src*=\"media\"]').length >= 3", timeout=120_000)
            page.screenshot(path=str(OUTPUT / "demo.png"), full_page=True)
            page.goto(url + "/geometry")
            geometry_problems = layout_problems(page, 3)
            page.screenshot(path=str(OUTPUT / "geometry.png"), full_page=True)
        finally:
            browser.close()
    epochs = resolve("HazardEdge-v0", "c-trpo").epochs
    assert steps == epochs  # the return curve has one point per epoch, at its own step count
    assert demo_problems == [], demo_problems
    assert geometry_problems == [], geometry_problems
