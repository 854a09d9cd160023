"""Issue 18 in a real browser (Chromium at 1280×720): Compare draws ONE figure whose one legend lists every
setting shown, inside the figure, with no plot area under 200 px high; Sensitivity's heatmaps have
categorical β and b_H axes; an algorithm has one colour on Compare and Live; and no title, legend,
annotation, axis title or tick label of these pages overlaps another (tests/plotly_layout.js).
Screenshots in tests/output/. Real short runs of the built-in GridHazard-v0 task."""

import re

import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, layout_problems, streamlit_server
from conftest import run_cli

from ctrpo_core import api
from ctrpo_core.config.algorithms import ALGORITHMS
from ctrpo_core.results import catalog, figure_style, pooling

SMALL = dict(total_steps=1500, steps_per_epoch=500, num_envs=4)
TRAINED = [("c-trpo", 0), ("c-trpo", 1), ("trpo", 0), ("trpo", 1), ("trpo-lag", 0), ("trpo-lag", 1)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser_figures") / "runs"
    # a sweep of one b_H value: the case that drew a b_H axis from 0.4 to 1.2
    result = run_cli(
        "sweep",
        "--task",
        "GridHazard-v0",
        "--beta",
        "0,1,10",
        "--bh",
        "0.8",
        "--seeds",
        "0",
        "--total-steps",
        1500,
        "--steps-per-epoch",
        500,
        "--num-envs",
        4,
        "--parallel",
        1,
        "--name",
        "grid",
        "--runs-dir",
        folder,
    )
    assert result.returncode == 0, result.stderr
    for algo, seed in TRAINED:  # trained last: Live shows the three newest runs (TRPO and TRPO-Lag)
        api.train("GridHazard-v0", algo, seed=seed, runs_dir=str(folder), name=f"{algo}-{seed}", **SMALL)
    return folder


FIGURES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(p => {
    const L = p._fullLayout, frame = p.getBoundingClientRect();
    const axes = Object.keys(L).filter(k => /^[xy]axis\\d*$/.test(k));
    return {
        legend: p._fullData.filter(t => t.showlegend).map(t => t.name),
        traces: p._fullData.map(t => ({name: t.name, group: t.legendgroup, color: (t.line || {}).color,
                                        type: t.type, xaxis: t.xaxis})),
        heights: axes.filter(k => k[0] === 'y').map(k => L[k]._length),
        types: Object.fromEntries(axes.map(k => [k, L[k].type])),
        ycats: (L.yaxis || {}).categoryarray || [],
        fonts: [...axes.map(k => L[k].tickfont?.size), ...axes.map(k => L[k].title?.font?.size),
                L.legend?.font?.size].filter(size => size !== undefined),
        cut: [...p.querySelectorAll('.legend .traces')].filter(e => {
            const r = e.getBoundingClientRect();
            return r.left < frame.left - 1 || r.right > frame.right + 1 ||
                   r.top < frame.top - 1 || r.bottom > frame.bottom + 1;
        }).map(e => e.textContent),
    };
})"""


def test_compare_live_and_sensitivity_in_chromium_at_1280_by_720(runs):
    from playwright.sync_api import sync_playwright

    kept, _ = pooling.one_run_per_seed(catalog.usable(catalog.run_table(runs)))
    settings = set(pooling.comparison_table(kept, reps=10).setting)
    OUTPUT.mkdir(exist_ok=True)
    with streamlit_server(runs) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url + "/compare")
            compare_problems = layout_problems(page, 2)
            compare = page.evaluate(FIGURES)
            page.screenshot(path=str(OUTPUT / "compare.png"), full_page=True)
            page.goto(url + "/live")
            layout_problems(page, 1)
            live = page.evaluate(FIGURES)
            page.goto(url + "/sensitivity")
            sensitivity_problems = layout_problems(page, 6)
            sensitivity = page.evaluate(FIGURES)
            page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # the results, below the form
            page.screenshot(path=str(OUTPUT / "sensitivity.png"))
        finally:
            browser.close()
    curves = compare[0]
    assert set(curves["legend"]) == settings | {"limit b = 1"}, curves["legend"]  # every setting, once
    assert len(curves["legend"]) == len(set(curves["legend"])) and curves["cut"] == []
    assert min(h for fig in compare for h in fig["heights"]) >= 200, [fig["heights"] for fig in compare]
    assert compare_problems == [], compare_problems
    assert min(size for fig in (*compare, *sensitivity) for size in fig["fonts"]) >= 14  # readable at a projector
    # one colour per algorithm on both pages (Compare groups by label, Live by run name)
    algo_of = lambda group: next(
        (a for a in sorted(ALGORITHMS, key=len, reverse=True) if f" {a} " in f" {group} " or group.startswith(f"{a}-")),
        None,
    )
    checked = {"compare": set(), "live": set()}
    for page_name, fig in [("compare", curves)] + [("live", fig) for fig in live]:
        for trace in fig["traces"]:
            algo = algo_of(trace["group"] or "")
            if algo and trace["type"] == "scatter" and trace["color"] and not trace["color"].startswith("rgba"):
                beta = float(re.search(r"β=(\S+)", trace["group"]).group(1)) if "β=" in trace["group"] else 1.0
                expected = figure_style.color_of(algo, beta) if algo == "c-trpo" else figure_style.color_of(algo)
                assert trace["color"] == expected, (trace, expected)
                checked[page_name].add(algo)
    assert checked["compare"] == {"c-trpo", "trpo", "trpo-lag"} and {"trpo", "trpo-lag"} <= checked["live"], checked
    heatmaps = [fig for fig in sensitivity if any(t["type"] == "heatmap" for t in fig["traces"])]
    assert len(heatmaps) == 3
    assert all(fig["types"]["xaxis"] == "category" and fig["types"]["yaxis"] == "category" for fig in heatmaps)
    assert all(fig["ycats"] == ["0.8"] for fig in heatmaps)  # one b_H value: one row
    assert sensitivity_problems == [], sensitivity_problems
