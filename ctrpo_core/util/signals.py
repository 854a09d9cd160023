"""SIGTERM/SIGINT as a request to stop at the next safe point, for the duration of a ``with`` block."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable


@contextlib.contextmanager
def stop_signals(on_stop: Callable[[str], None]):
    """Call ``on_stop(signal name)`` on SIGTERM or SIGINT inside the block (main thread only: Python
    delivers signals there), and put the previous handlers back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, lambda signum, frame: on_stop(signal.Signals(signum).name))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
