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

from ..config.algorithms import UNCONSTRAINED, legend_rank
from .figure_style import (
    CTRPO,
    FONT,
    LIMIT_COLOR,
    LIMIT_DASH,
    RUN_DASHES,
    algo_marker,
    band_color,
    beta_dash,
    beta_symbol,
    color_of,
    family_color,
    legend_rows,
    short_labels,
)
from .pooling import count_column, finished, pool_seeds

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
        name = (
            mapped.pop()
            if len(mapped) == 1 and len(runs) == sum(r in labels for r in runs)
            else short.get(first.label, key)
        )
        out.append(
            dict(
                key=key,
                name=name,
                label=first.label,
                algo=first.get("algo"),
                beta=_num(first.get("beta")),
                bh=_num(first.get("bh")),
                seeds=seeds,
                runs=runs,
                frame=g,
            )
        )
    if not pooled:  # several runs of one setting shown apart: their seeds tell them apart
        counts = pd.Series([s["label"] for s in out]).value_counts()
        for s in out:
            if counts[s["label"]] > 1 and s["key"] not in labels:
                s["name"] = f"{s['name']} seed {s['seeds'][0] if s['seeds'] else '?'}"
    family = sorted({(s["beta"] or 0.0, s["bh"] or 0.0) for s in out if s["algo"] == CTRPO})
    for s in out:
        s["color"] = color_of(s["algo"], s["beta"], s["bh"], family_values=family)
    for s in out:  # C-TRPO's β variants differ in line style and marker too, not only in a shade of blue; every
        ctrpo = s["algo"] == CTRPO  # other algorithm carries its own marker (a second channel beside its colour)
        s["dash"], s["symbol"] = (
            (beta_dash(s["beta"]), beta_symbol(s["beta"])) if ctrpo else ("solid", algo_marker(s["algo"]))
        )
    seen: dict[tuple, int] = {}
    for s in sorted(out, key=lambda s: (s["label"], str(s["key"]))):  # one style twice: the next line style
        style = (s["color"], s["dash"], s["symbol"])
        s["dash"] = RUN_DASHES[(RUN_DASHES.index(s["dash"]) + seen.get(style, 0)) % len(RUN_DASHES)]
        seen[style] = seen.get(style, 0) + 1
    out.sort(key=lambda s: (legend_rank(s["algo"]), s["beta"] or 0.0, s["bh"] or 0.0, s["label"], str(s["key"])))
    return out


def _line_style(s: dict, width: float = 2.5) -> dict:
    """The Scatter arguments that draw a series' line: its colour and dash, and its β's marker (about a dozen
    along the line, enough to tell it in the legend and on the plot without hiding the curve)."""
    style = dict(mode="lines", line=dict(color=s["color"], dash=s["dash"], width=width))
    if s.get("symbol"):
        style.update(mode="lines+markers", marker=dict(symbol=s["symbol"], size=8, color=s["color"], maxdisplayed=12))
    return style


def _hover(s: dict, metric: str, pooled: bool) -> str:
    name, _ = METRICS.get(metric, (metric, metric))
    seeds = ", ".join(str(int(v)) if float(v).is_integer() else str(v) for v in s["seeds"])
    what = f"{name} %{{y:.4g}}" + (f" (mean of {len(s['seeds'])} seeds; band ± 1 std)" if pooled else "")
    label = str(s["label"]).replace("b_H", "b<sub>H</sub>")  # as a class reads it: no underscore on screen
    return f"<b>{s['name']}</b><br>{label}<br>seeds: {seeds or '?'}<br>step %{{x:,.0f}}<br>{what}<extra></extra>"


LEGEND_WIDTH_PX = 520.0  # a full-width figure at 1024 px beside Compare's sidebar: the narrowest the app draws


def _legend_layout(names, title: str | None, rows_width: float = LEGEND_WIDTH_PX) -> tuple[dict, int]:
    """A horizontal legend above the plots, in a top margin sized for its rows as they wrap at the narrowest
    width the app draws the figure: it never covers or squeezes a plot."""
    rows = legend_rows([*([title] if title else []), *names], width=rows_width)
    legend = dict(
        orientation="h",
        x=0,
        xanchor="left",
        y=1.06,
        yanchor="bottom",
        yref="paper",  # clear of ticks
        font=FONT,
        itemclick="toggle",
        itemdoubleclick="toggleothers",
    )
    if title:
        legend["title"] = dict(text=title, side="left")
    return legend, rows * LEGEND_ROW_PX + 30


def curve_panels(
    curves,
    metrics=("ep_return", "ep_cost", "cost_regret"),
    *,
    pooled: bool,
    cost_limit=None,
    log_y: bool = False,
    log_metrics=None,
    focus_cost: bool = False,
    labels: dict | None = None,
    height: int | None = None,
    x: str = "total_steps",
) -> go.Figure:
    """Return, cost and Reg+ (``metrics``) against steps side by side in ONE figure with ONE legend above
    them: a line per setting (``pooled``: the mean over its seeds, ± 1 std band) or per run. ``cost_limit``
    draws b on the cost panel; ``log_y`` puts cost and Reg+ on log axes (zeros are not drawn there), or
    ``log_metrics`` names the metrics that go on log axes; ``focus_cost`` (with ``cost_limit``, on a linear
    cost axis) fits the cost axis to b and the constrained runs (:func:`_focus_top`) and marks each run above
    it at the panel's top edge with its value; ``labels`` maps run names to the names the legend shows
    (default: short labels, full settings on hover). ``height``: the whole figure (default: a 280 px plot
    plus what the legend needs)."""
    metrics = list(metrics)
    logged = set(LOG_METRICS if log_y else ()) if log_metrics is None else set(log_metrics)
    # room between panels for the tick labels and the axis title of the panel to the right, at 1024 px too
    fig = make_subplots(rows=1, cols=len(metrics), horizontal_spacing=0.14 if len(metrics) > 1 else 0.0)
    series = _series(curves, pooled, labels) if len(curves) else []
    for col, metric in enumerate(metrics, start=1):
        log = metric in logged
        drawn = []  # (series, xs, ys) of this panel's lines
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
                    fig.add_trace(
                        go.Scatter(
                            x=xs + xs[::-1],
                            y=high.tolist() + low.tolist()[::-1],
                            fill="toself",
                            mode="lines",
                            fillcolor=band_color(s["color"]),
                            hoverinfo="skip",
                            line=dict(width=0, color=band_color(s["color"])),
                            showlegend=False,
                            legendgroup=str(s["key"]),
                        ),
                        1,
                        col,
                    )
                ys = mean
            else:
                xs, ys = g[x].tolist(), g[metric]
                if log:
                    ys = ys.where(ys > 0)
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys.tolist(),
                    name=s["name"],
                    legendgroup=str(s["key"]),
                    showlegend=col == 1,
                    hovertemplate=_hover(s, metric, pooled),
                    **_line_style(s),
                ),
                1,
                col,
            )
            drawn.append((s, xs, ys.tolist()))
        if metric == "ep_cost" and cost_limit is not None:
            xs = curves[x] if len(curves) and x in curves else pd.Series([0, 1])
            fig.add_trace(
                go.Scatter(
                    x=[xs.min(), xs.max()],
                    y=[cost_limit, cost_limit],
                    mode="lines",
                    name=f"limit b = {cost_limit:g}",
                    legendgroup="limit",
                    showlegend=True,
                    line=dict(color=LIMIT_COLOR, dash=LIMIT_DASH, width=2),
                    hovertemplate=f"cost limit b = {cost_limit:g}<extra></extra>",
                ),
                1,
                col,
            )
            if focus_cost and not log:
                top = _focus_top(drawn, cost_limit)
                fig.update_yaxes(range=[0, top], row=1, col=col)
                _mark_beyond(fig, drawn, top, 1, col)
        title = METRICS.get(metric, (metric, TITLES.get(metric, metric)))[1] + (" · log" if log else "")
        ticks = _log_ticks([t.y for t in fig.data if t.xaxis == ("x" if col == 1 else f"x{col}")]) if log else None
        fig.update_yaxes(
            title_text=title,
            type="log" if log else None,
            tickvals=ticks,
            ticktext=[_tick_text(v) for v in ticks] if ticks else None,
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text=X_TITLE, row=1, col=col)
    if len(curves) and x in curves and curves[x].notna().any():  # no padding for markers: one step axis for all
        fig.update_xaxes(range=[float(curves[x].min()), float(curves[x].max())])
    names = [s["name"] for s in series] + ([f"limit b = {cost_limit:g}"] if cost_limit is not None else [])
    # no legend title: beside a horizontal legend Plotly lets the entries run off the figure's edge
    legend, top = _legend_layout(names, None)
    height = height or PLOT_PX + top + 60
    fig.update_layout(
        height=height,
        font=FONT,
        legend=legend,
        margin=dict(l=10, r=10, t=top, b=60),
        hoverlabel=dict(font_size=14),
        showlegend=True,
    )
    return _readable(fig)


FOCUS_SPAN = (2.0, 4.0)  # a focused cost axis ends between 2b and 4b: b stays in its lower half, far runs leave


def _focus_top(drawn, cost_limit: float) -> float:
    """The top of a cost axis focused on the limit: 10% above the highest cost a constrained run drew (an
    overshoot stays in view), but at least 2b and at most 4b (an unconstrained run far above b does not
    flatten the others: it is marked at the edge instead)."""
    peaks = [v for s, _, ys in drawn if s["algo"] not in UNCONSTRAINED for v in ys if _num(v) is not None]
    low, high = FOCUS_SPAN
    return min(high * cost_limit, max(low * cost_limit, 1.1 * max(peaks, default=0.0)))


def _short_value(value: float) -> str:
    """A value read from across a room: two significant digits, whole numbers from 10 up (47, not 46.88)."""
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"


def edge_label(name: str, value: float, above: bool, extreme: bool) -> str:
    """The text that marks a run beyond an axis: "TRPO ↑ 47" (where it is now), "TRPO-Lag ↑ peak 23" (it came
    back inside), "TRPO ↓ −42" or "... ↓ lowest −11" at a bottom edge."""
    word = ("peak " if above else "lowest ") if extreme else ""
    return f"{name} {'↑' if above else '↓'} {word}{_short_value(value).replace('-', '−')}"


def _mark_beyond(fig: go.Figure, drawn, bound: float, row: int, col: int, above: bool = True) -> list[str]:
    """Each run of ``drawn`` [(series, xs, ys)] that leaves the subplot past ``bound`` (above it, or below it):
    a triangle in its colour on that edge and its value beside it, where it is now when it ends beyond the
    axis, else at its extreme. Labels read inward from their marker and stack away from the edge (two
    labels from opposite sides meet in the middle of a narrow panel). Returns them."""
    subplot = fig.get_subplot(row, col)
    xref, yref = (subplot.xaxis.plotly_name.replace("axis", ""), subplot.yaxis.plotly_name.replace("axis", ""))
    beyond = (lambda v: v > bound) if above else (lambda v: v < bound)
    x_all = [v for _, xs, _ in drawn for v in xs]
    middle = (min(x_all) + max(x_all)) / 2 if x_all else 0
    labels = []
    for s, xs, ys in drawn:
        values = [(xv, v) for xv, v in zip(xs, ys) if _num(v) is not None]
        if not any(beyond(v) for _, v in values):
            continue
        ends_beyond = beyond(values[-1][1])
        extreme = (max if above else min)(values, key=lambda p: p[1])
        where, value = values[-1] if ends_beyond else extreme
        text = edge_label(s["name"], value, above, extreme=not ends_beyond)
        fig.add_trace(
            go.Scatter(
                x=[where],
                y=[bound],
                mode="markers",
                cliponaxis=False,
                showlegend=False,
                legendgroup=str(s["key"]),
                name=text,
                marker=dict(
                    symbol="triangle-up" if above else "triangle-down",
                    size=14,
                    color=s["color"],
                    line=dict(color="white", width=1),
                ),
                hovertemplate=f"<b>{s['name']}</b>: {value:.4g}, beyond this axis (which ends at "
                f"{bound:.3g})<extra></extra>",
            ),
            row,
            col,
        )
        # pinned to the panel's own edge on the marker's side (not to the marker): in a narrow panel a label
        # read inward from a marker near the middle ran past the figure's edge
        right, shift = where >= middle, 4 + 22 * len(labels)
        fig.add_annotation(
            text=text,
            x=1 if right else 0,
            y=1 if above else 0,
            xref=f"{xref} domain",
            yref=f"{yref} domain",
            showarrow=False,
            xanchor="right" if right else "left",
            yanchor="top" if above else "bottom",
            xshift=-4 if right else 4,
            yshift=-shift if above else shift,
            font=dict(FONT, color="#222"),
            bgcolor="rgba(255,255,255,0.8)",
        )
        labels.append(text)
    return labels


def _tick_text(value: float) -> str:
    """A log axis' tick label, as narrow as the step axis' "50k": 0.1, 1, 10, 100, 1k, 10k."""
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def _log_ticks(columns) -> list[float] | None:
    """1-2-5 ticks over the positive values drawn (Plotly's own log ticks label 2 and 5 in small print)."""
    values = [float(v) for ys in columns for v in (ys or []) if v is not None and not math.isnan(float(v)) and v > 0]
    if not values:
        return None
    lo, hi = min(values), max(values)
    decades = math.log10(hi / lo)
    steps = (1, 2, 5) if decades <= 2 else (1, 3) if decades <= 4 else (1,)  # about a label per 25 px
    ticks = [
        m * 10.0**k
        for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
        for m in steps
        if lo / 1.5 <= m * 10.0**k <= hi * 1.5
    ]
    return ticks if len(ticks) >= 2 else None


def _log_floor(values) -> float:
    positive = pd.Series(values)[pd.Series(values) > 0]
    return float(positive.min()) / 2 if len(positive) else 1e-3


def curve_figure(
    curves, y: str, pooled: bool = True, cost_limit: float | None = None, x: str = "total_steps", height: int = 360
) -> go.Figure:
    """One metric against steps (the single-panel :func:`curve_panels`, same colours and legend)."""
    return curve_panels(curves, (y,), pooled=pooled, cost_limit=cost_limit, height=height, x=x)


def add_limit_line(fig: go.Figure, cost_limit: float, xs=None, **where) -> None:
    """The cost limit b as a black dashed line named in the legend (no run is black or dashed)."""
    if xs is None or not len(xs):
        fig.add_hline(y=cost_limit, line_dash=LIMIT_DASH, line_color=LIMIT_COLOR, **where)
        return
    fig.add_trace(
        go.Scatter(
            x=[min(xs), max(xs)],
            y=[cost_limit, cost_limit],
            mode="lines",
            name=f"limit b = {cost_limit:g}",
            line=dict(color=LIMIT_COLOR, dash=LIMIT_DASH),
            hoverinfo="skip",
        ),
        **where,
    )


# ---------------------------------------------------------------- the trust region
BUDGET_LINE = "one step spends the whole budget (α = Δb)"
KL_BALL_LINE = "dotted: α_max in a plain KL ball"  # C-TRPO's step measured as TRPO measures its own (right, top)
J_C = "Ĵ<sub>c</sub>"  # Ĵ_c as Plotly writes it: no underscore on screen (markdown writes $\hat J_c$)
COST_UNIT = "cost / episode"


def _run_series(curves: pd.DataFrame, labels: dict | None) -> list[dict]:
    return _series(curves, pooled=False, labels=labels) if len(curves) else []


def _normal_updates(g: pd.DataFrame) -> pd.DataFrame:
    """The updates whose region bounds a cost increase: C-TRPO's recovery updates minimise the cost inside a
    plain KL ball (their α_max is not a limit the barrier sets), so they are left out of the headline."""
    if "recovery" in g and g.get("algo", pd.Series([None])).iloc[0] == CTRPO:
        g = g[g["recovery"].fillna(0) < 0.5]
    return g[g["alpha_max"].notna() & g["budget"].notna()] if "alpha_max" in g and "budget" in g else g.iloc[0:0]


def _has_barrier(s: dict) -> bool:
    """A C-TRPO run whose region carries the barrier (β > 0); at β = 0 its region is a plain KL ball."""
    return s["algo"] == CTRPO and (s["beta"] is None or s["beta"] > 0)


def _possessive(names: list[str]) -> str:
    names = [f"{n}'s" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def shrinkage_sentence(curves, labels: dict | None = None) -> str:
    """The caption of :func:`shrinkage_figure` for these runs (markdown): what the dots show, said only of the
    algorithms shown and only as far as their numbers bear it out (correlations, counts, medians)."""
    runs = _run_series(curves, labels)
    updates = [(s, _normal_updates(s["frame"])) for s in runs]
    updates = [(s, n) for s, n in updates if len(n)]
    if not updates:
        return (
            "These runs were trained before α_max was logged: the figure shows only their budget left "
            r"Δb = b − $\hat J_c$ against training."
            if runs
            else ""
        )
    parts = [
        "Each dot is one update: how much cost one step was allowed to add (α_max) against the budget still "
        r"left (Δb = b − $\hat J_c$), both in cost per episode."
    ]
    barrier = [(s, n) for s, n in updates if _has_barrier(s)]
    balls = [(s, n) for s, n in updates if not _has_barrier(s)]
    if barrier:
        parts.append(_barrier_sentence(barrier))
    if balls:
        parts.append(_kl_ball_sentence(balls))
    kl = any(s["algo"] == CTRPO and "alpha_max_kl" in s["frame"] for s, _ in updates)
    parts.append(
        "Right: the same two numbers against training"
        + ("; dotted: C-TRPO's step measured in a plain KL ball." if kl else ".")
    )
    return " ".join(parts)


def _barrier_sentence(barrier) -> str:
    """What C-TRPO's dots do: their correlation with Δb per run, and how many lie under the line α = Δb."""
    prefix = "C-TRPO "
    corr = [(s["name"].removeprefix(prefix), n["alpha_max"].corr(n["budget"])) for s, n in barrier if len(n) > 2]
    corr = [(name, c) for name, c in corr if _num(c) is not None]
    strong = [name for name, c in corr if c > 0.5]
    if corr and len(strong) == len(corr):
        trend = "C-TRPO's dots fall toward 0 as Δb runs out"
    elif strong:
        trend = f"C-TRPO's dots fall toward 0 as Δb runs out, most clearly for {max(corr, key=lambda p: p[1])[0]}"
    else:
        trend = "C-TRPO's dots do not clearly follow Δb in these runs"
    if len(corr) > 1:
        trend += " (correlation of α_max with Δb: " + ", ".join(f"{name} {c:.2f}" for name, c in corr) + ")"
    elif corr:
        trend += f" (correlation of α_max with Δb: {corr[0][1]:.2f})"
    under = sum(int((n["alpha_max"] < n["budget"]).sum()) for _, n in barrier)
    total = sum(len(n) for _, n in barrier)
    return f"{trend}; {under} of {total} lie under the grey line, where one step cannot spend all that is left."


def _kl_ball_sentence(balls) -> str:
    """What a KL ball allows: nothing in it looks at the budget; past the limit, how much it still allowed."""
    names = list(dict.fromkeys(s["name"] for s, _ in balls))
    region = "KL ball does" if len(names) == 1 else "KL balls do"
    over = pd.concat([n[n["budget"] < 0] for _, n in balls])
    if not len(over):
        return f"{_possessive(names)} {region} not look at the budget: α_max is set by δ and the cost gradient."
    return (
        f"{_possessive(names)} {region} not look at the budget: past the limit (Δb < 0, left of the grey "
        f"axis; {len(over)} updates) a step could still add a median {over['alpha_max'].median():.2g}."
    )


def shrinkage_figure(curves, x: str = "total_steps", height: int = 420, labels: dict | None = None) -> go.Figure:
    """The trust region's one idea in one picture. Left: per update, the largest first-order cost increase one
    step may make inside the algorithm's region (α_max) against the budget left Δb = b − Ĵ_c, with the line
    α = Δb. Right, against training: α_max (top; C-TRPO's plain-KL-ball α_max_kl dotted for comparison) and
    Δb (bottom, its axis cut at −2b so that a run far over the limit does not flatten the others: such a run
    is marked at the bottom edge with its value). Runs trained before these columns were logged show only
    their Δb. :func:`shrinkage_sentence` is its caption."""
    fig = make_subplots(
        rows=2,
        cols=2,
        column_widths=[0.5, 0.5],
        horizontal_spacing=0.16,
        vertical_spacing=0.1,
        specs=[[{"rowspan": 2}, {}], [None, {}]],
        shared_xaxes=False,
    )
    runs = _run_series(curves, labels)
    limit = (
        _num(curves["cost_limit"].dropna().iloc[0])
        if len(curves) and "cost_limit" in curves and curves["cost_limit"].notna().any()
        else None
    )
    budgets, alphas, budget_lines, kl_lines = [], [], [], 0
    for s in runs:
        g, group = s["frame"], str(s["key"])
        hover = f"<b>{s['name']}</b><br>%{{customdata:,.0f}} steps<br>Δb %{{x:.3g}}<br>α_max %{{y:.3g}}<extra></extra>"
        normal = _normal_updates(g)
        if len(normal):
            budgets += normal["budget"].tolist()
            alphas += normal["alpha_max"].tolist()
            fig.add_trace(
                go.Scatter(
                    x=normal["budget"],
                    y=normal["alpha_max"],
                    customdata=normal[x],
                    mode="markers",
                    name=s["name"],
                    legendgroup=group,
                    hovertemplate=hover,
                    marker=dict(color=s["color"], size=7, opacity=0.75, symbol=s.get("symbol") or "circle"),
                ),
                1,
                1,
            )
            fig.add_trace(
                go.Scatter(
                    x=g[x],
                    y=g["alpha_max"],
                    mode="lines",
                    name=s["name"],
                    legendgroup=group,
                    showlegend=False,
                    line=dict(color=s["color"], width=2),
                    hovertemplate=f"<b>{s['name']}</b><br>α_max %{{y:.3g}}<br>step %{{x:,.0f}}<extra></extra>",
                ),
                1,
                2,
            )
            if s["algo"] == CTRPO and "alpha_max_kl" in g:  # one legend entry toggles every dotted line
                kl_lines += 1
                fig.add_trace(
                    go.Scatter(
                        x=g[x],
                        y=g["alpha_max_kl"],
                        mode="lines",
                        name=s["name"],
                        legendgroup="kl ball",
                        showlegend=False,
                        line=dict(color=s["color"], width=1.5, dash="dot"),
                        hovertemplate=f"<b>{s['name']}</b><br>α_max in the plain KL ball %{{y:.3g}}"
                        "<br>step %{x:,.0f}<extra></extra>",
                    ),
                    1,
                    2,
                )
        if "budget" in g and g["budget"].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=g[x],
                    y=g["budget"],
                    mode="lines",
                    name=s["name"],
                    legendgroup=group,
                    showlegend=not len(normal),
                    line=dict(color=s["color"], width=2),
                    hovertemplate=f"<b>{s['name']}</b><br>Δb %{{y:.3g}}<br>step %{{x:,.0f}}<extra></extra>",
                ),
                2,
                2,
            )
            budget_lines.append((s, g[x].tolist(), g["budget"].tolist()))
    if kl_lines:  # the dotted lines are in the legend, not only in the caption
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                name=KL_BALL_LINE,
                legendgroup="kl ball",
                line=dict(color="#666", width=1.5, dash="dot"),
                hoverinfo="skip",
            ),
            1,
            2,
        )
    if budgets:  # the line α = Δb over the budgets shown: under it, one step cannot spend what is left
        top = max(0.0, max(budgets))
        line_x = np.geomspace(
            max(1e-3, min(a for a in alphas if a > 0) if any(a > 0 for a in alphas) else 1e-3), max(top, 1e-3), 50
        )
        fig.add_trace(
            go.Scatter(
                x=line_x,
                y=line_x,
                mode="lines",
                name=BUDGET_LINE,
                legendgroup="budget line",
                line=dict(color="#888", width=1.5),
                hoverinfo="skip",
            ),
            1,
            1,
        )
        fig.add_vline(x=0, line_color="#bbb", line_width=1, row=1, col=1)
        # α_max spans decades (C-TRPO's near the boundary, TRPO's far from it): a log axis shows both, and
        # the budget axis stops at −b, so a run far over the limit does not squeeze the boundary region
        positive = [a for a in alphas if a > 0]
        if positive:
            ticks = _log_ticks([positive])
            # headroom above the highest dot for the note on what the cut budget axis hides
            fig.update_yaxes(
                type="log",
                tickvals=ticks,
                ticktext=[f"{v:g}" for v in ticks] if ticks else None,
                range=[math.log10(min(positive) / 1.5), math.log10(max(positive) * 8)],
                row=1,
                col=1,
            )
        left = -limit if limit else min(budgets)
        fig.update_xaxes(range=[left, 1.05 * top if top > 0 else 1.0], row=1, col=1)
        beyond = [
            f"{t.name}: {sum(v < left for v in t.x)}, Δb to {_short_value(min(t.x)).replace('-', '−')}"
            for t in fig.data
            if t.xaxis == "x" and t.mode == "markers" and min(t.x) < left
        ]
        if beyond:  # say what the cut axis hides (narrow: it must fit the left panel at 1024 px)
            fig.add_annotation(
                text="← more updates further left:<br>" + "<br>".join(beyond),
                showarrow=False,
                xref="x domain",
                yref="y domain",
                x=0.01,
                y=0.99,
                xanchor="left",
                yanchor="top",
                align="left",
                font=FONT,
            )
    elif runs:
        fig.add_annotation(
            text="no α_max in these runs<br>(trained before it was logged)",
            showarrow=False,
            xref="x domain",
            yref="y domain",
            x=0.5,
            y=0.5,
            font=FONT,
        )
    if limit:  # Δb over training: a run far over the limit leaves the panel, marked at its edge with its value
        fig.update_yaxes(range=[-2 * limit, 1.1 * limit], row=2, col=2)
        _mark_beyond(fig, budget_lines, -2 * limit, 2, 2, above=False)
    fig.add_hline(y=0, line_color="#bbb", line_width=1, row=2, col=2)
    fig.update_xaxes(title_text=f"budget left Δb = b − {J_C} ({COST_UNIT})", row=1, col=1)
    fig.update_yaxes(title_text=f"α_max ({COST_UNIT}, log)", row=1, col=1)
    fig.update_yaxes(title_text="α_max", row=1, col=2)
    fig.update_yaxes(title_text="Δb", row=2, col=2)
    fig.update_xaxes(matches="x2", showticklabels=False, row=1, col=2)
    fig.update_xaxes(title_text=X_TITLE, row=2, col=2)
    names = [s["name"] for s in runs] + ([BUDGET_LINE] if budgets else []) + ([KL_BALL_LINE] if kl_lines else [])
    legend, top_px = _legend_layout(names, None)
    fig.update_layout(
        height=max(height, 2 * PLOT_PX - 140 + top_px),
        font=FONT,
        legend=legend,
        margin=dict(l=10, r=10, t=top_px, b=60),
        hoverlabel=dict(font_size=14),
    )
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
RECOVERY_FILL = "orange"


def recovery_note(name: str) -> str:
    """The legend entry of the recovery shading: whose epochs it marks."""
    return f"shaded: recovery epochs of {name}"


def shrinkage_details_figure(
    curves, x: str = "total_steps", height: int = 760, labels: dict | None = None
) -> go.Figure:
    """The trust region's six technical panels over training (:data:`SHRINKAGE_PANEL_NOTES` says what
    each shows), one colour per run; epochs in recovery mode are shaded, those of the first run that has any,
    and the legend names it."""
    fig = make_subplots(
        rows=3,
        cols=2,
        shared_xaxes=True,
        vertical_spacing=0.11,
        horizontal_spacing=0.1,
        subplot_titles=[title for *_, title in SHRINKAGE_PANELS],
    )
    runs = _run_series(curves, labels)
    for s in runs:
        g = s["frame"]
        for row, col, columns, _ in SHRINKAGE_PANELS:
            for column in columns:
                if column not in g:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=g[x],
                        y=g[column],
                        name=s["name"],
                        legendgroup=str(s["key"]),
                        showlegend=(row, col, column) == (1, 1, "kl"),
                        mode="lines",
                        hovertemplate=f"<b>{s['name']}</b><br>{column} %{{y:.4g}}<br>step %{{x:,.0f}}<extra></extra>",
                        line=dict(color=s["color"], dash=DASH.get(column, "solid")),
                    ),
                    row,
                    col,
                )
    shapes = []  # built as plain dicts: one add_vrect per span and panel re-validates the whole figure
    shaded = next((s for s in runs if "recovery" in s["frame"] and (s["frame"]["recovery"] >= 0.5).any()), None)
    for start, end in _recovery_spans(shaded["frame"], x) if shaded is not None else []:
        for i in range(len(SHRINKAGE_PANELS)):
            axis = "" if i == 0 else str(i + 1)
            shapes.append(
                dict(
                    type="rect",
                    xref=f"x{axis}",
                    yref=f"y{axis} domain",
                    x0=start,
                    x1=end,
                    y0=0,
                    y1=1,
                    fillcolor=RECOVERY_FILL,
                    opacity=0.15,
                    line_width=0,
                    layer="below",
                )
            )
    names = [s["name"] for s in runs]
    if shaded is not None:  # whose recovery epochs the shading marks: said in the legend
        names.append(recovery_note(shaded["name"]))
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=names[-1],
                hoverinfo="skip",
                marker=dict(symbol="square", size=14, color=RECOVERY_FILL, opacity=0.35),
            ),
            1,
            1,
        )
    legend, top = _legend_layout(names, None)
    fig.update_xaxes(title_text=X_TITLE, row=3)
    fig.update_annotations(font=FONT)
    # the legend sits above the subplot titles: the margin holds both
    legend.update(y=1.0, yref="container", yanchor="top")
    fig.update_layout(
        shapes=shapes,
        height=height + top,
        font=FONT,
        legend=legend,
        hoverlabel=dict(font_size=14),
        margin=dict(l=10, r=10, t=top + 30, b=60),
    )
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
            fig.add_trace(
                go.Heatmap(
                    z=z,
                    x=betas,
                    y=bhs,
                    colorscale="Viridis",
                    text=text,
                    texttemplate="%{text}",
                    textfont=dict(size=14),
                    customdata=np.stack([n, of], axis=-1),
                    xgap=2,
                    ygap=2,
                    showscale=False,
                    hovertemplate=f"β=%{{x}}, b_H=%{{y}}<br>{title}: %{{z:.4g}}<br>mean of "
                    "%{customdata[0]} finished of %{customdata[1]} runs<extra></extra>",
                )
            )
        fig.update_layout(
            title=_title(f"{title}: mean of {over}"),
            height=320,
            font=FONT,
            margin=dict(l=10, r=10, t=50, b=10),
            xaxis=dict(title="β", type="category", categoryorder="array", categoryarray=betas, automargin=True),
            yaxis=dict(title="b_H", type="category", categoryorder="array", categoryarray=bhs, automargin=True),
        )
        figures.append(_readable(fig))
    for column, title in SENSITIVITY_METRICS:
        fig = go.Figure()
        names = []
        if len(done):
            stats = done.groupby(["b_H", "β"])[column].agg(["mean", "std", "count"]).reset_index()
            for i, h in enumerate(bhs):
                g = (
                    stats[stats["b_H"] == h]
                    .set_index("β")
                    .reindex([b for b in betas if (h, b) in set(zip(stats["b_H"], stats["β"]))])
                )
                names.append(f"b_H={h}")
                fig.add_trace(
                    go.Scatter(
                        x=g.index.tolist(),
                        y=g["mean"],
                        mode="lines+markers",
                        name=f"b_H={h}",
                        line=dict(color=family_color(i / max(1, len(bhs) - 1)) if len(bhs) > 1 else color_of(CTRPO)),
                        error_y=dict(array=g["std"].fillna(0), thickness=1.5),
                        customdata=np.stack([g["std"].fillna(0), g["count"]], axis=-1),
                        hovertemplate=f"b_H={h}, β=%{{x}}<br>{title}: %{{y:.4g}} ± %{{customdata[0]:.3g}}<br>"
                        "mean ± 1 std of %{customdata[1]} seeds<extra></extra>",
                    )
                )
        legend, top = _legend_layout(names, None, rows_width=300)
        fig.update_layout(
            title=_title(f"{title} against β"),
            height=340 + top,
            showlegend=bool(names),
            font=FONT,
            legend=legend,
            margin=dict(l=10, r=10, t=50 + top, b=10),
            xaxis=dict(title="β", type="category", categoryorder="array", categoryarray=betas, automargin=True),
            yaxis=dict(title=f"mean ± 1 std over {over}", automargin=True),
        )
        figures.append(_readable(fig))
    return figures


def recovery_figure(grid) -> go.Figure:
    """Fraction of epochs in recovery mode against b_H, one line per β (``analysis.grid_table`` rows)."""
    fig = go.Figure()
    bhs = _categories(grid.bh) if len(grid) else []
    if len(grid):
        for beta, g in grid.sort_values("bh").groupby("beta", sort=True):
            fig.add_trace(
                go.Scatter(
                    x=[_category(v) for v in g["bh"]],
                    y=g["recovery_frac"],
                    mode="lines+markers",
                    name=f"β={beta:g}",
                    line=dict(color=color_of(CTRPO, beta=beta)),
                )
            )
    fig.update_layout(
        title="recovery-mode frequency against b_H",
        height=340,
        font=FONT,
        xaxis=dict(title="b_H", type="category", categoryorder="array", categoryarray=bhs),
        yaxis_title="fraction of epochs in recovery",
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return _readable(fig)


FINAL_METRICS = [
    ("return", "return"),
    ("cost", "cost"),
    ("Reg+", "Reg+"),
]  # short: three panels side by side at 1024 px


def final_values_figure(table, height: int | None = None, log_x: bool = False) -> go.Figure:
    """IQM and its 95% bootstrap CI per setting (``pooling.comparison_table`` rows), one panel per final
    value; a setting of one seed has a dot and no bar. ``log_x``: cost and Reg+ on log axes."""
    fig = make_subplots(
        rows=1, cols=3, horizontal_spacing=0.08, shared_yaxes=True, subplot_titles=[t for _, t in FINAL_METRICS]
    )
    if len(table):
        ordered = table.iloc[::-1]
        colors = [color_of(a, b, h) for a, b, h in zip(ordered.algo, ordered.beta, ordered.bh)]
        for col, (name, _) in enumerate(FINAL_METRICS, start=1):
            mid, low, high = ordered[f"{name} IQM"], ordered[f"{name} CI low"], ordered[f"{name} CI high"]
            fig.add_trace(
                go.Scatter(
                    x=mid,
                    y=ordered["setting"],
                    mode="markers",
                    marker=dict(size=11, color=colors),
                    showlegend=False,
                    customdata=np.stack([low, high, ordered[count_column(ordered)]], axis=-1),
                    hovertemplate=f"%{{y}}<br>{name} IQM %{{x:.4g}}, 95% CI [%{{customdata[0]:.4g}}, "
                    "%{customdata[1]:.4g}]<br>%{customdata[2]} seeds<extra></extra>",
                    error_x=dict(
                        type="data",
                        symmetric=False,
                        array=(high - mid).fillna(0),
                        arrayminus=(mid - low).fillna(0),
                        thickness=2,
                        color="#444",
                    ),
                ),
                row=1,
                col=col,
            )
            fig.update_xaxes(type="log" if log_x and name != "return" else None, row=1, col=col)
    fig.update_annotations(font=FONT)
    rows = len(table) if len(table) else 1
    # what the marks mean, once in the title: three copies under narrow panels ran into each other
    fig.update_layout(
        title=_title("final values per setting over seeds (dot: IQM, bar: 95% CI)"),
        height=height or 150 + max(210, 34 * rows),
        font=FONT,
        margin=dict(l=10, r=10, t=80, b=10),
    )
    fig.update_yaxes(type="category")
    return _readable(fig)
