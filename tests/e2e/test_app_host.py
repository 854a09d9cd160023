"""Issue 31 (DNS rebinding): `streamlit run app/main.py` answers only requests named after a loopback address.

A real server process, real HTTP (http.client) and real WebSocket handshakes (a raw socket; websocket-client
to read a session's first messages): Host evil.example gets 403 on the pages and Streamlit's endpoints and no
WebSocket upgrade; 127.0.0.1, localhost and [::1] get 200 and 101; CTRPO_ALLOW_REMOTE=1 serves any name;
Streamlit's usage statistics are off in the served process, also started outside the repository."""

import base64
import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from browser import free_port, streamlit_server
from conftest import ROOT

from ctrpo_core.ui import hosts

EVIL = "evil.example"
PATHS = ("/", "/live", "/_stcore/health", "/_stcore/host-config", "/_stcore/script-health-check", "/_stcore/metrics")


def clean_env(**extra) -> dict:
    drop = {hosts.ALLOW_REMOTE, hosts.ALLOWED_HOSTS, hosts.USAGE_STATS}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def get(port: int, path: str, host: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def handshake(port: int, host: str, origin: str | None = None) -> tuple[int, str]:
    """The WebSocket opening handshake on Streamlit's /_stcore/stream, as a browser sends it: status, body."""
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: streamlit",
    ] + ([f"Origin: {origin}"] if origin else [])
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data and (chunk := s.recv(4096)):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 101:  # read the refusal's body
            length = next(
                (
                    int(v)
                    for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                    if k.lower() == b"content-length"
                ),
                0,
            )
            while len(body) < length and (chunk := s.recv(4096)):
                body += chunk
    return status, body.decode(errors="replace")


def first_session(port: int) -> dict:
    """Open a session as the browser does (rerun the script) and gather its first messages until the run ends."""
    import websocket
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        origin=f"http://127.0.0.1:{port}",
        subprotocols=["streamlit"],
        timeout=60,
    )
    try:
        back = BackMsg()
        back.rerun_script.query_string = ""
        ws.send_binary(back.SerializeToString())
        seen = {"pages": [], "text": []}
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                seen["gather_usage_stats"] = msg.new_session.config.gather_usage_stats
            elif kind == "navigation":
                seen["pages"] = [p.page_name for p in msg.navigation.app_pages]
            elif kind == "delta" and msg.delta.new_element.WhichOneof("type") == "heading":
                seen["text"].append(msg.delta.new_element.heading.body)
            elif kind == "script_finished":
                return seen
    finally:
        ws.close()


@contextlib.contextmanager
def served_elsewhere(runs_dir, cwd, env):
    """`streamlit run /repo/app/main.py` from another folder (no .streamlit/config.toml: no usage-stats flag,
    nothing but what app/main.py sets itself), bound to 127.0.0.1."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    env = {**env, "CTRPO_RUNS_DIR": str(runs_dir)}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(proc.stdout.read().decode(errors="replace")) from None
            time.sleep(0.3)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """The app as make app and the browser tests start it (repository folder), no allow switch set."""
    with streamlit_server(tmp_path_factory.mktemp("runs"), env=clean_env()) as url:
        yield int(url.rsplit(":", 1)[1])


def test_foreign_host_gets_403_on_every_page_and_endpoint(guarded):
    for path in PATHS:
        status, body = get(guarded, path, f"{EVIL}:{guarded}")
        assert status == 403, (path, status, body[:200])
        assert "loopback" in body and hosts.ALLOW_REMOTE in body and hosts.ALLOWED_HOSTS in body, body
    assert get(guarded, "/", EVIL)[0] == 403  # no port
    assert get(guarded, "/", f"127.0.0.1.{EVIL}:{guarded}")[0] == 403  # a name that merely starts like loopback


def test_loopback_names_get_200(guarded):
    for host in (f"127.0.0.1:{guarded}", f"localhost:{guarded}", f"[::1]:{guarded}", "127.0.0.2", "localhost"):
        for path in ("/", "/live", "/_stcore/health"):
            status, body = get(guarded, path, host)
            assert status == 200, (host, path, status, body[:200])


def test_websocket_refuses_a_foreign_host_or_origin(guarded):
    for host, origin in (
        (f"{EVIL}:{guarded}", f"http://{EVIL}:{guarded}"),  # DNS rebinding: the page's own name everywhere
        (f"{EVIL}:{guarded}", None),
        (f"127.0.0.1:{guarded}", f"http://{EVIL}"),  # another site's page opening ws://127.0.0.1 directly
        (f"127.0.0.1:{guarded}", "null"),
    ):
        status, body = handshake(guarded, host, origin)
        assert status == 403, (host, origin, status, body[:200])
        assert "loopback" in body, body


def test_websocket_opens_for_loopback_names(guarded):
    for host, origin in (
        (f"127.0.0.1:{guarded}", f"http://127.0.0.1:{guarded}"),
        (f"localhost:{guarded}", f"http://localhost:{guarded}"),
        (f"[::1]:{guarded}", f"http://[::1]:{guarded}"),
        (f"127.0.0.1:{guarded}", None),
    ):
        status, body = handshake(guarded, host, origin)
        assert status == 101, (host, origin, status, body[:200])
    seen = first_session(guarded)  # the pages themselves, behind the check
    assert "C-TRPO Explorer" in seen["text"] and seen["pages"][:2] == ["Home", "Demo"], seen


def test_allow_remote_serves_any_name_and_usage_stats_are_off_outside_the_repository(tmp_path):
    env = clean_env(**{hosts.ALLOW_REMOTE: "1"})
    with served_elsewhere(tmp_path / "runs", tmp_path, env) as port:
        for path in ("/", "/live", "/_stcore/health"):
            assert get(port, path, f"{EVIL}:{port}")[0] == 200, path
        assert handshake(port, f"{EVIL}:{port}", f"http://{EVIL}:{port}")[0] == 101
        seen = first_session(port)
    assert seen["gather_usage_stats"] is False, seen
    assert "C-TRPO Explorer" in seen["text"], seen


def test_rules():
    for host in ("localhost", "LOCALHOST:1", "localhost.", "127.0.0.1", "127.9.9.9:80", "[::1]", "[::1]:8501"):
        assert hosts.refusal(host, environ={}) is None, host
    for host in (None, "", EVIL, f"{EVIL}:80", "0.0.0.0", "[::]:1", "10.0.0.1", "localhost.evil.example", "[::1"):
        assert hosts.refusal(host, environ={}) is not None, host
    for origin in (None, "", "http://127.0.0.1:8501", "https://localhost", "http://[::1]:1"):
        assert hosts.refusal("127.0.0.1", origin, environ={}) is None, origin
    for origin in ("null", f"http://{EVIL}", "file://", "ftp://127.0.0.1", f"http://127.0.0.1.{EVIL}"):
        assert hosts.refusal("127.0.0.1", origin, environ={}) is not None, origin
    listed = {hosts.ALLOWED_HOSTS: "explorer.lab.example, other.example"}
    assert hosts.refusal("Explorer.Lab.Example:443", "https://explorer.lab.example", environ=listed) is None
    assert hosts.refusal(EVIL, environ=listed) is not None
    assert hosts.refusal(EVIL, "null", environ={hosts.ALLOW_REMOTE: "1"}) is None
    # a session's own handshake headers (app/main.py, where Streamlit serves without st.App); none: in process
    assert hosts.session_refusal({}, {}) is None and hosts.session_refusal(None, {}) is None
    assert hosts.session_refusal({"Host": "127.0.0.1:8501", "Origin": "http://127.0.0.1:8501"}, {}) is None
    assert hosts.session_refusal({"Host": f"{EVIL}:8501", "Origin": f"http://{EVIL}:8501"}, {}) is not None
