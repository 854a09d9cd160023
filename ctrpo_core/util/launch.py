"""The one way the package starts a process that outlives its caller: a training run, a sweep, a report.

``python -m MODULE ARGS`` in a new session (a terminal's Ctrl-C, the app's restart or the end of the
caller never reach it), stdin closed, stdout and stderr appended to ``log``, unbuffered so the log is
current. Who owns the work is decided by the child (it takes the folder's lock), never by this pid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path


def detached(module: str, args: list[str], log: Path) -> subprocess.Popen:
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def reap_in_background(proc: subprocess.Popen) -> subprocess.Popen:
    """Collect ``proc``'s exit status when it ends, in a daemon thread, for a caller that starts a process and
    moves on (the app starting a sweep, a report, a run): without it the ended child stays a zombie of the
    long-lived caller until Python happens to reap it at the next process start."""
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc
