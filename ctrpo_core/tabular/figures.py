"""Plotly figures of the C-NPG geometry (the app, the notebooks and `ctrpo cnpg` call these).

    policy_space_figure  the toy's unit square: V_r heatmap, the boundary V_c = b, NPG and C-NPG paths
    trust_region_figure  {D_C(π‖π_k) <= δ} around base policies nearing the boundary, next to the KL ball
    value_curves_figure  V_r(t) and V_c(t) along NPG, C-NPG and Lagrangian flows, with b and the LP optimum

Each returns a self-contained plotly.graph_objects.Figure (no LaTeX, no external resources); its
``layout.meta`` holds the numbers behind the picture (overshoots, areas, final values).
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .cmdp import CMDP, constrained_optimum, toy_cmdp
from .divergence import TOY_TRUST_REGION_BASES, toy_divergence_grid, trust_region_areas
from .flows import normalised_flow, ode_flow
from .policy import softmax_policy, toy_policy, toy_xy
from .starts import safe_starts
from .values import values

DEFAULT_BETAS = (1e-4, 1e-2, 1.0, 2.0)
FONT_PX = 14  # every text of these figures, as in results/figure_style.py: readable at a projector
# the exact flows are C-TRPO's idealisation: its blues, dark to light, then greys; never an algorithm's colour
COLORS = ["#08306b", "#2171b5", "#6baed6", "#525252", "#969696", "#4292c6", "#084594", "#9ecae1", "#252525"]


def _beta_label(beta: float) -> str:
    return "NPG (β = 0)" if beta == 0 else f"C-NPG β = {beta:g}"


def _readable(fig: go.Figure) -> go.Figure:
    """14 px at least for every text: ticks, axis titles, the colour bar, legends, subtitles (Plotly draws
    subtitles and the app's theme draws ticks smaller by default; subplot titles are 16 px already)."""
    fig.update_layout(font=dict(size=FONT_PX), hoverlabel=dict(font_size=FONT_PX), legend_font_size=FONT_PX)
    if fig.layout.title.subtitle.text:
        fig.update_layout(title_subtitle_font_size=FONT_PX)
    fig.update_xaxes(tickfont_size=FONT_PX, title_font_size=FONT_PX)
    fig.update_yaxes(tickfont_size=FONT_PX, title_font_size=FONT_PX)
    fig.update_coloraxes(colorbar_tickfont_size=FONT_PX, colorbar_title_font_size=FONT_PX)
    return fig


def _crossing_title(beta: float, crossed: int, n_starts: int, overshoot: float) -> str:
    """A panel's title: the flow and how many of its paths from safe starts crossed the limit b, by how much
    (two short lines: they fit a panel a third of a 1024 px screen wide)."""
    by = f", by ≤ {overshoot:.1g}" if crossed else ""
    return f"{_beta_label(beta)}<br>crossed b: {crossed} of {n_starts}{by}"


def crossing_note(space_meta: dict, values_meta: dict | None = None) -> str:
    """What "crossed b" in :func:`policy_space_figure`'s panel titles means, from its numbers (``layout.meta``):
    per flow, how many paths from strictly safe starts crossed the limit b and by how much; for C-NPG, that a
    crossing is a fixed step landing past the boundary, and (``values_meta``: :func:`value_curves_figure`'s) how
    far the exact flow of the same β went."""
    b, n, dt = space_meta["b"], space_meta["n_starts"], space_meta["dt"]
    exact = dict(zip(values_meta["labels"], values_meta["max_V_c"])) if values_meta else {}
    lines = []
    for beta, crossed, over in zip(space_meta["betas"], space_meta["crossed"], space_meta["overshoot"]):
        label = _beta_label(beta)
        if not crossed:
            lines.append(f"{label}: none of the {n} paths from safe starts crossed the limit b = {b:g}.")
            continue
        line = f"{label}: {crossed} of {n} paths from safe starts crossed the limit b = {b:g}, by up to {over:.1g}"
        if beta > 0:
            line += f": a fixed step of Δt = {dt:g} landing just past the boundary before the path stops"
            if label in exact:
                line += (
                    f"; the exact flow of the same β (values below) reaches at most V_c − b = "
                    f"{max(exact[label]) - b:.0e}"
                )
        lines.append(line + ".")
    return " ".join(lines)


def _toy_grid(cmdp: CMDP, n: int):
    x = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(x, x)  # [iy, ix]
    V_r, V_c = values(cmdp, toy_policy(X, Y))
    return x, V_r, V_c


def _boundary(x, V_c, b, show_legend, **line):
    """The curve V_c = b as a single-level contour."""
    return go.Contour(
        x=x,
        y=x,
        z=np.asarray(V_c, dtype=np.float32),
        contours=dict(start=b, end=b, size=1, coloring="none", showlabels=False),
        line=dict(width=3, **line),
        showscale=False,
        hoverinfo="skip",
        name=f"V_c = b = {b:g}",
        showlegend=show_legend,
    )


def policy_space_figure(
    betas=DEFAULT_BETAS,
    n_starts: int = 10,
    seed: int = 0,
    *,
    include_npg: bool = True,
    dt: float = 0.01,
    n_steps: int = 10_000,
    record_every: int = 20,
    grid: int = 101,
    stop_outside: bool = False,
    cmdp: CMDP | None = None,
) -> go.Figure:
    """NPG and C-NPG paths in the toy's policy square (x, y) = (π(a1|s1), π(a1|s2)).

    One panel per β (β = 0: NPG), all from the same ``n_starts`` random strictly safe starts
    (V_c < b − 0.1), integrated with the paper's normalised steps θ += Δt·θ̇/‖θ̇‖, all at once.
    C-NPG paths end at the first step beyond the boundary if a fixed step overshoots it; the
    overshoot is reported in the panel title and in ``layout.meta``.
    """
    cmdp = toy_cmdp() if cmdp is None else cmdp
    betas = [float(b) for b in betas]
    params = ([0.0] if include_npg and 0.0 not in betas else []) + betas
    theta0 = safe_starts(cmdp, n_starts, seed, margin=0.1)
    traj = normalised_flow(
        cmdp, theta0, params, dt=dt, n_steps=n_steps, record_every=record_every, stop_outside=stop_outside
    )
    opt = constrained_optimum(cmdp)
    opt_x, opt_y = toy_xy(opt.policy())
    x, V_r_grid, V_c_grid = _toy_grid(cmdp, grid)
    xs, ys = toy_xy(softmax_policy(traj.theta))  # (B, N, T)

    cols = min(len(params), 3)
    rows = math.ceil(len(params) / cols)
    titles = []
    for bi, beta in enumerate(params):
        over = traj.overshoot[bi].max()
        crossed = int(traj.crossed[bi].sum())
        titles.append(_crossing_title(beta, crossed, n_starts, over))
    # room between panels for the right panel's tick labels, and above each for its two-line title
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.1, vertical_spacing=0.25 / rows
    )
    for bi, beta in enumerate(params):
        row, col = bi // cols + 1, bi % cols + 1
        first = bi == 0
        fig.add_trace(
            go.Heatmap(
                x=x,
                y=x,
                z=V_r_grid.astype(np.float32),
                coloraxis="coloraxis",
                hovertemplate="x=%{x:.3f}<br>y=%{y:.3f}<br>V_r=%{z:.3f}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        fig.add_trace(_boundary(x, V_c_grid, cmdp.b, first, color="white"), row=row, col=col)
        color = COLORS[bi % len(COLORS)]
        for ni in range(n_starts):
            k = traj.n_valid[bi, ni]
            fig.add_trace(
                go.Scatter(
                    x=xs[bi, ni, :k].astype(np.float32),
                    y=ys[bi, ni, :k].astype(np.float32),
                    mode="lines",
                    line=dict(color=color, width=2),
                    customdata=np.stack([traj.t[:k], traj.V_r[bi, ni, :k], traj.V_c[bi, ni, :k]], -1).astype(
                        np.float32
                    ),
                    hovertemplate=(
                        f"{_beta_label(beta)}, start {ni}<br>t=%{{customdata[0]:.2f}}"
                        "<br>V_r=%{customdata[1]:.4f}<br>V_c=%{customdata[2]:.4f}<extra></extra>"
                    ),
                    showlegend=False,
                ),
                row=row,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=xs[bi, :, 0],
                y=ys[bi, :, 0],
                mode="markers",
                name="starts (V_c < b − 0.1)",
                marker=dict(color="white", size=7, line=dict(color="black", width=1)),
                showlegend=first,
                hoverinfo="skip",
            ),
            row=row,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=[float(opt_x)],
                y=[float(opt_y)],
                mode="markers",
                name=f"LP optimum (V_r = {opt.reward:.3f})",
                marker=dict(symbol="star", color="gold", size=16, line=dict(color="black", width=1)),
                cliponaxis=False,
                showlegend=first,
            ),
            row=row,
            col=col,
        )
        fig.update_xaxes(
            range=[0, 1], constrain="domain", title_text="x = π(a1|s1)" if row == rows else None, row=row, col=col
        )
        fig.update_yaxes(
            range=[0, 1],
            scaleanchor=f"x{bi + 1 if bi else ''}",
            title_text="y = π(a1|s2)" if col == 1 else None,
            row=row,
            col=col,
        )
    fig.update_annotations(yshift=10)  # the subplot titles, clear of the top tick label "1"
    fig.update_layout(
        title=dict(
            text="NPG vs C-NPG paths in the toy's policy space",
            subtitle=dict(
                text=f"{n_starts} strictly safe starts (seed {seed}), normalised steps Δt = {dt:g}, "
                f"up to {n_steps} steps"
            ),
        ),
        coloraxis=dict(colorscale="Viridis", colorbar=dict(title="V_r")),
        height=430 * rows + 125,
        width=1250,
        margin=dict(t=175, b=130),
        legend=dict(orientation="h", yref="container", y=0.01, yanchor="bottom", bgcolor="#d9d9d9"),
        meta=dict(
            betas=params,
            max_V_c=traj.max_V_c.max(axis=1).tolist(),
            overshoot=traj.overshoot.max(axis=1).tolist(),
            crossed=traj.crossed.sum(axis=1).tolist(),
            final_V_r=traj.final()[0].tolist(),
            lp_V_r=opt.reward,
            b=cmdp.b,
            n_starts=n_starts,
            dt=dt,
        ),
    )
    return _readable(fig)


def trust_region_figure(
    delta: float = 0.05, beta: float = 1.0, bases=TOY_TRUST_REGION_BASES, *, grid: int = 140, area_grid: int = 400
) -> go.Figure:
    """{D_C(π‖π_k) <= δ} (left) and the KL ball {Σ_s d_π(s) KL(π‖π_k) <= δ} (right) around base policies π_k
    of the toy at several distances from the boundary. Areas (legend, ``layout.meta``) are counted on an
    ``area_grid``² grid; the contours are drawn from a ``grid``² one."""
    cmdp = toy_cmdp()
    g = toy_divergence_grid(beta, bases, grid, cmdp)
    areas = trust_region_areas(delta, beta, bases, area_grid)
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=[  # two lines: whole at 1024 px
            f"C-NPG trust regions, β = {beta:g}<br>{{D_C(π‖π_k) ≤ δ}}",
            "plain KL balls<br>{Σ_s d_π(s) KL(π‖π_k) ≤ δ}",
        ],
    )
    unsafe = np.where(g.V_c >= cmdp.b, 1.0, np.nan).astype(np.float32)
    for col, (field, label) in enumerate([(g.dc, "D_C"), (g.kl, "KL")], start=1):
        fig.add_trace(
            go.Heatmap(
                x=g.x,
                y=g.y,
                z=unsafe,
                colorscale=[[0, "#f3d6d6"], [1, "#f3d6d6"]],
                showscale=False,
                hoverinfo="skip",
                name="unsafe (V_c ≥ b)",
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(_boundary(g.x, g.V_c, cmdp.b, col == 1, color="#b22222"), row=1, col=col)
        for k, (bx, by) in enumerate(g.bases):
            color = COLORS[k % len(COLORS)]
            z = np.where(np.isfinite(field[k]), field[k], 1e3 * delta).astype(np.float32)
            area = areas[label][k]
            fig.add_trace(
                go.Contour(
                    x=g.x,
                    y=g.y,
                    z=z,
                    contours=dict(start=delta, end=delta, size=1, coloring="none"),
                    line=dict(color=color, width=2.5),
                    showscale=False,
                    hoverinfo="skip",
                    name=f"π_k {k + 1}: b − V_c = {cmdp.b - g.V_c_bases[k]:.3f}, area {area:.4f}",
                    legendgroup=f"{label}{k}",
                    showlegend=True,
                    legend="legend" if col == 1 else "legend2",
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=[bx],
                    y=[by],
                    mode="markers",
                    marker=dict(color=color, size=8, symbol="x"),
                    legendgroup=f"{label}{k}",
                    showlegend=False,
                    hovertemplate=f"π_k {k + 1}: x={bx:.3f}, y={by:.3f}, V_c={g.V_c_bases[k]:.4f}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(range=[0, 1], constrain="domain", title_text="x = π(a1|s1)", row=1, col=col)
        fig.update_yaxes(range=[0, 1], scaleanchor="x" if col == 1 else "x2", title_text="y = π(a1|s2)", row=1, col=col)
    fig.update_annotations(yshift=10)
    fig.update_layout(
        title=dict(
            text=f"Trust regions near the boundary, δ = {delta:g}",
            subtitle=dict(text=f"areas counted on a {area_grid}² grid"),
        ),
        height=655,
        width=1250,
        legend=dict(x=0.0, yref="container", y=0.01, xanchor="left", yanchor="bottom"),
        legend2=dict(x=0.55, yref="container", y=0.01, xanchor="left", yanchor="bottom"),
        margin=dict(b=200, t=175),
        meta=dict(
            delta=delta,
            beta=beta,
            bases=np.asarray(g.bases).tolist(),
            V_c_bases=g.V_c_bases.tolist(),
            area_D_C=areas["D_C"].tolist(),
            area_KL=areas["KL"].tolist(),
            max_V_c_inside=areas["max_V_c_inside"].tolist(),
            b=cmdp.b,
        ),
    )
    return _readable(fig)


def value_curves_figure(
    cmdp: CMDP | None = None,
    betas=(1e-2, 1.0, 2.0),
    n_starts: int = 3,
    seed: int = 0,
    *,
    include_npg: bool = True,
    lagrangian_lr: float | None = 10.0,
    t_end: float | None = None,
    n_record: int = 301,
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> go.Figure:
    """V_r(t) (top) and V_c(t) (bottom) along the exact flows (adaptive ODE solver): NPG, C-NPG for each β,
    and the Lagrangian primal-dual NPG (dual step η_λ = ``lagrangian_lr``, solved at rtol >= 1e-6; None leaves
    it out), from the
    same strictly safe starts, with b and the LP optimum as horizontal lines. Default horizon: t = 30 on the
    toy, 300 on other CMDPs (e.g. ``grid_hazard_cmdp()``)."""
    cmdp = toy_cmdp() if cmdp is None else cmdp
    t_end = (30.0 if cmdp.name == "toy" else 300.0) if t_end is None else t_end
    theta0 = safe_starts(cmdp, n_starts, seed)
    opt = constrained_optimum(cmdp)
    params = ([0.0] if include_npg else []) + [float(b) for b in betas]
    cnpg = ode_flow(cmdp, theta0, params, t_end=t_end, n_record=n_record, rtol=rtol, atol=atol)
    series = [(_beta_label(p), cnpg.V_r[i], cnpg.V_c[i]) for i, p in enumerate(params)]
    if lagrangian_lr is not None:
        # the contrast curve (it violates b by O(0.1)) at looser tolerances: RK45 is slow on its oscillations
        lag = ode_flow(
            cmdp,
            theta0,
            [lagrangian_lr],
            kind="lagrangian",
            t_end=t_end,
            n_record=n_record,
            rtol=max(rtol, 1e-6),
            atol=max(atol, 1e-9),
        )
        series.append((f"Lagrangian NPG (η_λ = {lagrangian_lr:g})", lag.V_r[0], lag.V_c[0]))

    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, subplot_titles=["V_r(π_t)", "V_c(π_t)"]
    )
    dashes = ["solid", "dot", "dash", "dashdot", "longdash"]
    for si, (label, V_r, V_c) in enumerate(series):
        color = COLORS[si % len(COLORS)]
        for ni in range(n_starts):
            common = dict(
                mode="lines", legendgroup=label, line=dict(color=color, width=2, dash=dashes[ni % len(dashes)])
            )
            fig.add_trace(
                go.Scatter(
                    x=cnpg.t,
                    y=V_r[ni],
                    name=label,
                    showlegend=ni == 0,
                    hovertemplate=f"{label}, start {ni}<br>t=%{{x:.2f}}<br>V_r=%{{y:.5f}}<extra></extra>",
                    **common,
                ),
                row=1,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=cnpg.t,
                    y=V_c[ni],
                    name=label,
                    showlegend=False,
                    hovertemplate=f"{label}, start {ni}<br>t=%{{x:.2f}}<br>V_c=%{{y:.5f}}<extra></extra>",
                    **common,
                ),
                row=2,
                col=1,
            )
    # b and the LP optimum as named legend entries: text on the lines would cover the curves
    span = [float(cnpg.t[0]), float(cnpg.t[-1])]
    fig.add_trace(
        go.Scatter(
            x=span,
            y=[opt.reward] * 2,
            mode="lines",
            line=dict(color="black", dash="dash"),
            name=f"LP optimum V_r* = {opt.reward:.4g}",
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=span,
            y=[cmdp.b] * 2,
            mode="lines",
            line=dict(color="#b22222", dash="dash"),
            name=f"b = {cmdp.b:g} (V_c of the LP optimum)",
            hoverinfo="skip",
        ),
        row=2,
        col=1,
    )
    fig.update_xaxes(title_text="flow time t", row=2, col=1)
    fig.update_layout(
        title=dict(
            text=f"{cmdp.name} CMDP: values along the exact flows",
            subtitle=dict(text=f"solve_ivp, rtol {rtol:g}; line style = start"),
        ),
        height=700,
        width=1100,
        margin=dict(t=110),
        meta=dict(
            labels=[s[0] for s in series],
            final_V_r=[s[1][:, -1].tolist() for s in series],
            max_V_c=[s[2].max(axis=1).tolist() for s in series],
            lp_V_r=opt.reward,
            b=cmdp.b,
        ),
    )
    return _readable(fig)
