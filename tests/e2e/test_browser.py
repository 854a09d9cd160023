"""A real browser: `streamlit run app/main.py` on a free port, headless Chromium driven by
Playwright launches a run from Train and watches Live's chart gain points (the pages' layout at a class's
screen sizes: test_browser_layout.py)."""

import time
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, chart_points, streamlit_server


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
