"""The figures of the Claims report and page (claims.py gives the numbers): one figure per claim, in the
app's visual language (figure_style.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..results.figure_style import FONT, LIMIT_COLOR, LIMIT_DASH, algo_name, band_color, color_of, legend_rows
from ..results.plots import _readable

NARROWEST_PX = 320  # the Claims page draws a figure in a column this narrow at 1024 px: legends wrap for it
TITLE_PX, LEGEND_ROW_PX, SUBPLOT_TITLE_PX = 34, 24, 44  # a subplot title may take two lines


def _layout(fig: go.Figure, height: int, title: str | None = None) -> go.Figure:
    """Title, legend and subplot titles stacked in the top margin, each in its own band, so none covers another
    at any width the app draws the figure (the legend wraps as it would at :data:`NARROWEST_PX`)."""
    names = [t.name for t in fig.data if t.showlegend is not False and t.name]
    subplots = any(a.xref == "paper" and a.yref == "paper" for a in fig.layout.annotations)
    title_px = TITLE_PX if title else 0
    legend_px = legend_rows(names, width=NARROWEST_PX) * LEGEND_ROW_PX if names else 0
    top = title_px + legend_px + (SUBPLOT_TITLE_PX if subplots else 0) + 12
    fig.update_layout(
        height=height + top,
        margin=dict(l=10, r=10, t=top, b=10),
        showlegend=bool(names),
        title=dict(text=title, x=0, xanchor="left", y=1, yref="container", yanchor="top", pad=dict(t=8))
        if title
        else None,
        legend=dict(
            orientation="h", x=0, xanchor="left", y=1 - (title_px + 4) / (height + top), yref="container", yanchor="top"
        ),
    )
    return _readable(fig)


def true_cost_figure(curves: pd.DataFrame, b: float, height: int = 380) -> go.Figure:
    """The true V_c of every iterate against training, per algorithm (mean over seeds, band: min–max over
    seeds), beside the estimate Ĵ_c it is seen through (dotted); the limit b dashed."""
    fig = go.Figure()
    for algo, g in curves.groupby("algo", sort=False):
        color = color_of(algo)
        by_step = g.groupby("total_steps")
        true, est = by_step.true_cost, by_step.ep_cost.mean()
        x = true.mean().index
        fig.add_trace(
            go.Scatter(
                x=list(x) + list(x[::-1]),
                y=list(true.max()) + list(true.min()[::-1]),
                fill="toself",
                fillcolor=band_color(color),
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(x=x, y=true.mean(), name=f"{algo_name(algo)} true V_c", line=dict(color=color, width=2.5))
        )
        fig.add_trace(
            go.Scatter(
                x=est.index,
                y=est,
                name=f"{algo_name(algo)} Ĵ_c",
                line=dict(color=color, dash="dot", width=1.5),
                visible="legendonly",
            )
        )
    fig.add_hline(
        y=b, line_dash=LIMIT_DASH, line_color=LIMIT_COLOR, annotation_text=f"b = {b:g}", annotation_position="top left"
    )
    fig.update_xaxes(title="environment steps")
    fig.update_yaxes(title="true episode cost V_c(π_k)")
    return _layout(fig, height)


def crossings_figure(table: pd.DataFrame, height: int = 300, title: str | None = None) -> go.Figure:
    """Per algorithm (one row each): truly safe → truly unsafe updates per run (a dot per seed, the bar their
    mean), and the share of truly unsafe iterates."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        shared_yaxes=True,
        subplot_titles=("safe → unsafe<br>updates per run", "share of iterates<br>truly unsafe"),
    )
    algos = list(dict.fromkeys(table.algo))[::-1]  # the first algorithm on top
    names = [algo_name(a) for a in algos]
    for col, column in ((1, "crossings"), (2, "unsafe_share")):
        means = [table[table.algo == a][column].mean() for a in algos]
        fig.add_trace(
            go.Bar(
                y=names,
                x=means,
                orientation="h",
                marker_color=[color_of(a) for a in algos],
                opacity=0.55,
                showlegend=False,
                hovertemplate="%{y}: mean %{x:.3g}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        for a, name in zip(algos, names):
            rows = table[table.algo == a]
            fig.add_trace(
                go.Scatter(
                    y=[name] * len(rows),
                    x=rows[column],
                    mode="markers",
                    showlegend=False,
                    marker=dict(color=color_of(a), size=10, line=dict(color="white", width=1)),
                    text=rows.seed.astype(str),
                    hovertemplate=f"{name} seed %{{text}}: %{{x:.3g}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title="updates", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(title="share", row=1, col=2, range=[0, 1])
    return _layout(fig, height, title)


def surrogate_error_figure(check, height: int = 380) -> go.Figure:
    """Relative errors of α and D̂_C against the step size, log–log, with a slope-1 guide (first order)."""
    fig = go.Figure()
    t = check.steps
    fig.add_trace(
        go.Scatter(
            x=t,
            y=check.alpha_error,
            mode="lines+markers",
            name="α against V_c(π) − V_c(π_k)",
            line=dict(color=color_of("c-trpo"), width=2.5),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=t,
            y=check.divergence_error,
            mode="lines+markers",
            name="D̂_C against the exact D_C",
            line=dict(color="#17becf", width=2.5),
        )
    )
    anchor = max(check.alpha_error[0], check.divergence_error[0])
    fig.add_trace(
        go.Scatter(
            x=t,
            y=anchor * t / t[0],
            mode="lines",
            name="slope 1 (first order)",
            line=dict(color="#7f7f7f", dash="dot"),
            hoverinfo="skip",
        )
    )
    fig.update_xaxes(type="log", title="step size t along the direction<br>(π_t = softmax(θ_k + t·v))")
    fig.update_yaxes(type="log", title="relative error", exponentformat="power")
    return _layout(fig, height)


def regret_return_figure(table: pd.DataFrame, height: int = 380, title: str | None = None) -> go.Figure:
    """Per run: true Reg+ (log) against the final true return, a colour per algorithm."""
    fig = go.Figure()
    for algo, g in table.groupby("algo", sort=False):
        fig.add_trace(
            go.Scatter(
                x=g.true_return,
                y=np.maximum(g.true_reg_plus, 1e-2),
                mode="markers",
                name=algo_name(algo),
                text=g.seed.astype(str),
                marker=dict(color=color_of(algo), size=11, line=dict(color="white", width=1)),
                hovertemplate=f"{algo_name(algo)} seed %{{text}}: return %{{x:.3g}}, true Reg+ %{{y:.3g}}"
                "<extra></extra>",
            )
        )
    fig.update_xaxes(title="final true return V_r")
    fig.update_yaxes(type="log", title="true Reg+ (log; 0 drawn at 0.01)", exponentformat="power")
    return _layout(fig, height, title)


def beta_line_figure(line: pd.DataFrame, height: int = 340, title: str | None = None) -> go.Figure:
    """True Reg+ and final true return against β (C-TRPO, means over seeds), β as evenly spaced categories."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.15, subplot_titles=("true Reg+", "final true return"))
    labels = [f"{b:g}" for b in line.beta]
    colors = [color_of("c-trpo", beta=b) for b in line.beta]
    for col, column in ((1, "true_reg_plus"), (2, "true_return")):
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=line[column],
                mode="lines+markers",
                showlegend=False,
                line=dict(color="#9ecae1"),
                marker=dict(color=colors, size=12),
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title="β", type="category", row=1, col=col)
    fig.update_layout(font=FONT)
    return _layout(fig, height, title)
