"""The Benchmark page's and report's figures, in the one visual language of :mod:`.figure_style` (each
algorithm's colour and marker, the limit in black dashes, 14 px text, one legend above the plots):

- :func:`aggregate_figure`: rliable's interval plot of ``aggregate.aggregate_table``: per normalised score one
  panel, per algorithm one row (C-TRPO on top), the IQM a dot and its 95% CI a bar;
- :func:`improvement_figure`: the probability that C-TRPO improves on each baseline (``improvement_table``),
  return and Reg+, with the 0.5 of "no better, no worse";
- :func:`profile_figure`: a performance profile (``aggregate.performance_profiles``) with its CI bands;
- :func:`curve_grid`: the learning curves, a row per task of Compare's three panels (:func:`plots.curve_panels`).

The ``*_view`` functions give the tables as the page and the report print them ("IQM [low, high]").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..config.algorithms import legend_rank
from .aggregate import IMPROVEMENT_SCORES, LOWER_IS_BETTER, NORMALISED, PER_TASK, with_ci_text
from .figure_style import (
    CTRPO,
    DEFAULT_BETA,
    FONT,
    LIMIT_COLOR,
    LIMIT_DASH,
    algo_marker,
    algo_name,
    band_color,
    color_of,
)
from .plots import X_TITLE, _legend_layout, _log_ticks, _readable, _tick_text, curve_panels

# the normalised scores' names (aggregate.NORMALISED) and what each panel is titled
RETURN, COST, REGRET = (name for _, name in NORMALISED)
PANEL_TITLES = {RETURN: "return ÷ PPO's", COST: "cost: V<sub>c</sub> / b − 1", REGRET: "Reg+ ÷ CPO's"}
REFERENCE_COLOR, REFERENCE_DASH = "#888888", "dot"  # PPO's return, CPO's Reg+, P = 0.5: grey dots, not the limit
# short: the legend of an interval plot fits one row at 1024 px (the page's caption says the rest)
IQM_LEGEND = "IQM"
CI_LEGEND = "95% CI"
LIMIT_LEGEND = "limit V<sub>c</sub> = b"
REFERENCE_LEGEND = "PPO's return, CPO's Reg+"
EVEN_LEGEND = "0.5: as good"
ROW_PX = 42  # one algorithm's row in an interval plot: the dot, its bar and its name at 14 px
CURVE_ROW_PX, CURVE_GAP_PX = 260, 96  # a task's row of curves, and the room above the next for its title
LOG_SPAN = 30.0  # an axis whose positive values span more than this factor goes on a log scale (auto)


def _color(algo) -> str:
    """An algorithm's colour; C-TRPO's that of its default β, as its curves in :func:`curve_grid` draw it."""
    return color_of(algo, beta=DEFAULT_BETA) if algo == CTRPO else color_of(algo)


def _names(algos) -> list[str]:
    return [algo_name(a) for a in algos]


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _wants_log(values) -> bool:
    """A log axis when every value is positive and they span more than LOG_SPAN (Reg+ of 0.1 beside 500)."""
    values = [float(v) for v in values if _finite(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > LOG_SPAN


def _interval_rows(
    fig: go.Figure, rows: pd.DataFrame, point: str, low: str, high: str, col: int, hover, colors, labels
) -> None:
    """rliable's interval plot in one panel: per row a translucent bar from ``low`` to ``high`` and a dot at
    ``point`` in its colour and marker (a row without an interval: the dot alone; without a value: nothing)."""
    for (_, row), color, label in zip(rows.iterrows(), colors, labels):
        if not _finite(row[point]):
            continue
        text = hover(row)
        if _finite(row[low]) and _finite(row[high]):
            fig.add_trace(
                go.Scatter(
                    x=[row[low], row[high]],
                    y=[label, label],
                    mode="lines",
                    line=dict(color=band_color(color, 0.55), width=12),
                    showlegend=False,
                    legendgroup=label,
                    hovertemplate=text,
                ),
                row=1,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=[row[point]],
                y=[label],
                mode="markers",
                marker=dict(
                    size=13, color=color, symbol=algo_marker(row["_algo"]), line=dict(color="white", width=1.5)
                ),
                showlegend=False,
                legendgroup=label,
                hovertemplate=text,
            ),
            row=1,
            col=col,
        )


def _fit_x(fig: go.Figure, col: int, values, log: bool = False, pad: float = 0.06) -> None:
    """Panel ``col``'s x axis over ``values`` (the bars' ends, the dots, the reference line) with a margin on
    each side: Plotly's own range ends exactly at a bar's end, which then looks cut by the panel's edge."""
    values = [float(v) for v in values if _finite(v) and (not log or float(v) > 0)]
    if not values:
        return
    lo, hi = min(values), max(values)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    span = (hi - lo) or max(abs(hi), 1.0) * 0.5
    fig.update_xaxes(range=[lo - pad * span, hi + pad * span], row=1, col=col)


def _key_traces(fig: go.Figure, entries) -> list[str]:
    """Legend entries that say what the marks mean (a grey dot, a grey bar, the lines): drawn nowhere."""
    for name, style in entries:
        fig.add_trace(go.Scatter(x=[None], y=[None], name=name, showlegend=True, hoverinfo="skip", **style), 1, 1)
    return [name for name, _ in entries]


DOT = dict(mode="markers", marker=dict(size=11, color="#555555", symbol="circle"))
BAR = dict(mode="lines", line=dict(color=band_color("#555555", 0.55), width=10))
LIMIT = dict(mode="lines", line=dict(color=LIMIT_COLOR, dash=LIMIT_DASH, width=2))
REFERENCE = dict(mode="lines", line=dict(color=REFERENCE_COLOR, dash=REFERENCE_DASH, width=2))


def _interval_layout(fig: go.Figure, names, labels, width: float = 520.0) -> go.Figure:
    """The interval plots' common layout: the legend above the panels' titles, one row per label (the first
    on top), names only beside the first panel."""
    legend, top = _legend_layout(names, None, rows_width=width)
    # above the panel titles; "normal": with the rows' legend groups Plotly would stack the ungrouped entries
    legend.update(y=1.0, yref="container", yanchor="top", traceorder="normal")
    fig.update_yaxes(
        type="category", categoryorder="array", categoryarray=labels[::-1], showgrid=True, gridcolor="#eeeeee"
    )
    fig.update_xaxes(zeroline=False)
    fig.update_layout(
        height=top + 10 + 60 + max(3, len(labels)) * ROW_PX,
        legend=legend,
        margin=dict(l=10, r=20, t=top + 10, b=50),
        showlegend=True,
        hoverlabel=dict(font_size=14),
    )
    fig.update_annotations(yshift=4)  # the panel titles clear of the top row's dots
    return _readable(fig)


# ------------------------------------------------------------------------------------------------ aggregate
def aggregate_figure(table: pd.DataFrame, log_regret: bool | None = None) -> go.Figure:
    """rliable's interval plot of ``aggregate.aggregate_table``: three panels (normalised return with PPO's at
    1, normalised cost V_c / b − 1 with the limit at 0 in the limit's black dashes, normalised Reg+ with CPO's
    at 1), one row per algorithm in the legends' order (C-TRPO on top): the IQM over its runs × tasks a dot in
    its colour and marker, the 95% stratified-bootstrap CI a bar. ``log_regret``: Reg+ on a log axis (None:
    when its values are positive and span more than a factor of 30)."""
    scores = [RETURN, COST, REGRET]
    fig = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        horizontal_spacing=0.05,
        subplot_titles=[PANEL_TITLES[s] for s in scores],
    )
    table = table.reset_index(drop=True) if len(table) else pd.DataFrame(columns=["algo"])
    rows = table.assign(_algo=table["algo"])
    labels = _names(table["algo"])
    colors = [_color(a) for a in table["algo"]]
    for col, name in enumerate(scores, start=1):
        if not len(table) or f"{name} IQM" not in table:
            continue

        def hover(row, name=name):
            ends = (
                f"95% CI [{row[f'{name} CI low']:.3g}, {row[f'{name} CI high']:.3g}]"
                if _finite(row[f"{name} CI low"])
                else "no CI (one run)"
            )
            runs = f"{int(row['runs'])} runs on {int(row['tasks'])} tasks" if _finite(row.get("tasks")) else ""
            head = f"<b>{algo_name(row['algo'])}</b><br>{name}: IQM {row[f'{name} IQM']:.3g}"
            return f"{head}, {ends}<br>{runs}<extra></extra>"

        _interval_rows(fig, rows, f"{name} IQM", f"{name} CI low", f"{name} CI high", col, hover, colors, labels)
    log = False
    for col, name in enumerate(scores, start=1):
        ends = [v for c in ("IQM", "CI low", "CI high") for v in table.get(f"{name} {c}", [])]
        if name == REGRET:
            log = _wants_log(ends) if log_regret is None else log_regret
        _fit_x(fig, col, [*ends, 0.0 if name == COST else 1.0], log=log and name == REGRET)
    fig.add_vline(x=1.0, line=dict(color=REFERENCE_COLOR, dash=REFERENCE_DASH, width=2), row=1, col=1)
    fig.add_vline(x=0.0, line=dict(color=LIMIT_COLOR, dash=LIMIT_DASH, width=2), row=1, col=2)
    fig.add_vline(x=0.0 if log else 1.0, line=dict(color=REFERENCE_COLOR, dash=REFERENCE_DASH, width=2), row=1, col=3)
    if log:  # add_vline draws x = 1 at log10(1) = 0 on a log axis
        ticks = _log_ticks([[*ends, 1.0]])  # 0.5, 1, 2, 5, 10: Plotly's own label 0.5 as a small "5"
        log_ticks = {"tickvals": ticks, "ticktext": [_tick_text(t) for t in ticks]} if ticks else {}
        fig.update_xaxes(type="log", title_text="log scale", row=1, col=3, **log_ticks)
    names = _key_traces(
        fig,
        [(IQM_LEGEND, DOT), (CI_LEGEND, BAR), (LIMIT_LEGEND, LIMIT), (REFERENCE_LEGEND, REFERENCE)],
    )
    return _interval_layout(fig, names, labels)


# ------------------------------------------------------------------------------------- probability of improvement
def improvement_figure(table: pd.DataFrame, algo: str = "c-trpo") -> go.Figure:
    """The probability that ``algo`` improves on each baseline (``aggregate.improvement_table``: a run of it on
    a random task beats a run of the baseline), for return (higher) and Reg+ (lower): per baseline a dot and
    its 95% CI bar in the baseline's colour, on [0, 1] with the 0.5 of "no better, no worse"."""
    scores = [(column, name) for column, name in NORMALISED if column in IMPROVEMENT_SCORES]
    me = algo_name(algo)
    titles = [
        f"P({me}'s {'Reg+ is lower' if column in LOWER_IS_BETTER else 'return is higher'})" for column, _ in scores
    ]
    fig = make_subplots(rows=1, cols=len(scores), shared_yaxes=True, horizontal_spacing=0.06, subplot_titles=titles)
    table = table.reset_index(drop=True) if len(table) else pd.DataFrame(columns=["versus"])
    rows = table.assign(_algo=table["versus"])
    labels = [f"vs {n}" for n in _names(table["versus"])]
    colors = [_color(a) for a in table["versus"]]
    for col, (column, name) in enumerate(scores, start=1):
        point, low, high = f"P({name}) better", f"P({name}) CI low", f"P({name}) CI high"
        what = "Reg+ is lower" if column in LOWER_IS_BETTER else "return is higher"
        if point not in table:
            continue

        def hover(row, point=point, low=low, high=high, what=what):
            return (
                f"<b>{me} vs {algo_name(row['versus'])}</b><br>P({me}'s {what}) = {row[point]:.2f}, "
                f"95% CI [{row[low]:.2f}, {row[high]:.2f}]<extra></extra>"
            )

        _interval_rows(fig, rows, point, low, high, col, hover, colors, labels)
        fig.add_vline(x=0.5, line=dict(color=REFERENCE_COLOR, dash=REFERENCE_DASH, width=2), row=1, col=col)
    fig.update_xaxes(range=[-0.03, 1.03], tickvals=[0, 0.25, 0.5, 0.75, 1])
    names = _key_traces(
        fig,
        [
            ("probability", DOT),
            (CI_LEGEND, BAR),
            (EVEN_LEGEND, REFERENCE),
        ],
    )
    return _interval_layout(fig, names, labels)


# ------------------------------------------------------------------------------------------ performance profile
PROFILE_TITLES = {
    "return_norm": ("normalised return τ (÷ PPO's)", "fraction of runs with return > τ", 1.0),
    "cost_norm": ("normalised cost τ (V<sub>c</sub> / b − 1)", "fraction of runs with cost < τ", 0.0),
    "regret_norm": ("normalised Reg+ τ (÷ CPO's)", "fraction of runs with Reg+ < τ", 1.0),
}


def profile_figure(profiles: pd.DataFrame, column: str = "return_norm", height: int | None = None) -> go.Figure:
    """A performance profile (``aggregate.performance_profiles``): per algorithm the fraction of its runs ×
    tasks whose score is above τ (below, for cost and Reg+) against τ, a line in its colour and marker with its
    95% CI as a band; the reference (PPO's return, the limit, CPO's Reg+) as a vertical line."""
    x_title, y_title, reference = PROFILE_TITLES[column]
    fig = go.Figure()
    algos = sorted(profiles.algo.unique(), key=lambda a: (legend_rank(a), a)) if len(profiles) else []
    for algo in algos:
        g = profiles[profiles.algo == algo].sort_values("tau")
        color, name = _color(algo), algo_name(algo)
        xs = g.tau.tolist()
        fig.add_trace(
            go.Scatter(
                x=xs + xs[::-1],
                y=g["CI high"].tolist() + g["CI low"].tolist()[::-1],
                fill="toself",
                mode="lines",
                fillcolor=band_color(color, 0.15),
                line=dict(width=0, color=band_color(color, 0.15)),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=algo,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=g.fraction.tolist(),
                name=name,
                legendgroup=algo,
                mode="lines+markers",
                line=dict(color=color, width=2.5),
                marker=dict(symbol=algo_marker(algo), size=8, color=color, maxdisplayed=10),
                customdata=np.stack([g["CI low"], g["CI high"]], axis=-1),
                hovertemplate=f"<b>{name}</b><br>τ %{{x:.3g}}: %{{y:.2f}} of its runs, 95% CI "
                "[%{customdata[0]:.2f}, %{customdata[1]:.2f}]<extra></extra>",
            )
        )
    style = LIMIT if column == "cost_norm" else REFERENCE
    if algos:
        fig.add_vline(x=reference, line=style["line"])
    key = {"cost_norm": LIMIT_LEGEND, "return_norm": "τ = 1: PPO's return"}.get(column, "τ = 1: CPO's Reg+")
    fig.add_trace(go.Scatter(x=[None], y=[None], name=key, hoverinfo="skip", **style))
    names = [*_names(algos), key]
    legend, top = _legend_layout(names, None)
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title, range=[-0.02, 1.04])
    fig.update_layout(
        height=height or 340 + top,
        legend=legend,
        margin=dict(l=10, r=20, t=top, b=60),
        hoverlabel=dict(font_size=14),
        showlegend=True,
    )
    return _readable(fig)


# ------------------------------------------------------------------------------------------------ learning curves
CURVE_METRICS = ("ep_return", "ep_cost", "cost_regret")


def curve_grid(curves: pd.DataFrame, tasks=None, log_y: bool = False) -> go.Figure:
    """The learning curves of a benchmark: a row per task (``tasks``' order, default sorted), in it return, cost
    (the task's limit b in black dashes) and Reg+ against steps, one line per algorithm (the mean over its
    finished seeds with a ± 1 std band): each row is :func:`plots.curve_panels` of that task, its lines named by
    the algorithm alone and toggled together across the rows from the one legend above. ``log_y``: cost and
    Reg+ on log axes."""
    present = sorted(curves.task.unique()) if len(curves) else []
    tasks = [t for t in (tasks or present) if t in present]
    if not tasks:
        fig = go.Figure()
        fig.add_annotation(text="no finished run yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.update_layout(height=200, margin=dict(l=10, r=10, t=10, b=10))
        return _readable(fig)
    labels = {run: algo_name(algo) for run, algo in zip(curves.run, curves.algo)}
    n = len(tasks)
    names: list[str] = []  # the legend: each algorithm once, in the legends' order, the limit last
    algos = sorted(curves.algo.unique(), key=lambda a: (legend_rank(a), a))
    order = {algo_name(a): i for i, a in enumerate(algos)}
    rows_px = n * CURVE_ROW_PX + (n - 1) * CURVE_GAP_PX
    fig = make_subplots(
        rows=n, cols=3, horizontal_spacing=0.16, vertical_spacing=CURVE_GAP_PX / rows_px if n > 1 else 0.0
    )
    shown: set[str] = set()
    for r, task in enumerate(tasks, start=1):
        mine = curves[curves.task == task]
        limits = mine.cost_limit.dropna().unique() if "cost_limit" in mine else []
        b = float(limits[0]) if len(limits) == 1 else None
        panel = curve_panels(mine, CURVE_METRICS, pooled=True, cost_limit=b, log_y=log_y, labels=labels)
        group = {t.legendgroup: t.name for t in panel.data if t.name and t.legendgroup != "limit"}
        for trace in panel.data:
            col = 1 if trace.xaxis in (None, "x") else int(trace.xaxis[1:])
            if trace.legendgroup == "limit":
                trace.update(name="limit b (per task)", showlegend="limit" not in shown)
                shown.add("limit")
            else:
                name = group.get(trace.legendgroup, trace.name)
                first = bool(trace.name) and name not in shown
                trace.update(legendgroup=name, showlegend=first, legendrank=order.get(name, len(order)))
                if first:
                    shown.add(name)
            fig.add_trace(trace, row=r, col=col)
        for col in range(1, 4):  # the panel's axes as curve_panels set them (log, ticks), and the task's steps
            suffix = "" if col == 1 else str(col)
            y = panel.layout[f"yaxis{suffix}"]
            fig.update_yaxes(
                type=y.type, tickvals=y.tickvals, ticktext=y.ticktext, title_text=y.title.text, row=r, col=col
            )
            fig.update_xaxes(
                range=[float(mine.total_steps.min()), float(mine.total_steps.max())],
                title_text=X_TITLE if r == n else None,
                tickformat="~s",  # 2k, 2.5k: upright in a third of a 1024 px page
                row=r,
                col=col,
            )
        domain = fig.get_subplot(r, 1).yaxis.domain
        fig.add_annotation(
            text=f"<b>{task}</b>" + (f" · cost limit b = {b:g}" if b is not None else ""),
            x=0,
            y=domain[1],
            xref="paper",
            yref="paper",
            xanchor="left",
            yanchor="bottom",
            yshift=6,
            showarrow=False,
            font=dict(FONT, color="#222222"),  # the theme's grey is for ticks: this names the row
        )
    names = sorted((s for s in shown if s != "limit"), key=lambda s: order.get(s, len(order)))
    names.append("limit b (per task)")
    legend, top = _legend_layout(names, None)
    legend.update(y=1.0, yref="container", yanchor="top")  # above the first task's title
    top += 20  # the first task's title
    fig.update_layout(
        height=top + rows_px + 70,
        legend=legend,
        margin=dict(l=10, r=10, t=top, b=70),
        hoverlabel=dict(font_size=14),
        showlegend=True,
    )
    return _readable(fig)


# ----------------------------------------------------------------------------------- the tables as people read them
def aggregate_view(table: pd.DataFrame) -> pd.DataFrame:
    """``aggregate_table`` with each score as 'IQM [low, high]' and the algorithms' names."""
    if table.empty:
        return table
    view = with_ci_text(table, [name for _, name in NORMALISED])
    view["algo"] = _names(view["algo"])
    view["probably safe"] = view["probably safe"].map({True: "yes", False: "no"})
    view["runs"] = [f"{int(r)} ({int(t)} task{'s' if t != 1 else ''})" for r, t in zip(view.runs, view.tasks)]
    return view[["algo", *[name for _, name in NORMALISED], "probably safe", "runs"]]


def improvement_view(table: pd.DataFrame) -> pd.DataFrame:
    """``improvement_table`` with each probability as 'P [low, high]'."""
    if table.empty:
        return table
    out = pd.DataFrame({"versus": _names(table["versus"])})
    for column, name in NORMALISED:
        if column in IMPROVEMENT_SCORES and f"P({name}) better" in table:
            out[f"P({name} better)"] = [
                f"{p:.2f} [{lo:.2f}, {hi:.2f}]"
                for p, lo, hi in zip(
                    table[f"P({name}) better"], table[f"P({name}) CI low"], table[f"P({name}) CI high"]
                )
            ]
    return out


def per_task_view(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """One task's rows of ``per_task_table``: the algorithm, its finished seeds and 'IQM [low, high]' of the
    final return, final cost and Reg+."""
    rows = table[table.task == task]
    names = [name for _, name in PER_TASK]
    view = with_ci_text(rows, names)
    view["algo"] = _names(view["algo"])
    return view[["algo", "finished seeds", "seed ids", *names]].reset_index(drop=True)
