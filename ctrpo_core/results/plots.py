"""Plotly figures of training curves, the trust region and sweeps (the app's pages and the notebooks),
in one visual language (:mod:`ctrpo_core.results.figure_style`): a fixed colour per algorithm, C-TRPO's β / b_H in
one ordered blue family, the limit b in black dashes, one legend per figure, short labels with the full
settings on hover, 14 px fonts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..config.algorithms import legend_rank
from .pooling import count_column, finished, pool_seeds
from .figure_style import (CTRPO, FONT, LIMIT_COLOR, LIMIT_DASH, RUN_DASHES, band_color, color_of, family_color, legend_rows, short_labels)

# (short name for hover, y-axis title with its unit)
METRICS = {
    "ep_return": ("return", "return (reward / episode)"),
    "ep_cost": ("cost", "cost / episode"),
    "cost_regret": ("Reg+", "Reg+ (Σ cost above b)"),
}
TITLES = {"ep_return": "episode return", "ep_cost": "episode cost", "cost_regret": "Reg+ (cumulative cost regret)"}
LOG_METRICS = ("ep_cost", "cost_regret")  # what log_y puts on a log axis (a return may be negative)
X_TITLE = "environment steps"
BAND_NOTE = "line: mean over seeds, band: ± 1 std"
LEGEND_ROW_PX, PLOT_PX = 26, 280


def _readable(fig: go.Figure) -> go.Figure:
    """14 px for every text (ticks, axis titles, legend and its title, subplot titles, hover): the app's
    theme would otherwise draw ticks and legend titles at 12 px."""
    fig.update_layout(font=FONT, hoverlabel=dict(font_size=14), legend_font=FONT, legend_title_font=FONT)
    fig.update_xaxes(tickfont=FONT, title_font=FONT, automargin=True)
    fig.update_yaxes(tickfont=FONT, title_font=FONT, automargin=True)
    fig.update_annotations(font=FONT)
    return fig


def ctrpo_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of C-TRPO runs (curves or summaries): its β variants without TRPO's Reg+ of thousands
    flattening them."""
    return frame[frame.algo == CTRPO] if len(frame) and "algo" in frame else frame


def _num(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _series(curves: pd.DataFrame, pooled: bool, labels: dict | None) -> list[dict]:
    """One entry per line of the figure (a setting when pooled, else a run): its name, colour, dash and
    the full settings for the hover."""
    labels = labels or {}
    short = short_labels(curves.label.unique()) if len(curves) else {}
    by = "label" if pooled else "run"
    out = []
    for key, g in curves.groupby(by, sort=False):
        first = g.iloc[0]
        seeds = sorted(g.seed.dropna().unique().tolist()) if "seed" in g else []
        runs = g.run.unique().tolist()
        mapped = {labels[r] for r in runs if r in labels}
        name = mapped.pop() if len(mapped) == 1 and len(runs) == sum(r in labels for r in runs) else short.get(first.label, key)
        out.append(dict(key=key, name=name, label=first.label, algo=first.get("algo"), beta=_num(first.get("beta")),
                        bh=_num(first.get("bh")), seeds=seeds, runs=runs, frame=g))
    if not pooled:  # several runs of one setting shown apart: their seeds tell them apart
        counts = pd.Series([s["label"] for s in out]).value_counts()
        for s in out:
            if counts[s["label"]] > 1 and s["key"] not in labels:
                s["name"] = f"{s['name']} seed {s['seeds'][0] if s['seeds'] else '?'}"
    family = sorted({(s["beta"] or 0.0, s["bh"] or 0.0) for s in out if s["algo"] == CTRPO})
    for s in out:
        s["color"] = color_of(s["algo"], s["beta"], s["bh"], family_values=family)
    seen: dict[str, int] = {}
    for s in sorted(out, key=lambda s: (s["label"], str(s["key"]))):  # one colour twice: other line styles
        s["dash"] = RUN_DASHES[seen.get(s["color"], 0) % len(RUN_DASHES)]
        seen[s["color"]] = seen.get(s["color"], 0) + 1
    out.sort(key=lambda s: (legend_rank(s["algo"]), s["beta"] or 0.0, s["bh"] or 0.0, s["label"], str(s["key"])))
    return out


def _hover(s: dict, metric: str, pooled: bool) -> str:
    name, _ = METRICS.get(metric, (metric, metric))
    seeds = ", ".join(str(int(v)) if float(v).is_integer() else str(v) for v in s["seeds"])
    what = f"{name} %{{y:.4g}}" + (f" (mean of {len(s['seeds'])} seeds; band ± 1 std)" if pooled else "")
    return (f"<b>{s['name']}</b><br>{s['label']}<br>seeds: {seeds or '?'}<br>step %{{x:,.0f}}<br>{what}"
            "<extra></extra>")


def _legend_layout(names, title: str | None, rows_width: float = 860.0) -> tuple[dict, int]:
    """A horizontal legend above the plots, in a top margin sized for its rows: it never covers or
    squeezes a plot."""
    rows = legend_rows([*( [title] if title else []), *names], width=rows_width)
    legend = dict(orientation="h", x=0, xanchor="left", y=1.06, yanchor="bottom", yref="paper",  # clear of ticks
                  font=FONT, itemclick="toggle", itemdoubleclick="toggleothers")
    if title:
        legend["title"] = dict(text=title, side="left")
    return legend, rows * LEGEND_ROW_PX + 30


def curve_panels(curves, metrics=("ep_return", "ep_cost", "cost_regret"), *, pooled: bool, cost_limit=None,
                 log_y: bool = False, labels: dict | None = None, height: int | None = None,
                 x: str = "total_steps") -> go.Figure:
    """Return, cost and Reg+ (``metrics``) against steps side by side in ONE figure with ONE legend above
    them: a line per setting (``pooled``: the mean over its seeds, ± 1 std band) or per run. ``cost_limit``
    draws b on the cost panel; ``log_y`` puts cost and Reg+ on log axes (zeros are not drawn there);
    ``labels`` maps run names to the names the legend shows (default: short labels, full settings on
    hover). ``height``: the whole figure (default: a 280 px plot plus what the legend needs)."""
    metrics = list(metrics)
    fig = make_subplots(rows=1, cols=len(metrics), horizontal_spacing=0.1 if len(metrics) > 1 else 0.0)
    series = _series(curves, pooled, labels) if len(curves) else []
    for col, metric in enumerate(metrics, start=1):
        log = log_y and metric in LOG_METRICS
        for s in series:
            g = s["frame"]
            if metric not in g:
                continue
            if pooled:
                data = pool_seeds(g, metric, x)
                xs, mean, low, high = data[x].tolist(), data["mean"], data["low"], data["high"]
                if log:
                    floor = _log_floor(data["mean"])
                    mean, low, high = mean.where(mean > 0), low.clip(lower=floor), high.clip(lower=floor)
                if (data["count"] > 1).any():
                    fig.add_trace(go.Scatter(x=xs + xs[::-1], y=high.tolist() + low.tolist()[::-1], fill="toself", mode="lines",
                                             fillcolor=band_color(s["color"]), hoverinfo="skip",
                                             line=dict(width=0, color=band_color(s["color"])),
                                             showlegend=False, legendgroup=str(s["key"])), 1, col)
                ys = mean
            else:
                xs, ys = g[x].tolist(), g[metric]
                if log:
                    ys = ys.where(ys > 0)
            fig.add_trace(go.Scatter(x=xs, y=ys.tolist(), name=s["name"], legendgroup=str(s["key"]),
                                     showlegend=col == 1, mode="lines", hovertemplate=_hover(s, metric, pooled),
                                     line=dict(color=s["color"], dash=s["dash"], width=2.5)), 1, col)
        if metric == "ep_cost" and cost_limit is not None:
            xs = curves[x] if len(curves) and x in curves else pd.Series([0, 1])
            fig.add_trace(go.Scatter(x=[xs.min(), xs.max()], y=[cost_limit, cost_limit], mode="lines",
                                     name=f"limit b = {cost_limit:g}", legendgroup="limit", showlegend=True,
                                     line=dict(color=LIMIT_COLOR, dash=LIMIT_DASH, width=2),
                                     hovertemplate=f"cost limit b = {cost_limit:g}<extra></extra>"), 1, col)
        title = METRICS.get(metric, (metric, TITLES.get(metric, metric)))[1] + (" · log" if log else "")
        ticks = _log_ticks([t.y for t in fig.data if t.xaxis == ("x" if col == 1 else f"x{col}")]) if log else None
        fig.update_yaxes(title_text=title, type="log" if log else None, tickvals=ticks,
                         ticktext=[f"{v:g}" for v in ticks] if ticks else None, row=1, col=col)
        fig.update_xaxes(title_text=X_TITLE, row=1, col=col)
    names = [s["name"] for s in series] + ([f"limit b = {cost_limit:g}"] if cost_limit is not None else [])
    # no legend title: beside a horizontal legend Plotly lets the entries run off the figure's edge
    legend, top = _legend_layout(names, None)
    height = height or PLOT_PX + top + 60
    fig.update_layout(height=height, font=FONT, legend=legend, margin=dict(l=10, r=10, t=top, b=60),
                      hoverlabel=dict(font_size=14), showlegend=True)
    return _readable(fig)


def _log_ticks(columns) -> list[float] | None:
    """1-2-5 ticks over the positive values drawn (Plotly's own log ticks label 2 and 5 in small print)."""
    values = [float(v) for ys in columns for v in (ys or []) if v is not None and not math.isnan(float(v)) and v > 0]
    if not values:
        return None
    lo, hi = min(values), max(values)
    decades = math.log10(hi / lo)
    steps = (1, 2, 5) if decades <= 2 else (1, 3) if decades <= 4 else (1,)  # about a label per 25 px
    ticks = [m * 10.0 ** k for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
             for m in steps if lo / 1.5 <= m * 10.0 ** k <= hi * 1.5]
    return ticks if len(ticks) >= 2 else None


def _log_floor(values) -> float:
    positive = pd.Series(values)[pd.Series(values) > 0]
    return float(positive.min()) / 2 if len(positive) else 1e-3


def curve_figure(curves, y: str, pooled: bool = True, cost_limit: float | None = None,
                 x: str = "total_steps", height: int = 360) -> go.Figure:
    """One metric against steps (the single-panel :func:`curve_panels`, same colours and legend)."""
    return curve_panels(curves, (y,), pooled=pooled, cost_limit=cost_limit, height=height, x=x)


def add_limit_line(fig: go.Figure, cost_limit: float, xs=None, **where) -> None:
    """The cost limit b as a black dashed line named in the legend (no run is black or dashed)."""
    if xs is None or not len(xs):
        fig.add_hline(y=cost_limit, line_dash=LIMIT_DASH, line_color=LIMIT_COLOR, **where)
        return
    fig.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[cost_limit, cost_limit], mode="lines", name=f"limit b = {cost_limit:g}",
                             line=dict(color=LIMIT_COLOR, dash=LIMIT_DASH), hoverinfo="skip"), **where)


# ---------------------------------------------------------------- the trust region
SHRINKAGE_SENTENCE = (
    "Each dot is one update: how much cost one step was allowed to add (α_max) against the budget still left "
    "(Δb = b − Ĵ_c). C-TRPO's dots (β > 0) run down to 0 as Δb runs out, under the grey line where one step "
    "would spend the whole budget; TRPO's and TRPO-Lag's KL ball allows the same increase whatever the budget, "
    "even past the limit (Δb < 0, left of the grey axis). Right: the same two numbers against training.")
BUDGET_LINE = "one step spends the whole budget (α = Δb)"


def _run_series(curves: pd.DataFrame, labels: dict | None) -> list[dict]:
    return _series(curves, pooled=False, labels=labels) if len(curves) else []


def _normal_updates(g: pd.DataFrame) -> pd.DataFrame:
    """The updates whose region bounds a cost increase: C-TRPO's recovery updates minimise the cost inside a
    plain KL ball (their α_max is not a limit the barrier sets), so they are left out of the headline."""
    if "recovery" in g and g.get("algo", pd.Series([None])).iloc[0] == CTRPO:
        g = g[g["recovery"].fillna(0) < 0.5]
    return g[g["alpha_max"].notna() & g["budget"].notna()] if "alpha_max" in g and "budget" in g else g.iloc[0:0]


def shrinkage_figure(curves, x: str = "total_steps", height: int = 420, labels: dict | None = None) -> go.Figure:
    """The trust region's one idea in one picture. Left: per update, the largest first-order cost increase one
    step may make inside the algorithm's region (α_max) against the budget left Δb = b − Ĵ_c, with the line
    α = Δb. Right, against training: α_max (top; C-TRPO's plain-KL-ball α_max_kl dotted for comparison) and
    Δb (bottom, its axis cut at ±2b so that a run far over the limit does not flatten the others). Runs
    trained before these columns were logged show only their Δb."""
    fig = make_subplots(rows=2, cols=2, column_widths=[0.5, 0.5], horizontal_spacing=0.12, vertical_spacing=0.1,
                        specs=[[{"rowspan": 2}, {}], [None, {}]], shared_xaxes=False)
    runs = _run_series(curves, labels)
    limit = _num(curves["cost_limit"].dropna().iloc[0]) if len(curves) and "cost_limit" in curves \
        and curves["cost_limit"].notna().any() else None
    budgets, alphas = [], []
    for s in runs:
        g, group = s["frame"], str(s["key"])
        hover = f"<b>{s['name']}</b><br>%{{customdata:,.0f}} steps<br>Δb %{{x:.3g}}<br>α_max %{{y:.3g}}<extra></extra>"
        normal = _normal_updates(g)
        if len(normal):
            budgets += normal["budget"].tolist()
            alphas += normal["alpha_max"].tolist()
            fig.add_trace(go.Scatter(x=normal["budget"], y=normal["alpha_max"], customdata=normal[x], mode="markers",
                                     name=s["name"], legendgroup=group, hovertemplate=hover,
                                     marker=dict(color=s["color"], size=7, opacity=0.75)), 1, 1)
            fig.add_trace(go.Scatter(x=g[x], y=g["alpha_max"], mode="lines", name=s["name"], legendgroup=group,
                                     showlegend=False, line=dict(color=s["color"], width=2),
                                     hovertemplate=f"<b>{s['name']}</b><br>α_max %{{y:.3g}}<br>step %{{x:,.0f}}"
                                                   "<extra></extra>"), 1, 2)
            if s["algo"] == CTRPO and "alpha_max_kl" in g:
                fig.add_trace(go.Scatter(x=g[x], y=g["alpha_max_kl"], mode="lines", name=s["name"], legendgroup=group,
                                         showlegend=False, line=dict(color=s["color"], width=1.5, dash="dot"),
                                         hovertemplate=f"<b>{s['name']}</b><br>α_max in the plain KL ball %{{y:.3g}}"
                                                       "<br>step %{x:,.0f}<extra></extra>"), 1, 2)
        if "budget" in g and g["budget"].notna().any():
            fig.add_trace(go.Scatter(x=g[x], y=g["budget"], mode="lines", name=s["name"], legendgroup=group,
                                     showlegend=not len(normal), line=dict(color=s["color"], width=2),
                                     hovertemplate=f"<b>{s['name']}</b><br>Δb %{{y:.3g}}<br>step %{{x:,.0f}}"
                                                   "<extra></extra>"), 2, 2)
    if budgets:  # the line α = Δb over the budgets shown: under it, one step cannot spend what is left
        top = max(0.0, max(budgets))
        line_x = np.geomspace(max(1e-3, min(a for a in alphas if a > 0) if any(a > 0 for a in alphas) else 1e-3),
                              max(top, 1e-3), 50)
        fig.add_trace(go.Scatter(x=line_x, y=line_x, mode="lines", name=BUDGET_LINE, legendgroup="budget line",
                                 line=dict(color="#888", width=1.5), hoverinfo="skip"), 1, 1)
        fig.add_vline(x=0, line_color="#bbb", line_width=1, row=1, col=1)
        # α_max spans decades (C-TRPO's near the boundary, TRPO's far from it): a log axis shows both, and
        # the budget axis stops at −b, so a run far over the limit does not squeeze the boundary region
        positive = [a for a in alphas if a > 0]
        if positive:
            ticks = _log_ticks([positive])
            # headroom above the highest dot for the note on what the cut budget axis hides
            fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks] if ticks else None,
                             range=[math.log10(min(positive) / 1.5), math.log10(max(positive) * 8)], row=1, col=1)
        left = -limit if limit else min(budgets)
        fig.update_xaxes(range=[left, 1.05 * top if top > 0 else 1.0], row=1, col=1)
        beyond = [f"{t.name}: {sum(v < left for v in t.x)} (Δb down to {min(t.x):.3g})" for t in fig.data
                  if t.xaxis == "x" and t.mode == "markers" and min(t.x) < left]
        if beyond:  # say what the cut axis hides: the runs far over the limit
            fig.add_annotation(text="← more updates further left, far over the limit:<br>" + "<br>".join(beyond),
                               showarrow=False, xref="x domain", yref="y domain", x=0.01, y=0.99, xanchor="left",
                               yanchor="top", align="left", font=FONT)
    elif runs:
        fig.add_annotation(text="no α_max in these runs<br>(trained before it was logged)", showarrow=False,
                           xref="x domain", yref="y domain", x=0.5, y=0.5, font=FONT)
    if limit:  # Δb over training: a run far over the limit leaves the panel instead of flattening the rest
        fig.update_yaxes(range=[-2 * limit, 1.1 * limit], row=2, col=2)
    fig.add_hline(y=0, line_color="#bbb", line_width=1, row=2, col=2)
    fig.update_xaxes(title_text="budget left Δb = b − Ĵ_c (cost / episode)", row=1, col=1)
    fig.update_yaxes(title_text="α_max: largest cost increase of one step (log)", row=1, col=1)
    fig.update_yaxes(title_text="α_max", row=1, col=2)
    fig.update_yaxes(title_text="Δb", row=2, col=2)
    fig.update_xaxes(matches="x2", showticklabels=False, row=1, col=2)
    fig.update_xaxes(title_text=X_TITLE, row=2, col=2)
    names = [s["name"] for s in runs] + ([BUDGET_LINE] if budgets else [])
    legend, top_px = _legend_layout(names, None)
    fig.update_layout(height=max(height, 2 * PLOT_PX - 140 + top_px), font=FONT, legend=legend,
                      margin=dict(l=10, r=10, t=top_px, b=60), hoverlabel=dict(font_size=14))
    return _readable(fig)


SHRINKAGE_PANELS = [  # (row, col, columns, title)
    (1, 1, ("kl", "divergence", "trust_radius"), "accepted KL, D_C and δ"),
    (1, 2, ("barrier",), "barrier β·φ at the accepted step"),
    (2, 1, ("budget",), "budget Δb = b − Ĵ_c"),
    (2, 2, ("curvature",), "barrier curvature β·φ''(0)"),
    (3, 1, ("step_fraction",), "accepted line-search fraction"),
    (3, 2, ("ls_tries",), "line-search tries"),
]
SHRINKAGE_PANEL_NOTES = {  # one sentence per panel of shrinkage_details_figure, for an expander
    "accepted KL, D_C and δ": "The size of each accepted step: its KL (solid), its C-TRPO divergence D_C = KL + "
                              "β·φ (dotted), and the trust radius δ (dash-dotted) both must stay under.",
    "barrier β·φ at the accepted step": "How much of the divergence the barrier used up: 0 when the step did not "
                                        "raise the cost, large when it ate into a small budget.",
    "budget Δb = b − Ĵ_c": "The cost the policy may still add before it hits the limit b; negative while it is "
                           "over the limit (shaded epochs: the recovery update).",
    "barrier curvature β·φ''(0)": "How sharply the barrier bends at the current policy: it grows as Δb shrinks, "
                                  "which is what narrows the region along the cost gradient.",
    "accepted line-search fraction": "The fraction of the full natural-gradient step the line search kept: "
                                     "below 1 when the full step would have left the region.",
    "line-search tries": "How many step sizes the line search tried before one stayed inside the region.",
}
DASH = {"kl": "solid", "divergence": "dot", "trust_radius": "dashdot"}


def shrinkage_details_figure(curves, x: str = "total_steps", height: int = 760,
                             labels: dict | None = None) -> go.Figure:
    """The trust region's six technical panels over training (:data:`SHRINKAGE_PANEL_NOTES` says what
    each shows), one colour per run; epochs in recovery mode are shaded (those of the first run)."""
    fig = make_subplots(rows=3, cols=2, shared_xaxes=True, vertical_spacing=0.11, horizontal_spacing=0.1,
                        subplot_titles=[title for *_, title in SHRINKAGE_PANELS])
    runs = _run_series(curves, labels)
    for s in runs:
        g = s["frame"]
        for row, col, columns, _ in SHRINKAGE_PANELS:
            for column in columns:
                if column not in g:
                    continue
                fig.add_trace(go.Scatter(x=g[x], y=g[column], name=s["name"], legendgroup=str(s["key"]),
                                         showlegend=(row, col, column) == (1, 1, "kl"), mode="lines",
                                         hovertemplate=f"<b>{s['name']}</b><br>{column} %{{y:.4g}}<br>"
                                                       "step %{x:,.0f}<extra></extra>",
                                         line=dict(color=s["color"], dash=DASH.get(column, "solid"))), row, col)
    shapes = []  # built as plain dicts: one add_vrect per span and panel re-validates the whole figure
    first = runs[0]["frame"] if runs else None
    for start, end in _recovery_spans(first, x) if first is not None and "recovery" in first else []:
        for i in range(len(SHRINKAGE_PANELS)):
            axis = "" if i == 0 else str(i + 1)
            shapes.append(dict(type="rect", xref=f"x{axis}", yref=f"y{axis} domain", x0=start, x1=end, y0=0, y1=1,
                               fillcolor="orange", opacity=0.15, line_width=0, layer="below"))
    names = [s["name"] for s in runs]
    legend, top = _legend_layout(names, None)
    fig.update_xaxes(title_text=X_TITLE, row=3)
    fig.update_annotations(font=FONT)
    # the legend sits above the subplot titles: the margin holds both
    legend.update(y=1.0, yref="container", yanchor="top")
    fig.update_layout(shapes=shapes, height=height + top, font=FONT, legend=legend, hoverlabel=dict(font_size=14),
                      margin=dict(l=10, r=10, t=top + 30, b=60))
    return _readable(fig)


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


# ---------------------------------------------------------------- sweeps over β × b_H
SENSITIVITY_METRICS = [("final_return", "final return"), ("final_cost", "final cost"), ("reg_plus", "Reg+")]
NOT_READ = "n/a"  # β or b_H of an algorithm that does not read it


def _category(value) -> str:
    value = _num(value)
    return NOT_READ if value is None else f"{value:g}"


def _categories(values) -> list[str]:
    """Distinct values as evenly spaced category names, in numeric order (β grids span decades and hold
    β = 0, which neither a linear nor a log axis shows evenly)."""
    numbers = sorted({v for v in (_num(v) for v in values) if v is not None})
    return [f"{v:g}" for v in numbers] + ([NOT_READ] if any(_num(v) is None for v in values) else [])


def _title(text: str) -> dict:
    return dict(text=text, x=0, xanchor="left", font=FONT)


def _short_number(value: float, digits: int) -> str:
    """A cell label: ``digits`` significant digits, no exponent for the values a grid shows."""
    text = f"{value:.{digits}g}"
    return f"{value:.0f}" if "e+" in text else text


def _cell_text(value: float, finished_seeds: int, planned: int, digits: int) -> str:
    """A heatmap cell's label: its value, and "2/3 seeds" under it when fewer seeds finished than planned."""
    number = "" if np.isnan(value) else _short_number(value, digits)
    if finished_seeds >= planned:
        return number
    return f"{number}<br>{finished_seeds}/{planned} seeds" if number else f"{finished_seeds}/{planned} seeds"


def sensitivity_figures(summaries) -> list[go.Figure]:
    """Heatmaps over β × b_H (means over seeds and δ) of final return, final cost and Reg+, and the same
    three against β with one line per b_H (mean ± 1 std over seeds). β and b_H are evenly spaced
    categories; every cell is labelled. Only finished runs enter a value (``pooling.finished``); a cell with
    fewer finished seeds than runs planned for it (the rows of ``summaries`` in that cell, whatever their
    state) says "2/3 seeds" under its value, and one with none shows only that."""
    planned = summaries[summaries.state != "damaged"].copy() if len(summaries) else summaries
    if len(planned):
        planned["β"], planned["b_H"] = planned.beta.map(_category), planned.bh.map(_category)
    done = finished(planned)
    betas = _categories(planned.beta) if len(planned) else []
    bhs = _categories(planned.bh) if len(planned) else []
    over = "seeds, δ" if len(done) and done.delta.nunique() > 1 else "seeds"
    figures = []
    for column, title in SENSITIVITY_METRICS:
        fig = go.Figure()
        if len(planned):
            cells = done.groupby(["b_H", "β"])[column].agg(["mean", "count"])
            wanted = planned.groupby(["b_H", "β"]).size()
            z = [[cells["mean"].get((h, b), np.nan) for b in betas] for h in bhs]
            n = [[int(cells["count"].get((h, b), 0)) for b in betas] for h in bhs]
            of = [[int(wanted.get((h, b), 0)) for b in betas] for h in bhs]
            # every cell carries its number (no colour bar needed, and a third of a column is not lost to
            # one); fewer digits as the cells narrow, so neighbouring labels never run into each other
            digits = 3 if len(betas) <= 4 else 2
            text = [[_cell_text(v, k, m, digits) for v, k, m in zip(*row)] for row in zip(z, n, of)]
            fig.add_trace(go.Heatmap(z=z, x=betas, y=bhs, colorscale="Viridis", text=text, texttemplate="%{text}",
                                     textfont=dict(size=14), customdata=np.stack([n, of], axis=-1), xgap=2, ygap=2,
                                     showscale=False,
                                     hovertemplate=f"β=%{{x}}, b_H=%{{y}}<br>{title}: %{{z:.4g}}<br>mean of "
                                                   "%{customdata[0]} finished of %{customdata[1]} runs<extra></extra>"))
        fig.update_layout(title=_title(f"{title}: mean of {over}"), height=320,
                          font=FONT, margin=dict(l=10, r=10, t=50, b=10),
                          xaxis=dict(title="β", type="category", categoryorder="array", categoryarray=betas,
                                     automargin=True),
                          yaxis=dict(title="b_H", type="category", categoryorder="array", categoryarray=bhs,
                                     automargin=True))
        figures.append(_readable(fig))
    for column, title in SENSITIVITY_METRICS:
        fig = go.Figure()
        names = []
        if len(done):
            stats = done.groupby(["b_H", "β"])[column].agg(["mean", "std", "count"]).reset_index()
            for i, h in enumerate(bhs):
                g = stats[stats["b_H"] == h].set_index("β").reindex([b for b in betas if (h, b) in
                                                                     set(zip(stats["b_H"], stats["β"]))])
                names.append(f"b_H={h}")
                fig.add_trace(go.Scatter(
                    x=g.index.tolist(), y=g["mean"], mode="lines+markers", name=f"b_H={h}",
                    line=dict(color=family_color(i / max(1, len(bhs) - 1)) if len(bhs) > 1 else color_of(CTRPO)),
                    error_y=dict(array=g["std"].fillna(0), thickness=1.5), customdata=np.stack(
                        [g["std"].fillna(0), g["count"]], axis=-1),
                    hovertemplate=f"b_H={h}, β=%{{x}}<br>{title}: %{{y:.4g}} ± %{{customdata[0]:.3g}}<br>"
                                  "mean ± 1 std of %{customdata[1]} seeds<extra></extra>"))
        legend, top = _legend_layout(names, None, rows_width=300)
        fig.update_layout(title=_title(f"{title} against β"), height=340 + top, showlegend=bool(names),
                          font=FONT, legend=legend, margin=dict(l=10, r=10, t=50 + top, b=10),
                          xaxis=dict(title="β", type="category", categoryorder="array", categoryarray=betas,
                                     automargin=True),
                          yaxis=dict(title=f"mean ± 1 std over {over}", automargin=True))
        figures.append(_readable(fig))
    return figures


def recovery_figure(grid) -> go.Figure:
    """Fraction of epochs in recovery mode against b_H, one line per β (``analysis.grid_table`` rows)."""
    fig = go.Figure()
    bhs = _categories(grid.bh) if len(grid) else []
    if len(grid):
        for beta, g in grid.sort_values("bh").groupby("beta", sort=True):
            fig.add_trace(go.Scatter(x=[_category(v) for v in g["bh"]], y=g["recovery_frac"], mode="lines+markers",
                                     name=f"β={beta:g}", line=dict(color=color_of(CTRPO, beta=beta))))
    fig.update_layout(title="recovery-mode frequency against b_H", height=340, font=FONT,
                      xaxis=dict(title="b_H", type="category", categoryorder="array", categoryarray=bhs),
                      yaxis_title="fraction of epochs in recovery", margin=dict(l=10, r=10, t=50, b=10))
    return _readable(fig)


def normalised_figure(table, names, height: int = 360) -> go.Figure:
    """IQM with 95% CI per algorithm, one panel per normalised score (``analysis.normalised_table``)."""
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=list(names), horizontal_spacing=0.1)
    for col, name in enumerate(names, start=1):
        if len(table):
            mid, low, high = table[f"{name} IQM"], table[f"{name} CI low"], table[f"{name} CI high"]
            colors = [color_of(a) for a in table["algo"]]
            fig.add_trace(go.Scatter(x=mid, y=table["algo"], mode="markers", marker=dict(size=11, color=colors),
                                     showlegend=False,
                                     hovertemplate="%{y}: IQM %{x:.3g} (95% CI bar)<extra></extra>",
                                     error_x=dict(type="data", symmetric=False, array=(high - mid).fillna(0),
                                                  arrayminus=(mid - low).fillna(0))), row=1, col=col)
        fig.add_vline(x=0.0 if "b − 1" in name else 1.0, line_dash="dot", line_color="grey", row=1, col=col)
    fig.update_annotations(font=FONT)
    fig.update_layout(title="across tasks: IQM over seeds × tasks, bars: 95% stratified-bootstrap CIs", height=height,
                      font=FONT, margin=dict(l=10, r=10, t=80, b=30))
    return _readable(fig)


# ---------------------------------------------------------------- final values per setting
FINAL_METRICS = [("return", "final return"), ("cost", "final cost"), ("Reg+", "Reg+")]


def final_values_figure(table, height: int | None = None, log_x: bool = False) -> go.Figure:
    """IQM and its 95% bootstrap CI per setting (``pooling.comparison_table`` rows), one panel per final
    value; a setting of one seed has a dot and no bar. ``log_x``: cost and Reg+ on log axes."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.06, shared_yaxes=True,
                        subplot_titles=[t for _, t in FINAL_METRICS])
    if len(table):
        ordered = table.iloc[::-1]
        colors = [color_of(a, b, h) for a, b, h in zip(ordered.algo, ordered.beta, ordered.bh)]
        for col, (name, _) in enumerate(FINAL_METRICS, start=1):
            mid, low, high = ordered[f"{name} IQM"], ordered[f"{name} CI low"], ordered[f"{name} CI high"]
            fig.add_trace(go.Scatter(
                x=mid, y=ordered["setting"], mode="markers", marker=dict(size=11, color=colors), showlegend=False,
                customdata=np.stack([low, high, ordered[count_column(ordered)]], axis=-1),
                hovertemplate=f"%{{y}}<br>{name} IQM %{{x:.4g}}, 95% CI [%{{customdata[0]:.4g}}, "
                              "%{customdata[1]:.4g}]<br>%{customdata[2]} seeds<extra></extra>",
                error_x=dict(type="data", symmetric=False, array=(high - mid).fillna(0),
                             arrayminus=(mid - low).fillna(0), thickness=2, color="#444")), row=1, col=col)
            fig.update_xaxes(type="log" if log_x and name != "return" else None, row=1, col=col)
    fig.update_annotations(font=FONT)
    rows = len(table) if len(table) else 1
    fig.update_xaxes(title_text="dot: IQM, bar: 95% CI")
    fig.update_layout(title=_title("final values per setting, over seeds"),
                      height=height or 150 + max(210, 34 * rows), font=FONT, margin=dict(l=10, r=10, t=80, b=10))
    fig.update_yaxes(type="category")
    return _readable(fig)
