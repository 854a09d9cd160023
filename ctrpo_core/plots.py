"""Plotly figures of training curves (the app's Live and Compare pages, the notebooks)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from .catalog import pool_seeds

TITLES = {
    "ep_return": "episode return", "ep_cost": "episode cost", "cost_regret": "Reg+ (cumulative cost regret)",
}


def _band_color(color: str) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},0.2)"


def curve_figure(curves, y: str, pooled: bool = True, cost_limit: float | None = None,
                 x: str = "total_steps", height: int = 360) -> go.Figure:
    """One metric against steps: a line per label (seeds pooled: mean ± std band) or per run."""
    fig = go.Figure()
    palette = qualitative.Plotly
    if len(curves):
        if pooled:
            data = pool_seeds(curves, y, x)
            for i, (name, g) in enumerate(data.groupby("label", sort=True)):
                color = palette[i % len(palette)]
                fig.add_trace(go.Scatter(x=list(g[x]) + list(g[x])[::-1], y=list(g["high"]) + list(g["low"])[::-1],
                                         fill="toself", fillcolor=_band_color(color), line=dict(width=0),
                                         hoverinfo="skip", showlegend=False, legendgroup=name))
                fig.add_trace(go.Scatter(x=g[x], y=g["mean"], name=f"{name} (n={int(g['count'].max())})",
                                         line=dict(color=color), legendgroup=name))
        else:
            for i, (name, g) in enumerate(curves.groupby("run", sort=True)):
                fig.add_trace(go.Scatter(x=g[x], y=g[y], name=name, line=dict(color=palette[i % len(palette)])))
    if cost_limit is not None:
        add_limit_line(fig, cost_limit, curves[x] if len(curves) else None)
    # the legend sits at the bottom of the figure, below the axis title, in its own margin
    fig.update_layout(title=TITLES.get(y, y), height=height, margin=dict(l=40, r=10, t=40, b=110),
                      xaxis_title="environment steps",
                      legend=dict(orientation="h", yref="container", y=0.0, yanchor="bottom"))
    return fig


def add_limit_line(fig: go.Figure, cost_limit: float, xs=None, **where) -> None:
    """The cost limit b as a dashed red line named in the legend (a text annotation on the line would
    cover curves or axis titles)."""
    if xs is None or not len(xs):
        fig.add_hline(y=cost_limit, line_dash="dash", line_color="red", **where)
        return
    fig.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[cost_limit, cost_limit], mode="lines", name=f"limit b = {cost_limit:g}",
                             line=dict(color="red", dash="dash"), hoverinfo="skip"), **where)


SHRINKAGE_PANELS = [  # (row, col, columns, title)
    (1, 1, ("kl", "divergence", "trust_radius"), "accepted KL, D_C and δ"),
    (1, 2, ("barrier",), "barrier β·φ at the accepted step"),
    (2, 1, ("budget",), "budget Δb = b − Ĵ_c"),
    (2, 2, ("curvature",), "barrier curvature β·φ''(0)"),
    (3, 1, ("step_fraction",), "accepted line-search fraction"),
    (3, 2, ("ls_tries",), "line-search tries"),
]
DASH = {"kl": "solid", "divergence": "dot", "trust_radius": "dash"}


def shrinkage_figure(curves, x: str = "total_steps", height: int = 720) -> go.Figure:
    """The trust region over training, one colour per run; epochs in recovery mode are shaded
    (those of the first run)."""
    fig = make_subplots(rows=3, cols=2, shared_xaxes=True, vertical_spacing=0.09,
                        subplot_titles=[title for *_, title in SHRINKAGE_PANELS])
    palette = qualitative.Plotly
    runs = list(curves.groupby("run", sort=True)) if len(curves) else []
    for i, (name, g) in enumerate(runs):
        color = palette[i % len(palette)]
        for row, col, columns, _ in SHRINKAGE_PANELS:
            for column in columns:
                fig.add_trace(go.Scatter(x=g[x], y=g[column], name=f"{name}: {column}", legendgroup=name,
                                         showlegend=(row, col) == (1, 1),
                                         line=dict(color=color, dash=DASH.get(column, "solid"))), row, col)
    shapes = []  # built as plain dicts: one add_vrect per span and panel re-validates the whole figure
    for start, end in _recovery_spans(runs[0][1], x) if runs else []:
        for i in range(len(SHRINKAGE_PANELS)):
            axis = "" if i == 0 else str(i + 1)
            shapes.append(dict(type="rect", xref=f"x{axis}", yref=f"y{axis} domain", x0=start, x1=end, y0=0, y1=1,
                               fillcolor="orange", opacity=0.15, line_width=0, layer="below"))
    fig.update_layout(shapes=shapes, height=height, margin=dict(l=40, r=10, t=50, b=30), legend=dict(orientation="h", y=-0.08),
                      title="trust-region shrinkage (shaded: recovery epochs)")
    return fig


def _recovery_spans(g, x):
    spans, start, previous = [], None, None
    for xv, flag in zip(g[x], g["recovery"].fillna(0)):
        if flag >= 0.5 and start is None:
            start = previous if previous is not None else xv
        if flag < 0.5 and start is not None:
            spans.append((start, previous))
            start = None
        previous = xv
    if start is not None:
        spans.append((start, previous))
    return spans


SENSITIVITY_METRICS = [("final_return", "final return"), ("final_cost", "final cost"), ("reg_plus", "Reg+")]


def sensitivity_figures(summaries) -> list[go.Figure]:
    """Heatmaps over β × b_H (means over seeds and δ) of final return, final cost and Reg+, and
    the same three against β with one line per b_H."""
    done = summaries[summaries.epoch > 0] if len(summaries) else summaries
    figures = []
    for column, title in SENSITIVITY_METRICS:
        grid = done.pivot_table(index="bh", columns="beta", values=column, aggfunc="mean") if len(done) else None
        fig = go.Figure()
        if grid is not None and grid.size:
            fig.add_trace(go.Heatmap(z=grid.values, x=[f"{b:g}" for b in grid.columns],
                                     y=[f"{b:g}" for b in grid.index], colorscale="Viridis",
                                     text=[[f"{v:.3g}" for v in row] for row in grid.values], texttemplate="%{text}"))
        fig.update_layout(title=f"{title} over β × b_H", xaxis_title="β", yaxis_title="b_H", height=320,
                          margin=dict(l=40, r=10, t=40, b=30))
        figures.append(fig)
    for column, title in SENSITIVITY_METRICS:
        fig = go.Figure()
        if len(done):
            means = done.groupby(["bh", "beta"])[column].agg(["mean", "std"]).reset_index()
            for bh, g in means.groupby("bh"):
                fig.add_trace(go.Scatter(x=[f"{b:g}" for b in g["beta"]], y=g["mean"], mode="lines+markers",
                                         error_y=dict(array=g["std"].fillna(0)), name=f"b_H={bh:g}"))
        # β as evenly spaced categories: grids span decades and often include β = 0, which a log axis drops
        order = [f"{b:g}" for b in sorted(done.beta.unique())] if len(done) else []
        fig.update_layout(title=f"{title} against β", xaxis_title="β", height=320,
                          xaxis=dict(type="category", categoryorder="array", categoryarray=order),
                          margin=dict(l=40, r=10, t=40, b=30))
        figures.append(fig)
    return figures


def recovery_figure(grid) -> go.Figure:
    """Fraction of epochs in recovery mode against b_H, one line per β (``analysis.grid_table`` rows)."""
    fig = go.Figure()
    palette = qualitative.Plotly
    if len(grid):
        for i, (beta, g) in enumerate(grid.sort_values("bh").groupby("beta", sort=True)):
            fig.add_trace(go.Scatter(x=g["bh"], y=g["recovery_frac"], mode="lines+markers", name=f"β={beta:g}",
                                     line=dict(color=palette[i % len(palette)])))
    fig.update_layout(title="recovery-mode frequency against b_H", xaxis_title="b_H",
                      yaxis_title="fraction of epochs in recovery", height=320, margin=dict(l=40, r=10, t=40, b=30))
    return fig


def normalised_figure(table, names, height: int = 340) -> go.Figure:
    """IQM with 95% CI per algorithm, one panel per normalised score (``analysis.normalised_table``)."""
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=list(names), horizontal_spacing=0.08)
    for col, name in enumerate(names, start=1):
        if len(table):
            mid, low, high = table[f"{name} IQM"], table[f"{name} CI low"], table[f"{name} CI high"]
            fig.add_trace(go.Scatter(x=mid, y=table["algo"], mode="markers", marker=dict(size=10), showlegend=False,
                                     error_x=dict(type="data", symmetric=False, array=(high - mid).fillna(0),
                                                  arrayminus=(mid - low).fillna(0))), row=1, col=col)
        fig.add_vline(x=0.0 if "b − 1" in name else 1.0, line_dash="dot", line_color="grey", row=1, col=col)
    fig.update_layout(title="across tasks: IQM over seeds × tasks, 95% stratified-bootstrap CIs", height=height,
                      margin=dict(l=60, r=10, t=60, b=30))
    return fig
