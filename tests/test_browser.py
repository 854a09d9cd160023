"""A real browser: `streamlit run app/main.py` on a free port, headless Chromium driven by
Playwright launches a run from Train and watches Live's chart gain points; the Demo and Geometry pages
at 1280×720 draw every figure with no title, legend, axis title or tick label on top of another
(tests/plotly_layout.js), with screenshots in tests/output/."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from ctrpo_core.config import resolve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = ROOT / "tests" / "output"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(runs_dir: Path, cwd: Path = ROOT, address: str | None = None, env: dict | None = None):
    """`streamlit run app/main.py` on a free port, started in ``cwd`` (another folder than the repository's
    root reads no .streamlit/config.toml), bound to ``address`` when given; always reached through loopback."""
    port = free_port()
    env = {**(os.environ if env is None else env), "CTRPO_RUNS_DIR": str(runs_dir)}
    bind = ["--server.address", address] if address is not None else []
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), "--server.port",
                             str(port), *bind, "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError(proc.stdout.read().decode(errors="replace"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def server(tmp_path):
    with streamlit_server(tmp_path / "runs") as url:
        yield url, tmp_path / "runs"


def chart_points(page) -> int:
    """Points of the first plotted curve (Live's return chart), read from Plotly's own data."""
    return page.evaluate("""() => {
        const plots = document.querySelectorAll('.js-plotly-plot');
        if (!plots.length || !plots[0]._fullData) return 0;
        return Math.max(0, ...plots[0]._fullData.map(t => (t.x || []).length || 0));
    }""")


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


LAYOUT_CHECK = (ROOT / "tests" / "plotly_layout.js").read_text()


def layout_problems(page, figures: int) -> list[str]:
    """Wait until ``figures`` Plotly figures are drawn, then list the collisions plotly_layout.js finds."""
    page.wait_for_function("n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n", arg=figures,
                           timeout=120_000)
    page.wait_for_timeout(1500)  # Streamlit sizes the figures to their columns after the first draw
    report = page.evaluate(LAYOUT_CHECK)
    assert len(report) >= figures, report
    return [f"{r['title']}: {p}" for r in report for p in r["problems"]]


def test_demo_and_geometry_pages_lay_out_cleanly_at_1280_by_720(demo_runs):
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with streamlit_server(demo_runs) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url + "/demo")
            page.get_by_role("button", name="Run the demo: C-TRPO, TRPO and TRPO-Lag").click(timeout=60_000)
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
