"""Report folders ``<runs-dir>/reports/<name>-<YYYYmmdd-HHMMSS>/``:

    <name>.ipynb   the executed notebook (with the parameters papermill injected)
    <name>.html    its HTML export (plotly.js inline, no external scripts: opens offline)
    params.json    report name, parameters, defaults, runs folder, package versions, kernel
    status.json    {"state": "queued" | "running" | "finished" | "failed" | "stopped", "pid", "message", ...}
    results.json   the key numbers the notebook recorded (its cell tagged "results"), once finished
    report.log     the output of a report started in the background

The notebook runs with the report folder as its working directory on the kernel "python3" of this
Python environment (ipykernel's spec in ``sys.prefix/share/jupyter/kernels``). Notebooks that declare a
``runs_dir`` parameter get the runs folder (absolute) from here; it cannot be set with ``-p``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path

from ..config.schema import ConfigError
from ..runs.ownership import effective_state, is_owned
from ..runs.store import package_versions
from ..util.atomic import write_json, writing
from .parameters import NAME, check_parameters, check_settings, notebook_path, parameters

KERNEL = "python3"
REPORTS = "reports"
PARAMS, STATUS, RESULTS, LOG = "params.json", "status.json", "results.json", "report.log"


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def write_status(folder: Path, state: str, message: str = "", **extra) -> dict:
    status = {**read_status(folder), "state": state, "message": message, "updated": time.time(), **extra}
    write_json(folder / STATUS, status)
    return status


def _read_object(path: Path) -> dict:
    """A JSON object from ``path``; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_status(folder) -> dict:
    return _read_object(Path(folder) / STATUS)


def reports_dir(runs_dir) -> Path:
    return Path(runs_dir) / REPORTS


def _versions() -> dict:
    versions = package_versions()
    for dist in ("papermill", "nbclient", "nbconvert", "nbformat", "ipykernel", "plotly", "pandas", "scipy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def kernel_info() -> dict:
    """Where papermill's kernel "python3" comes from and which Python it starts."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except Exception as exc:  # no such kernel: papermill fails the report with its own message
        return {"name": KERNEL, "error": f"{type(exc).__name__}: {exc}"}
    argv = list(spec.argv)
    # jupyter_client starts "python"/"python3" kernels with the running interpreter (sys.executable)
    if argv and argv[0] in ("python", f"python{sys.version_info[0]}", "python%d.%d" % sys.version_info[:2]):
        argv[0] = sys.executable
    return {"name": KERNEL, "resource_dir": spec.resource_dir, "python": argv[0] if argv else None}


def missing_parents(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first: what a mkdir -p would create."""
    missing = []
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


def discard(folder: Path | None, created: list[Path] = ()) -> None:
    """Remove a report folder that holds no report (a write failed, the notebook never started), and the
    folders made for it (``created``: the reports folder, the runs folder) where they are empty now."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    for parent in created:
        with contextlib.suppress(OSError):
            parent.rmdir()  # only an empty one: another report may have arrived meanwhile


def prepare(name: str, values: dict, runs_dir, texts: dict | None = None) -> Path:
    """Validate, then create the report folder with params.json and a 'queued' status. A failure after the
    folder was made (a full disk: WriteError names the file) removes it, and the folders made for it."""
    source = notebook_path(name)
    values = check_parameters(name, values, texts, runs_dir=runs_dir)  # a benchmark's name: one of this folder's
    check_settings(name, values)
    known = parameters(name)
    runs_dir = Path(runs_dir).resolve()
    injected = {"runs_dir": str(runs_dir)} if "runs_dir" in known else {}
    root = reports_dir(runs_dir)
    created, folder = missing_parents(root), None
    command = ["ctrpo", "report", name] + [
        a for k, v in values.items() for a in ("-p", k, v if isinstance(v, str) else json.dumps(v))
    ]
    try:
        with writing(root):  # a refused mkdir (a full disk) names the folder
            try:
                root.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise ConfigError("--runs-dir", f"{str(runs_dir)!r} is not a directory") from None
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for attempt in range(1, 1000):
            path = root / (f"{name}-{stamp}" + (f"-{attempt}" if attempt > 1 else ""))
            with writing(path):
                try:
                    path.mkdir()
                except FileExistsError:
                    continue
            folder = path
            break
        else:
            raise FileExistsError(f"{root}: 999 reports {name}-{stamp}* exist already")
        write_json(
            folder / PARAMS,
            {
                "report": name,
                "notebook": str(source),
                "parameters": values,
                "injected": injected,
                "defaults": {k: v["default"] for k, v in known.items()},
                "runs_dir": str(runs_dir),
                "created": now(),
                "command": command + ["--runs-dir", str(runs_dir)],
                "versions": _versions(),
                "kernel": kernel_info(),
            },
        )
        write_status(folder, "queued", pid=None)
    except BaseException:  # a full disk, an interrupt: no half-made report folder stays behind
        discard(folder, created)
        raise
    return folder


def read_params(folder) -> dict:
    return _read_object(Path(folder) / PARAMS)


def read_results_file(folder) -> dict:
    """results.json of a finished report ({} when there is none or it is damaged)."""
    return _read_object(Path(folder) / RESULTS)


def list_reports(runs_dir) -> list[dict]:
    """Every report folder under ``<runs_dir>/reports``, newest first."""
    root = reports_dir(runs_dir)
    rows = []
    for folder in root.iterdir() if root.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith(".") or not (folder / PARAMS).exists():
            continue
        params, status = read_params(folder), read_status(folder)
        name = str(params.get("report", "?"))
        html = folder / f"{name}.html" if NAME.match(name) else None  # never a path out of the folder
        duration = status.get("duration_s")
        parameters = params.get("parameters", {})
        rows.append(
            {
                "folder": folder.name,
                "report": name,
                "created": str(params.get("created", "")),
                "parameters": parameters if isinstance(parameters, dict) else {},
                "state": effective_state(status, is_owned(folder), resumable=False),
                "message": str(status.get("message", "")),
                "duration_s": float(duration) if isinstance(duration, (int, float)) else None,
                "path": str(folder),
                "html": str(html) if html and html.exists() else None,
            }
        )
    return sorted(rows, key=lambda r: (r["created"], r["folder"]), reverse=True)


def resolve_report(runs_dir, folder_name: str) -> Path:
    """The folder of report ``folder_name`` inside ``<runs_dir>/reports``; refuses anything else."""
    root = reports_dir(runs_dir).resolve()
    path = (root / folder_name).resolve()
    if not NAME.match(folder_name) or path.parent != root or not (path / PARAMS).exists():
        raise ValueError(f"no report {folder_name!r} in {root}")
    return path
