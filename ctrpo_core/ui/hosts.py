"""Which Host names the app answers (issue 31: DNS rebinding).

A web page the user visits can make its own name resolve to 127.0.0.1 and then talk to the app from the
browser as if it were that page's server: read the runs, start and stop training. The browser still sends
the page's name in the Host header (and its origin in the WebSocket's Origin header), so the app answers
only requests named after a loopback address, like JupyterLab does: ``localhost``, ``127.x.y.z``, ``[::1]``,
any port. ``CTRPO_ALLOW_REMOTE=1`` lifts the check (as it lifts the loopback-address rule of
:mod:`ctrpo_core.ui.serving`); ``CTRPO_ALLOWED_HOSTS=name1,name2`` adds names (a reverse proxy's).

Where it holds: ``app/main.py`` defines ``app = st.App(...)`` with :class:`HostCheck` as middleware, so
``streamlit run app/main.py`` (``make app``, the tests, from any folder) serves through it: Streamlit finds
that st.App by reading the file, imports the file as a module before it listens, and every request, the
first one and the WebSocket handshake included, passes :class:`HostCheck` first. Where the file runs as a
session's script (an older Streamlit without st.App serves it the classic way), :func:`session_refusal`
on the session's own handshake headers keeps the pages from rendering.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from .serving import ALLOW_REMOTE, remote_allowed

ALLOWED_HOSTS = "CTRPO_ALLOWED_HOSTS"  # comma-separated names also served, e.g. "explorer.lab.example"
USAGE_STATS = "STREAMLIT_BROWSER_GATHER_USAGE_STATS"


def host_name(value) -> str:
    """The name in a Host header or an origin's netloc, lowercase, without port, brackets or final dot."""
    text = str(value or "").strip().lower()
    if text.startswith("["):  # [::1]:8501
        return text[1 : text.find("]")] if "]" in text else ""
    if text.count(":") == 1:  # name:port (more colons: a bare IPv6 address)
        text = text.split(":")[0]
    return text.rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_names(environ=os.environ) -> set[str]:
    return {host_name(n) for n in environ.get(ALLOWED_HOSTS, "").replace(" ", ",").split(",") if n.strip()}


def host_allowed(host, environ=os.environ) -> bool:
    if remote_allowed(environ):
        return True
    name = host_name(host)
    return bool(name) and (is_loopback_name(name) or name in allowed_names(environ))


def origin_allowed(origin, environ=os.environ) -> bool:
    """An absent Origin is fine (not a browser's cross-site request); ``null`` or a foreign site's is not."""
    if origin is None or not str(origin).strip() or remote_allowed(environ):
        return True
    parts = urlsplit(str(origin).strip())
    return parts.scheme in ("http", "https") and host_allowed(parts.netloc, environ)


def refusal(host, origin=None, environ=os.environ) -> str | None:
    """None when a request with these Host and Origin headers may be served; else why not and how to allow it."""
    if not host_allowed(host, environ):
        what = f"Host {_shown(host)}"
    elif not origin_allowed(origin, environ):
        what = f"Origin {_shown(origin)}"
    else:
        return None
    return (
        f"C-TRPO Explorer refused this request: its {what} is not a loopback name. The app answers only to "
        f"localhost, 127.0.0.1 and [::1] (any port), so that other web pages cannot reach it through the browser "
        f"(DNS rebinding). Open it as http://127.0.0.1:<port>/ (from another machine: "
        f"ssh -L 8501:127.0.0.1:8501 HOST). To serve it under other names on purpose, set "
        f"{ALLOWED_HOSTS}=name1,name2 (or {ALLOW_REMOTE}=1 for any name) in the app's environment."
    )


def _shown(value) -> str:
    return repr(str(value)[:100]) if value is not None else "(none)"


class HostCheck:
    """ASGI middleware: HTTP 403 (and no WebSocket upgrade) for a Host or Origin that :func:`refusal` refuses."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):  # lifespan
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = refusal(headers.get("host"), headers.get("origin"))
        if problem is None:
            return await self.app(scope, receive, send)
        body = (problem + "\n").encode()
        start = {
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
        if scope["type"] == "http":
            await send({"type": "http.response.start", **start})
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in scope.get("extensions", {}):  # a 403 with the reason, never a 101
            await send({"type": "websocket.http.response.start", **start})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # closing before accepting: the server answers 403
            await send({"type": "websocket.close", "code": 1008})


def middleware() -> list:
    """:class:`HostCheck` as Starlette middleware, for ``st.App(..., middleware=...)``."""
    # here, not at the top: Starlette comes with a Streamlit that has st.App; with an older one (which never
    # calls this) the app still imports this module for session_refusal and usage_stats_off
    from starlette.middleware import Middleware  # noqa: PLC0415

    return [Middleware(HostCheck)]


def session_refusal(headers, environ=os.environ) -> str | None:
    """For a session's script: :func:`refusal` of its WebSocket handshake's headers (``st.context.headers``).
    No headers at all (a script run in process, e.g. AppTest) is not a browser's request: None."""
    headers = {str(k).lower(): v for k, v in dict(headers or {}).items()}
    if not headers:
        return None
    return refusal(headers.get("host"), headers.get("origin"), environ)


def usage_stats_off() -> None:
    """Streamlit's usage statistics off in this process, wherever it was started (the repository's
    .streamlit/config.toml applies only when the working directory is the repository): the option now, and
    its environment variable, which Streamlit reads again when it reloads its configuration."""
    from streamlit import config

    os.environ[USAGE_STATS] = "false"
    config.set_option("browser.gatherUsageStats", False, where_defined=__name__)
