"""Run directories (CONTRACT.md): config.json, metrics.csv, status.json, checkpoint.pt.

Every write is crash-safe: status.json and checkpoint.pt are replaced atomically (temporary file,
then rename), metrics rows are appended whole and flushed, and readers ignore a trailing
partial line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import socket
import time
from importlib import metadata
from pathlib import Path


CONFIG, METRICS, STATUS, CHECKPOINT, LOG = "config.json", "metrics.csv", "status.json", "checkpoint.pt", "train.log"
STATES = ("running", "finished", "failed", "stopped")
HOST = socket.gethostname()  # status.json's "host" (remote runs): the machine of the process "pid"
HEARTBEAT_S, STALE_S = 20.0, 120.0  # remote runs: "heartbeat" refreshed this often; older than STALE_S: gone
STOP_REQUEST = ".stop-request"  # asks the writer of a remote (Ray) run to stop it (catalog.stop_run)

METRIC_COLUMNS = [
    # the contract's columns
    "epoch", "total_steps", "ep_return", "ep_cost", "ep_len", "cost_regret", "kl", "divergence",
    "barrier", "trust_radius", "step_fraction", "recovery", "budget", "time_s", "steps_per_s",
    # extras
    "episodes", "ls_tries", "curvature", "lagrange_multiplier", "value_loss_r", "value_loss_c",
]


def package_versions() -> dict:
    from . import __version__

    versions = {"ctrpo_core": __version__, "python": platform.python_version()}
    for dist in ("torch", "numpy", "mujoco", "safety-gymnasium", "gymnasium"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def process_alive(status: dict) -> bool:
    """Whether the process behind a 'running' status can still be running, as far as this machine knows.

    A status names the training process ("pid"); a remote (Ray) run also its machine ("host"; local
    runs name none: this one) and the process that writes its directory ("sink_pid" on "sink_host"),
    which lives as long as the sweep that runs it: where that is this machine, it decides. Processes on
    other machines cannot be checked from here: then a recent "heartbeat" (the sink refreshes it while
    the run's task is alive) means alive.
    """
    if status.get("sink_host") == HOST:
        return pid_alive(status.get("sink_pid"))
    if status.get("host", HOST) == HOST:
        return pid_alive(status.get("pid"))
    beat = status.get("heartbeat", status.get("updated"))
    return beat is None or time.time() - float(beat) < STALE_S


def checkpoint_bytes(state: dict) -> bytes:
    import torch  # here, not at the top: readers and the Ray sweep's writer need no torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


class RunDir:
    status_extra: dict = {}  # more keys of every status this kind of run directory writes
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    def is_run(self) -> bool:
        return (self.path / CONFIG).is_file()

    # ------------------------------------------------------------------ writing
    def create(self, config: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.mkdir()  # fails if it exists: never mix two runs
        _atomic_write_bytes(self.path / CONFIG, json.dumps(config, indent=2, sort_keys=True).encode())
        with open(self.path / METRICS, "w", newline="") as f:
            f.write(",".join(METRIC_COLUMNS) + "\n")

    def write_config(self, config: dict) -> None:
        _atomic_write_bytes(self.path / CONFIG, json.dumps(config, indent=2, sort_keys=True).encode())

    def write_status(self, state: str, message: str = "", **extra) -> dict:
        assert state in STATES, state
        status = {"state": state, "pid": os.getpid(), "message": message, "updated": time.time(),
                  **self.status_extra, **extra}
        self.write_status_dict(status)
        return status

    def write_status_dict(self, status: dict) -> None:
        _atomic_write_bytes(self.path / STATUS, json.dumps(status).encode())

    def append_metrics(self, row: dict) -> None:
        line = ",".join(_format(row.get(c)) for c in METRIC_COLUMNS) + "\n"
        with open(self.path / METRICS, "a") as f:  # one write of a whole line, then flush
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def truncate_metrics(self, last_epoch: int) -> None:
        """Drop rows after ``last_epoch`` (written after the checkpoint a resume starts from)."""
        header, rows = self._metric_lines()
        keep = [r for r in rows if int(r.split(",", 1)[0]) <= last_epoch]
        _atomic_write_bytes(self.path / METRICS, ("".join([header, *keep])).encode())

    def save_checkpoint(self, state: dict) -> None:
        self.write_checkpoint_bytes(checkpoint_bytes(state))

    def write_checkpoint_bytes(self, data: bytes) -> None:
        _atomic_write_bytes(self.path / CHECKPOINT, data)

    def log(self, line: str) -> None:
        with open(self.path / LOG, "a") as f:
            f.write(line + "\n")

    # ------------------------------------------------------------------ reading
    def read_config(self) -> dict:
        return json.loads((self.path / CONFIG).read_text())

    def read_status(self) -> dict:
        try:
            return json.loads((self.path / STATUS).read_text())
        except FileNotFoundError:
            return {"state": "unknown", "pid": None, "message": "no status.json", "updated": None}

    def load_checkpoint(self) -> dict:
        import torch

        return torch.load(self.path / CHECKPOINT, weights_only=True)

    def _metric_lines(self) -> tuple[str, list[str]]:
        text = (self.path / METRICS).read_text()
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines = lines[:-1]  # a row still being written
        return (lines[0] if lines else ",".join(METRIC_COLUMNS) + "\n"), lines[1:]

    def read_metrics(self):
        import pandas as pd

        header, rows = self._metric_lines()
        frame = pd.read_csv(io.StringIO(header + "".join(rows)))
        return frame

    def read_rows(self) -> list[dict]:
        header, rows = self._metric_lines()
        return list(csv.DictReader(io.StringIO(header + "".join(rows))))
