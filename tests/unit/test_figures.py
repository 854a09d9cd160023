"""One visual language for every figure (issue 18): a fixed colour per algorithm whatever else is shown,
C-TRPO's β in one ordered blue family, the limit b in a colour and dash no run uses, one legend per
figure, axis titles, log axes, categorical β and b_H, and the per-setting research table. Built on real
short runs of the built-in GridHazard-v0 task."""

import colorsys

import numpy as np
import pytest

from ctrpo_core import api
from ctrpo_core.config.algorithms import ALGORITHMS
from ctrpo_core.results import catalog, figure_style, plots, pooling, tables
from ctrpo_core.results.intervals import iqm

SMALL = dict(total_steps=1500, steps_per_epoch=500, num_envs=4)
RUNS = [
    ("c-trpo", 0.0, 0),
    ("c-trpo", 1.0, 0),
    ("c-trpo", 10.0, 0),
    ("trpo", None, 0),
    ("trpo", None, 1),
    ("trpo", None, 2),
    ("trpo", None, 3),
    ("trpo-lag", None, 0),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures") / "runs"
    for algo, beta, seed in RUNS:
        name = f"{algo}-{beta:g}-{seed}" if beta is not None else f"{algo}-{seed}"
        api.train("GridHazard-v0", algo, seed=seed, beta=beta, runs_dir=str(folder), name=name, **SMALL)
    return folder


def curves_of(folder, *names):
    return catalog.load_curves([folder / n for n in names])


def legend_colors(fig) -> dict:
    """{legend name: line colour} of the traces the legend lists."""
    return {t.name: t.line.color for t in fig.data if t.showlegend is not False and t.name}


def lightness(color: str) -> float:
    r, g, b = (int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return colorsys.rgb_to_hls(r, g, b)[1]


def test_an_algorithm_keeps_its_colour_whatever_runs_are_added(runs):
    few = plots.curve_panels(curves_of(runs, "trpo-0", "c-trpo-1-0"), pooled=False, cost_limit=1.0)
    many = plots.curve_panels(
        curves_of(runs, "trpo-0", "trpo-lag-0", "c-trpo-0-0", "c-trpo-1-0", "c-trpo-10-0"), pooled=False, cost_limit=1.0
    )
    demo = plots.curve_panels(
        curves_of(runs, "trpo-0", "c-trpo-1-0", "c-trpo-10-0"),
        pooled=False,
        labels={"trpo-0": "TRPO", "c-trpo-1-0": "C-TRPO β=1", "c-trpo-10-0": "C-TRPO β=10"},
    )
    few, many, demo = legend_colors(few), legend_colors(many), legend_colors(demo)
    assert few["TRPO"] == many["TRPO"] == demo["TRPO"] == figure_style.color_of("trpo")
    assert few["C-TRPO β=1"] == many["C-TRPO β=1"] == demo["C-TRPO β=1"]
    assert many["TRPO-Lag"] == figure_style.color_of("trpo-lag")
    # the limit b: a colour and a dash that no run uses
    limit = [
        t
        for t in plots.curve_panels(curves_of(runs, "trpo-0"), pooled=False, cost_limit=1.0).data
        if t.name == "limit b = 1"
    ]
    assert limit and limit[0].line.color == figure_style.LIMIT_COLOR and limit[0].line.dash == figure_style.LIMIT_DASH
    run_lines = [c for n, c in many.items() if not n.startswith("limit")]
    assert figure_style.LIMIT_COLOR not in run_lines and "red" not in run_lines
    everything = plots.curve_panels(
        catalog.load_curves(sorted(p for p in runs.iterdir() if p.is_dir())), pooled=False, cost_limit=1.0
    )
    assert all(t.line.dash != figure_style.LIMIT_DASH for t in everything.data if not t.name.startswith("limit"))


def test_the_beta_family_is_ordered_blues(runs):
    fig = plots.curve_panels(curves_of(runs, "c-trpo-0-0", "c-trpo-1-0", "c-trpo-10-0"), pooled=True)
    colors = legend_colors(fig)
    shades = [colors[f"C-TRPO β={b}"] for b in ("0", "1", "10")]
    assert len(set(shades)) == 3
    assert lightness(shades[0]) > lightness(shades[1]) > lightness(shades[2])  # darker = stronger barrier
    assert all(colorsys.rgb_to_hls(*(int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)))[0] * 360 > 180 for c in shades)
    assert not set(shades) & {a.color for a in ALGORITHMS.values()} - {figure_style.color_of("c-trpo")}
    # b_H variants at one β: ordered by b_H
    assert figure_style.color_of("c-trpo", 1.0, 0.6, family_values=[(1.0, 0.6), (1.0, 1.0)]) != figure_style.color_of(
        "c-trpo", 1.0, 1.0, family_values=[(1.0, 0.6), (1.0, 1.0)]
    )


def test_one_legend_axis_titles_hover_and_log_axes(runs):
    curves = curves_of(runs, "trpo-0", "trpo-1", "c-trpo-1-0", "trpo-lag-0")
    fig = plots.curve_panels(curves, pooled=True, cost_limit=1.0, log_y=True)
    listed = [t.name for t in fig.data if t.showlegend is not False]
    assert sorted(listed) == sorted(["TRPO", "C-TRPO β=1", "TRPO-Lag", "limit b = 1"])
    assert len(listed) == len(set(listed))  # one entry per setting, shared by the three panels
    layout = fig.layout
    assert all(layout[f"yaxis{i}"].title.text for i in ("", "2", "3"))
    assert "cost" in layout.yaxis2.title.text and "Reg+" in layout.yaxis3.title.text
    assert layout.yaxis.type != "log" and layout.yaxis2.type == "log" and layout.yaxis3.type == "log"
    for t in fig.data:  # nothing ≤ 0 goes to a log axis (Plotly would drop it silently)
        if t.yaxis in ("y2", "y3") and t.name != "limit b = 1":
            assert all(v is None or np.isnan(v) or v > 0 for v in t.y)
    full = catalog.label(api.read_run(runs / "trpo-0").config)
    assert any(full in (t.hovertemplate or "") for t in fig.data)  # the full settings on hover
    assert layout.font.size >= 14 and layout.xaxis.tickfont.size >= 14 and layout.legend.font.size >= 14
    assert layout.legend.orientation == "h" and layout.legend.y >= 1  # above the plots, not inside them
    assert set(plots.ctrpo_only(curves).algo) == {"c-trpo"}
    ticks = list(layout.yaxis3.tickvals or [])  # 1-2-5 (or sparser) ticks, labelled in full-size print
    assert ticks and all(f"{t:g}".strip("0.")[0] in "1235" for t in ticks)


def test_shrinkage_figures_skip_missing_columns_and_explain_their_panels(runs):
    curves = curves_of(runs, "c-trpo-1-0", "trpo-0")
    headline = plots.shrinkage_figure(curves)
    budget = [t for t in headline.data if t.xaxis == "x3" and t.mode == "lines"]
    assert len(budget) == 2  # Δb of both runs, against training (a run below the axis: also a marker at its edge)
    if "alpha_max" in curves:  # α_max against Δb, C-TRPO's recovery updates left out
        scatter = {t.name: t for t in headline.data if t.xaxis == "x" and t.mode == "markers"}
        ctrpo = curves[(curves.run == "c-trpo-1-0") & (curves.recovery < 0.5) & curves.alpha_max.notna()]
        trpo = curves[(curves.run == "trpo-0") & curves.alpha_max.notna()]
        assert sorted(len(t.x) for t in scatter.values()) == sorted(n for n in (len(ctrpo), len(trpo)) if n)
        assert any(t.name == plots.BUDGET_LINE for t in headline.data)
    old = curves.drop(
        columns=[c for c in ("alpha_max", "alpha_max_kl", "alpha_max_exact", "alpha_step") if c in curves]
    )
    older = plots.shrinkage_figure(old)
    assert not [t for t in older.data if t.xaxis == "x"] or all(t.x == (None,) for t in older.data if t.xaxis == "x")
    if "alpha_max" in curves:
        assert "α_max" in headline.layout.yaxis.title.text and "Δb" in headline.layout.xaxis.title.text
    sentence = plots.shrinkage_sentence(curves)
    assert "Δb" in sentence and ("TRPO's" in sentence if "alpha_max" in curves else "before α_max" in sentence)
    details = plots.shrinkage_details_figure(curves)
    titles = [a.text for a in details.layout.annotations]
    assert titles == [title for *_, title in plots.SHRINKAGE_PANELS] == list(plots.SHRINKAGE_PANEL_NOTES)


def test_sensitivity_axes_are_evenly_spaced_categories(runs):
    summaries = catalog.run_table(runs)
    sweep = summaries[summaries.algo == "c-trpo"]
    figures = plots.sensitivity_figures(sweep)
    heat = figures[0]
    assert heat.layout.xaxis.type == "category" and heat.layout.yaxis.type == "category"
    assert list(heat.data[0].x) == ["0", "1", "10"]  # β = 0 and β = 10: cells of one width
    assert list(heat.layout.yaxis.categoryarray) == ["0.8"]  # one b_H: one row, not an axis from 0.4 to 1.2
    assert all(text for text in heat.data[0].text[0])  # every cell labelled
    assert figures[3].layout.xaxis.type == "category"
    assert "std" in figures[3].layout.yaxis.title.text  # the error bars say what they are


def test_comparison_table_median_iqm_and_one_seed_note(runs):
    kept, _ = pooling.one_run_per_seed(catalog.run_table(runs))
    table = pooling.comparison_table(kept, reps=300).set_index("setting")
    trpo = kept[kept.algo == "trpo"].sort_values("seed")
    returns = np.sort(trpo.final_return.to_numpy())
    assert table.loc["TRPO", "finished seeds"] == 4 and table.loc["TRPO", "seed ids"] == "0,1,2,3"
    assert table.loc["TRPO", "return median"] == pytest.approx(np.median(returns))
    assert table.loc["TRPO", "return IQM"] == pytest.approx(returns[1:3].mean())  # the middle 50% of 4 seeds
    assert table.loc["TRPO", "return IQM"] == pytest.approx(iqm(returns))
    low, high = table.loc["TRPO", ["return CI low", "return CI high"]]
    assert returns[0] <= low <= table.loc["TRPO", "return IQM"] <= high <= returns[-1]
    assert table.loc["TRPO-Lag", "note"] == pooling.ONE_SEED_NOTE and np.isnan(table.loc["TRPO-Lag", "Reg+ CI low"])
    assert any("TRPO-Lag" in line for line in tables.one_seed_settings(table.reset_index()))
    assert list(table.index[:3]) == ["C-TRPO β=0", "C-TRPO β=1", "C-TRPO β=10"]  # ordered as the legends
    view = tables.comparison_view(table.reset_index())
    assert list(view.columns[:3]) == ["setting", "finished seeds", "seed ids"] and set(view.columns) <= set(
        tables.COLUMN_HELP
    )


def test_short_labels_name_only_what_differs():
    labels = [
        "T c-trpo β=1 b_H=0.8 δ=0.01 b=1 steps=1500",
        "T c-trpo β=10 b_H=0.8 δ=0.01 b=1 steps=1500",
        "T trpo δ=0.01 b=1 steps=1500",
        "T trpo δ=0.01 b=1 steps=1500 gamma=0.9",
    ]
    short = figure_style.short_labels(labels)
    assert [short[x] for x in labels] == ["C-TRPO β=1", "C-TRPO β=10", "TRPO", "TRPO gamma=0.9"]
    two_tasks = figure_style.short_labels(["A trpo b=1", "B trpo b=1"])
    assert two_tasks == {"A trpo b=1": "A TRPO", "B trpo b=1": "B TRPO"}
