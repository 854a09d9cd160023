"""The classroom Demo read from the back of a room: a cost axis focused on the limit with the runs above it marked
at its edge, Reg+ on a log axis, C-TRPO's β variants told apart by more than a shade of blue, a line of what to see
under each panel written from the runs' numbers, the trust-region picture's every line named and its clipped
points marked, plain column names, and the rollouts in their algorithm's colour. Built on real short runs of the
built-in HazardEdge-v0 task (the demo's task, 10 epochs: TRPO walks far over b = 5, TRPO-Lag overshoots)."""

import ast
import io
import math
import re

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from ctrpo_core import api
from ctrpo_core.results import catalog, figure_style, plots
from ctrpo_core.tools import demo
from ctrpo_core.tools.render import render_episode

STEPS = 20_000  # 10 epochs: enough for TRPO to leave a focused cost axis
RUNS = {
    "c-trpo-1": ("c-trpo", 1.0),
    "trpo": ("trpo", None),
    "trpo-lag": ("trpo-lag", None),
    "c-trpo-0.1": ("c-trpo", 0.1),
    "c-trpo-10": ("c-trpo", 10.0),
}
B = 5.0  # the demo task's cost limit


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    runs = tmp_path_factory.mktemp("demo_figures") / "runs"
    for name, (algo, beta) in RUNS.items():
        api.train(demo.TASK, algo, seed=0, beta=beta, total_steps=STEPS, runs_dir=str(runs), name=name)
    return runs


@pytest.fixture(scope="module")
def curves(folder):
    return catalog.load_curves([folder / name for name in RUNS])


@pytest.fixture(scope="module")
def labels(folder):
    return {name: demo.short_label(api.read_run(folder / name).config) for name in RUNS}


def traces(fig, axis: str):
    return [t for t in fig.data if t.yaxis == axis]


def test_the_cost_axis_is_focused_on_the_limit_and_runs_above_it_are_marked_at_its_top(curves, labels):
    fig = demo.curves_figure(curves, labels, B)
    low, top = fig.layout.yaxis2.range
    constrained = curves[curves.algo != "trpo"].ep_cost.max()
    assert low == 0 and 2 * B <= top <= 4 * B and (top >= constrained or top == 4 * B)  # TRPO-Lag's overshoot in view
    limit = [t for t in traces(fig, "y2") if t.name == f"limit b = {B:g}"]
    assert limit and limit[0].line.color == figure_style.LIMIT_COLOR and limit[0].line.dash == figure_style.LIMIT_DASH
    marked = {a.text for a in fig.layout.annotations if a.yref == "y2 domain"}
    edge = [t for t in traces(fig, "y2") if t.marker.symbol == "triangle-up"]
    for run, g in curves.groupby("run"):
        name, last = labels[run], g.ep_cost.iloc[-1]
        if g.ep_cost.max() > top:  # e.g. "TRPO ↑ 27": where it is now, or its peak if it came back inside
            text = plots.edge_label(name, last if last > top else g.ep_cost.max(), True, extreme=not last > top)
            assert text in marked, (text, marked)
            assert any(t.legendgroup == run and list(t.y) == [top] and t.cliponaxis is False for t in edge)
        else:
            assert not any(a.startswith(f"{name} ↑") for a in marked)
    assert curves[curves.run == "trpo"].ep_cost.iloc[-1] > top and any(a.startswith("TRPO ↑") for a in marked)
    # Reg+ on a log axis by default, the cost on a linear one; the toggle puts the cost on log too, unfocused
    assert fig.layout.yaxis3.type == "log" and fig.layout.yaxis2.type != "log" and "log" in fig.layout.yaxis3.title.text
    logged = demo.curves_figure(curves, labels, B, log_cost=True)
    assert logged.layout.yaxis2.type == "log" and logged.layout.yaxis2.range is None and not logged.layout.annotations


def test_beta_variants_differ_in_style_and_never_look_like_the_limit(curves, labels):
    fig = demo.curves_figure(curves, labels, B)
    shown = {t.name: t for t in fig.data if t.showlegend and t.name.startswith("C-TRPO")}
    styles = {
        name: (t.line.color, t.line.dash, t.marker.symbol if "markers" in t.mode else None) for name, t in shown.items()
    }
    assert set(styles) == {"C-TRPO β=0.1", "C-TRPO β=1", "C-TRPO β=10"}
    # each pair differs in line style or marker, not only in a shade of blue
    pairs = [(a, b) for a in styles for b in styles if a < b]
    assert all(styles[a][1:] != styles[b][1:] for a, b in pairs), styles
    assert styles["C-TRPO β=1"][1:] == ("solid", None)  # the default β: the algorithm's plain line
    for beta in demo.BETA_CHOICES:  # every stop of the slider: its own style, none the limit's
        color, dash, _ = (
            figure_style.color_of("c-trpo", beta),
            figure_style.beta_dash(beta),
            figure_style.beta_symbol(beta),
        )
        assert dash != figure_style.LIMIT_DASH and color != figure_style.LIMIT_COLOR
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
        assert max(r, g, b) > 120  # no near-black navy
    choices = [
        (figure_style.color_of("c-trpo", b), figure_style.beta_dash(b), figure_style.beta_symbol(b))
        for b in demo.BETA_CHOICES
    ]
    assert len(set(choices)) == len(choices) and len({(d, s) for _, d, s in choices}) == len(choices)
    # a β keeps its style when other β are added or taken away
    alone = demo.curves_figure(curves[curves.run.isin(["c-trpo-10", "trpo"])], labels, B)
    ten = next(t for t in alone.data if t.name == "C-TRPO β=10")
    assert (ten.line.color, ten.line.dash, ten.marker.symbol) == styles["C-TRPO β=10"]


def test_a_line_under_each_panel_says_what_the_runs_show(curves, labels):
    facts = {
        labels[run]: (g.ep_cost.iloc[-1], g.ep_cost.max(), g.cost_regret.iloc[-1]) for run, g in curves.groupby("run")
    }
    ret, cost, regret = demo.panel_notes(curves, labels, B)
    assert all(name in cost and name.split(" ")[-1] in regret for name in facts)
    trpo_final = facts["TRPO"][0]
    assert trpo_final > 2 * B and f"TRPO goes far above, to {trpo_final:.0f}" in cost
    assert ret.startswith("TRPO earns the most") and f"by spending {trpo_final:.0f} cost per episode" in ret
    # "C-TRPO β=0.1 and β=1 stay at the dashed limit": exactly the C-TRPO runs that end near b and never overshot
    at_limit = next((c for c in cost.split("; ") if "at the dashed limit" in c), "")
    named = set(re.findall(r"β=([\d.]+)\b", at_limit))
    expected = {
        name.split("=")[1]
        for name, (final, peak, _) in facts.items()
        if name.startswith("C-TRPO") and 0.6 * B <= final <= 1.1 * B and peak <= 1.25 * B
    }
    assert named == expected, (at_limit, facts)
    zero = [name for name, (_, _, reg) in facts.items() if reg == 0]
    assert ("never went above b" in regret) == bool(zero)
    only = demo.panel_notes(plots.ctrpo_only(curves), labels, B)  # C-TRPO only: no word of the others
    assert len(only) == 3 and not any(re.search(r"(?<!C-)TRPO", line) for line in only), only


def test_the_shrinkage_picture_names_every_line_and_marks_what_its_axes_cut(curves, labels):
    fig = plots.shrinkage_figure(curves, labels=labels)
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert plots.KL_BALL_LINE in legend and plots.BUDGET_LINE in legend
    assert any(t.line.dash == "dot" and t.legendgroup == "kl ball" for t in fig.data if t.name != plots.KL_BALL_LINE)
    low, high = fig.layout.yaxis3.range
    assert (low, high) == (-2 * B, 1.1 * B)
    marked = {a.text for a in fig.layout.annotations if a.yref == "y3 domain"}
    for run, g in curves.groupby("run"):
        clipped = g.budget.min() < low
        assert any(text.startswith(f"{labels[run]} ↓") for text in marked) == clipped, (run, marked)
        if clipped:
            assert any(
                t.legendgroup == run and t.marker.symbol == "triangle-down" and list(t.y) == [low] for t in fig.data
            )
    titles = [fig.layout.xaxis.title.text, fig.layout.yaxis.title.text]
    assert "Ĵ<sub>c</sub>" in titles[0] and "Ĵ_c" not in " ".join(titles) and "cost / episode" in titles[1]
    # the caption speaks of the algorithms shown, and only of them
    both = plots.shrinkage_sentence(curves, labels)
    assert "C-TRPO" in both and "TRPO-Lag" in both and "Ĵ_c" not in both
    baselines = plots.shrinkage_sentence(curves[curves.algo != "c-trpo"], labels)
    assert "C-TRPO" not in baselines and "TRPO's" in baselines and "TRPO-Lag's" in baselines
    ctrpo = plots.shrinkage_sentence(plots.ctrpo_only(curves), labels)
    assert "C-TRPO's dots" in ctrpo and not re.search(r"(?<!C-)TRPO", ctrpo)  # neither TRPO nor TRPO-Lag
    assert plots.KL_BALL_LINE not in [t.name for t in plots.shrinkage_figure(curves[curves.algo == "trpo"]).data]


def test_the_recovery_shading_says_whose_epochs_it_marks(curves, labels):
    fig = plots.shrinkage_details_figure(curves, labels=labels)
    notes = [t.name for t in fig.data if t.name and t.name.startswith("shaded: recovery epochs of ")]
    recovering = [labels[run] for run, g in curves.groupby("run", sort=False) if (g.recovery >= 0.5).any()]
    assert bool(fig.layout.shapes) == bool(recovering) == bool(notes)
    if notes:
        assert notes == [plots.recovery_note(notes[0].removeprefix("shaded: recovery epochs of "))]
        assert notes[0].removeprefix("shaded: recovery epochs of ") in recovering


def test_the_demo_table_has_plain_column_names_and_meaningful_digits(folder, labels):
    rows = catalog.run_table(folder)
    view = demo.table_view(rows, {**labels})
    assert list(view.columns) == ["run", "state", "final return", "final cost", "Reg+", "epochs in recovery"]
    assert not any("_" in column for column in view.columns)
    assert set(view.state) == {"finished"}
    for column, source in [("final return", "final_return"), ("final cost", "final_cost"), ("Reg+", "reg_plus")]:
        assert list(view[column]) == [demo.significant(v) for v in rows[source]]
    assert demo.significant(2924.2046) == 2924 and demo.significant(28.978) == 29.0
    assert demo.significant(4.5957) == 4.6 and demo.significant(0.11623) == 0.116 and demo.significant(0) == 0
    assert math.isnan(demo.significant(math.nan))


def test_each_rollout_is_drawn_in_its_algorithms_colour(folder):
    def share(run: str, color: str) -> float:
        gif = Image.open(io.BytesIO(render_episode(folder / run, max_steps=20)["gif"]))
        gif.seek(gif.n_frames - 1)
        target = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
        pixels = np.asarray(gif.convert("RGB"), dtype=int).reshape(-1, 3)
        return float((np.abs(pixels - target).sum(axis=1) < 40).mean())  # the GIF's palette: near, not equal

    trpo, ctrpo = figure_style.color_of("trpo"), figure_style.color_of("c-trpo", 1.0)
    assert share("trpo", trpo) > 0.002 and share("c-trpo-1", ctrpo) > 0.002
    assert share("trpo", ctrpo) < 0.0005 and share("c-trpo-1", trpo) < 0.0005


def test_every_page_shows_its_figures_with_the_one_plotly_config():
    calls = []
    for path in sorted((ROOT / "app" / "views").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "plotly_chart":
                config = next((k.value for k in node.keywords if k.arg == "config"), None)
                calls.append((path.name, node.lineno, getattr(config, "id", None)))
    assert calls and all(config == "PLOTLY_CONFIG" for *_, config in calls), calls
    from ctrpo_core.ui.charts import PLOTLY_CONFIG

    assert PLOTLY_CONFIG["displayModeBar"] is False  # nothing opens over a legend
