"""What the real-browser tests share: Chromium's path and flags, `streamlit run app/main.py` on a free port,
and readers of what Plotly drew (points of a curve, collisions of text found by plotly_layout.js)."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import ROOT

from ctrpo_core.util.chromium import CHROMIUM, CHROMIUM_FLAGS  # noqa: F401  (the tests start Chromium so)

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
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app" / "main.py"),
            "--server.port",
            str(port),
            *bind,
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
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


def chart_points(page) -> int:
    """Points of the first plotted curve (Live's return chart), read from Plotly's own data."""
    return page.evaluate("""() => {
        const plots = document.querySelectorAll('.js-plotly-plot');
        if (!plots.length || !plots[0]._fullData) return 0;
        return Math.max(0, ...plots[0]._fullData.map(t => (t.x || []).length || 0));
    }""")


LAYOUT_CHECK = (ROOT / "tests" / "plotly_layout.js").read_text()


def layout_problems(page, figures: int) -> list[str]:
    """Wait until ``figures`` Plotly figures are drawn, then list the collisions plotly_layout.js finds."""
    page.wait_for_function(
        "n => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.querySelector('.main-svg')).length >= n",
        arg=figures,
        timeout=120_000,
    )
    page.wait_for_timeout(1500)  # Streamlit sizes the figures to their columns after the first draw
    report = page.evaluate(LAYOUT_CHECK)
    assert len(report) >= figures, report
    return [f"{r['title']}: {p}" for r in report for p in r["problems"]]


PAGE_CHECK = (ROOT / "tests" / "page_layout.js").read_text()


def page_problems(page) -> list[str]:
    """Text of the page's HTML that overlaps other text or a figure, or is cut with an ellipsis (page_layout.js)."""
    return page.evaluate(PAGE_CHECK)
