"""A prepared report folder executed with papermill (here, or in a detached process), then exported to HTML
and its recorded numbers saved."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from jinja2 import DictLoader

from ..runs.ownership import LOCK, Ownership, is_owned
from ..util.atomic import WriteError, write_json, writing
from ..util.launch import detached, reap_in_background
from ..util.signals import stop_signals
from .folders import KERNEL, LOG, PARAMS, RESULTS, STATUS, discard, now, prepare, read_params, write_status
from .notebook import RESULTS_MIME, RESULTS_TAG
from .parameters import notebook_path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STOPPED_EXIT = 130  # a stopped report's exit status, as the command line's (cli.INTERRUPTED) after Ctrl-C
STOPPING = threading.Event()  # set by SIGTERM/SIGINT while a report executes in this process


class ReportStopped(BaseException):
    """SIGTERM or SIGINT while a report executes, raised in the main thread by the signal handler: papermill
    stops at once, shuts its kernel down and saves the partial notebook (a BaseException, so that no
    ``except Exception`` on the way swallows it)."""


class ReportNotStarted(Exception):
    """The report failed before its notebook produced any output (a write the disk refused, a kernel that
    did not start): its folder, which held nothing but its own parameters, was removed."""


@dataclass
class ReportResult:
    folder: Path
    state: str  # "finished" | "failed" | "stopped"
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
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
    )
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))
    tmp = html.with_name(f".{html.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, html)


def read_results(notebook) -> dict | None:
    """The JSON object recorded by the executed notebook's cell tagged "results" (None if there is none)."""
    import nbformat

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
    from jupyter_client.manager import AsyncKernelManager

    class ReportKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            if zmq.has("curve"):
                kwargs.setdefault("transport_encryption", "auto")
            super().__init__(**kwargs)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False):
            # a stopped report's kernel is interrupted and killed at once: a polite shutdown request races the
            # reply of the cell it was running (a traceback on stderr) and takes seconds
            await super().shutdown_kernel(now=now or STOPPING.is_set(), restart=restart)

    return ReportKernelManager


def _error_of(exc) -> dict:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return {
            "cell": exc.cell_index,
            "exec_count": exc.exec_count,
            "source": exc.source,
            "ename": exc.ename,
            "evalue": exc.evalue,
            "traceback": _ANSI.sub("", "\n".join(exc.traceback or [])),
        }
    return {
        "cell": None,
        "exec_count": None,
        "source": "",
        "ename": type(exc).__name__,
        "evalue": str(exc),
        "traceback": "",
    }


def execute(folder, progress: bool = False, log_cells: bool = False) -> ReportResult:
    """Execute the prepared report in ``folder`` (in this process; the kernel is a child process), as the
    folder's one owner. ``progress``: a progress bar over the cells (a terminal); ``log_cells``: each
    cell's start and output as lines on the "papermill" logger (a log file or a pipe).

    SIGTERM and SIGINT stop it: the kernel is shut down, the partial notebook kept, the status is "stopped".
    A failure before the notebook produced any output (a full disk, a kernel that did not start) removes the
    folder when it holds nothing but what :func:`prepare` and this function wrote, and raises
    ReportNotStarted naming the cause (for a refused write, the file)."""
    folder = Path(folder).resolve()
    try:
        with writing(folder / LOCK):  # the lock file and its record: the first writes here
            owner = Ownership(folder, what="executing the report")
    except WriteError as exc:
        raise _not_started(folder, exc) from exc
    try:
        with owner:
            return _execute(folder, progress, log_cells)
    except _NoOutput as exc:
        raise _not_started(folder, exc.__cause__) from exc.__cause__


def _not_started(folder: Path, cause: BaseException) -> ReportNotStarted:
    """Remove ``folder`` (or, when it holds more than this report's own files, mark it failed) after
    ``cause`` failed the report before its notebook produced output; the error that says so."""
    message = str(cause) if isinstance(cause, WriteError) else f"{type(cause).__name__}: {cause}"
    if _only_ours(folder):
        discard(folder)
        return ReportNotStarted(f"{message} (before the notebook produced output; {folder} removed)")
    with contextlib.suppress(OSError):  # a background report's log stays, with the status that explains it
        write_status(folder, "failed", message, finished=now())
    return ReportNotStarted(f"{message} (before the notebook produced output; see {folder})")


class _NoOutput(Exception):
    """Raised from the failure (its ``__cause__``) that came before the notebook produced any output."""


def _only_ours(folder: Path) -> bool:
    """Whether ``folder`` holds only what prepare and execute write (its parameters, status, lock, notebook
    and their temporary files), not, for example, the log of a report started in the background."""
    name = read_params(folder).get("report", "")
    ours = {PARAMS, STATUS, RESULTS, LOCK, f"{name}.ipynb", f"{name}.html"}
    try:
        return all(p.name in ours or p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return False


def _produced(notebook: Path) -> bool:
    try:
        return notebook.stat().st_size > 0
    except OSError:
        return False


def _execute(folder: Path, progress: bool, log_cells: bool = False) -> ReportResult:
    params = read_params(folder)
    name = params["report"]
    notebook = folder / f"{name}.ipynb"
    started = time.time()
    stopped_by = []

    def stop(signal_name: str) -> None:
        if not stopped_by:  # the first signal stops it; more while the kernel shuts down are ignored
            stopped_by.append(signal_name)
            STOPPING.set()
            raise ReportStopped(signal_name)

    STOPPING.clear()

    error, results, failure = {}, None, None
    with stop_signals(stop):
        try:
            try:
                write_status(folder, "running", pid=os.getpid(), started=now())
            except WriteError as exc:
                raise _NoOutput() from exc
            failure = _papermill(folder, name, notebook, params, progress, log_cells)
            if failure is not None:
                error = _error_of(failure)
                if not _produced(notebook):
                    if isinstance(failure, OSError) and not isinstance(failure, WriteError):  # name the file
                        failure = WriteError(failure.errno, failure.strerror, failure.filename or str(notebook))
                    raise _NoOutput() from failure
            error, results = _finish(notebook, folder, error)
        except ReportStopped:
            pass
    duration = time.time() - started
    if stopped_by:
        write_status(folder, "stopped", f"stopped by {stopped_by[0]}", duration_s=duration, finished=now())
        return ReportResult(folder, "stopped", duration)
    if error:
        where = f"cell {error['cell']}" if error.get("cell") is not None else "execution"
        write_status(
            folder,
            "failed",
            f"{where}: {error['ename']}: {error['evalue']}",
            duration_s=duration,
            finished=now(),
            error=error,
        )
        return ReportResult(folder, "failed", duration, error)
    write_status(folder, "finished", duration_s=duration, finished=now())
    return ReportResult(folder, "finished", duration, results=results)


def _papermill(folder: Path, name: str, notebook: Path, params: dict, progress: bool, log_cells: bool):
    """Execute the notebook into ``notebook``; the exception that failed it (a failing cell, a dead kernel,
    a refused write), or None."""
    import papermill

    env_before = os.environ.get("PYDEVD_DISABLE_FILE_VALIDATION")
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiet the kernel's debugger about frozen modules
    runs_before = os.environ.get("CTRPO_RUNS_DIR")
    if params.get("runs_dir"):  # the kernel's default runs folder (catalog.default_runs_dir) is the report's
        os.environ["CTRPO_RUNS_DIR"] = str(params["runs_dir"])
    try:
        papermill.execute_notebook(
            str(notebook_path(name)),
            str(notebook),
            parameters={**params.get("parameters", {}), **params.get("injected", {})},
            kernel_name=KERNEL,
            cwd=str(folder),
            progress_bar=progress,
            log_output=log_cells,
            kernel_manager_class=_kernel_manager_class(),
        )
    except Exception as exc:  # a failing cell (PapermillExecutionError), a dead kernel, ...
        return exc
    finally:
        if env_before is None:
            os.environ.pop("PYDEVD_DISABLE_FILE_VALIDATION", None)
        if runs_before is None:
            os.environ.pop("CTRPO_RUNS_DIR", None)
        else:
            os.environ["CTRPO_RUNS_DIR"] = runs_before
    return None


def _finish(notebook: Path, folder: Path, error: dict) -> tuple[dict, dict | None]:
    """The executed notebook's HTML export and, when it finished, its recorded numbers in results.json."""
    results = None
    if notebook.exists():
        try:
            export_html(notebook, notebook.with_suffix(".html"))
        except Exception as exc:
            error = error or {
                "cell": None,
                "ename": type(exc).__name__,
                "evalue": f"HTML export: {exc}",
                "traceback": "",
            }
        if not error:
            results = read_results(notebook)
            if results is not None:
                write_json(folder / RESULTS, results)
    return error, results


def run_report(
    name: str, values: dict | None = None, runs_dir="runs", texts: dict | None = None, progress: bool = False
) -> ReportResult:
    """Validate, create the report folder, execute the notebook here and export it."""
    return execute(prepare(name, values or {}, runs_dir, texts), progress=progress)


def launch_report(name: str, values: dict | None = None, runs_dir="runs") -> Path:
    """Validate and create the report folder, then execute it in a detached background process
    (``python -m ctrpo_core.reports.papermill FOLDER``) that outlives the caller. Returns the folder."""
    folder = prepare(name, values or {}, runs_dir)
    proc = reap_in_background(detached("ctrpo_core.reports.papermill", [str(folder)], folder / LOG))
    deadline = time.time() + 60  # return once the child owns the folder, so no view calls it interrupted
    while not is_owned(folder) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    return folder


def main(argv=None) -> int:
    """``python -m ctrpo_core.reports.papermill FOLDER``: execute a prepared report (what launch_report starts).
    Exit status 0 finished, 1 failed, 130 stopped (SIGTERM, SIGINT)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ctrpo_core.reports.papermill REPORT_FOLDER", file=sys.stderr)
        return 2
    try:
        result = execute(argv[0])
    except ReportNotStarted as exc:
        print(f"{argv[0]}: failed: {exc}", flush=True)
        return 1
    print(
        f"{result.folder}: {result.state} ({result.duration_s:.1f} s)"
        + (f": {result.error.get('ename')}: {result.error.get('evalue')}" if result.error else ""),
        flush=True,
    )
    return {"finished": 0, "stopped": STOPPED_EXIT}.get(result.state, 1)


if __name__ == "__main__":
    sys.exit(main())
