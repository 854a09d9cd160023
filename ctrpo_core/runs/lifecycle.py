"""The life of a run directory, in one place: create, own, train, stop, state.

- :func:`create`: validate the settings and write the run directory once: config.json (every setting,
  the versions), an empty metrics.csv and status ``queued``. Nothing trains yet.
- :func:`train`: take ownership (an OS file lock held for the life of the training, see
  :mod:`ctrpo_core.runs.ownership`), then train from the checkpoint if there is one, else from the start
  (also a run killed before its first checkpoint). A second owner gets :class:`RunBusyError`.
- :func:`spawn`: the same in a detached process, ``python -m ctrpo_core.runs.lifecycle RUN_DIR``: what the
  app, the sweeps and reports start, new run or resume alike.
- :func:`stop`: ask the run's owner to stop (a request file it polls); never a signal, so nothing
  but the run's own trainer can be affected.
- :func:`state`: ``queued | running | finished | failed | stopped | damaged``, where ``running``
  means "owned now" and a run whose status says running without an owner was interrupted.

The settings travel in config.json only: every caller (CLI, app, local and Ray sweeps, reports) hands
over a run directory, never a command line of settings.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from ..config.schema import CONVENTIONS, ConfigError, TrainConfig, validate, validate_name
from ..util import cores
from ..util.launch import detached
from .ownership import BusyError, Ownership, clear_stale_request, effective_state, is_owned, read_holder
from .store import CHECKPOINT, STOP_REQUEST, DamagedRunError, RunDir, WriteError, inside_run, package_versions

STOP_POLL_S = 0.25  # how often a training process looks for a stop request
LAUNCH_LOGS = ".launch"  # <runs-dir>/.launch/<name>.log: the output of detached training processes


class RunBusyError(ConfigError):
    """The run is being trained by another process (exit 2 on the command line)."""

    def __init__(self, busy: BusyError):
        super().__init__(
            "run",
            f"{busy.folder.name} is already being trained by pid {busy.holder.get('pid', '?')}"
            f"{' on ' + busy.holder['host'] if busy.holder.get('host') else ''}; "
            f"a run directory has one owner at a time",
        )
        self.holder = busy.holder


# ---------------------------------------------------------------------------------------------- create
def create(cfg: TrainConfig) -> RunDir:
    """Write a new run directory for ``cfg`` (validated; ``cfg.name`` set), state ``queued``.

    Raises ConfigError when the settings are invalid, the runs folder cannot hold it, or the name is taken.
    """
    validate(cfg)
    if cfg.name is None:
        cfg.name = f"{cfg.task}_{cfg.algo}_s{cfg.seed}_{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
    validate_name(cfg.name)
    root = Path(cfg.runs_dir)
    try:
        if root.exists() and not root.is_dir():
            raise ConfigError("runs_dir", f"{str(root)!r} exists and is not a directory")
    except OSError as exc:  # a name the file system refuses (longer than 255 bytes, ...)
        raise ConfigError("runs_dir", f"cannot use {str(root)!r}: {exc.strerror or exc}") from None
    holder = inside_run(root)
    if holder is not None:  # a run directory holds one run's files, never other runs
        raise ConfigError(
            "runs_dir",
            f"{str(root)!r} is inside the run directory {str(holder)!r}; give the folder that holds the runs",
        )
    run = RunDir(root / cfg.name)
    config = {
        **cfg.to_dict(),
        "epochs": cfg.epochs,
        "versions": package_versions(),
        "metrics_window": f"ep_return/ep_len/ep_cost_window: mean over the last {cfg.episode_window} "
        f"finished episodes at the epoch's end; ep_cost = Ĵ_c: the mean over the epoch "
        f"of that {cfg.episode_window}-episode mean, recorded at every episode end",
    }
    try:
        root.mkdir(parents=True, exist_ok=True)
        run.path.mkdir()  # fails if it exists: never mix two runs; from here on the folder is ours
    except FileExistsError:
        raise ConfigError(
            "name", f"run directory {str(run.path)!r} already exists (use --resume to continue it)"
        ) from None
    except OSError as exc:  # not a folder, no permission, a name the file system refuses, a full disk
        raise ConfigError("runs_dir", f"cannot create {str(run.path)!r}: {exc.strerror or exc}") from None
    try:
        run.create(config, exist_ok=True)
        run.write_status("queued", pid=None)
    except OSError as exc:  # a full disk: remove the half-made folder (only ours: mkdir above made it)
        shutil.rmtree(run.path, ignore_errors=True)
        raise ConfigError("runs_dir", f"{exc} (nothing was created)") from None
    return run


# ---------------------------------------------------------------------------------------------- open
def open_run(path, param: str = "resume") -> tuple[RunDir, TrainConfig]:
    """A run directory and its validated settings; ConfigError(``param``) when it is not a readable run."""
    run = path if isinstance(path, RunDir) else RunDir(path)
    try:
        is_dir = run.path.is_dir()
    except (OSError, ValueError):  # a name the file system refuses (longer than 255 bytes, ...)
        is_dir = False
    if not is_dir or not run.is_run():
        raise ConfigError(param, f"{str(path)!r} is not a run directory (it has no config.json)")
    try:
        written = run.read_config()
        cfg = TrainConfig.from_dict(written)
        validate(cfg)
    except (DamagedRunError, ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(param, f"{str(path)!r} has a damaged config.json ({exc})") from None
    if written.get("conventions", 1) != CONVENTIONS:  # never continue a run under other rules
        raise ConfigError(
            param,
            f"{run.name} was trained with the training conventions "
            f"{written.get('conventions', 1)} and this version trains with {CONVENTIONS} "
            f"(docs/BASELINES.md); train a new run instead",
        )
    return run, cfg


def load_checkpoint(run: RunDir, param: str = "resume") -> dict | None:
    """The run's checkpoint (None when it has none yet); ConfigError when it exists but cannot be read."""
    if not run.has_checkpoint():
        return None
    path = run.path / CHECKPOINT
    try:
        if path.stat().st_size == 0:
            raise ValueError("the file is empty")
        ckpt = run.load_checkpoint()
        if not isinstance(ckpt, dict) or not {"epoch", "total_steps", "algo"} <= set(ckpt):
            raise ValueError("not a checkpoint of this project")
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ConfigError(
            param,
            f"{str(path)!r} cannot be read ({type(exc).__name__}: {first}); delete it to "
            f"train {run.name} from the start",
        ) from None
    return ckpt


# ---------------------------------------------------------------------------------------------- own + train
def own(run: RunDir) -> Ownership:
    """Become the run's one owner, and clear what an earlier owner may have left (temporary files of an
    interrupted write, a stop request that arrived after it ended)."""
    asked_before = time.time()
    try:
        ownership = Ownership(run.path, what=f"training {run.name}")
    except BusyError as busy:
        raise RunBusyError(busy) from None
    for leftover in run.path.glob(".*.tmp*"):
        leftover.unlink(missing_ok=True)
    # only a request older than this ownership is stale: one made the moment the lock was taken (a stopper
    # polling lifecycle.stop until the run is owned) is for this process, and was lost when cleared too
    clear_stale_request(run.path / STOP_REQUEST, asked_before)
    return ownership


def _watch_stop_requests(run: RunDir, stop: threading.Event, done: threading.Event) -> threading.Thread:
    def watch():
        while not done.wait(STOP_POLL_S):
            if (run.path / STOP_REQUEST).exists():
                stop.set()
                return

    thread = threading.Thread(target=watch, name="ctrpo-stop-request", daemon=True)
    thread.start()
    return thread


def extend(run: RunDir, cfg: TrainConfig, ckpt: dict | None, total_steps: int) -> TrainConfig:
    """Set a new length for a run (``--resume --total-steps``); never below what it has trained."""
    trained = int(ckpt["total_steps"]) if ckpt else 0
    if not isinstance(total_steps, int) or total_steps < max(trained, cfg.steps_per_epoch):
        raise ConfigError(
            "total_steps",
            f"must be >= the {trained} steps {run.name} has trained "
            f"(and >= --steps-per-epoch {cfg.steps_per_epoch}), got {total_steps}",
        )
    cfg.total_steps = total_steps
    validate(cfg)
    run.write_config({**run.read_config(), "total_steps": total_steps, "epochs": cfg.epochs})
    return cfg


def train(
    path,
    callback=None,
    progress: bool | None = False,
    total_steps: int | None = None,
    stop_event: threading.Event | None = None,
    env_workers: int | None = None,
) -> str:
    """Own the run at ``path`` (a folder, or a RunDir such as the Ray worker's forwarding one) and train it
    to its end, from its checkpoint if it has one; returns the final state. Raises ConfigError
    (RunBusyError, a damaged run, a bad ``total_steps``) before anything is written."""
    from .trainer import Trainer

    run, cfg = open_run(path)
    ownership = own(run)
    try:
        ckpt = load_checkpoint(run)
        if total_steps is not None and total_steps != cfg.total_steps:
            extend(run, cfg, ckpt, total_steps)
        stop, done = stop_event or threading.Event(), threading.Event()
        watcher = _watch_stop_requests(run, stop, done)
        try:
            return Trainer(run, checkpoint=ckpt, progress=progress, stop_event=stop, env_workers=env_workers).execute(
                callback
            )
        except OSError as exc:  # a full disk, ...: one line naming the file, and the run says so
            raise _write_failed(run, exc) from None
        finally:
            done.set()
            watcher.join(timeout=2 * STOP_POLL_S)
    finally:
        ownership.release()


class TrainingWriteError(Exception):
    """Training stopped because a file could not be written (disk full, ...): exit 1 on the command line,
    the run is ``failed`` with this message (when its status.json can still be written)."""


def _write_failed(run: RunDir, exc: OSError) -> TrainingWriteError:
    """Mark the run failed with one line naming the file and the cause (best effort: on a full disk the
    status write may fail too, and the run then reads ``stopped``, resumable), and return the error."""
    chain = [exc]  # the trainer's own "failed" status write may fail too: the first failure is the cause
    while isinstance(chain[-1].__context__, OSError):
        chain.append(chain[-1].__context__)
    named = [e for e in chain if isinstance(e, WriteError)]
    first = named[-1] if named else chain[-1]
    message = str(first) if named else f"{type(first).__name__}: {first}"  # an OS error other than a write
    try:
        status = run.read_status()
        run.write_status(
            "failed", message, **{k: v for k, v in status.items() if k not in ("state", "message", "pid", "updated")}
        )
    except (OSError, DamagedRunError):
        pass
    return TrainingWriteError(f"{run.path}: {message}")


def spawn(
    path, log: Path | None = None, env_workers: int | None = None, cores: list[int] | None = None
) -> subprocess.Popen:
    """Train the run at ``path`` in a detached process (it outlives the caller); its output goes to
    ``log`` (default ``<runs-dir>/.launch/<name>.log``). ``env_workers``: its env processes (default:
    one per core it may use); ``cores``: the cores it is pinned to (default: the caller's)."""
    run = RunDir(path)
    log = log or run.path.parent / LAUNCH_LOGS / f"{run.name}.log"
    options = ([f"--env-workers={env_workers}"] if env_workers else []) + (
        [f"--cores={','.join(map(str, cores))}"] if cores else []
    )
    return detached("ctrpo_core.runs.lifecycle", [*options, str(run.path)], log)


# ---------------------------------------------------------------------------------------------- stop + state
def stop(path) -> bool:
    """Ask the run's owner to stop (it checkpoints and says 'stopped'); False when nobody owns it.

    A request file, never a signal: only the process that holds the run's lock reads it, so a stale pid
    in status.json, a folder copied from another machine or pid 0/−1 can never make this hit anything else.
    """
    run = RunDir(path)
    if not is_owned(run.path):
        return False
    (run.path / STOP_REQUEST).touch()
    return True


def owner(path) -> dict | None:
    """What the live owner of the run wrote about itself (pid, host, since), or None if nobody owns it."""
    return read_holder(path) if is_owned(path) else None


def state(path) -> str:
    run = RunDir(path)
    try:
        return effective_state(run.read_status(), is_owned(run.path))
    except DamagedRunError:
        return "damaged"


def resumable(path) -> bool:
    """Whether training the run again makes sense: not finished and nobody trains it now."""
    return state(path) in ("queued", "stopped", "failed", "unknown")


def main(argv=None) -> int:
    """``python -m ctrpo_core.runs.lifecycle [--env-workers=N] [--cores=I,J] RUN_DIR``: own and train the run
    (what :func:`spawn` starts)."""
    argv = sys.argv[1:] if argv is None else argv
    options = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    paths = [a for a in argv if not a.startswith("--")]
    if len(paths) != 1 or set(options) - {"env-workers", "cores"}:
        print("usage: python -m ctrpo_core.runs.lifecycle [--env-workers=N] [--cores=I,J] RUN_DIR", file=sys.stderr)
        return 2

    cores.pin([int(c) for c in options["cores"].split(",")] if "cores" in options else None)
    workers = int(options["env-workers"]) if "env-workers" in options else None
    try:
        final = train(paths[0], progress=None, env_workers=workers)
    except ConfigError as exc:
        print(f"ctrpo: error: {exc}", file=sys.stderr)
        return 2
    except TrainingWriteError as exc:
        print(f"ctrpo: error: {exc}", file=sys.stderr)
        return 1
    status = RunDir(paths[0]).read_status()
    print(f"{paths[0]}: {final}" + (f" ({status.get('message')})" if status.get("message") else ""), file=sys.stderr)
    return 0 if final in ("finished", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
