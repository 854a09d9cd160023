"""What the app and notebooks know about the runs folder: summaries, curves, comparisons, controls.

Everything is rebuilt from the run directories on each call (files are re-read when they change),
so runs survive the app, and a run directory that is damaged (or deleted under us) becomes one
'damaged' row saying why, never an exception.

Runs are compared only with runs of the very same settings: a run's ``label`` names every
result-changing setting but the seed (the usual ones always, any other where it differs from the
defaults), so runs with one label are exactly the ones that may be pooled.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..config.algorithms import ALGORITHMS, ALL_SETTINGS, applies
from ..config.schema import format_value, resolve, result_settings
from ..runs import lifecycle
from ..runs.ownership import effective_state, is_owned
from ..runs.store import (  # noqa: F401  (catalog's API)
    CONFIG,
    METRICS,
    STATUS,
    DamagedRunError,
    RunDir,
    default_runs_dir,
    find_run,
    planned_epochs,
    resolve_run,
)
from ..sweeps.manifest import driven_runs
from ..util.atomic import atomic_write_bytes
from ..util.safe_read import read_regular

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
CURVE_COLUMNS = ("epoch", "total_steps", "ep_return", "ep_cost", "cost_regret")  # what Compare's panels draw
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


# --------------------------------------------------------------------------- a run's files, read once per change
# A file's identity and version: (inode, mtime in ns, size), or None while it is missing.
def _stat(path: Path):
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def _signature(path: Path) -> list:
    return [_stat(path / name) for name in (CONFIG, STATUS, METRICS)]


@dataclass
class _Files:
    """One run's files as last read: what they were (``signature``), their contents, and where metrics.csv's
    complete rows end (``offset``) under its ``header``, so that the next read takes only the appended rows."""

    signature: list
    config: dict
    status: dict
    metrics: pd.DataFrame
    header: str
    offset: int


# The metrics of the runs on screen stay in memory, the least recently read leave: the server's memory follows
# what is shown, never the size of the runs folder.
FRAMES_KEPT = 64
_FRAMES: OrderedDict[str, _Files] = OrderedDict()


def _read_files(run: RunDir, signature: list, before: _Files | None) -> _Files:
    """Read what changed since ``before``: config and status when their signature moved; metrics.csv's appended
    rows when only rows were added (same file, grown), the whole file otherwise."""
    same = lambda i: before is not None and before.signature[i] == signature[i]
    config = before.config if same(0) else run.read_config()
    status = before.status if same(1) else run.read_status()
    epochs = planned_epochs(config)
    if same(2):
        return _Files(signature, config, status, before.metrics, before.header, before.offset)
    grown = (
        before is not None
        and same(0)
        and signature[2] is not None
        and before.signature[2] is not None
        and signature[2][0] == before.signature[2][0]  # the same file (a resume replaces it: another inode)
        and signature[2][2] >= before.offset
    )
    if grown:
        new, header, offset = run.read_metrics_after(before.offset, before.header, epochs)
        metrics = pd.concat([before.metrics, new], ignore_index=True) if len(new) else before.metrics
        if len(metrics) > epochs:
            raise DamagedRunError(run.path, f"metrics.csv has {len(metrics):,} rows for {epochs:,} planned epochs")
    else:
        metrics, header, offset = run.read_metrics_after(0, None, epochs)
    return _Files(signature, config, status, metrics, header, offset)


def read_run_files(path) -> tuple[dict, dict, pd.DataFrame]:
    """config, status and metrics of a run, read again only where its files changed (appended metrics rows
    alone when rows were added): the Live page asks every second, and most runs have not moved. Raises
    DamagedRunError."""
    run = RunDir(path)
    key, signature = str(run.path), _signature(run.path)
    before = _FRAMES.pop(key, None)
    files = before if before is not None and before.signature == signature else _read_files(run, signature, before)
    _FRAMES[key] = files
    while len(_FRAMES) > FRAMES_KEPT:
        _FRAMES.popitem(last=False)
    return files.config, files.status, files.metrics


def damaged_row(path, reason: str) -> dict:
    path = Path(path)
    return {"name": path.name, "path": str(path), "state": "damaged", "complete": False, "message": reason}


# --------------------------------------------------------------------------- one run's summary, kept per change
# What a summary row holds that does not depend on who owns the run now: everything but the state, read from the
# files only when their signature moves; the rows of a runs folder are also kept on disk (CATALOG_FILE), so that
# a fresh process (``ctrpo ls``) reads only the runs that changed since the last listing.
CATALOG_FILE = ".catalog.json"
CATALOG_LIMIT = 256 << 20  # bytes: ten thousand runs' rows take a few MB
SAVE_EVERY_S = 30.0  # a server saves its changed rows at most this often; a command saves them when done
_SUMMARIES: dict[str, tuple[list, dict]] = {}  # run path -> (signature, static row)
_LOADED: dict[str, float] = {}  # runs folder -> when its catalog file was loaded or last saved (monotonic s)
_CHANGED: set[str] = set()  # runs folders whose rows changed since they were saved


def _catalog_key() -> str:
    """Rows depend on this version's labels (settings' defaults) and on the algorithms it knows."""
    return f"{__version__}|{','.join(sorted(ALGORITHMS))}"


def _load_catalog(root: Path) -> None:
    if not _LOADED:
        atexit.register(lambda: [save_catalog(folder) for folder in list(_CHANGED)])  # a command's rows, at its end
    _LOADED[str(root)] = time.monotonic()
    try:
        data = json.loads(read_regular(root / CATALOG_FILE, CATALOG_LIMIT))
        if data.get("key") != _catalog_key():
            return
        for name, (signature, row) in data["runs"].items():
            path = str(root / name)
            if path not in _SUMMARIES and isinstance(row, dict) and isinstance(signature, list):
                _SUMMARIES[path] = (signature, row)
    except Exception:  # missing, damaged or foreign: a cache, rebuilt from the runs themselves
        return


def save_catalog(root) -> None:
    """Write the runs folder's rows to its catalog file if any changed (nothing when the folder is read-only)."""
    root = Path(root)
    if str(root) not in _CHANGED:
        return
    _CHANGED.discard(str(root))
    _LOADED[str(root)] = time.monotonic()
    prefix = str(root) + os.sep
    runs = {path[len(prefix) :]: entry for path, entry in _SUMMARIES.items() if path.startswith(prefix)}
    runs = {name: entry for name, entry in runs.items() if os.sep not in name}
    with contextlib.suppress(OSError, ValueError):
        atomic_write_bytes(root / CATALOG_FILE, json.dumps({"key": _catalog_key(), "runs": runs}).encode())


def summarize_run(path) -> dict:
    """One run's row; a run whose files hold anything a run never writes (an out-of-range count, a NaN
    epoch, a FIFO, ...) is one 'damaged' row, so no value of one run can break a page (every page reads here).
    The files are read again only when they changed."""
    path = Path(path)
    if str(path.parent) not in _LOADED:
        _load_catalog(path.parent)
    key, signature = str(path), _signature(path)
    cached = _SUMMARIES.get(key)
    if cached is None or cached[0] != signature:
        cached = (signature, _static_row(path, signature))
        _SUMMARIES[key] = cached
        _CHANGED.add(str(path.parent))
    # the path as asked now: a row from the catalog file was written by a process that may have named the folder
    # otherwise (relative to another working directory)
    return _with_state(path, {**cached[1], "path": str(path)})


def _static_row(path: Path, signature: list) -> dict:
    try:
        if str(path) in _FRAMES:
            config, status, metrics = read_run_files(path)  # on screen: its appended rows alone
        else:
            run = RunDir(path)
            config, status = run.read_config(), run.read_status()
            metrics = run.read_metrics(planned_epochs(config))
            _keep_curve(path, signature, config, metrics, CURVE_COLUMNS)  # Compare's, read once
        return _settings_row(path, config, status, metrics)
    except DamagedRunError as exc:
        return damaged_row(path, exc.reason)
    except Exception as exc:  # deleted under us, or anything else a hand-edited folder can hold
        return damaged_row(path, f"{type(exc).__name__}: {exc}")


def _settings_row(path: Path, config: dict, status: dict, metrics: pd.DataFrame) -> dict:
    row = {"name": path.name, "path": str(path), "label": label(config), "variant": label(config, without=SWEPT)}
    # a setting the algorithm does not read is not applicable (None): no filter or table offers its value
    row.update({k: config.get(k) if applies(config.get("algo"), k) else None for k in CONFIG_KEYS})
    row["barrier_form"] = config.get("barrier")
    epochs = planned_epochs(config)
    epoch = int(metrics.epoch.iloc[-1]) if len(metrics) else 0
    if epoch > epochs:
        raise DamagedRunError(path, f"metrics.csv reaches epoch {epoch:,} of {epochs:,} planned")
    row.update(
        {
            "written_state": str(status.get("state", "unknown")),
            "message": str(status.get("message", "")),
            "epoch": epoch,
            "epochs": epochs,
            "progress": min(1.0, epoch / epochs),
            "time_s": float(metrics.time_s.iloc[-1]) if epoch and "time_s" in metrics else math.nan,
            "updated": status.get("updated"),
            **final_values(metrics),
        }
    )
    return row


def _with_state(path: Path, row: dict) -> dict:
    """The row with who owns the run now: its state (liveness is the lock), ETA and whether it is complete."""
    if row.get("state") == "damaged":
        return row
    state = effective_state({"state": row.pop("written_state", "unknown")}, is_owned(path))
    time_s, epoch, epochs = row.pop("time_s", math.nan), row["epoch"], row["epochs"]
    row["state"] = state
    row["eta_s"] = time_s / epoch * (epochs - epoch) if state == "running" and epoch > 0 else math.nan
    row["complete"] = is_complete(state, epoch, epochs)
    return row


def run_dirs(runs_dir) -> list[Path]:
    """The run directories in ``runs_dir`` (folders with a config.json; hidden ones are the tool's own)."""
    root = Path(runs_dir)
    out = []
    try:
        entries = list(os.scandir(root))
    except OSError:  # missing, not a folder, not readable
        return []
    for entry in entries:
        try:
            if not entry.name.startswith(".") and entry.is_dir() and os.path.exists(os.path.join(entry.path, CONFIG)):
                out.append(root / entry.name)
        except (OSError, ValueError):  # a broken link, a folder we may not read
            continue
    return out


def active_runs(runs_dir=None) -> list[str]:
    """The runs training now and the queued ones that a live driver is about to start, by name. A sweep or a
    benchmark creates all its runs queued up front; once its driver is gone (stopped, killed, the machine
    restarted) they wait for ``ctrpo sweep --resume`` and nothing will happen to them, so a page must not
    keep refreshing for them."""
    table = run_table(runs_dir)
    if table.empty:
        return []
    queued = table.state == "queued"
    due = driven_runs(runs_dir or default_runs_dir()) if queued.any() else set()
    return sorted(table.name[(table.state == "running") | (queued & table.name.isin(due))])


def run_table(runs_dir=None, names=None) -> pd.DataFrame:
    """One row per run (damaged ones included, with the reason in ``message``), newest first; ``names``: only
    those runs of the folder (a page watching a few). Each run's files are read only when they changed."""
    root = Path(runs_dir or default_runs_dir())
    paths = run_dirs(root) if names is None else [resolve_run(root, n) for n in names]
    rows = [summarize_run(p) for p in paths if names is None or RunDir(p).is_run()]
    if names is None:  # runs deleted since the last listing leave the catalog
        listed, prefix = {str(p) for p in paths}, str(root) + os.sep
        gone = [k for k in _SUMMARIES if k.startswith(prefix) and os.sep not in k[len(prefix) :] and k not in listed]
        for key in gone:
            del _SUMMARIES[key]
        if gone:
            _CHANGED.add(str(root))
    if time.monotonic() - _LOADED.get(str(root), 0.0) > SAVE_EVERY_S:
        save_catalog(root)
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    if len(table):
        table["updated"] = pd.to_numeric(table["updated"], errors="coerce")
        table = table.sort_values("updated", ascending=False, na_position="last").reset_index(drop=True)
    return table


def usable(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that can be read (not damaged)."""
    return table[table.state != "damaged"] if len(table) else table


def _curve_settings(path: Path, config: dict) -> dict:
    """The columns each row of a run's curve carries: its name, label and settings (task, algo, seed, β, b_H, δ,
    b; a setting the algorithm does not read, such as TRPO's β, is None: the figures colour and name runs by
    these)."""
    return {
        "run": path.name,
        "label": label(config),
        "planned_steps": config.get("total_steps"),
        **{k: config.get(k) if applies(config.get("algo"), k) else None for k in CURVE_KEYS},
    }


def load_curves(paths, columns=None) -> pd.DataFrame:
    """Metrics of several runs in one long frame, with each run's name, label and settings
    (:func:`_curve_settings`). ``columns``: only these metrics (and ``epoch``, ``total_steps``), kept per run
    between calls in a compact cache that is read again only when a run's files change: Compare pools
    thousands of runs' return, cost and Reg+; None: every column, through the cache of the runs on screen."""
    if columns is not None:
        return _compact_curves(paths, ("epoch", "total_steps", *[c for c in columns if c not in CURVE_BASE]))
    frames = []
    for path in paths:
        run = RunDir(path)
        try:
            config, _, metrics = read_run_files(run.path)
            metrics = metrics.assign(**_curve_settings(run.path, config))
        except Exception:
            continue
        frames.append(metrics)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# A run's curve in a few numbers: CURVE_BASE and the drawn metrics as float arrays (a 1M-step run: 50 rows),
# so that comparing ten thousand runs holds megabytes, not a DataFrame each. Kept for at most CURVES_KEPT runs.
CURVE_BASE = ("epoch", "total_steps")
CURVES_KEPT = 20_000
_CURVES: OrderedDict[str, tuple[list, tuple, dict, dict]] = OrderedDict()  # path -> (signature, columns, ...)


def _keep_curve(path: Path, signature: list, config: dict, metrics: pd.DataFrame, columns: tuple) -> tuple:
    """Keep the run's curve; returns its cache entry (signature, columns, settings, arrays)."""
    arrays = {c: metrics[c].to_numpy(dtype=float) for c in columns if c in metrics}
    entry = _CURVES[str(path)] = (signature, columns, _curve_settings(path, config), arrays)
    _CURVES.move_to_end(str(path))
    while len(_CURVES) > CURVES_KEPT:
        _CURVES.popitem(last=False)
    return entry


def _compact_curves(paths, columns: tuple) -> pd.DataFrame:
    settings, arrays = [], []
    for path in map(Path, paths):
        signature = _signature(path)
        entry = _CURVES.get(str(path))
        if entry is None or entry[0] != signature or not set(columns) <= set(entry[1]):
            try:
                run = RunDir(path)
                config = run.read_config()
                metrics = run.read_metrics(planned_epochs(config))
            except Exception:  # damaged or deleted since it was listed: no curve, as before
                continue
            entry = _keep_curve(path, signature, config, metrics, tuple(dict.fromkeys((*columns, *CURVE_COLUMNS))))
        settings.append(entry[2])
        arrays.append(entry[3])
    if not arrays:
        return pd.DataFrame()
    lengths = [len(a["epoch"]) for a in arrays]
    frame = {c: np.concatenate([a.get(c, np.full(n, np.nan)) for a, n in zip(arrays, lengths)]) for c in columns}
    for c in CURVE_BASE:  # whole numbers (store.metrics_problem), as a full read gives them
        frame[c] = frame[c].astype(np.int64)
    for key in settings[0]:
        values = [s[key] for s in settings]
        column = pd.Series(np.repeat(np.array(values, dtype=object), lengths), dtype=object)
        # numbers as numbers; a setting some algorithm does not read stays None beside them, as a full read has it
        frame[key] = column if any(v is None for v in values) else column.infer_objects()
    return pd.DataFrame(frame)


def stop_run(path) -> bool:
    """Ask a running run to stop (it checkpoints and says 'stopped'); False when nothing trains it."""
    return lifecycle.stop(path)
