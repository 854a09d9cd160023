"""A sweep's record and its owner: ``<runs-dir>/.sweeps/<name>.json`` lists the runs every plan of that
name asked for (the app's Sweeps view reads it) and the latest plan itself (so the sweep can be run again
from it), and ``.sweeps/.<name>.lock`` is held by the one process running the sweep now (its *driver*).

Stopping a sweep, like stopping a run, is a request and never a signal: ``.sweeps/.<name>.stop`` asks its
driver to start no further run, and each run of the sweep gets its own stop request (``lifecycle.stop``),
so every run stops at a checkpoint, also a run whose driver is gone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..config.schema import ConfigError
from ..runs import lifecycle
from ..runs.ownership import BusyError, Ownership, clear_stale_request, is_owned, read_holder
from ..util.atomic import atomic_write_bytes
from .plan import SweepPlan

SWEEPS = ".sweeps"  # <runs-dir>/.sweeps/<name>.json: the manifest of each sweep (the runs it planned)


def own_sweep(runs_dir, name: str) -> Ownership:
    """Become the one process that runs sweep ``name`` in ``runs_dir``; ConfigError if another does."""
    folder = Path(runs_dir) / SWEEPS
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError("--runs-dir", f"{str(runs_dir)!r} is not a directory") from None
    asked_before = time.time()
    try:
        ownership = Ownership(folder, what=f"sweep {name}", lock=f".{name}.lock")
    except BusyError as busy:
        raise ConfigError(
            "--name",
            f"sweep {name} is already running (pid {busy.holder.get('pid', '?')}); wait for it or stop it first",
        ) from None
    clear_stale_request(stop_request_path(runs_dir, name), asked_before)  # a stop meant for an earlier driver
    return ownership


def stop_request_path(runs_dir, name: str) -> Path:
    return Path(runs_dir) / SWEEPS / f".{name}.stop"


def stop_requested(runs_dir, name: str) -> bool:
    return stop_request_path(runs_dir, name).exists()


def request_stop(runs_dir, name: str) -> dict:
    """Ask sweep ``name`` to stop: its driver (if one runs) to start no further run, and every run of its
    manifest that is training now to stop at a checkpoint. Returns {"driver": whether a driver was asked,
    "runs": the runs asked}; ConfigError when there is no such sweep. Asking again is harmless."""
    manifest = sweep_manifest(runs_dir, name)
    if manifest is None:
        raise ConfigError(
            "--stop", f"no sweep {name!r} in {str(runs_dir)!r} (see the manifests in {str(Path(runs_dir) / SWEEPS)!r})"
        )
    driver = sweep_running(runs_dir, name) is not None
    if driver:
        stop_request_path(runs_dir, name).touch()
    asked = [run for run in manifest["runs"] if lifecycle.stop(Path(runs_dir) / run)]
    return {"driver": driver, "runs": asked}


def sweep_status(runs_dir, name: str) -> dict:
    """Where sweep ``name`` stands now: {"driver": its driver's record or None, "runs": the runs of its
    manifest that a process trains, "unfinished": those not finished (running ones included), "planned":
    how many its manifest lists}."""
    manifest = sweep_manifest(runs_dir, name) or {"runs": []}
    paths = [Path(runs_dir) / run for run in manifest["runs"]]
    return {
        "driver": sweep_running(runs_dir, name),
        "runs": [p.name for p in paths if is_owned(p)],
        "unfinished": [p.name for p in paths if not p.is_dir() or lifecycle.state(p) != "finished"],
        "planned": len(paths),
    }


def sweep_running(runs_dir, name: str) -> dict | None:
    """The owner of sweep ``name`` if it is running now, else None."""
    folder = Path(runs_dir) / SWEEPS
    return read_holder(folder, f".{name}.lock") if is_owned(folder, f".{name}.lock") else None


def driven_runs(runs_dir) -> set[str]:
    """The runs of every sweep (benchmarks included) whose driver runs now: those it will train."""
    due: set[str] = set()
    for name in list_sweeps(runs_dir):
        if sweep_running(runs_dir, name) is not None:
            runs = (sweep_manifest(runs_dir, name) or {}).get("runs")
            due.update(r for r in runs or [] if isinstance(r, str))
    return due


def read_manifest(path: Path) -> dict | None:
    """A sweep manifest, or None when it is missing or not a manifest."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("runs"), list)
        or not all(isinstance(r, str) for r in data["runs"])
    ):
        return None
    if not isinstance(data.get("grid"), list):
        data["grid"] = []
    return data


def write_manifest(plan: SweepPlan) -> None:
    """Add the plan's runs to the sweep's manifest (runs of earlier plans of the same name stay)."""
    folder = plan.runs_dir / SWEEPS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{plan.name}.json"
    merged = plan.manifest()
    earlier = read_manifest(path)
    if earlier is None and path.exists():  # unreadable: keep it aside rather than overwrite it
        path.replace(folder / f".{plan.name}.json.damaged-{int(time.time())}")
    elif earlier is not None:
        runs = list(dict.fromkeys([*earlier["runs"], *merged["runs"]]))
        by_run = {g["run"]: g for g in [*earlier["grid"], *merged["grid"]] if isinstance(g, dict) and "run" in g}
        # one entry per run, in the order of runs (entries of manifests written before they named their run
        # cannot be matched to one and are dropped)
        # the latest plan replaces the earlier one (a manifest written before plans were kept has none)
        merged = {**earlier, **merged, "runs": runs, "grid": [by_run[r] for r in runs if r in by_run]}
    atomic_write_bytes(path, json.dumps(merged, indent=1).encode())


def replaced_plan(plan: SweepPlan) -> SweepPlan | None:
    """The earlier plan of ``plan``'s name that writing ``plan`` replaces (it asked for other runs: other tasks,
    algorithms, seeds, steps or grid; how it trained aside), or None. Pages and reports show a name's latest
    plan, so a replacement is said aloud, never silent."""
    kept = (sweep_manifest(plan.runs_dir, plan.name) or {}).get("plan")
    if not isinstance(kept, dict):
        return None
    before = {k: v for k, v in kept.items() if k != "launch"}
    if _as_sets(before) == _as_sets(json.loads(json.dumps(plan.request))):  # tuples are lists in a manifest
        return None
    return SweepPlan(plan.name, plan.runs_dir, [], request=before)


def _as_sets(request: dict) -> dict:
    """A plan's request with its lists unordered: tasks, algorithms or seeds given in another order plan the
    same runs."""
    return {k: sorted(map(json.dumps, v)) if isinstance(v, list) else v for k, v in request.items()}


def sweep_manifest(runs_dir, name: str) -> dict | None:
    return read_manifest(Path(runs_dir) / SWEEPS / f"{name}.json")


def list_sweeps(runs_dir, kind: str | None = None) -> list[str]:
    """The sweeps of a runs folder by name; ``kind`` 'sweep' or 'benchmark' keeps those whose manifest's plan is of
    that kind (a manifest without a kept plan is a sweep's)."""
    folder = Path(runs_dir) / SWEEPS
    names = sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith(".")) if folder.is_dir() else []
    if kind is None:
        return names
    return [name for name in names if manifest_kind(sweep_manifest(runs_dir, name)) == kind]


def manifest_kind(manifest: dict | None) -> str:
    """What a manifest's kept plan is: 'benchmark', or 'sweep' (also a manifest that keeps no plan, or one that
    cannot be read: the Sensitivity page lists it and says so)."""
    plan = (manifest or {}).get("plan")
    return str(plan.get("kind", "sweep")) if isinstance(plan, dict) else "sweep"
