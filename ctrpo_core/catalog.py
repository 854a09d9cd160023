"""What the app and notebooks know about the runs folder: summaries, curves, comparisons, controls.

Everything is rebuilt from the run directories on each call (files are re-read when they change),
so runs survive the app and a run directory deleted or damaged under it becomes a 'damaged' row
instead of an exception.
"""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd

from .runs import HOST, STOP_REQUEST, RunDir, process_alive
from .stats import summarize

FINAL_EPOCHS = 5  # "final" return/cost: mean over the last epochs of a run
CONFIG_KEYS = ["task", "algo", "seed", "beta", "bh", "delta", "cost_limit"]  # none is a metric column


def default_runs_dir() -> Path:
    return Path(os.environ.get("CTRPO_RUNS_DIR", "runs"))


def label(config: dict) -> str:
    """A short name of a run's settings, seeds excluded (runs with one label are pooled)."""
    text = f"{config['task']} {config['algo']}"
    if config["algo"] == "c-trpo":
        text += f" β={config['beta']:g} b_H={config['bh']:g}"
    return text + f" δ={config['delta']:g} b={config['cost_limit']:g}"


def effective_state(status: dict) -> str:
    state = status.get("state", "unknown")
    if state == "running" and not process_alive(status):
        return "stopped"  # killed without a chance to say so: resumable from its checkpoint
    # (the pid is only checked where it lives: a remote Ray run by the sweep process that writes it here)
    return state


_READ_CACHE: dict[str, tuple] = {}
_CACHE_LIMIT = 4096


def _signature(run: RunDir) -> tuple:
    out = []
    for name in ("config.json", "status.json", "metrics.csv"):
        try:
            st = (run.path / name).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def read_run_files(path) -> tuple[dict, dict, pd.DataFrame]:
    """config, status and metrics of a run, re-read only when one of its files changed: the Live
    page asks every second for every run, and most of them have not moved."""
    run = RunDir(path)
    key, signature = str(run.path), _signature(run)
    cached = _READ_CACHE.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    files = (run.read_config(), run.read_status(), run.read_metrics())
    if len(_READ_CACHE) >= _CACHE_LIMIT:
        _READ_CACHE.clear()
    _READ_CACHE[key] = (signature, files)
    return files


def summarize_run(path) -> dict:
    run = RunDir(path)
    row = {"name": run.name, "path": str(run.path)}
    try:
        config, status, metrics = read_run_files(run.path)
    except Exception as exc:  # deleted or damaged under us
        return {**row, "state": "damaged", "message": f"{type(exc).__name__}: {exc}"}
    row.update({k: config.get(k) for k in CONFIG_KEYS})
    row["barrier_form"] = config.get("barrier")
    row["label"] = label(config)
    epochs = int(config.get("epochs") or 1)
    epoch = int(metrics.epoch.iloc[-1]) if len(metrics) else 0
    state = effective_state(status)
    eta = math.nan
    if state == "running" and epoch > 0:
        eta = float(metrics.time_s.iloc[-1]) / epoch * (epochs - epoch)
    tail = metrics.iloc[-FINAL_EPOCHS:]
    row.update({
        "state": state, "message": status.get("message", ""), "epoch": epoch, "epochs": epochs,
        "progress": epoch / epochs, "eta_s": eta, "updated": status.get("updated"),
        "final_return": float(tail.ep_return.mean()) if len(tail) else math.nan,
        "final_cost": float(tail.ep_cost.mean()) if len(tail) else math.nan,
        "reg_plus": float(metrics.cost_regret.iloc[-1]) if len(metrics) else math.nan,
    })
    return row


def run_table(runs_dir=None) -> pd.DataFrame:
    root = Path(runs_dir or default_runs_dir())
    if not root.is_dir():
        return pd.DataFrame(columns=["name", "state"])
    dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "config.json").exists()]
    table = pd.DataFrame([summarize_run(p) for p in dirs])
    if len(table) and "updated" in table:
        table = table.sort_values("updated", ascending=False, na_position="last").reset_index(drop=True)
    return table


def load_curves(paths) -> pd.DataFrame:
    """Metrics of several runs in one long frame, with each run's name, label and settings."""
    frames = []
    for path in paths:
        run = RunDir(path)
        try:
            config, _, metrics = read_run_files(run.path)
        except Exception:
            continue
        metrics = metrics.assign(run=run.name, label=label(config), **{k: config.get(k) for k in CONFIG_KEYS})
        frames.append(metrics)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pool_seeds(curves: pd.DataFrame, y: str, x: str = "total_steps") -> pd.DataFrame:
    """Mean and a ±1 standard-deviation band over the seeds of each label, per x."""
    grouped = curves.groupby(["label", x])[y]
    pooled = grouped.agg(["mean", "std", "count"]).reset_index()
    pooled["std"] = pooled["std"].fillna(0.0)
    pooled["low"], pooled["high"] = pooled["mean"] - pooled["std"], pooled["mean"] + pooled["std"]
    return pooled


def comparison_table(summaries: pd.DataFrame, reps: int = 2000) -> pd.DataFrame:
    """Final return, final cost and Reg+ per label: IQM with 95% bootstrap CIs over seeds."""
    rows = []
    for key, group in summaries.groupby("label"):
        row = {"label": key, "runs": len(group)}
        for column, name in (("final_return", "return"), ("final_cost", "cost"), ("reg_plus", "Reg+")):
            s = summarize(group[column].to_numpy(dtype=float), reps=reps)
            row.update({f"{name} IQM": s["iqm"], f"{name} CI low": s["ci_low"], f"{name} CI high": s["ci_high"]})
        rows.append(row)
    return pd.DataFrame(rows)


def stop_run(path) -> bool:
    """Ask a running training process to stop (SIGTERM: it checkpoints and says 'stopped')."""
    status = RunDir(path).read_status()
    if effective_state(status) != "running":
        return False
    if status.get("backend") == "ray" and status.get("sink_host") == HOST:
        (Path(path) / STOP_REQUEST).touch()  # the sweep's writer passes it on to the worker, wherever it is
        return True
    if status.get("host", HOST) != HOST:
        return False  # a process on another machine
    os.kill(int(status["pid"]), signal.SIGTERM)
    return True


def resolve_run(runs_dir, name: str) -> Path:
    """The path of run ``name`` inside ``runs_dir``; refuses anything that would leave it."""
    from .config import validate_name

    validate_name(name)
    root = Path(runs_dir).resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise ValueError(f"run {name!r} is not inside {root}")
    return path
