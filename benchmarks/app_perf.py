"""App responsiveness, measured on real runs:

1. Compare with 50 runs x 200 epochs: server-side time of the Compare page (Streamlit AppTest).
2. Page interactions while two trainings use both cores (AppTest reruns of Live and Compare).
3. Live lag: a real browser (Playwright + Chromium) on `streamlit run`; for every new metrics row of
   a training run, the time until Live's return chart shows it.

    .venv/bin/python benchmarks/app_perf.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from ctrpo_core.results.catalog import stop_run

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WARM_UP_S = 5


def make_runs(runs: Path, count: int = 50, epochs: int = 200) -> None:
    """One real 200-epoch run, copied ``count`` times under other seeds/β (the page reads them all)."""
    from ctrpo_core import api

    template = api.train(
        "GridHazard-v0",
        "c-trpo",
        total_steps=64 * epochs,
        steps_per_epoch=64,
        num_envs=4,
        runs_dir=str(runs),
        name="template",
    ).path
    for i in range(count):
        target = runs / f"copy{i:02d}"
        shutil.copytree(template, target)
        config = json.loads((target / "config.json").read_text())
        config.update(seed=i // 5, beta=[0.1, 0.5, 1.0, 2.0, 5.0][i % 5])
        (target / "config.json").write_text(json.dumps(config))
    shutil.rmtree(template)


def apptest_times(page: str, action, repeats: int = 5) -> list[float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120).run()
    at.switch_page(page).run()
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        action(at, i)
        times.append(time.perf_counter() - start)
        assert not at.exception, [e.value for e in at.exception]
    return times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_lag(runs: Path) -> list[float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "CTRPO_RUNS_DIR": str(runs)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app/main.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    written: dict[int, float] = {}
    seen: dict[int, float] = {}
    stop = threading.Event()
    run = warm = None
    try:
        from ctrpo_core import api

        run = api.launch(
            "PointHazard-v0",
            "c-trpo",
            total_steps=200_000,
            steps_per_epoch=1000,
            num_envs=8,
            runs_dir=str(runs),
            name="lag",
        )

        def watch_file():
            while not stop.is_set():
                try:
                    rows = (run.path / "metrics.csv").read_text().count("\n") - 1
                except OSError:
                    rows = 0
                for r in range(1, rows + 1):
                    written.setdefault(r, time.perf_counter())
                time.sleep(0.01)

        threading.Thread(target=watch_file, daemon=True).start()
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-sync",
                ],
            )
            page = browser.new_page()
            page.goto(url + "/live")
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            page.wait_for_timeout(WARM_UP_S * 1000)  # the first script run of a fresh server imports everything
            warm = time.perf_counter()
            deadline = time.time() + 120
            while time.time() < deadline and sum(1 for r in seen if written.get(r, 0) > warm) < 30:
                n = page.evaluate("""() => { const p = document.querySelector('.js-plotly-plot');
                    return p && p._fullData ? Math.max(0, ...p._fullData.map(t => (t.x || []).length || 0)) : 0; }""")
                for r in range(1, n + 1):
                    seen.setdefault(r, time.perf_counter())
                page.wait_for_timeout(50)
            browser.close()
    finally:
        stop.set()
        if run is not None:
            stop_run(run.path)  # the training is only there to produce rows
        server.terminate()
        server.wait(timeout=20)
    # only rows written after the warm-up: the lag of the running page, not of its first load
    return [seen[r] - written[r] for r in sorted(seen) if r in written and written[r] > warm]


def main() -> None:
    os.chdir(ROOT)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        os.environ["CTRPO_RUNS_DIR"] = str(runs)
        make_runs(runs)
        compare = apptest_times("views/compare.py", lambda at, i: at.run())
        lines.append(
            f"| Compare page, 50 runs x 200 epochs (AppTest rerun) | median {statistics.median(compare):.3f} s, "
            f"max {max(compare):.3f} s |"
        )
        print(lines[-1], flush=True)
        trainings = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ctrpo_core.cli",
                    "train",
                    "--task",
                    "PointHazard-v0",
                    "--algo",
                    "c-trpo",
                    "--total-steps",
                    "400000",
                    "--runs-dir",
                    str(Path(tmp) / "busy"),
                    "--name",
                    f"busy{i}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(2)
        ]
        try:
            time.sleep(3)
            toggle = apptest_times(
                "views/live.py", lambda at, i: at.toggle(key="live_pooled").set_value(i % 2 == 0).run()
            )
            filters = apptest_times(
                "views/compare.py",
                lambda at, i: at.multiselect(key="cmp_beta").set_value([0.1, 0.5, 1.0][: 1 + i % 3]).run(),
            )
        finally:
            for proc in trainings:
                proc.terminate()
                proc.wait()
        lines.append(
            f"| Live: toggle pooling, two trainings busy | median {1000 * statistics.median(toggle):.0f} ms, "
            f"max {1000 * max(toggle):.0f} ms |"
        )
        lines.append(
            f"| Compare: change a filter (50 runs), two trainings busy | median "
            f"{1000 * statistics.median(filters):.0f} ms, max {1000 * max(filters):.0f} ms |"
        )
        print("\n".join(lines[-2:]), flush=True)
        lags = live_lag(Path(tmp) / "lag")
        lines.append(
            f"| Live lag: metrics row written -> visible in the browser | median {statistics.median(lags):.2f} s, "
            f"max {max(lags):.2f} s over {len(lags)} rows |"
        )
        print(lines[-1], flush=True)
    table = "| measurement | result |\n| --- | --- |\n" + "\n".join(lines)
    print("\n" + table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "app_perf.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
