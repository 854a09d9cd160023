"""Whether the app may serve its pages on the address it is bound to.

The app starts training processes and reads and writes the runs folder, so it serves its pages only
on a loopback address unless the user says otherwise. ``make app`` binds 127.0.0.1; ``streamlit run
app/main.py`` started elsewhere does not read the repository's ``.streamlit/config.toml`` (Streamlit
reads it from the working directory) and binds every interface, so the app checks for itself.
"""

from __future__ import annotations

import ipaddress
import os

from ..util.paths import REPOSITORY

APP = REPOSITORY / "app" / "main.py"
ALLOW_REMOTE = "CTRPO_ALLOW_REMOTE"  # =1: serve on any address (a reverse proxy with authentication, ...)


def is_loopback(address) -> bool:
    """Whether the server address reaches this machine only. Empty or None means every interface."""
    text = str(address or "").strip().strip("[]")
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:  # "", "0.0.0.0"-like names, host names: anything that may be reachable from outside
        return False


def remote_allowed(environ=os.environ) -> bool:
    return environ.get(ALLOW_REMOTE, "").strip() == "1"


def refusal(address) -> str | None:
    """None when the app may serve on ``address``; else the page's text saying how to serve it safely."""
    if is_loopback(address) or remote_allowed():
        return None
    shown = f"`{address}`" if address else "every network interface (no `server.address` set)"
    return (
        f"This server listens on {shown}, so anyone who can reach this machine could start training "
        f"processes and read the runs folder. The app serves nothing but this page there.\n\n"
        f"To serve it safely, start it on the loopback address:\n\n"
        f"```\nmake app\n```\n\nor, from any folder,\n\n"
        f"```\nstreamlit run {APP} --server.address 127.0.0.1\n```\n\n"
        f"and open http://127.0.0.1:8501 (from another machine: an SSH tunnel, "
        f"`ssh -L 8501:127.0.0.1:8501 HOST`). If other machines must reach it (behind a proxy that "
        f"authenticates users, on a trusted network), set `{ALLOW_REMOTE}=1` in the app's environment."
    )
