"""Run directories (README.md describes them): config.json, metrics.csv, status.json, checkpoint.pt.

Every write is crash-safe: status.json and checkpoint.pt are replaced atomically (temporary file,
then rename), metrics rows are appended whole and flushed, and readers ignore a trailing
partial line.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import platform
import socket
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..config.algorithms import ALGORITHMS
from ..config.rules import MAX_EPISODES, MAX_LISTED, MAX_MAGNITUDE, MAX_SEED, MAX_STEPS  # noqa: F401
from ..config.settings import SETTINGS
from ..util.atomic import DISK_FULL, WriteError, atomic_write_bytes, writing  # noqa: F401  (re-exported)
from ..util.paths import default_runs_dir  # noqa: F401  (re-exported: the runs folder's default)
from ..util.safe_read import read_regular, read_regular_text

CONFIG, METRICS, STATUS, CHECKPOINT, LOG = "config.json", "metrics.csv", "status.json", "checkpoint.pt", "train.log"
CHECKPOINT_COPIES = "checkpoints"  # epoch_<k>.pt every checkpoint_every epochs
# "queued": created, not trained yet (lifecycle.create); the others are written by the training process
STATES = ("queued", "running", "finished", "failed", "stopped")
HOST = socket.gethostname()  # status.json's "host" (remote runs): the machine of the process "pid"
STOP_REQUEST = ".stop-request"  # asks the run's owner to stop at the next step (lifecycle.stop)
# What a reader loads at most (util/safe_read.py): a run writes a few KB of config and status, and one metrics row
# of well under ROW_BYTES per epoch; anything larger was not written by a run, and is not read into memory.
SMALL_FILE_BYTES = 1 << 20
ROW_BYTES = 4096
# What a resume may change (the trainer and the lifecycle refuse the rest, naming it)
RESUME_RULE = (
    "a resume continues a run with the settings it was trained with and may only extend total_steps "
    "(ctrpo train --resume RUN --total-steps N): restore config.json, or train a new run with the new settings"
)

METRIC_COLUMNS = [
    # the contract's columns
    "epoch",
    "total_steps",
    "ep_return",
    "ep_cost",
    "ep_len",
    "cost_regret",
    "kl",
    "divergence",
    "barrier",
    "trust_radius",
    "step_fraction",
    "recovery",
    "budget",
    "time_s",
    "steps_per_s",
    # extras
    "episodes",
    "ls_tries",
    "value_loss_r",
    "value_loss_c",
    # the mean cost of the last episode_window episodes at the epoch's end (ep_cost is the epoch's Ĵ_c)
    "ep_cost_window",
    # trust-region shrinkage (engine/shrinkage.py): the largest first-order cost increase α one step may
    # make in the algorithm's own region, in the KL ball, along ∇α with C-TRPO's exact D_C; α of the step
    "alpha_max",
    "alpha_max_kl",
    "alpha_max_exact",
    "alpha_step",
]
# ground truth where the task's model is known (envs/truth.py): V_r, V_c of π_k with 95% half-widths, Reg+ from
# V_c, V_c(π_{k+1}) − V_c(π_k) of the epoch's update and (exact models) its exact divergence
TRUTH_COLUMNS = [
    "true_return",
    "true_cost",
    "true_return_hw",
    "true_cost_hw",
    "true_regret",
    "true_cost_change",
    "true_cost_change_hw",
    "true_divergence",
]


def metric_columns(algo: str) -> list[str]:
    """A run's metrics.csv columns: every run's, then its algorithm's own (its declaration's "metrics"), then the
    ground truth's."""
    own = ALGORITHMS[algo].metric_columns if algo in ALGORITHMS else ()
    return [*METRIC_COLUMNS, *own, *TRUTH_COLUMNS]


def package_versions() -> dict:
    """The versions a run is created with (config.json's "versions"): looked up once per process, since each
    look-up parses a package's metadata (15 ms for the five, per run of a sweep's grid)."""
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)
def _package_versions() -> tuple:
    versions = {"ctrpo_core": __version__, "python": platform.python_version()}
    for dist in ("torch", "numpy", "mujoco", "safety-gymnasium", "gymnasium"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return tuple(versions.items())


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def checkpoint_bytes(state: dict) -> bytes:
    import torch  # here, not at the top: readers and the Ray sweep's writer need no torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


class DamagedRunError(ValueError):
    """A run directory whose files cannot be what a run writes; the message says which and why."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


# The ranges of the counts (their declarations, config/settings.py): a run directory holding a count outside them
# was edited by hand and is damaged, and no page may break on it.
COUNT_RANGES = {
    k: (SETTINGS[k].range.lo, SETTINGS[k].range.hi) for k in ("total_steps", "steps_per_epoch", "num_envs", "seed")
}

# config.json fields every reader relies on, with the types they must have
_REQUIRED = {
    "task": str,
    "algo": str,
    "seed": int,
    "delta": (int, float),
    "cost_limit": (int, float),
    "total_steps": int,
    "steps_per_epoch": int,
    "num_envs": int,
}
_NUMBERS = {"beta": (int, float), "bh": (int, float)}  # where the algorithm reads them


def config_problem(config) -> str:
    """'' when ``config`` looks like a run's settings, else what is wrong with it."""
    if not isinstance(config, dict):
        return f"expected a JSON object, got {type(config).__name__}"
    for key, kind in {**_REQUIRED, **{k: v for k, v in _NUMBERS.items() if k in config}}.items():
        value = config.get(key)
        if key not in config:
            return f"no {key!r}"
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"{key!r} is {value!r}, not a {'string' if kind is str else 'number'}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{key!r} is {value!r}"
    if config["steps_per_epoch"] <= 0 or config["total_steps"] <= 0:
        return "non-positive step counts"
    for key, (lo, hi) in COUNT_RANGES.items():  # beyond them no run was ever written: hand-edited
        if not lo <= config[key] <= hi:
            return f"{key!r} is {config[key]!r}, outside [{lo}, {hi}]"
    for key in [k for k in ("beta", "bh", "delta", "cost_limit") if k in config]:
        if abs(config[key]) > MAX_MAGNITUDE:
            return f"{key!r} is {config[key]!r}, beyond ±{MAX_MAGNITUDE:g}"
    return ""


def planned_epochs(config: dict) -> int:
    """The epochs a run's settings plan: total_steps // steps_per_epoch, at least one."""
    return max(1, int(config["total_steps"]) // int(config["steps_per_epoch"]))


def metrics_problem(frame) -> str:
    """'' when the epoch and step columns of metrics.csv are what a run writes (whole numbers in range)."""
    for column in ("epoch", "total_steps"):
        values = frame[column].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            wrong = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | (values > MAX_STEPS)
        if wrong.any():
            return f"metrics.csv: {column} {values[wrong][0]!r} is not a step count"
    return ""


def inside_run(folder) -> Path | None:
    """The run directory that ``folder`` is or lies in, if any (its files are the tool's own: no export and
    no other run goes there)."""
    folder = Path(folder).absolute()
    for candidate in (folder, *folder.parents):
        try:  # config.json alone is a common name: a run also has its metrics.csv or status.json
            if RunDir(candidate).is_run() and ((candidate / METRICS).exists() or (candidate / STATUS).exists()):
                return candidate
        except OSError:
            continue
    return None


class RunDir:
    status_extra: dict = {}  # more keys of every status this kind of run directory writes

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._columns: list[str] | None = None  # metrics.csv's columns, read once

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    def is_run(self) -> bool:
        try:
            return (self.path / CONFIG).is_file()
        except (OSError, ValueError):  # a name the file system refuses (too long, a NUL byte)
            return False

    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT).is_file()

    # ------------------------------------------------------------------ writing
    def create(self, config: dict, exist_ok: bool = False) -> None:
        """config.json and the metrics header; ``exist_ok``: the caller made the (empty) folder itself."""
        if not exist_ok:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.mkdir()  # fails if it exists: never mix two runs
        atomic_write_bytes(self.path / CONFIG, json.dumps(config, indent=2, sort_keys=True).encode())
        self._columns = metric_columns(config.get("algo"))
        atomic_write_bytes(self.path / METRICS, (",".join(self._columns) + "\n").encode())  # never seen headless

    def write_config(self, config: dict) -> None:
        atomic_write_bytes(self.path / CONFIG, json.dumps(config, indent=2, sort_keys=True).encode())

    def write_status(self, state: str, message: str = "", **extra) -> dict:
        assert state in STATES, state
        status = {
            "state": state,
            "pid": os.getpid(),
            "message": message,
            "updated": time.time(),
            **self.status_extra,
            **extra,
        }
        self.write_status_dict(status)
        return status

    def write_status_dict(self, status: dict) -> None:
        atomic_write_bytes(self.path / STATUS, json.dumps(status).encode())

    def columns(self) -> list[str]:
        """This run's metrics columns: its metrics.csv header (a run keeps the columns it was created with),
        else its algorithm's."""
        if self._columns is None:
            try:
                header, _ = self._metric_lines(strict=True)
                self._columns = header.strip().split(",")
            except (OSError, ValueError, UnicodeDecodeError):
                self._columns = metric_columns(self.read_config().get("algo"))
        return self._columns

    def append_metrics(self, row: dict) -> str:
        """Append one epoch's row (one write of a whole line, then flush); returns the line."""
        line = ",".join(_format(row.get(c)) for c in self.columns()) + "\n"
        with writing(self.path / METRICS), open(self.path / METRICS, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return line

    def rewrite_metrics(self, lines: list[str]) -> None:
        """Replace metrics.csv by the header and ``lines`` (a resume: the rows its checkpoint carries)."""
        atomic_write_bytes(self.path / METRICS, ("".join([",".join(self.columns()) + "\n", *lines])).encode())

    def complete_metrics_rows(self, last_epoch: int) -> list[str]:
        """The file's complete rows of epochs 1..``last_epoch`` (for checkpoints that carry no rows)."""
        _, rows = self._metric_lines()
        keep = []
        for row in rows:
            try:
                epoch = int(row.split(",", 1)[0])
            except ValueError:
                continue
            if epoch <= last_epoch and row.count(",") == len(self.columns()) - 1:
                keep.append(row)
        return keep

    def save_checkpoint(self, state: dict) -> None:
        self.write_checkpoint_bytes(checkpoint_bytes(state))

    def write_checkpoint_bytes(self, data: bytes) -> None:
        atomic_write_bytes(self.path / CHECKPOINT, data)

    def keep_checkpoint_copy(self, epoch: int) -> Path:
        """checkpoints/epoch_<epoch>.pt: a copy of the latest checkpoint that later epochs never overwrite."""
        target = self.path / CHECKPOINT_COPIES / f"epoch_{epoch:06d}.pt"
        target.parent.mkdir(exist_ok=True)
        atomic_write_bytes(target, (self.path / CHECKPOINT).read_bytes())
        return target

    def checkpoint_copies(self) -> dict[int, Path]:
        """{epoch: path} of the kept checkpoint copies."""
        folder = self.path / CHECKPOINT_COPIES
        out = {}
        for p in sorted(folder.glob("epoch_*.pt")) if folder.is_dir() else []:
            try:
                out[int(p.stem.split("_", 1)[1])] = p
            except ValueError:
                continue
        return out

    def log(self, line: str) -> None:
        with writing(self.path / LOG), open(self.path / LOG, "a") as f:
            f.write(line + "\n")

    # ------------------------------------------------------------------ reading
    def read_config(self) -> dict:
        """config.json; raises DamagedRunError when it is missing, not JSON, or not a run's settings."""
        try:
            config = json.loads(read_regular_text(self.path / CONFIG, SMALL_FILE_BYTES))
        except FileNotFoundError:
            raise DamagedRunError(self.path, "no config.json") from None
        except (OSError, ValueError) as exc:
            raise DamagedRunError(self.path, f"config.json is unreadable ({type(exc).__name__}: {exc})") from None
        problem = config_problem(config)
        if problem:
            raise DamagedRunError(self.path, f"config.json: {problem}")
        return config

    def read_status(self) -> dict:
        """status.json; a missing one reads as 'unknown', a damaged one raises DamagedRunError."""
        try:
            status = json.loads(read_regular_text(self.path / STATUS, SMALL_FILE_BYTES))
        except FileNotFoundError:
            return {"state": "unknown", "pid": None, "message": "no status.json", "updated": None}
        except (OSError, ValueError) as exc:
            raise DamagedRunError(self.path, f"status.json is unreadable ({type(exc).__name__}: {exc})") from None
        if not isinstance(status, dict) or not isinstance(status.get("state"), str):
            raise DamagedRunError(self.path, "status.json is not an object with a 'state'")
        return status

    def load_checkpoint(self, epoch: int | None = None) -> dict:
        """The latest checkpoint, or the copy kept at ``epoch`` (KeyError when there is none)."""
        import torch

        path = self.path / CHECKPOINT if epoch is None else self.checkpoint_copies()[epoch]
        return torch.load(path, weights_only=True)

    def metrics_limit(self, epochs: int | None = None) -> int:
        """The most bytes metrics.csv may hold: a header and a row for each of the ``epochs`` config.json plans."""
        return ROW_BYTES * ((planned_epochs(self.read_config()) if epochs is None else epochs) + 1)

    def _metric_lines(self, strict: bool = False, epochs: int | None = None) -> tuple[str, list[str]]:
        """(header, complete rows). The header is written with the run (atomically), so a file without one
        (empty, NUL bytes) is damaged: ``strict`` raises ValueError for it."""
        text = read_regular(self.path / METRICS, self.metrics_limit(epochs)).decode("utf-8")
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines = lines[:-1]  # a row still being written
        if strict and (not lines or "\0" in lines[0]):
            raise ValueError("no header line (the file is empty or not text)")
        return (lines[0] if lines else ",".join(METRIC_COLUMNS + TRUTH_COLUMNS) + "\n"), lines[1:]

    def read_metrics(self, epochs: int | None = None) -> pd.DataFrame:
        """metrics.csv as a DataFrame (a trailing partial row ignored); DamagedRunError when a row or column is
        not numeric, the file is missing or not a regular file, or it holds more rows than the run's ``epochs``
        (default: what config.json plans)."""
        return self.read_metrics_after(0, None, self.planned() if epochs is None else epochs)[0]

    def read_metrics_after(self, offset: int, header: str | None, epochs: int) -> tuple[pd.DataFrame, str, int]:
        """The rows after byte ``offset`` (0, or a previous read's end), the header and the byte where the
        complete rows end: a page that holds the earlier rows reads only the appended ones. ``header`` None: the
        file's first line (``offset`` 0). DamagedRunError when the file is missing, not a regular file, not text,
        has no header, or its rows are not a run's (``epochs``: how many rows a read from 0 may hold)."""
        try:
            data = read_regular(self.path / METRICS, self.metrics_limit(epochs), offset=offset)
        except FileNotFoundError:
            raise DamagedRunError(self.path, "no metrics.csv") from None
        except OSError as exc:
            raise DamagedRunError(self.path, f"metrics.csv is unreadable ({exc})") from None
        complete = data[: data.rfind(b"\n") + 1]  # a row still being written waits for the next read
        try:
            lines = complete.decode("utf-8").splitlines(keepends=True)
        except UnicodeDecodeError as exc:
            raise DamagedRunError(self.path, f"metrics.csv is unreadable ({exc})") from None
        if header is None:
            if not lines or "\0" in lines[0]:
                raise DamagedRunError(self.path, "metrics.csv: no header line (the file is empty or not text)")
            header, lines = lines[0], lines[1:]
        frame = self.parse_metrics(header, lines, epochs if offset == 0 else None)
        return frame, header, offset + len(complete)

    def planned(self) -> int:
        """The number of epochs config.json plans (DamagedRunError when it is damaged)."""
        return planned_epochs(self.read_config())

    def parse_metrics(self, header: str, rows: list[str], epochs: int | None) -> pd.DataFrame:
        """Rows of metrics.csv (under their ``header``) as a DataFrame, checked as a run writes them: numeric,
        whole step counts, and (``epochs`` given) no more rows than planned epochs."""
        try:
            frame = pd.read_csv(io.StringIO(header + "".join(rows)))
        except (ValueError, pd.errors.ParserError) as exc:
            raise DamagedRunError(self.path, f"metrics.csv: {str(exc).strip().splitlines()[0]}") from None
        missing = [c for c in ("epoch", "total_steps", "ep_return", "ep_cost", "cost_regret") if c not in frame]
        if missing:
            raise DamagedRunError(self.path, f"metrics.csv lacks the column(s) {', '.join(missing)}")
        bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()]
        if bad:
            raise DamagedRunError(self.path, f"metrics.csv has non-numeric values in {', '.join(bad[:3])}")
        problem = metrics_problem(frame)
        if problem:
            raise DamagedRunError(self.path, problem)
        if epochs is not None and len(frame) > epochs:
            raise DamagedRunError(self.path, f"metrics.csv has {len(frame):,} rows for {epochs:,} planned epochs")
        return frame

    def read_rows(self) -> list[dict]:
        header, rows = self._metric_lines()
        return list(csv.DictReader(io.StringIO(header + "".join(rows))))


# ---------------------------------------------------------------------------------------------- finding a run
def resolve_run(runs_dir, name: str) -> Path:
    """The run directory ``name`` directly inside ``runs_dir`` (links and odd names included); refuses
    anything that is not one entry of that folder."""
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\0" in name
        or (os.sep != "/" and os.sep in name)
    ):
        raise ValueError(f"{name!r} is not a run of {runs_dir}")
    return Path(runs_dir) / name


def find_run(text: str, runs_dir="runs") -> Path:
    """The run that ``text`` names on a command line: a run directory's path, or a run's name inside
    ``runs_dir``. Raises FileNotFoundError saying where it looked."""
    text = str(text)
    looks_like_path = "/" in text or os.sep in text or text in (".", "..")
    candidates = [Path(text)]
    if text and not looks_like_path:
        candidates.insert(0, resolve_run(runs_dir, text))  # a name in the runs folder first, then ./name
    for path in candidates:
        if RunDir(path).is_run():
            return path
    raise FileNotFoundError(
        f"no run directory {text}"
        if looks_like_path or not text
        else f"no run {text!r} in {runs_dir} and no run directory {text}"
    )
