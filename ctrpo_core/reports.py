"""Reports: the notebooks in ``notebooks/`` executed with papermill, each into its own folder
``<runs-dir>/reports/<name>-<YYYYmmdd-HHMMSS>/``:

    <name>.ipynb   the executed notebook (with the parameters papermill injected)
    <name>.html    its HTML export (plotly.js inline, no external scripts: opens offline)
    params.json    report name, parameters, defaults, runs folder, package versions, kernel
    status.json    {"state": "queued" | "running" | "finished" | "failed", "pid", "message", ...}
    results.json   the key numbers the notebook recorded (its cell tagged "results"), once finished
    report.log     the output of a report started in the background

The notebook runs with the report folder as its working directory on the kernel "python3" of this
Python environment (ipykernel's spec in ``sys.prefix/share/jupyter/kernels``). Notebooks that declare a
``runs_dir`` parameter get the runs folder (absolute) from here; it cannot be set with ``-p``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path

from .config import ConfigError
from .ownership import Ownership, is_owned
from .runs import package_versions

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "python3"
REPORTS = "reports"
RESERVED = ("runs_dir",)  # set from --runs-dir, never from -p or the app's form
PARAMS, STATUS, RESULTS, LOG = "params.json", "status.json", "results.json", "report.log"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ------------------------------------------------------------------------------------ notebooks
def available() -> list[str]:
    """The report names: the notebooks in notebooks/ (without .ipynb)."""
    return sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb") if _NAME.match(p.stem))


def notebook_path(name: str) -> Path:
    names = available()
    if name not in names:
        raise ConfigError("report", f"unknown report {name!r}; choose from {', '.join(names)}")
    return NOTEBOOKS_DIR / f"{name}.ipynb"


def parameters(name: str) -> dict[str, dict]:
    """The parameters of a report's ``parameters`` cell, in order: {name: {"default": source text,
    "value": the default as a Python value (None if it is not a literal), "help": its comment}}."""
    import papermill

    found = papermill.inspect_notebook(str(notebook_path(name)))
    out = {}
    for key, spec in found.items():
        try:
            value = ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):
            value = None
        out[key] = {"default": spec["default"], "value": value, "help": spec.get("help", "")}
    return out


FOLLOWS_CHOICE = ("total_steps", "cost_limit", "delta", "beta", "bh")  # settings whose default is the task's


def form_defaults(name: str, task: str | None = None, algo: str | None = None) -> dict:
    """The parameters of report ``name`` (reserved ones left out) as its form shows them for the chosen
    ``task`` and ``algo``: the notebook's defaults, with a null training setting ("the task's default")
    shown as the value that task and algorithm train with (e.g. total_steps 160000 on HazardEdge-v0), so a
    form never shows one task's numbers for another. Leaving such a value unchanged passes nothing (the
    notebook then resolves the very same default)."""
    from .config import resolve

    values = {k: spec["value"] for k, spec in parameters(name).items() if k not in RESERVED}
    task = task or values.get("task")
    algo = algo or values.get("algo") or "c-trpo"
    if "task" in values:
        values["task"] = task
    if "algo" in values:
        values["algo"] = algo
    if isinstance(task, str):
        try:
            cfg = resolve(task, algo)
        except Exception:  # an unknown task: the form shows the notebook's own defaults
            return values
        for key in FOLLOWS_CHOICE:
            if key in values and values[key] is None:
                values[key] = getattr(cfg, key)
    return values


def parse_value(text: str):
    """A ``-p`` value: JSON when it parses (numbers, lists, true/false/null), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _describe(value) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a JSON list",
            dict: "a JSON object"}.get(type(value), "a JSON value")


def _coerce(key: str, value, text: str | None, default):
    """``value`` checked against the type of the parameter's default (a default of None takes anything;
    null is accepted for every parameter: the notebooks read None as "the default of the task")."""
    if default is None or value is None:
        return value
    if isinstance(default, str):
        return value if isinstance(value, str) else (text if text is not None else str(value))
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, list)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    if not ok:
        shown = text if text is not None else json.dumps(value)
        raise ConfigError(f"-p {key}", f"expected {_describe(default if not isinstance(default, tuple) else [])} "
                                       f"(default {json.dumps(default)}), got {shown}")
    return value


def check_parameters(name: str, values: dict, texts: dict | None = None) -> dict:
    """Validate parameter values for report ``name`` (unknown or reserved names, types); returns the
    values, coerced where the default's type says so (an int for a float parameter becomes a float)."""
    known = parameters(name)
    texts = texts or {}
    out = {}
    for key, value in values.items():
        if key in RESERVED:
            raise ConfigError(f"-p {key}", "is set by --runs-dir (the runs folder), not by -p")
        if key not in known:
            raise ConfigError("-p", f"unknown parameter {key!r} of report {name}; its parameters: "
                                    f"{', '.join(k for k in known if k not in RESERVED)}")
        out[key] = _coerce(key, value, texts.get(key), known[key]["value"])
    return out


def parse_parameters(name: str, pairs) -> dict:
    """``[(key, text), ...]`` as given with ``-p KEY VALUE`` → checked parameter values."""
    texts = {key: text for key, text in pairs}
    return check_parameters(name, {key: parse_value(text) for key, text in texts.items()}, texts)


LISTS = {"betas": "beta", "bhs": "bh", "deltas": "delta", "seeds": "seed", "tasks": "task", "algos": "algo"}
SETTINGS = ("beta", "bh", "delta", "seed", "total_steps", "cost_limit", "steps_per_epoch", "num_envs", "algo")
ALGORITHM_PARAMETERS = ("reference", "regret_reference")  # parameters that name one algorithm


def check_settings(name: str, values: dict) -> None:
    """The training settings a report's parameters describe, validated as ``ctrpo train`` would validate
    them (unknown task, β = NaN, an empty list, ...), so nothing starts with settings that cannot run.
    Raises ConfigError naming ``-p KEY``."""
    import math

    from .config import resolve
    from .envs import UnknownTaskError

    merged = {k: spec["value"] for k, spec in parameters(name).items()}
    merged.update(values)
    for key in LISTS:
        if key in merged and (not isinstance(merged[key], list) or not merged[key]):
            raise ConfigError(f"-p {key}", f"must be a non-empty JSON list, got {json.dumps(merged[key])}")
    for key in ("betas", "beta"):  # also for reports that train nothing (the C-NPG geometry)
        for v in merged.get(key, []) if key == "betas" else [merged.get(key, 0.0)]:
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"-p {key}", f"values must be finite numbers >= 0, got {json.dumps(v)}")
    from .config import ALGORITHM_IDS

    for key in ALGORITHM_PARAMETERS:  # an algorithm the notebook would meet only in a later cell
        if key in merged and merged[key] not in ALGORITHM_IDS:
            raise ConfigError(f"-p {key}", f"must be one of {', '.join(ALGORITHM_IDS)}, got {json.dumps(merged[key])}")
    if "task" not in merged and "tasks" not in merged:
        return
    tasks = merged["tasks"] if "tasks" in merged else [merged["task"]]
    algos = merged["algos"] if "algos" in merged else [merged.get("algo") or "c-trpo"]
    base = {k: merged[k] for k in SETTINGS if k in merged and merged[k] is not None and k != "algo"}

    def check(key: str, task, algo, **extra) -> None:
        try:
            resolve(task, algo, **base, **extra)
        except UnknownTaskError as exc:
            raise ConfigError(f"-p {key}", str(exc)) from None
        except ConfigError as exc:
            field = exc.param.lstrip("-").replace("-", "_")
            shown = next((k for k, f in LISTS.items() if f == field and k in values), field)
            raise ConfigError(f"-p {shown}", str(exc).split(": ", 1)[-1]) from None
        except TypeError as exc:
            raise ConfigError(f"-p {key}", f"a value of the wrong type ({exc})") from None

    for task in tasks:
        for algo in algos:
            check("tasks" if "tasks" in merged else "task", task, algo)
    for key, field in LISTS.items():
        if key in merged and key not in ("tasks", "algos"):
            for value in merged[key]:
                check(key, tasks[0], algos[0], **{field: value})


# ------------------------------------------------------------------------------------ folders
def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


def _write_status(folder: Path, state: str, message: str = "", **extra) -> dict:
    status = {**read_status(folder), "state": state, "message": message, "updated": time.time(), **extra}
    _write_json(folder / STATUS, status)
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


def prepare(name: str, values: dict, runs_dir, texts: dict | None = None) -> Path:
    """Validate, then create the report folder with params.json and a 'queued' status."""
    source = notebook_path(name)
    values = check_parameters(name, values, texts)
    check_settings(name, values)
    known = parameters(name)
    runs_dir = Path(runs_dir).resolve()
    injected = {"runs_dir": str(runs_dir)} if "runs_dir" in known else {}
    root = reports_dir(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError("--runs-dir", f"{str(runs_dir)!r} is not a directory") from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        folder = root / (f"{name}-{stamp}" + (f"-{attempt}" if attempt > 1 else ""))
        try:
            folder.mkdir()
            break
        except FileExistsError:
            continue
    command = ["ctrpo", "report", name] + [a for k, v in values.items()
                                           for a in ("-p", k, v if isinstance(v, str) else json.dumps(v))]
    _write_json(folder / PARAMS, {
        "report": name, "notebook": str(source), "parameters": values, "injected": injected,
        "defaults": {k: v["default"] for k, v in known.items()}, "runs_dir": str(runs_dir),
        "created": _now(), "command": command + ["--runs-dir", str(runs_dir)],
        "versions": _versions(), "kernel": kernel_info(),
    })
    _write_status(folder, "queued", pid=None)
    return folder


def read_params(folder) -> dict:
    return _read_object(Path(folder) / PARAMS)


def read_results_file(folder) -> dict:
    """results.json of a finished report ({} when there is none or it is damaged)."""
    return _read_object(Path(folder) / RESULTS)


# ------------------------------------------------------------------------------------ execution
@dataclass
class ReportResult:
    folder: Path
    state: str  # "finished" | "failed"
    duration_s: float
    error: dict = field(default_factory=dict)  # failed: cell, ename, evalue, traceback
    results: dict | None = None

    @property
    def notebook(self) -> Path:
        return self.folder / f"{read_params(self.folder).get('report', 'report')}.ipynb"

    @property
    def html(self) -> Path:
        return self.notebook.with_suffix(".html")


OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{#- nbconvert's lab template without the scripts it loads from the web (require.js, MathJax, mermaid,
    widgets): the reports' figures carry plotly.js inline and their text uses no LaTeX -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def export_html(notebook: Path, html: Path) -> None:
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                            template_file="offline.html.j2")
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))
    tmp = html.with_name(f".{html.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, html)


def read_results(notebook) -> dict | None:
    """The JSON object recorded by the executed notebook's cell tagged "results" (None if there is none)."""
    import nbformat

    from .notebook import RESULTS_MIME, RESULTS_TAG

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and RESULTS_TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if RESULTS_MIME in data and isinstance(data[RESULTS_MIME], dict):
                    return dict(data[RESULTS_MIME])
    return None


def _kernel_manager_class():
    """nbclient's kernel manager, with the kernel's TCP sockets encrypted (CurveZMQ) where zmq and the
    kernel support it (ipykernel warns on stderr about plain-text TCP otherwise)."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    class ReportKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            if zmq.has("curve"):
                kwargs.setdefault("transport_encryption", "auto")
            super().__init__(**kwargs)

    return ReportKernelManager


def _error_of(exc) -> dict:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return {"cell": exc.cell_index, "exec_count": exc.exec_count, "source": exc.source, "ename": exc.ename,
                "evalue": exc.evalue, "traceback": _ANSI.sub("", "\n".join(exc.traceback or []))}
    return {"cell": None, "exec_count": None, "source": "", "ename": type(exc).__name__, "evalue": str(exc),
            "traceback": ""}


def execute(folder, progress: bool = False, log_cells: bool = False) -> ReportResult:
    """Execute the prepared report in ``folder`` (in this process; the kernel is a child process), as the
    folder's one owner. ``progress``: a progress bar over the cells (a terminal); ``log_cells``: each
    cell's start and output as lines on the "papermill" logger (a log file or a pipe)."""
    folder = Path(folder).resolve()
    with Ownership(folder, what="executing the report"):
        return _execute(folder, progress, log_cells)


def _execute(folder: Path, progress: bool, log_cells: bool = False) -> ReportResult:
    import papermill

    params = read_params(folder)
    name = params["report"]
    notebook = folder / f"{name}.ipynb"
    started = time.time()
    _write_status(folder, "running", pid=os.getpid(), started=_now())
    error, results = {}, None
    env_before = os.environ.get("PYDEVD_DISABLE_FILE_VALIDATION")
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiet the kernel's debugger about frozen modules
    runs_before = os.environ.get("CTRPO_RUNS_DIR")
    if params.get("runs_dir"):  # the kernel's default runs folder (catalog.default_runs_dir) is the report's
        os.environ["CTRPO_RUNS_DIR"] = str(params["runs_dir"])
    try:
        papermill.execute_notebook(str(notebook_path(name)), str(notebook),
                                   parameters={**params.get("parameters", {}), **params.get("injected", {})},
                                   kernel_name=KERNEL, cwd=str(folder), progress_bar=progress, log_output=log_cells,
                                   kernel_manager_class=_kernel_manager_class())
    except Exception as exc:  # a failing cell (PapermillExecutionError), a dead kernel, ...
        error = _error_of(exc)
    finally:
        if env_before is None:
            os.environ.pop("PYDEVD_DISABLE_FILE_VALIDATION", None)
        if runs_before is None:
            os.environ.pop("CTRPO_RUNS_DIR", None)
        else:
            os.environ["CTRPO_RUNS_DIR"] = runs_before
    if notebook.exists():
        try:
            export_html(notebook, notebook.with_suffix(".html"))
        except Exception as exc:
            error = error or {"cell": None, "ename": type(exc).__name__, "evalue": f"HTML export: {exc}", "traceback": ""}
        if not error:
            results = read_results(notebook)
            if results is not None:
                _write_json(folder / RESULTS, results)
    duration = time.time() - started
    if error:
        where = f"cell {error['cell']}" if error.get("cell") is not None else "execution"
        _write_status(folder, "failed", f"{where}: {error['ename']}: {error['evalue']}", duration_s=duration,
                      finished=_now(), error=error)
        return ReportResult(folder, "failed", duration, error)
    _write_status(folder, "finished", duration_s=duration, finished=_now())
    return ReportResult(folder, "finished", duration, results=results)


def run_report(name: str, values: dict | None = None, runs_dir="runs", texts: dict | None = None,
               progress: bool = False) -> ReportResult:
    """Validate, create the report folder, execute the notebook here and export it."""
    return execute(prepare(name, values or {}, runs_dir, texts), progress=progress)


def launch_report(name: str, values: dict | None = None, runs_dir="runs") -> Path:
    """Validate and create the report folder, then execute it in a detached background process
    (``python -m ctrpo_core.reports FOLDER``) that outlives the caller. Returns the folder."""
    folder = prepare(name, values or {}, runs_dir)
    with open(folder / LOG, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ctrpo_core.reports", str(folder)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 60  # return once the child owns the folder, so no view calls it interrupted
    while not is_owned(folder) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    return folder


# ------------------------------------------------------------------------------------ listing
def effective_state(status: dict, owned: bool) -> str:
    state = str(status.get("state", "unknown"))
    if state in ("queued", "running") and not owned:
        return "interrupted"  # its process ended without saying so (or never started)
    return state


def list_reports(runs_dir) -> list[dict]:
    """Every report folder under ``<runs_dir>/reports``, newest first."""
    root = reports_dir(runs_dir)
    rows = []
    for folder in root.iterdir() if root.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith(".") or not (folder / PARAMS).exists():
            continue
        params, status = read_params(folder), read_status(folder)
        name = str(params.get("report", "?"))
        html = folder / f"{name}.html" if _NAME.match(name) else None  # never a path out of the folder
        duration = status.get("duration_s")
        parameters = params.get("parameters", {})
        rows.append({"folder": folder.name, "report": name, "created": str(params.get("created", "")),
                     "parameters": parameters if isinstance(parameters, dict) else {},
                     "state": effective_state(status, is_owned(folder)), "message": str(status.get("message", "")),
                     "duration_s": float(duration) if isinstance(duration, (int, float)) else None,
                     "path": str(folder), "html": str(html) if html and html.exists() else None})
    return sorted(rows, key=lambda r: (r["created"], r["folder"]), reverse=True)


def resolve_report(runs_dir, folder_name: str) -> Path:
    """The folder of report ``folder_name`` inside ``<runs_dir>/reports``; refuses anything else."""
    root = reports_dir(runs_dir).resolve()
    path = (root / folder_name).resolve()
    if not _NAME.match(folder_name) or path.parent != root or not (path / PARAMS).exists():
        raise ValueError(f"no report {folder_name!r} in {root}")
    return path


def main(argv=None) -> int:
    """``python -m ctrpo_core.reports FOLDER``: execute a prepared report (what launch_report starts)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ctrpo_core.reports REPORT_FOLDER", file=sys.stderr)
        return 2
    result = execute(argv[0])
    print(f"{result.folder}: {result.state} ({result.duration_s:.1f} s)"
          + (f": {result.error.get('ename')}: {result.error.get('evalue')}" if result.error else ""), flush=True)
    return 0 if result.state == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
