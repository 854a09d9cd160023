"""A real browser: `streamlit run app/main.py` on a free port, headless Chromium driven by
Playwright launches a run from Train and watches Live's chart gain points."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = ROOT / "tests" / "output"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {**os.environ, "CTRPO_RUNS_DIR": str(tmp_path / "runs")}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
    yield url, tmp_path / "runs"
    proc.terminate()
    proc.wait(timeout=20)


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
