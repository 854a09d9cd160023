"""`make lab`: JupyterLab over notebooks/ on 127.0.0.1 with the project's kernel (this .venv's Python) answers,
lists the kernel and the five notebooks, serves Plotly's JupyterLab extension, runs code on the project's kernel
from notebooks/, is not reachable on the machine's other addresses and stops with its process group; every
notebook runs to its end with its default parameters on that kernel, its figures as Plotly JSON (what
JupyterLab draws) and in the HTML export."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import AT_DEFAULTS, LAB_KERNEL, ROOT

from ctrpo_core import reports


def read_notebook(path):
    """nbformat.read, imported on first use: nbformat takes seconds to import (its JSON schema)."""
    import nbformat

    return nbformat.read(path, as_version=4)


PLOTLY_MIME = "application/vnd.plotly.v1+json"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def other_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (none on a machine without a network)."""
    found = set()
    try:
        found.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            found.add(s.getsockname()[0])
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")


class Lab:
    """A JupyterLab server started with `make lab` (its own process group), spoken to with its token."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, timeout: float = 10):
        request = urllib.request.Request(self.base + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read().decode()
        return json.loads(body) if path.startswith("/api/") else body

    def post(self, path: str, data: dict):
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(data).encode(),
            method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode())

    def execute(self, kernel_id: str, code: str, timeout: float = 30) -> str:
        """Run ``code`` on a kernel of the server through its websocket, as JupyterLab does; its stdout."""
        import websocket  # websocket-client: installed with JupyterLab (requirements/lab.txt)

        ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels?token={self.token}", timeout=timeout
        )
        try:
            msg_id, session = uuid.uuid4().hex, uuid.uuid4().hex
            ws.send(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "username": "test",
                            "session": session,
                            "msg_type": "execute_request",
                            "version": "5.3",
                            "date": "",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "channel": "shell",
                        "buffers": [],
                        "content": {
                            "code": code,
                            "silent": False,
                            "store_history": False,
                            "user_expressions": {},
                            "allow_stdin": False,
                            "stop_on_error": True,
                        },
                    }
                )
            )
            out, deadline = [], time.time() + timeout
            while time.time() < deadline:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    raise AssertionError("\n".join(msg["content"]["traceback"]))
                elif kind == "execute_reply":
                    assert msg["content"]["status"] == "ok", msg["content"]
                    return "".join(out)
            raise AssertionError(f"no reply from the kernel in {timeout} s; output so far: {''.join(out)!r}")
        finally:
            ws.close()


@pytest.fixture
def lab(tmp_path):
    """`make lab` on a free port with a token and no browser; stopped with SIGTERM to its process group."""
    port, token = free_port(), uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(
        [
            "make",
            "lab",
            f"LAB_PORT={port}",
            f"LAB_ARGS=--no-browser --IdentityProvider.token={token} --ServerApp.port_retries=0",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Lab(port, token)
    server.proc, server.log = proc, tmp_path / "lab.log"
    try:
        deadline = time.time() + 120  # seconds when the set-up is current; the set-up itself when it is not
        while True:
            assert proc.poll() is None, f"make lab exited ({proc.returncode}):\n{server.log.read_text()[-3000:]}"
            try:
                server.status = server.get("/api/status", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                assert time.time() < deadline, f"make lab did not answer:\n{server.log.read_text()[-3000:]}"
                time.sleep(0.25)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the group we started: make, its shell, jupyter lab
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.timeout(180)
def test_make_lab_serves_the_notebooks_on_localhost_with_the_project_kernel(lab):
    assert lab.status["kernels"] == 0
    # the project's kernel, this .venv's Python, is there and the default
    specs = lab.get("/api/kernelspecs")
    assert specs["default"] == LAB_KERNEL
    spec = specs["kernelspecs"][LAB_KERNEL]["spec"]
    assert spec["display_name"] == "C-TRPO Explorer (.venv)" and spec["language"] == "python"
    python = Path(spec["argv"][0])
    assert python.is_absolute() and python.parent == ROOT / ".venv" / "bin" and os.access(python, os.X_OK), spec
    assert spec["argv"][-4:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"], spec

    # its root is notebooks/: the four notebooks, each asking for the project's kernel
    listing = lab.get("/api/contents/?content=1")
    names = sorted(item["name"] for item in listing["content"] if item["type"] == "notebook")
    assert names == sorted(f"{name}.ipynb" for name in reports.available()) and len(names) == 5
    for name in names:
        nb = lab.get(f"/api/contents/{name}?content=1&type=notebook")["content"]
        assert nb["metadata"]["kernelspec"]["name"] == LAB_KERNEL, name
    # the page of a notebook, with Plotly's renderer of its figure JSON among the extensions it loads
    page = lab.get("/lab/tree/quickstart.ipynb")
    config = json.loads(
        re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    )
    plotly = [e for e in config["federated_extensions"] if e["name"] == "jupyterlab-plotly"]
    assert plotly and plotly[0].get("mimeExtension"), config["federated_extensions"]
    assert "jupyterlab-plotly" not in config.get("disabledExtensions", [])

    # opening a notebook starts the project's kernel in notebooks/, on this .venv's Python; the report's first
    # cell picks the renderer JupyterLab draws
    wanted = lab.get("/api/contents/quickstart.ipynb?content=1&type=notebook")["content"]["metadata"]["kernelspec"]
    session = lab.post(
        "/api/sessions",
        {
            "path": "quickstart.ipynb",
            "type": "notebook",
            "name": "quickstart.ipynb",
            "kernel": {"name": wanted["name"]},
        },
    )
    assert session["kernel"]["name"] == LAB_KERNEL
    out = lab.execute(
        session["kernel"]["id"],
        "import os, sys\nfrom ctrpo_core.reports import notebook\nnotebook.setup()\n"
        "import plotly.io as pio\n"
        "print(sys.executable, os.getcwd(), pio.renderers.default, os.getpid())",
    )
    executable, cwd, renderer, kernel_pid = out.split()
    assert Path(executable) == VENV_PYTHON and Path(cwd) == ROOT / "notebooks"
    assert "plotly_mimetype" in renderer.split("+")
    assert lab.get("/api/status")["kernels"] == 1

    # 127.0.0.1 only: not on the machine's other addresses
    for address in other_addresses():
        assert not port_open(address, lab.port), f"JupyterLab answers on {address}"

    # stopping the process group stops the server and the kernel it started
    os.killpg(lab.proc.pid, signal.SIGTERM)
    lab.proc.wait(timeout=20)
    deadline = time.time() + 10
    while (port_open("127.0.0.1", lab.port) or Path(f"/proc/{kernel_pid}").exists()) and time.time() < deadline:
        time.sleep(0.2)
    assert not port_open("127.0.0.1", lab.port)
    assert not Path(f"/proc/{kernel_pid}").exists(), "the kernel outlived JupyterLab"


def test_the_notebooks_ask_for_the_project_kernel_which_runs_this_venv():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(LAB_KERNEL)
    assert Path(spec.argv[0]) == VENV_PYTHON and Path(spec.resource_dir).is_relative_to(ROOT / ".venv")
    for name in reports.available():
        nb = read_notebook(reports.notebook_path(name))
        assert nb.metadata.kernelspec == {
            "name": LAB_KERNEL,
            "display_name": "C-TRPO Explorer (.venv)",
            "language": "python",
        }, name
    # `ctrpo report` keeps its own kernel ("python3" of this environment), whatever the notebooks ask for
    assert reports.KERNEL == "python3"


def numbers(value) -> list:
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_notebooks_run_to_their_end_at_their_defaults_on_the_project_kernel(lab_reports):
    """Notebooks top to bottom as JupyterLab runs them, at their defaults: quickstart and cnpg_geometry (every
    notebook with small parameters: test_reports; every one at its defaults: benchmarks/notebook_defaults.py)."""
    assert sorted(lab_reports) == sorted(AT_DEFAULTS)
    assert not lab_reports.errors, lab_reports.errors
    for name, path in lab_reports.items():
        nb = read_notebook(path)
        assert nb.metadata.kernelspec.name == LAB_KERNEL, name
        assert nb.metadata.papermill.parameters == lab_reports.parameters[name], name
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), name  # top to bottom
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], name
        results = reports.read_results(path)
        assert results and numbers(results), name
        # figures: Plotly's JSON, which JupyterLab's plotly extension draws, with the HTML the export shows
        figures = [o for c in code for o in c.outputs if PLOTLY_MIME in o.get("data", {})]
        assert figures, name
        for output in figures:
            fig = output.data[PLOTLY_MIME]
            assert fig["data"] and "layout" in fig, name
            assert 'class="plotly-graph-div"' in output.data["text/html"], name
        html = lab_reports.html[name].read_text()
        assert html.count("Plotly.newPlot(") == len(figures), name
        assert "plotly.js v" in html and not re.search(r"<script[^>]*\bsrc\s*=", html), name
    runs = [p for p in lab_reports.runs_dir.iterdir() if p.is_dir() and p.name != "reports"]
    assert len(runs) == 1  # quickstart's run at the task's defaults
    # quickstart trains into the default runs folder (CTRPO_RUNS_DIR), never runs/ of its working folder
    assert not (lab_reports["quickstart"].parent / "runs").exists()
