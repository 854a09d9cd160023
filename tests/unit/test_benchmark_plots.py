"""The Benchmark page's and report's figures (results/benchmark_plots.py) on synthetic tables: rliable's interval
plot (a dot and a CI bar per algorithm in its colour, C-TRPO on top, the limit in black dashes at 0 of the
normalised cost), the probability of improvement (a 0.5 line), the performance profile (CI bands) and the
learning-curve grid (a row per task, the task's limit on its cost panel, one legend entry per algorithm)."""

import math

import numpy as np
import pandas as pd
import pytest

from ctrpo_core.results import benchmark_plots as bp
from ctrpo_core.results.aggregate import NORMALISED, PER_TASK
from ctrpo_core.results.figure_style import LIMIT_COLOR, LIMIT_DASH, algo_name, color_of

ALGOS = ["c-trpo", "trpo-lag", "cpo", "ppo"]  # the legends' order (aggregate._algorithm_order)
NAMES = [name for _, name in NORMALISED]


def aggregate_table(regret_scale: float = 1.0) -> pd.DataFrame:
    rows = []
    for i, algo in enumerate(ALGOS):
        row = {"algo": algo, "tasks": 2, "runs": 6}
        for j, name in enumerate(NAMES):
            point = [1.0 - 0.1 * i, -0.2 + 0.3 * i, 0.2 + i][j] * (regret_scale**i if j == 2 else 1.0)
            row[f"{name} IQM"], row[f"{name} CI low"], row[f"{name} CI high"] = point, 0.8 * point, 1.2 * point
        rows.append(row)
    table = pd.DataFrame(rows)
    table.loc[0, f"{NAMES[1]} CI low"] = table.loc[0, f"{NAMES[1]} CI high"] = math.nan  # one run: a dot, no bar
    table["probably safe"] = table[f"{NAMES[1]} CI high"] <= 0
    return table


def improvement_table() -> pd.DataFrame:
    rows = []
    for i, other in enumerate(ALGOS[1:]):
        row = {"algo": "c-trpo", "versus": other}
        for name in ("return / PPO", "Reg+ / CPO's Reg+"):
            row[f"P({name}) better"], row[f"P({name}) CI low"], row[f"P({name}) CI high"] = 0.3 + 0.2 * i, 0.1, 0.9
        rows.append(row)
    return pd.DataFrame(rows)


def curves() -> pd.DataFrame:
    """Two tasks × three algorithms × two seeds, 4 epochs each (the columns catalog.load_curves gives)."""
    frames = []
    for task, b in (("HazardEdge-v0", 5.0), ("GridHazard-v0", 1.0)):
        for k, algo in enumerate(["c-trpo", "trpo-lag", "ppo"]):
            for seed in (0, 1):
                steps = np.arange(1, 5) * 2000
                frames.append(
                    pd.DataFrame(
                        {
                            "run": f"bench_{task}_{algo}_s{seed}",
                            "label": f"{task} {algo} b={b:g} steps=8000",
                            "task": task,
                            "algo": algo,
                            "seed": seed,
                            "beta": 1.0 if algo == "c-trpo" else math.nan,
                            "bh": 0.8 if algo == "c-trpo" else math.nan,
                            "cost_limit": b,
                            "epoch": np.arange(1, 5),
                            "total_steps": steps,
                            "ep_return": steps / 1000 + k + seed,
                            "ep_cost": b * (0.5 + 0.5 * k) + seed * 0.1,
                            "cost_regret": np.cumsum(np.full(4, float(k))) + seed,
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def panel_of(trace) -> int:
    return 1 if trace.xaxis in (None, "x") else int(trace.xaxis[1:])


def test_aggregate_figure_is_rliables_interval_plot():
    table = aggregate_table()
    fig = bp.aggregate_figure(table)
    for col in (1, 2, 3):
        dots = [t for t in fig.data if t.mode == "markers" and t.x[0] is not None and panel_of(t) == col]
        bars = [t for t in fig.data if t.mode == "lines" and t.showlegend is False and panel_of(t) == col]
        name = NAMES[col - 1]
        # a dot per algorithm in its colour at its IQM; C-TRPO's blue is that of its curves (its default β)
        assert [t.y[0] for t in dots] == [algo_name(a) for a in ALGOS]
        assert [t.marker.color for t in dots] == [bp._color(a) for a in ALGOS]
        assert dots[0].marker.color == color_of("c-trpo", beta=1.0)
        assert [t.x[0] for t in dots] == pytest.approx(table[f"{name} IQM"].tolist())
        with_ci = table[table[f"{name} CI low"].notna()]
        ends = [v for lo, hi in zip(with_ci[f"{name} CI low"], with_ci[f"{name} CI high"]) for v in (lo, hi)]
        assert [v for t in bars for v in t.x] == pytest.approx(ends)
        # the bars end inside the panel (Plotly's own range ends at a bar's end: it looked cut)
        lo, hi = fig.layout[f"xaxis{'' if col == 1 else col}"].range
        assert lo < min(min(t.x) for t in bars + dots) and hi > max(max(t.x) for t in bars + dots)
    assert len([t for t in fig.data if t.mode == "lines" and t.showlegend is False and panel_of(t) == 2]) == 3
    # C-TRPO on top: the category array lists the rows bottom-up
    assert list(fig.layout.yaxis.categoryarray) == [algo_name(a) for a in reversed(ALGOS)]
    # the limit at 0 of the normalised cost in the limit's black dashes, the references at 1 in grey dots
    limit = [s for s in fig.layout.shapes if s.line.dash == LIMIT_DASH]
    assert len(limit) == 1 and limit[0].xref == "x2" and limit[0].x0 == 0 and limit[0].line.color == LIMIT_COLOR
    refs = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert sorted((s.xref, s.x0) for s in refs) == [("x", 1.0), ("x3", 1.0)]
    legend = [t.name for t in fig.data if t.showlegend]
    assert legend == [bp.IQM_LEGEND, bp.CI_LEGEND, bp.LIMIT_LEGEND, bp.REFERENCE_LEGEND]
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.traceorder == "normal"
    assert fig.layout.xaxis3.type != "log"


def test_a_reg_plus_spanning_decades_goes_on_a_log_axis():
    fig = bp.aggregate_figure(aggregate_table(regret_scale=30.0))
    assert fig.layout.xaxis3.type == "log"
    (ref,) = [s for s in fig.layout.shapes if s.xref == "x3"]
    assert ref.x0 == 0.0  # log10(1): CPO's Reg+ at 1 on the log axis
    assert bp.aggregate_figure(aggregate_table(regret_scale=30.0), log_regret=False).layout.xaxis3.type != "log"


def test_probability_of_improvement_per_baseline_with_the_half_line():
    table = improvement_table()
    fig = bp.improvement_figure(table)
    for col in (1, 2):
        dots = [t for t in fig.data if t.mode == "markers" and t.x[0] is not None and panel_of(t) == col]
        assert [t.y[0] for t in dots] == [f"vs {algo_name(a)}" for a in ALGOS[1:]]
        assert [t.marker.color for t in dots] == [color_of(a) for a in ALGOS[1:]]
        assert [t.x[0] for t in dots] == pytest.approx([0.3, 0.5, 0.7])
        assert list(fig.layout[f"xaxis{'' if col == 1 else col}"].range) == [-0.03, 1.03]
    halves = [s for s in fig.layout.shapes if s.x0 == 0.5]
    assert sorted(s.xref for s in halves) == ["x", "x2"]
    assert [a.text for a in fig.layout.annotations] == ["P(C-TRPO's return is higher)", "P(C-TRPO's Reg+ is lower)"]
    view = bp.improvement_view(table)
    assert view.versus.tolist() == ["TRPO-Lag", "CPO", "PPO"]
    assert view["P(return / PPO better)"].iloc[0] == "0.30 [0.10, 0.90]"


def test_performance_profile_has_a_line_and_a_band_per_algorithm():
    taus = np.linspace(0, 2, 5)
    profiles = pd.DataFrame(
        [
            {"algo": a, "tau": t, "fraction": max(0.0, 1 - t / 2), "CI low": 0.0, "CI high": 1.0}
            for a in ["ppo", "c-trpo"]
            for t in taus
        ]
    )
    fig = bp.profile_figure(profiles)
    lines = [t for t in fig.data if t.name in ("C-TRPO", "PPO")]
    assert [t.name for t in lines] == ["C-TRPO", "PPO"]  # the legends' order, whatever the table's
    assert [t.line.color for t in lines] == [bp._color("c-trpo"), color_of("ppo")]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2 and all(len(t.x) == 2 * len(taus) for t in bands)
    assert [s.x0 for s in fig.layout.shapes] == [1.0]  # PPO's return
    assert fig.layout.yaxis.range[0] < 0 and fig.layout.yaxis.range[1] > 1


def test_curve_grid_a_row_per_task_the_limit_on_each_cost_panel_one_entry_per_algorithm():
    data = curves()
    fig = bp.curve_grid(data, ["HazardEdge-v0", "GridHazard-v0"])
    limits = [t for t in fig.data if t.line.dash == LIMIT_DASH]
    # one limit per task, on that task's cost panel (row 1: x2, row 2: x5), at its own b
    assert sorted((t.xaxis, t.y[0]) for t in limits) == [("x2", 5.0), ("x5", 1.0)]
    assert all(t.line.color == LIMIT_COLOR for t in limits)
    entries = [t.name for t in fig.data if t.showlegend]
    assert entries == ["C-TRPO", "TRPO-Lag", "PPO", "limit b (per task)"]
    means = [t for t in fig.data if t.name in ("C-TRPO", "TRPO-Lag", "PPO")]
    assert len(means) == 2 * 3 * 3  # tasks × panels × algorithms
    for t in means:
        assert t.legendgroup == t.name  # one click toggles an algorithm in every row
        assert t.line.color == bp._color({"C-TRPO": "c-trpo", "TRPO-Lag": "trpo-lag", "PPO": "ppo"}[t.name])
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == len(means)  # two seeds each: a ± 1 std band per line
    # the mean over the seeds: HazardEdge's TRPO-Lag return at 2000 steps is (2+1+0 + 2+1+1) / 2
    first = next(t for t in means if t.name == "TRPO-Lag" and t.xaxis == "x")
    assert first.y[0] == pytest.approx(3.5)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["<b>HazardEdge-v0</b> · cost limit b = 5", "<b>GridHazard-v0</b> · cost limit b = 1"]
    assert fig.layout.xaxis4.title.text == "environment steps" and not fig.layout.xaxis.title.text
    log = bp.curve_grid(data, log_y=True)
    assert log.layout.yaxis2.type == "log" and log.layout.yaxis3.type == "log" and log.layout.yaxis.type != "log"
    assert [a.text.split("</b>")[0] for a in log.layout.annotations] == ["<b>GridHazard-v0", "<b>HazardEdge-v0"]
    empty = bp.curve_grid(pd.DataFrame())
    assert not empty.data and "no finished run" in empty.layout.annotations[0].text


def test_tables_as_people_read_them():
    view = bp.aggregate_view(aggregate_table())
    assert view.algo.tolist() == ["C-TRPO", "TRPO-Lag", "CPO", "PPO"]
    assert view["return / PPO"].iloc[0] == "1 [0.8, 1.2]" and view["runs"].iloc[0] == "6 (2 tasks)"
    assert set(view["probably safe"]) <= {"yes", "no"}
    per_task = pd.DataFrame(
        [
            {"task": t, "algo": a, "finished seeds": 2, "seed ids": "0,1", "b": 1.0, "not counted": ""}
            | {f"{n} {s}": v for _, n in PER_TASK for s, v in (("IQM", 2.0), ("CI low", 1.0), ("CI high", 3.0))}
            for t in ("A-v0", "B-v0")
            for a in ("c-trpo", "cpo")
        ]
    )
    one = bp.per_task_view(per_task, "B-v0")
    assert one.algo.tolist() == ["C-TRPO", "CPO"] and one["V_r"].iloc[0] == "2 [1, 3]"
    assert list(one.columns) == ["algo", "finished seeds", "seed ids", "V_r", "V_c", "Reg+"]
