"""One owner per folder (a run directory, a sweep, a report), held by an OS file lock.

The owner takes an exclusive ``flock`` on ``<folder>/.lock`` and keeps the file open for as long as it
works there. The kernel drops the lock when the owner's process ends, however it ends (``kill -9``
included), so "is anyone working here?" never depends on a pid that may have been reused, a status
file copied from another machine, or a heartbeat. The lock file also names its holder (pid, host,
start time, what it is doing), for messages only: liveness is the lock, never the pid.

Readers probe with a shared, non-blocking lock that they drop at once; an owner that loses that race
retries for a moment (:data:`ACQUIRE_S`) before it gives up.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from enum import StrEnum
from pathlib import Path

from ..util.safe_read import read_regular

LOCK = ".lock"
ACQUIRE_S = 2.0  # an owner retries this long: readers' probes hold the lock for microseconds


class BusyError(RuntimeError):
    """The folder already has a live owner; ``holder`` is what that owner wrote about itself."""

    def __init__(self, folder: Path, holder: dict):
        self.folder, self.holder = Path(folder), holder
        who = f"pid {holder.get('pid', '?')}" + (f" on {holder['host']}" if holder.get("host") else "")
        what = f" ({holder['what']})" if holder.get("what") else ""
        super().__init__(f"{self.folder} is in use by another process: {who}{what}")


class Ownership:
    """Exclusive ownership of ``folder`` until :meth:`release` (or the end of the process)."""

    def __init__(self, folder, what: str = "", lock: str = LOCK):
        self.folder = Path(folder)
        self.path = self.folder / lock
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + ACQUIRE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = read_holder(self.folder, lock)
                    os.close(fd)
                    raise BusyError(self.folder, holder) from None
                time.sleep(0.02)
        self.fd = fd
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.time(),
            "what": what,
            "argv": sys.argv[:4],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the lock
            self.fd = None

    def __enter__(self) -> "Ownership":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def is_owned(folder, lock: str = LOCK) -> bool:
    """Whether a live process owns ``folder`` now (a probe: takes and drops a shared lock)."""
    try:
        # O_NONBLOCK: a FIFO planted under the lock's name must not stall every listing (flock then fails)
        fd = os.open(Path(folder) / lock, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False  # no lock file: nobody ever owned it (or the folder is gone)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also drops the probe's shared lock
    return False


def read_holder(folder, lock: str = LOCK) -> dict:
    """What the current (or last) owner wrote about itself; {} if nothing readable."""
    try:
        data = json.loads(read_regular(Path(folder) / lock, 1 << 16) or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


STALE_REQUEST_MARGIN_S = 0.05  # a request file older than this before a new owner started is an old one


def clear_stale_request(request: Path, owned_since: float) -> None:
    """Remove the request file ``request`` (a stop request) when it was made before ``owned_since``, the
    time just before the new owner asked for the lock: it was meant for an earlier owner. One made the moment
    the lock was taken (a stopper polling until the folder is owned) is for this owner, and stays. File times
    come from the kernel's coarse clock, up to a tick behind time.time(): hence the margin."""
    try:
        if Path(request).stat().st_mtime < owned_since - STALE_REQUEST_MARGIN_S:
            Path(request).unlink(missing_ok=True)
    except FileNotFoundError:
        pass


class State(StrEnum):
    """What a folder's work (a run, a report) is doing now, as every view shows it (a ``str``: JSON, tables
    and comparisons see the word)."""

    QUEUED = "queued"  # created, never started (a run waiting for its sweep's backend)
    RUNNING = "running"  # someone owns the folder now
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"  # a run that ended before its last step; it resumes from its checkpoint
    INTERRUPTED = "interrupted"  # a report whose process ended without saying so; it cannot resume
    DAMAGED = "damaged"  # its files cannot be read
    UNKNOWN = "unknown"


def effective_state(status: dict, owned: bool, resumable: bool = True) -> State:
    """The one state function: 'running' exactly while someone owns the folder, whatever status.json says
    (liveness is the lock). Work whose status says running (or, for a report, queued) but that nobody owns
    ended without saying so: a run (``resumable``) is then 'stopped', a report 'interrupted'."""
    if owned:
        return State.RUNNING
    try:
        written = State(str(status.get("state", "unknown")))
    except ValueError:
        return State.UNKNOWN
    orphaned = (State.RUNNING,) if resumable else (State.QUEUED, State.RUNNING)
    if written in orphaned:
        return State.STOPPED if resumable else State.INTERRUPTED
    return written
