"""The life of a run directory, in one place: create, own, train, stop, state.

- :func:`create`: validate the settings and write the run directory once: config.json (every setting,
  the versions), an empty metrics.csv and status ``queued``, written in a hidden folder
  (``.creating/<name>-<hex>``) and renamed into place, so the name never holds half a run. Nothing trains yet.
- :func:`train`: take ownership (an OS file lock held for the life of the training, see
  :mod:`ctrpo_core.runs.ownership`), then train from the checkpoint if there is one, else from the start
  (also a run killed before its first checkpoint). A second owner gets :class:`RunBusyError`; a config.json
  that differs from what the checkpoint was trained with (but for a longer ``total_steps``) is refused.
- :func:`spawn`: the same in a detached process, ``python -m ctrpo_core.runs.lifecycle RUN_DIR``: what the
  app, the sweeps and reports start, new run or resume alike.
- :func:`stop`: ask the run's owner to stop (a request file it polls, removed when the owner lets go of
  the run); never a signal, so nothing but the run's own trainer can be affected.
- :func:`state`: ``queued | running | finished | failed | stopped | damaged``, where ``running``
  means "owned now" and a run whose status says running without an owner was interrupted.

The settings travel in config.json only: every caller (CLI, app, local and Ray sweeps, reports) hands
over a run directory, never a command line of settings.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from ..config.schema import (
    CONVENTIONS,
    ConfigError,
    TrainConfig,
    format_value,
    result_settings,
    validate,
    validate_name,
)
from ..util import cores
from ..util.launch import detached
from .ownership import BusyError, Ownership, clear_stale_request, effective_state, is_owned, read_holder
from .store import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    RESUME_RULE,
    STATUS,
    STOP_REQUEST,
    DamagedRunError,
    RunDir,
    WriteError,
    inside_run,
    package_versions,
)

STOP_POLL_S = 0.25  # how often a training process looks for a stop request
LAUNCH_LOGS = ".launch"  # <runs-dir>/.launch/<name>.log: the output of detached training processes
CREATING = ".creating"  # <runs-dir>/.creating/<name>-<8 hex>: a run directory being written (create)
STALE_CREATION_S = 60.0  # a creation takes milliseconds: a folder in .creating/ untouched this long was killed
# a resume keeps the settings the run was trained with; this is what it may change (and how)


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
    except OSError as exc:  # not a folder, no permission, a name the file system refuses, a full disk
        raise ConfigError("runs_dir", f"cannot create {str(run.path)!r}: {exc.strerror or exc}") from None
    clear_creation_leftovers(root, cfg.name)
    if _exists(run.path):
        raise _name_taken(run)
    try:  # everything is written under a hidden name, then renamed into place at once: never half a run
        staging = _staging_folder(root, cfg.name)
    except OSError as exc:
        raise ConfigError("runs_dir", f"cannot create {str(run.path)!r}: {exc.strerror or exc}") from None
    try:
        staged = RunDir(staging)
        staged.create(config, exist_ok=True)
        staged.write_status("queued", pid=None)
        _fsync_folder(staging)
        _rename_noreplace(staging, run.path)
    except FileExistsError:  # created by another process meanwhile
        _remove_staging(root, staging)
        raise _name_taken(run) from None
    except OSError as exc:  # a full disk: nothing under the run's name, and the hidden folder is removed
        _remove_staging(root, staging)
        if isinstance(exc, WriteError):  # it names the file as it will be in the run directory
            message = str(exc).replace(str(staging), str(run.path))
        else:
            message = f"cannot create {str(run.path)!r}: {exc.strerror or exc}"
        raise ConfigError("runs_dir", f"{message} (nothing was created)") from None
    except BaseException:  # an interrupt: the same (SIGKILL leaves the hidden folder, cleared once stale)
        _remove_staging(root, staging)
        raise
    _tidy_staging_area(root)
    with contextlib.suppress(OSError):
        _fsync_folder(root)
    return RunDir(run.path)


def _exists(path: Path) -> bool:
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def _name_taken(run: RunDir) -> ConfigError:
    if run.is_run():
        return ConfigError("name", f"run directory {str(run.path)!r} already exists (use --resume to continue it)")
    return ConfigError(
        "name",
        f"{str(run.path)!r} already exists and is not a run (it has no config.json); "
        f"remove it or choose another --name",
    )


def _staging_folder(root: Path, name: str) -> Path:
    """A new folder ``.creating/<name>-<8 hex>`` in the runs folder ``root`` (hidden: never listed as a run; in a
    folder of its own, so looking for leftovers never reads the whole runs folder)."""
    while True:
        staging = root / CREATING / f"{name}-{secrets.token_hex(4)}"
        try:
            staging.parent.mkdir(exist_ok=True)
            staging.mkdir()
            return staging
        except (FileExistsError, FileNotFoundError):  # a name drawn twice; .creating/ removed by another creator
            continue


def _tidy_staging_area(root: Path) -> None:
    """Remove ``.creating/`` when it is empty (rmdir: never while another creation or a leftover is in it)."""
    with contextlib.suppress(OSError):
        (root / CREATING).rmdir()


def _remove_staging(root: Path, staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    _tidy_staging_area(root)


def _fsync_folder(folder: Path) -> None:
    """Make the folder's entries (files written, a rename) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_AT_FDCWD, _RENAME_NOREPLACE = -100, 1  # Linux's <fcntl.h> and <linux/fs.h>


def _renameat2():
    """glibc's renameat2, or None (another system, an older C library)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None


def _rename_noreplace(source: Path, target: Path) -> None:
    """Rename the folder ``source`` to ``target`` at once; FileExistsError when ``target`` exists (also an empty
    folder, which a plain rename replaces). Where the system cannot refuse in the rename itself, a folder that
    appears between the check and the rename is replaced only if it is empty."""
    call = _renameat2()
    if call is not None:
        if call(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), str(target))
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # else: this file system cannot; fall back
            raise OSError(code, os.strerror(code), str(source), None, str(target))
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        raise


_KILLED_WRITE = re.compile(re.escape(f".{CONFIG}.tmp") + r"\d*")  # the first file create wrote before this version
_STAGED_FILES = "|".join(re.escape(name) for name in (CONFIG, METRICS, STATUS))
_STAGED = re.compile(rf"({_STAGED_FILES})|\.({_STAGED_FILES})\.tmp\d*")  # what create writes (whole or not yet)


def _plain_files(folder: Path) -> list[Path] | None:
    """The entries of ``folder`` when it is a real folder holding only regular files, else None."""
    try:
        if folder.is_symlink() or not folder.is_dir():
            return None
        entries = list(folder.iterdir())
        if any(e.is_symlink() or not e.is_file() for e in entries):
            return None
    except OSError:
        return None
    return entries


def _killed_creation_files(folder: Path) -> list[Path] | None:
    entries = _plain_files(folder)
    return entries if entries and all(_KILLED_WRITE.fullmatch(e.name) for e in entries) else None


def killed_creation(folder) -> bool:
    """Whether ``folder`` is what a creation killed before its config.json was written left under the run's
    name (versions that wrote the run directory in place): no config.json, only temporary ``.config.json.tmp*``
    files. Nothing else ever looks like it."""
    return _killed_creation_files(Path(folder)) is not None


def _stale_staging_files(folder: Path, now: float) -> list[Path] | None:
    """The files of a folder in ``.creating/`` whose creation was killed: only the files create writes, none
    touched for :data:`STALE_CREATION_S` (a creation in progress takes milliseconds); None for any other."""
    entries = _plain_files(folder)
    if entries is None or not all(_STAGED.fullmatch(e.name) for e in entries):
        return None
    try:
        newest = max(p.lstat().st_mtime for p in (folder, *entries))
    except OSError:
        return None
    return entries if now - newest > STALE_CREATION_S else None


def _remove_files_and_folder(folder: Path, entries: list[Path]) -> bool:
    """Remove exactly ``entries``, then the folder if that left it empty (rmdir: anything new stays)."""
    try:
        for entry in entries:
            entry.unlink(missing_ok=True)
        folder.rmdir()
    except OSError:
        return False
    return True


def clear_creation_leftovers(root, name: str) -> list[Path]:
    """Remove what killed creations of the run ``name`` left in the runs folder ``root``, and only that: a
    folder of that name holding nothing but ``.config.json.tmp*`` files (:func:`killed_creation`), and
    ``.creating/<name>-<hex>`` folders untouched for a minute. Never a folder with a config.json under the run's
    name, nor one holding other files. Returns the folders removed."""
    root, removed, now = Path(root), [], time.time()
    target = root / name
    leftover = _killed_creation_files(target)
    if leftover is not None and _remove_files_and_folder(target, leftover):
        removed.append(target)
    pattern = re.compile(re.escape(name) + r"-[0-9a-f]{8}")
    try:
        candidates = [p for p in (root / CREATING).iterdir() if pattern.fullmatch(p.name)]
    except OSError:  # no .creating/: nothing was left
        candidates = []
    for folder in candidates:
        stale = _stale_staging_files(folder, now)
        if stale is not None and _remove_files_and_folder(folder, stale):
            removed.append(folder)
    _tidy_staging_area(root)  # also an empty one a creation killed right after making it left
    return removed


# ---------------------------------------------------------------------------------------------- open
def open_run(path, param: str = "resume") -> tuple[RunDir, TrainConfig]:
    """A run directory and its validated settings; ConfigError(``param``) when it is not a readable run."""
    run = path if isinstance(path, RunDir) else RunDir(path)
    try:
        is_dir = run.path.is_dir()
    except (OSError, ValueError):  # a name the file system refuses (longer than 255 bytes, ...)
        is_dir = False
    if is_dir and not run.is_run() and killed_creation(run.path):
        raise ConfigError(
            param,
            f"{str(path)!r} is what a creation killed before its config.json was written left behind: "
            f"nothing was trained; create the run again (its name is free)",
        )
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
class RunOwnership(Ownership):
    """A run's ownership; letting go of it (its training has ended, however: stopped, finished, failed, refused)
    also removes the run's stop request, which has then been acted on or has nobody left to stop. Only the owner
    removes it, and only then: while the run trains, its owner (and the Ray sweep's sink, which owns the run on
    the driver for a worker) reads it, and a request made as the owner starts stops it before its first epoch."""

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                (self.folder / STOP_REQUEST).unlink(missing_ok=True)  # still ours: the lock is dropped after
        super().release()


def own(run: RunDir) -> RunOwnership:
    """Become the run's one owner, and clear what an earlier owner may have left (temporary files of an
    interrupted write, a stop request that arrived after it ended)."""
    asked_before = time.time()
    try:
        ownership = RunOwnership(run.path, what=f"training {run.name}")
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


def _plain(value):
    """``value`` as JSON reads it back (tuples as lists, numbers as numbers), so that two copies compare."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _shown(value) -> str:
    return (
        format_value(value)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool)
        else json.dumps(value, default=str)
    )


def settings_changes(trained: dict, now: dict, ignore=("total_steps",)) -> list[str]:
    """``key old → new`` for every setting of ``trained`` (what a checkpoint was trained with) that ``now`` (what
    config.json says) gives another value, in ``now``'s order. A setting only one of them knows (one added or
    dropped by a later version) is not compared: config.json reads it as that run trained (``as_trained``)."""
    trained, now = _plain(trained), _plain(now)
    return [
        f"{key} {_shown(trained[key])} → {_shown(value)}"
        for key, value in now.items()
        if key in trained and key not in ignore and trained[key] != value
    ]


def check_resume(run: RunDir, cfg: TrainConfig, ckpt: dict | None, extending: bool = False) -> None:
    """ConfigError('resume') naming every setting that config.json (``cfg``) changed since its checkpoint was
    trained, old and new value, but for a longer ``total_steps`` (a resume's one documented change; ``extending``:
    a new length is being given, :func:`extend` checks it). Checkpoints that predate the ``settings`` they carry
    are compared by their networks' shapes when they are loaded (trainer)."""
    if ckpt is None:
        return
    trained = ckpt.get("settings")
    if isinstance(trained, str):
        try:
            trained = json.loads(trained)
        except ValueError:
            trained = None
    changes = settings_changes(trained, result_settings(cfg)) if isinstance(trained, dict) else []
    steps = int(ckpt["total_steps"])
    if not extending and cfg.total_steps < steps:
        changes.append(f"total_steps {cfg.total_steps} is below the {steps} steps trained")
    if changes:
        raise ConfigError(
            "resume",
            f"{run.name}: config.json differs from what its checkpoint (epoch {ckpt['epoch']}) was trained with: "
            f"{', '.join(changes)}; {RESUME_RULE}",
        )


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
        check_resume(run, cfg, ckpt, extending=total_steps is not None and total_steps != cfg.total_steps)
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
    if not is_owned(run.path):  # the owner let go meanwhile (and cleared what it saw): nobody left to stop
        with contextlib.suppress(OSError):
            (run.path / STOP_REQUEST).unlink(missing_ok=True)
        return False
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
