"""Runs and their results as text: the tables of ``ctrpo ls``, ``ctrpo show`` and the end of a sweep.

The numbers are the app's (``catalog.summarize_run``): final return and cost are means over the last
10% of epochs, Reg+ is the run's cumulative cost regret. They are final only for a run that finished its
planned steps; for any other run they are "so far" and say so. A setting the run's algorithm does not read
(β and b_H for anything but c-trpo) is shown as "-" and is null in JSON. ``ctrpo ls --by-setting`` pools
the finished runs of each setting (``pooling.comparison_table``) and names the others.
"""

from __future__ import annotations

import math

import pandas as pd

from ..config.overrides import applies
from ..runs.store import RunDir
from .catalog import run_dirs, summarize_run
from .pooling import COUNT_COLUMN, NOT_COUNTED, comparison_table, one_run_per_seed

LS_FIELDS = (
    "name",
    "task",
    "algo",
    "beta",
    "bh",
    "delta",
    "seed",
    "state",
    "epoch",
    "epochs",
    "final_return",
    "final_cost",
    "reg_plus",
    "label",
)
FINAL, SO_FAR = "final", "so far"


def _number(value):
    """JSON-safe: NaN and None become None, numpy scalars plain Python numbers."""
    if value is None:
        return None
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        value = value.item() if hasattr(value, "item") else value
        return None if isinstance(value, float) and not math.isfinite(value) else value
    return value


def run_row(path) -> dict:
    """One run as the fields of ``ctrpo ls`` (plus ``path`` and ``message``)."""
    summary = summarize_run(path)
    row = {k: _number(summary.get(k)) for k in LS_FIELDS}
    row["path"], row["message"] = summary.get("path"), summary.get("message") or ""
    row["finished"] = bool(summary.get("complete"))
    # what the final_* values are: final only once every planned epoch is trained
    row["values"] = FINAL if row["finished"] else SO_FAR if summary.get("epoch") else None
    return row


def list_rows(runs_dir, task: str | None = None, algo: str | None = None, names=None) -> list[dict]:
    """The rows of the runs in ``runs_dir`` (only ``names`` if given), filtered, sorted by name."""
    rows = [run_row(p) for p in run_dirs(runs_dir) if names is None or p.name in names]
    rows = [r for r in rows if (task is None or r["task"] == task) and (algo is None or r["algo"] == algo)]
    return sorted(rows, key=lambda r: r["name"])


def _cell(value, spec: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value) if not isinstance(value, float) else f"{value:g}"


def table(rows: list[dict]) -> str:
    """Aligned text columns, one line per run."""
    head = ["name", "task", "algo", "β", "b_H", "δ", "seed", "state", "epoch", "return", "cost", "Reg+", "values"]
    lines = [
        [
            r["name"],
            _cell(r["task"]),
            _cell(r["algo"]),
            _cell(r["beta"]),
            _cell(r["bh"]),
            _cell(r["delta"]),
            _cell(r["seed"]),
            r["state"] or "-",
            f"{_cell(r['epoch'])}/{_cell(r['epochs'])}" if r["state"] != "damaged" else "-",
            _cell(r["final_return"], ".2f"),
            _cell(r["final_cost"], ".2f"),
            _cell(r["reg_plus"], ".1f"),
            r.get("values") or "-",
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    right = {5, 6, 8, 9, 10, 11}
    fmt = lambda cells: "  ".join(
        str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ).rstrip()
    out = [fmt(head)] + [fmt(line) for line in lines]
    damaged = [r for r in rows if r["state"] == "damaged"]
    out += [f"damaged: {r['name']}: {r['message']}" for r in damaged]
    if any(r.get("values") == SO_FAR for r in rows):
        out.append("values: 'final' once a run has trained every planned epoch; 'so far' before (never pooled)")
    return "\n".join(out)


SETTING_FIELDS = {
    "setting": "setting",
    "label": "label",
    "algo": "algo",
    "beta": "beta",
    "bh": "bh",
    COUNT_COLUMN: "finished",
    "seed ids": "seeds",
    NOT_COUNTED: "not_counted",
    "return median": "return_median",
    "cost median": "cost_median",
    "Reg+ median": "reg_plus_median",
    "return IQM": "return_iqm",
    "cost IQM": "cost_iqm",
    "Reg+ IQM": "reg_plus_iqm",
}


def setting_rows(runs_dir, task: str | None = None, algo: str | None = None) -> list[dict]:
    """One row per setting (``catalog.label``): how many runs finished and their pooled values, and the runs
    that do not count, by seed ("seed 2 stopped at epoch 15/80")."""
    summaries = pd.DataFrame([summarize_run(p) for p in run_dirs(runs_dir)])
    if summaries.empty or "label" not in summaries:
        return []
    summaries = summaries[summaries.state != "damaged"]
    if task is not None:
        summaries = summaries[summaries.task == task]
    if algo is not None:
        summaries = summaries[summaries.algo == algo]
    kept, _ = one_run_per_seed(summaries)
    table = comparison_table(kept, reps=500) if len(kept) else kept
    rows = []
    for _, r in table.iterrows():
        row = {out: _number(r.get(key)) for key, out in SETTING_FIELDS.items()}
        row["seeds"] = [int(s) for s in str(r["seed ids"]).split(",") if s != ""]
        row["not_counted"] = [part for part in str(r[NOT_COUNTED]).split("; ") if part]
        rows.append(row)
    return rows


def setting_table(rows: list[dict]) -> str:
    """``ctrpo ls --by-setting`` as text: a line per setting, then what each does not count."""
    head = ["setting", "finished", "return", "cost", "Reg+"]
    lines = [
        [
            r["setting"],
            str(r["finished"]),
            _cell(r["return_median"], ".2f"),
            _cell(r["cost_median"], ".2f"),
            _cell(r["reg_plus_median"], ".1f"),
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = lambda cells: "  ".join(
        str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
    ).rstrip()
    out = [fmt(head)] + [fmt(line) for line in lines]
    out += [
        f"{r['setting']}: {r['finished']} finished; {'; '.join(r['not_counted'])}" for r in rows if r["not_counted"]
    ]
    out.append("medians over the finished runs of each setting (one run per seed); unfinished runs are never pooled")
    return "\n".join(out)


def text_chart(values, width: int = 60, height: int = 8, label: str = "", limit: float | None = None) -> list[str]:
    """A small plot of ``values`` over epochs in characters: '*' marks the values (averaged per column
    when there are more epochs than columns) and '-' the line ``limit`` (the cost limit b)."""
    values = [math.nan if v is None else float(v) for v in values]  # None: an epoch with no finished episode
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [f"{label}: no values yet"]
    columns = min(width, len(values))
    buckets = []
    for c in range(columns):
        part = [v for v in values[c * len(values) // columns : (c + 1) * len(values) // columns] if math.isfinite(v)]
        buckets.append(sum(part) / len(part) if part else math.nan)
    lo, hi = min(finite + ([limit] if limit is not None else [])), max(finite + ([limit] if limit is not None else []))
    span = hi - lo or 1.0
    row_of = lambda v: height - 1 - int(round((v - lo) / span * (height - 1)))
    grid = [[" "] * columns for _ in range(height)]
    if limit is not None:
        for c in range(columns):
            grid[row_of(limit)][c] = "-"
    for c, v in enumerate(buckets):
        if math.isfinite(v):
            grid[row_of(v)][c] = "*"
    ticks = {0: f"{hi:.3g}", height - 1: f"{lo:.3g}"}
    if limit is not None:
        ticks[row_of(limit)] = f"b={limit:g}"
    margin = max(len(t) for t in ticks.values())
    lines = [f"{label} (epochs 1-{len(values)})"]
    lines += [f"{ticks.get(i, ''):>{margin}} |{''.join(row)}" for i, row in enumerate(grid)]
    return lines


def show(path) -> dict:
    """Everything ``ctrpo show`` prints: settings, status, the last metrics row, the final numbers, and
    the return and cost curves."""
    run = RunDir(path)
    row = run_row(run.path)
    config = run.read_config()
    status = run.read_status()
    metrics = run.read_metrics()
    last = {k: _number(v) for k, v in metrics.iloc[-1].to_dict().items()} if len(metrics) else {}
    curves = {
        k: [_number(v) for v in metrics[k]] for k in ("epoch", "total_steps", "ep_return", "ep_cost") if k in metrics
    }
    return {
        "name": run.name,
        "path": str(run.path),
        "state": row["state"],
        "config": config,
        "status": status,
        "last_metrics": last,
        "final": {k: row[k] for k in ("final_return", "final_cost", "reg_plus")},
        "final_is": row["values"],
        "curves": curves,
    }


def show_text(info: dict) -> str:
    config, status = info["config"], info["status"]
    algo = config.get("algo")
    settings = [
        f"{k} = {v}" for k, v in config.items() if k not in ("versions", "extra") and (algo is None or applies(algo, k))
    ]
    lines = [f"{info['name']}  ({info['path']})", "", "settings:"]
    lines += [f"  {s}" for s in settings]
    lines += [
        "",
        f"status: {info['state']}"
        + (f" ({status.get('message')})" if status.get("message") else "")
        + f", epoch {status.get('epoch', 0)}/{status.get('epochs', '?')}",
    ]
    final = info["final"]
    so_far = info.get("final_is") != FINAL
    lines.append(
        (
            "so far, not final (last 10% of the epochs trained; the run has not finished): "
            if so_far
            else "final (last 10% of epochs): "
        )
        + ", ".join(f"{k} {_cell(final[k], '.3f')}" for k in ("final_return", "final_cost", "reg_plus"))
    )
    if info["last_metrics"]:
        lines += ["", "last epoch:"]
        lines += [
            f"  {k} = {_cell(v, '.6g') if isinstance(v, float) else _cell(v)}" for k, v in info["last_metrics"].items()
        ]
    curves = info["curves"]
    if curves.get("ep_return"):
        lines += [
            "",
            *text_chart(curves["ep_return"], label="return"),
            "",
            *text_chart(curves["ep_cost"], label="cost", limit=config.get("cost_limit")),
        ]
    return "\n".join(lines)
