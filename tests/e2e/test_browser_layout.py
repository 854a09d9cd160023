"""No text overlaps or is cut, as a class sees the app at a projector's 1280×720 and a laptop's 1024×768 (issue 29):
on Demo, Claims, Sensitivity, Compare, Live and Geometry, no two text boxes of the page (titles, captions, labels,
buttons, alerts) overlap or lie on a figure, no element cuts its text with an ellipsis (tests/page_layout.js), and
inside every Plotly figure no title, legend, annotation, axis title or tick label collides or leaves the figure
(tests/plotly_layout.js). The runs folder holds what each page is for: the claims report's runs and verdicts,
the demo's three runs, and a sweep whose setting has an unfinished run. Screenshots, screen by screen, in
tests/output/layout/."""

import shutil
import threading
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, layout_problems, page_problems, streamlit_server
from conftest import run_cli

from ctrpo_core.results import analysis
from ctrpo_core.runs import lifecycle
from ctrpo_core.sweeps.manifest import write_manifest
from ctrpo_core.tools.demo import STEPS_ENV

DEMO_STEPS = 8_000
SIZES = [(1280, 720), (1024, 768)]
# the figures each page draws at least
PAGES = {"demo": 2, "claims": 2, "sensitivity": 6, "compare": 2, "live": 2, "geometry": 3}


@pytest.fixture(scope="module")
def runs(claims_report, tmp_path_factory):
    folder = tmp_path_factory.mktemp("layout") / "runs"
    shutil.copytree(claims_report[0], folder, ignore=shutil.ignore_patterns("*.lock"))
    result = run_cli("demo", "--runs-dir", folder, "--total-steps", DEMO_STEPS)
    assert result.returncode == 0, result.stderr[-2000:]
    plan = analysis.sensitivity_plan("GridHazard-v0", [0.0, 1.0, 10.0], [0.8], [0, 1], folder, total_steps=6000)
    write_manifest(plan)
    paths = [lifecycle.create(cfg).path for cfg in plan.configs]
    for path in paths[:-2]:
        lifecycle.train(path)

    stop = threading.Event()  # β = 10: seed 0 stopped after its first epoch, seed 1 queued
    lifecycle.train(paths[-2], lambda row: stop.set(), stop_event=stop)
    return folder


def screens(page, stem: Path, most: int = 6) -> None:
    """The page screen by screen (Streamlit scrolls inside its main block, so a full-page shot shows one
    screen): stem_0.png, stem_1.png, ..."""
    for i in range(most):
        page.screenshot(path=f"{stem}_{i}.png")
        moved = page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
            const before = m.scrollTop; m.scrollBy(0, m.clientHeight - 60); return m.scrollTop > before; }""")
        if not moved:
            break
        page.wait_for_timeout(300)


def test_no_text_overlaps_or_is_cut_on_the_class_pages(runs, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv(STEPS_ENV, str(DEMO_STEPS))
    folder = OUTPUT / "layout"
    folder.mkdir(parents=True, exist_ok=True)
    problems = {}
    with streamlit_server(runs) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for width, height in SIZES:
                page = browser.new_page(viewport={"width": width, "height": height})
                for name, figures in PAGES.items():
                    page.goto(f"{url}/{name}")
                    found = layout_problems(page, figures) + page_problems(page)
                    screens(page, folder / f"{name}_{width}x{height}")
                    if found:
                        problems[f"{name} at {width}×{height}"] = found
                page.close()
        finally:
            browser.close()
    assert problems == {}, problems
