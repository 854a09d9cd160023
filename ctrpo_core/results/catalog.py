"""What the app and notebooks know about the runs folder: summaries, curves, comparisons, controls.

Everything is rebuilt from the run directories on each call (files are re-read when they change),
so runs survive the app, and a run directory that is damaged (or deleted under us) becomes one
'damaged' row saying why, never an exception.

Runs are compared only with runs of the very same settings: a run's ``label`` names every
result-changing setting but the seed (the usual ones always, any other where it differs from the
defaults), so runs with one label are exactly the ones that may be pooled.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd

from ..config.algorithms import ALL_SETTINGS, applies
from ..config.schema import format_value, resolve, result_settings
from ..runs import lifecycle
from ..runs.ownership import effective_state, is_owned
from ..runs.store import DamagedRunError, RunDir, default_runs_dir, find_run, resolve_run  # noqa: F401  (catalog's API)

FINAL_FRACTION = 0.1  # "final" return/cost: the mean over the last 10% of a run's epochs (at least one)


def final_window(epochs: int) -> int:
    """How many of a run's last epochs its "final" values average: 10% of them, at least one."""
    return max(1, math.ceil(FINAL_FRACTION * epochs - 1e-9))


def final_values(metrics: pd.DataFrame) -> dict:
    """final_return, final_cost (means over :func:`final_window`), reg_plus (the last Reg+), the number of
    epochs that used the recovery update, and ``steps``: the environment steps trained up to the last row."""
    tail = metrics.iloc[-final_window(len(metrics)) :] if len(metrics) else metrics
    recovery = pd.to_numeric(metrics["recovery"], errors="coerce") if "recovery" in metrics else pd.Series([])
    return {
        "final_return": float(tail.ep_return.mean()) if len(tail) else math.nan,
        "final_cost": float(tail.ep_cost.mean()) if len(tail) else math.nan,
        "reg_plus": float(metrics.cost_regret.iloc[-1]) if len(metrics) else math.nan,
        "recovery_epochs": int(recovery.fillna(0).sum()),
        "steps": int(metrics.total_steps.iloc[-1]) if len(metrics) else 0,
    }


def is_complete(state, epoch, epochs) -> bool:
    """Whether a run's final values are final: it finished every planned epoch. Only such a run is a seed of
    its setting; a running, stopped, queued, failed or damaged run has values "so far" at best."""
    try:
        return state == "finished" and int(epochs) > 0 and int(epoch) == int(epochs)
    except (TypeError, ValueError):  # a damaged row: no epoch count
        return False


CONFIG_KEYS = ["task", "algo", "seed", "beta", "bh", "delta", "cost_limit", "total_steps"]
CURVE_KEYS = [k for k in CONFIG_KEYS if k != "total_steps"]  # total_steps is also a metric column: the steps so far
SUMMARY_COLUMNS = [
    "name",
    "path",
    "state",
    "complete",
    "message",
    *CONFIG_KEYS,
    "barrier_form",
    "label",
    "variant",
    "epoch",
    "epochs",
    "progress",
    "eta_s",
    "updated",
    "steps",
    "final_return",
    "final_cost",
    "reg_plus",
    "recovery_epochs",
]


def format_duration(seconds) -> str:
    """A time left as people read it: "0:31", "12:05", "1:02:03"; "—" when unknown (None, NaN, < 0)."""
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(seconds) or seconds < 0:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


SYMBOLS = {key: setting.symbol for key, setting in ALL_SETTINGS.items() if setting.symbol}  # β, b_H, δ, b, steps
SWEPT = ("beta", "bh", "delta")  # what a sweep varies (with the seed); the rest makes its variant


@functools.lru_cache(maxsize=256)
def _defaults_cached(task: str, algo: str) -> dict:
    return result_settings(resolve(task, algo))


def _defaults(task, algo) -> dict:
    try:
        return _defaults_cached(task, algo)
    except Exception:  # a task or algorithm this version does not know: every setting is shown
        return {}


def label(config: dict, without=()) -> str:
    """The settings of a run, seeds excluded: runs with one label may be pooled, runs with two may not.

    Task, algorithm, (β, b_H for C-TRPO), δ, b and the training length always; every other
    result-changing setting where it differs from the default of the task and algorithm. ``without``
    leaves settings out (a sweep's variant: its runs differ only in β, b_H, δ and the seed)."""
    f = format_value
    always = [k for k in ("beta", "bh") if applies(config["algo"], k)] + ["delta", "cost_limit", "total_steps"]
    parts = [config["task"], config["algo"]] + [f"{SYMBOLS[k]}={f(config[k])}" for k in always if k not in without]
    shown = {"task", "algo", "seed", *always, *without}
    defaults = _defaults(config["task"], config["algo"])
    for key, value in result_settings(config).items():
        if key not in shown and (key not in defaults or value != defaults[key]) and applies(config["algo"], key):
            parts.append(f"{key}={f(value) if not isinstance(value, list) else ','.join(map(str, value))}")
    return " ".join(parts)


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
    page asks every second for every run, and most of them have not moved. Raises DamagedRunError."""
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


def damaged_row(path, reason: str) -> dict:
    path = Path(path)
    return {"name": path.name, "path": str(path), "state": "damaged", "complete": False, "message": reason}


def summarize_run(path) -> dict:
    """One run's row; a run whose files hold anything a run never writes (an out-of-range count, a NaN
    epoch, ...) is one 'damaged' row, so no value of one run can break a page (every page reads here)."""
    try:
        return _summarize_run(path)
    except Exception as exc:
        return damaged_row(path, f"{type(exc).__name__}: {exc}")


def _summarize_run(path) -> dict:
    run = RunDir(path)
    row = {"name": run.name, "path": str(run.path)}
    try:
        config, status, metrics = read_run_files(run.path)
        row["label"] = label(config)
        row["variant"] = label(config, without=SWEPT)
    except DamagedRunError as exc:
        return damaged_row(run.path, exc.reason)
    except Exception as exc:  # deleted under us, or anything else a hand-edited folder can hold
        return damaged_row(run.path, f"{type(exc).__name__}: {exc}")
    # a setting the algorithm does not read is not applicable (None): no filter or table offers its value
    row.update({k: config.get(k) if applies(config.get("algo"), k) else None for k in CONFIG_KEYS})
    row["barrier_form"] = config.get("barrier")
    epochs = max(1, int(config["total_steps"]) // int(config["steps_per_epoch"]))
    epoch = int(metrics.epoch.iloc[-1]) if len(metrics) else 0
    state = effective_state(status, is_owned(run.path))
    eta = math.nan
    if state == "running" and epoch > 0:
        eta = float(metrics.time_s.iloc[-1]) / epoch * (epochs - epoch) if "time_s" in metrics else math.nan
    row.update(
        {
            "state": state,
            "message": str(status.get("message", "")),
            "epoch": epoch,
            "epochs": epochs,
            "progress": min(1.0, epoch / epochs),
            "eta_s": eta,
            "updated": status.get("updated"),
            **final_values(metrics),
        }
    )
    row["complete"] = is_complete(state, epoch, epochs)
    return row


def run_dirs(runs_dir) -> list[Path]:
    """The run directories in ``runs_dir`` (folders with a config.json; hidden ones are the tool's own)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        try:
            if not p.name.startswith(".") and p.is_dir() and (p / "config.json").exists():
                out.append(p)
        except OSError:  # a broken link, a folder we may not read
            continue
    return out


def run_table(runs_dir=None) -> pd.DataFrame:
    """One row per run (damaged ones included, with the reason in ``message``), newest first."""
    rows = [summarize_run(p) for p in run_dirs(runs_dir or default_runs_dir())]
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    if len(table):
        table["updated"] = pd.to_numeric(table["updated"], errors="coerce")
        table = table.sort_values("updated", ascending=False, na_position="last").reset_index(drop=True)
    return table


def usable(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that can be read (not damaged)."""
    return table[table.state != "damaged"] if len(table) else table


def load_curves(paths) -> pd.DataFrame:
    """Metrics of several runs in one long frame, with each run's name, label and settings (task, algo,
    seed, β, b_H, δ, b; a setting the algorithm does not read, such as TRPO's β, is None: the figures
    colour and name runs by these)."""
    frames = []
    for path in paths:
        run = RunDir(path)
        try:
            config, _, metrics = read_run_files(run.path)
            metrics = metrics.assign(
                run=run.name,
                label=label(config),
                planned_steps=config.get("total_steps"),
                **{k: config.get(k) if applies(config.get("algo"), k) else None for k in CURVE_KEYS},
            )
        except Exception:
            continue
        frames.append(metrics)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def stop_run(path) -> bool:
    """Ask a running run to stop (it checkpoints and says 'stopped'); False when nothing trains it."""
    return lifecycle.stop(path)
