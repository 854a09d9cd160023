"""How the app and `ctrpo ls` scale with the number of runs in the runs folder (issue 31's targets).

    .venv/bin/python benchmarks/app_scale.py --sizes 20,200,2000 [--repo PATH] [--out results.json]
        [--live-minutes 2] [--timeout 180] [--work DIR --keep] [--template DIR]

For each N: benchmarks/runs_folder.py makes a folder of N finished runs (copies of real GridHazard-v0 runs and a
real 8-run sweep); one more run, ``live-training``, trains in it for the whole measurement (`ctrpo train` on
GridHazard-v0, c-trpo, a budget it never reaches, in its own process group, ended at the end). Everything runs
from the repository at --repo (default: this one), so the same script measures an older checkout (a git worktree)
for a before/after comparison: its .venv's python and streamlit if it has one, else this repository's, always
with cwd=PATH and PYTHONPATH=PATH, so ctrpo_core is imported from PATH.

In order, per N (wall clock of this process; the machine's load is recorded in the JSON):

- ls_first_s, ls_second_s: `python -m ctrpo_core.cli ls --runs-dir DIR`, start-up included, before the app
  server starts: the first call on the fresh folder (no .catalog.json yet: every run read), then a second one.
- The app: `streamlit run PATH/app/main.py --server.headless true --server.port P` (and 127.0.0.1), cwd=PATH;
  Chromium (Playwright) at 1280×720, one tab. A page has *finished rendering* when the browser has received the
  ForwardMsg ``script_finished`` with status FINISHED_SUCCESSFULLY for the session it opened (the end of the
  page's full script run; fragment runs end with another status, so the fragments that refresh Live and
  Sensitivity do not count) AND the main block holds the page's content: its title (h1), every Plotly chart on
  it drawn (has its .main-svg), no placeholder of an element still loading (stSkeleton: a dataframe's grid
  comes seconds after the script's end), and for Home the "N runs in" caption, for Compare and Sensitivity at least one
  figure or dataframe (or their "No run" / "No sweep yet" note). Times run from the navigation's start.
- home_cold_s, home_warm_s, compare_cold_s, compare_warm_s, sensitivity_cold_s, sensitivity_warm_s: each page
  visited twice in a row (a new session each time: page.goto); "cold" is the page's first visit since the
  server started (Home's includes the server's first script run and imports; Compare's and Sensitivity's come
  after Home's visits), "warm" its second.
- The other pages (Demo, Train, Geometry, Claims, Rollout, Reports) are visited once (times in the JSON), then
  rss_pages_mb: the server's RSS (VmRSS of /proc/PID/status, the server and its descendants summed).
- live_first_s: from navigating to /live (which selects the running run by default) until the first Plotly
  figure is drawn.
- live_lag_median_s, live_lag_p90_s: for --live-minutes M, a thread of this process notes the wall time at
  which each new row appears in the training run's metrics.csv, and the page's caption under the curves,
  "<k> epochs of <n> run(s)", is read every 0.1 s; a row's lag is the time from its appearing in the file
  until the caption first shows k >= its number. Over the rows written in the window and shown before its end
  (the rows never shown are counted in the JSON; if none was shown at all the lag reads ">M*60").
- rss_live_start_mb, rss_live_end_mb (and max in the JSON): the server's RSS sampled every 10 s during the window.
- toggle_s: median of 5 clicks on Live's "Log cost, Reg+" toggle, each from the click until the first figure
  has (or no longer has) a log y axis and the full rerun the click caused has finished (script_finished as
  above).

Every measurement has its own timeout (--timeout, default 180 s) and reads ">180" when it ran out. Servers and
the training run are ended (their process groups, SIGTERM then SIGKILL) on exit, Ctrl-C and SIGTERM included.
Prints a table, one row per N, and writes the JSON (--out, default benchmarks/results/app_scale.json) after
each N.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import runs_folder  # noqa: E402

from ctrpo_core.util.chromium import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

VIEWPORT = {"width": 1280, "height": 720}
LIVE_RUN = "live-training"
LIVE_BUDGET = 10**9  # environment steps: never reached in a measurement
FINISHED = 0  # ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY: a full script run ended
TOGGLE = "Log cost, Reg+"
TOGGLES = 5
RSS_EVERY_S = 10.0
CAPTION_EVERY_S = 0.1
# what a page shows once rendered: its title, and (optional) a text it must show, or figures / one of a text
TIMED_PAGES = {
    "home": ("/", {"title": "C-TRPO Explorer", "text": " runs in "}),
    "compare": ("/compare", {"title": "Compare", "figure": True, "instead": "No run"}),
    "sensitivity": ("/sensitivity", {"title": "Sensitivity", "figure": True, "instead": "No sweep yet"}),
}
OTHER_PAGES = ("demo", "train", "geometry", "claims", "rollout", "reports")
COLUMNS = (
    "live_first_s",
    "live_lag_median_s",
    "live_lag_p90_s",
    "toggle_s",
    "home_cold_s",
    "home_warm_s",
    "compare_cold_s",
    "compare_warm_s",
    "sensitivity_warm_s",
    "ls_first_s",
    "ls_second_s",
    "rss_pages_mb",
    "rss_live_start_mb",
    "rss_live_end_mb",
)

RENDERED_JS = """(want) => {
    const main = document.querySelector('[data-testid="stMain"]') || document.body;
    const titles = [...main.querySelectorAll('h1')].map(h => h.innerText.trim());
    if (!titles.some(t => t.startsWith(want.title || ''))) return false;
    const charts = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')];
    const drawn = charts.filter(c => c.querySelector('.main-svg')).length;
    if (drawn < charts.length) return false;
    if (main.querySelector('[data-testid="stSkeleton"]')) return false;  // an element still loading its code
    const text = main.innerText;
    if (want.text && !text.includes(want.text)) return false;
    if (want.figure) {
        const frames = main.querySelectorAll('[data-testid="stDataFrame"]').length;
        if (drawn + frames === 0 && !(want.instead && text.includes(want.instead))) return false;
    }
    return true;
}"""
FIGURE_JS = "() => !!document.querySelector('[data-testid=\"stPlotlyChart\"] .main-svg')"
CAPTION_JS = r"""() => {
    const m = document.body.innerText.match(/(\d+) epochs of (\d+) run/);
    return m ? [parseInt(m[1]), parseInt(m[2])] : null;
}"""
LOG_AXIS_JS = r"""() => {
    const p = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    if (!p || !p._fullLayout) return null;
    return Object.keys(p._fullLayout).some(k => /^yaxis\d*$/.test(k) && p._fullLayout[k].type === 'log');
}"""


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def timed_out(timeout: float) -> str:
    return f">{timeout:g}"


# ---------------------------------------------------------------- processes this script starts, and only those


class Processes:
    """Every process started here, each in its own process group (new session); ended by that group alone."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, cmd, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.started.append(proc)
        return proc

    def end(self, proc: subprocess.Popen, grace: float = 20.0) -> None:
        if proc.poll() is None:  # still ours (not reaped): its group id is its pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self.started:
            self.started.remove(proc)

    def end_all(self) -> None:
        for proc in reversed(list(self.started)):
            self.end(proc)


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total_kb, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total_kb += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except (OSError, ValueError):
            continue
        todo += children.get(p, [])
    return total_kb / 1024


class Repo:
    """The checkout measured: its python and streamlit, and the environment that imports ctrpo_core from it."""

    def __init__(self, path: Path):
        self.path = path.resolve()
        venv, ours = self.path / ".venv" / "bin", ROOT / ".venv" / "bin"
        self.python = str(venv / "python") if (venv / "python").exists() else sys.executable
        self.streamlit = str(venv / "streamlit") if (venv / "streamlit").exists() else str(ours / "streamlit")
        pythonpath = os.environ.get("PYTHONPATH")
        self.env = {**os.environ, "PYTHONPATH": str(self.path) + (os.pathsep + pythonpath if pythonpath else "")}

    def describe(self) -> dict:
        def out(cmd, **kw):
            try:
                return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                return None

        return {
            "path": str(self.path),
            "commit": out(["git", "-C", str(self.path), "rev-parse", "HEAD"]),
            "dirty": bool(out(["git", "-C", str(self.path), "status", "--porcelain", "--untracked-files=no"])),
            "python": self.python,
            "streamlit": self.streamlit,
            "ctrpo_core": out(
                [self.python, "-c", "import ctrpo_core; print(ctrpo_core.__file__)"], cwd=self.path, env=self.env
            ),
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the training run and its rows


class RowWatcher(threading.Thread):
    """Notes the time (time.monotonic) at which each complete row of a metrics.csv first appears."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.times, self.rows = path, {}, 0
        self.stopped = threading.Event()
        self._offset, self._lines = 0, 0

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                with open(self.path, "rb") as f:
                    f.seek(self._offset)
                    chunk = f.read()
            except OSError:
                chunk = b""
            if chunk:
                now = time.monotonic()
                self._offset += len(chunk)
                self._lines += chunk.count(b"\n")
                for row in range(self.rows + 1, self._lines):  # line 1 is the header
                    self.times[row] = now
                self.rows = max(self.rows, self._lines - 1)
            self.stopped.wait(0.01)


def start_training(procs: Processes, repo: Repo, folder: Path, args, log: Path) -> subprocess.Popen:
    cmd = [repo.python, "-m", "ctrpo_core.cli", "train", "--task", args.task, "--algo", "c-trpo", "--seed", "7"]
    cmd += ["--total-steps", str(LIVE_BUDGET), "--steps-per-epoch", str(args.steps_per_epoch)]
    cmd += ["--runs-dir", str(folder), "--name", LIVE_RUN]
    env = {**repo.env, "CTRPO_RUNS_DIR": str(folder)}
    with open(log, "wb") as out:
        return procs.start(cmd, cwd=repo.path, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_rows(watcher: RowWatcher, proc: subprocess.Popen, rows: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while watcher.rows < rows and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return watcher.rows >= rows


def time_ls(repo: Repo, folder: Path, timeout: float) -> tuple[float | str, int]:
    cmd = [repo.python, "-m", "ctrpo_core.cli", "ls", "--runs-dir", str(folder)]
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=repo.path, env=repo.env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return timed_out(timeout), 0
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"ctrpo ls failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return seconds, done.stdout.count(b"\n")


def start_server(procs: Processes, repo: Repo, folder: Path, port: int, log: Path, timeout: float):
    cmd = [repo.streamlit, "run", str(repo.path / "app" / "main.py"), "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    env = {**repo.env, "CTRPO_RUNS_DIR": str(folder)}
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = procs.start(cmd, cwd=repo.path, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app server exited ({proc.returncode}): see {log}")
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return proc, url, time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the app server did not answer within {timeout:g} s: see {log}")


# ---------------------------------------------------------------- the browser


class Tab:
    """One Chromium tab on the app, noting every ``script_finished`` its sessions receive."""

    def __init__(self, playwright, url: str):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg = ForwardMsg
        self.url = url
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        self.page = self.browser.new_page(viewport=VIEWPORT)
        self.sockets = 0
        self.finished: list[tuple[float, int, int]] = []  # (time.monotonic, status, socket number)
        self.page.on("websocket", self._socket)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.browser.close()

    def _socket(self, ws) -> None:
        self.sockets += 1
        number = self.sockets
        ws.on("framereceived", lambda payload: self._frame(number, payload))

    def _frame(self, number: int, payload) -> None:
        if not isinstance(payload, (bytes, bytearray)) or len(payload) > 512:  # script_finished is a few bytes
            return
        msg = self._msg()
        try:
            msg.ParseFromString(bytes(payload))
        except Exception:
            return
        if msg.WhichOneof("type") == "script_finished":
            self.finished.append((time.monotonic(), int(msg.script_finished), number))

    def full_run_finished(self, since: float, socket_from: int) -> bool:
        return any(t >= since and s == FINISHED and n >= socket_from for t, s, n in self.finished)

    def wait(self, condition, timeout: float, start: float, every: float = 0.05) -> float | str:
        """Seconds from ``start`` (time.monotonic) until ``condition()`` holds, polled; ">timeout" if never."""
        deadline = start + timeout
        while True:
            try:
                if condition():
                    return time.monotonic() - start
            except Exception as exc:  # a navigation in flight destroys the context evaluated in: try again
                if "Target" in str(exc) and "closed" in str(exc):
                    raise
            if time.monotonic() >= deadline:
                return timed_out(timeout)
            self.page.wait_for_timeout(every * 1000)  # lets Playwright deliver the socket's frames meanwhile

    def visit(self, path: str, want: dict, timeout: float) -> float | str:
        """Navigate to ``path``; seconds until the page has finished rendering (see the module's doc)."""
        socket_from = self.sockets + 1
        start = time.monotonic()
        try:
            self.page.goto(self.url + path, wait_until="commit", timeout=timeout * 1000)
        except Exception as exc:
            if "Timeout" in type(exc).__name__ or "Timeout" in str(exc):
                return timed_out(timeout)
            raise
        return self.wait(
            lambda: self.full_run_finished(start, socket_from) and self.page.evaluate(RENDERED_JS, want),
            timeout,
            start,
        )


def live(tab: Tab, watcher: RowWatcher, server: subprocess.Popen, minutes: float, timeout: float) -> dict:
    """Live: first figure, lag of the new rows over ``minutes``, the server's RSS meanwhile, the toggle."""
    out: dict = {}
    start = time.monotonic()
    tab.page.goto(tab.url + "/live", wait_until="commit", timeout=timeout * 1000)
    out["live_first_s"] = tab.wait(lambda: tab.page.evaluate(FIGURE_JS), timeout, start)
    caption = None

    def read_caption():
        nonlocal caption
        caption = tab.page.evaluate(CAPTION_JS)
        return caption is not None

    out["live_caption_s"] = tab.wait(read_caption, timeout, start)
    out["live_runs_shown"] = caption[1] if caption else None
    window = minutes * 60
    begin = time.monotonic()
    seen: dict[int, float] = {}
    shown = caption[0] if caption else 0
    rss = [(0.0, rss_mb(server.pid))]
    next_rss = begin + RSS_EVERY_S
    while (now := time.monotonic()) < begin + window:
        try:
            caption = tab.page.evaluate(CAPTION_JS)
        except Exception:
            caption = None
        now = time.monotonic()
        if caption and caption[0] > shown:
            for row in range(shown + 1, caption[0] + 1):
                seen[row] = now
            shown = caption[0]
        if now >= next_rss:
            rss.append((now - begin, rss_mb(server.pid)))
            next_rss += RSS_EVERY_S
        tab.page.wait_for_timeout(CAPTION_EVERY_S * 1000)
    rss.append((time.monotonic() - begin, rss_mb(server.pid)))
    written = {row: t for row, t in list(watcher.times.items()) if begin <= t < begin + window}
    lags = sorted(seen[row] - t for row, t in written.items() if row in seen)
    out["live_rows_written"] = len(written)
    out["live_rows_unseen"] = len(written) - len(lags)
    out["live_lags_s"] = [round(x, 3) for x in lags]
    if lags:
        out["live_lag_median_s"] = statistics.median(lags)
        out["live_lag_p90_s"] = lags[min(len(lags) - 1, int(round(0.9 * (len(lags) - 1))))]
    elif written:
        out["live_lag_median_s"] = out["live_lag_p90_s"] = timed_out(window)
    else:
        out["live_lag_median_s"] = out["live_lag_p90_s"] = None  # the training wrote no row: nothing to lag
    out["rss_live_samples_mb"] = [(round(t, 1), round(m, 1)) for t, m in rss]
    out["rss_live_start_mb"], out["rss_live_end_mb"] = rss[0][1], rss[-1][1]
    out["rss_live_max_mb"] = max(m for _, m in rss)
    # the toggle: from the click until the first figure's axes follow it and the rerun it caused has ended
    toggle = tab.page.get_by_text(TOGGLE, exact=True)
    clicks = []
    for _ in range(TOGGLES):
        state = tab.page.evaluate(LOG_AXIS_JS)
        want = not bool(state)
        sockets = tab.sockets  # the same session: no new socket
        start = time.monotonic()
        try:
            toggle.click(timeout=timeout * 1000)
        except Exception:
            clicks.append(timed_out(timeout))
            continue
        clicks.append(
            tab.wait(
                lambda: tab.full_run_finished(start, sockets) and tab.page.evaluate(LOG_AXIS_JS) == want,
                timeout,
                start,
            )
        )
    out["toggle_clicks_s"] = clicks
    numbers = [c for c in clicks if isinstance(c, float)]
    out["toggle_s"] = statistics.median(numbers) if len(numbers) > len(clicks) // 2 else timed_out(timeout)
    return out


# ---------------------------------------------------------------- one size


def measure(n: int, args, repo: Repo, work: Path, template: Path, procs: Processes) -> dict:
    from playwright.sync_api import sync_playwright

    row: dict = {"N": n, "load_avg_start": os.getloadavg()}
    folder = work / f"runs-{n}"
    if folder.exists():
        shutil.rmtree(folder)  # ours: a folder of an earlier size or try in this work folder
    made = runs_folder.generate(folder, n, template=template)
    row["generate_s"] = made["seconds"]
    print(f"N={n}: {made['runs']} runs made in {made['seconds']:.1f} s; starting {LIVE_RUN}", flush=True)
    training = server = None
    watcher = RowWatcher(folder / LIVE_RUN / "metrics.csv")
    try:
        training = start_training(procs, repo, folder, args, work / f"train-{n}.log")
        watcher.start()
        if not wait_rows(watcher, training, 1, args.timeout):
            raise RuntimeError(f"{LIVE_RUN} wrote no epoch within {args.timeout:g} s: see {work / f'train-{n}.log'}")
        row["ls_first_s"], row["ls_lines"] = time_ls(repo, folder, args.timeout)
        row["ls_second_s"], _ = time_ls(repo, folder, args.timeout)
        port = args.port or free_port()
        server, url, row["server_start_s"] = start_server(
            procs, repo, folder, port, work / f"server-{n}.log", args.timeout
        )
        with sync_playwright() as p:
            tab = Tab(p, url)
            try:
                for name, (path, want) in TIMED_PAGES.items():
                    row[f"{name}_cold_s"] = tab.visit(path, want, args.timeout)
                    row[f"{name}_warm_s"] = tab.visit(path, want, args.timeout)
                    print(f"  {name}: cold {fmt(row[f'{name}_cold_s'])} s, warm {fmt(row[f'{name}_warm_s'])} s")
                row["other_pages_s"] = {page: tab.visit(f"/{page}", {}, args.timeout) for page in OTHER_PAGES}
                row["rss_pages_mb"] = rss_mb(server.pid)
                print(f"  other pages: {row['other_pages_s']}; server RSS {row['rss_pages_mb']:.0f} MB", flush=True)
                row.update(live(tab, watcher, server, args.live_minutes, args.timeout))
            finally:
                tab.close()
        row["live_epochs_total"] = watcher.rows
    finally:
        watcher.stopped.set()
        for proc in (server, training):
            if proc is not None:
                procs.end(proc)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return row


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if value >= 100 else f"{value:.2f}"
    return str(value)


def table(rows: list[dict]) -> str:
    head = ("N", *COLUMNS)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in head) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20,200,2000", help="comma list of N, the finished runs in the folder")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "app_scale.json")
    parser.add_argument("--live-minutes", type=float, default=2.0, help="the Live window (default 2)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds each measurement may take (180)")
    parser.add_argument("--task", default="GridHazard-v0", help="task of the training run (default GridHazard-v0)")
    parser.add_argument(
        "--steps-per-epoch", type=int, default=8000, help="of the training run: one epoch every second or two"
    )
    parser.add_argument("--port", type=int, default=0, help="the app's port (default: a free one)")
    parser.add_argument("--work", type=Path, help="folder for the runs folders and logs (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the runs folders and the work folder")
    parser.add_argument(
        "--template",
        type=Path,
        default=BENCH / "results" / "scale_template",
        help="the trained template runs, cached (default benchmarks/results/scale_template)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    repo = Repo(args.repo)
    if not (repo.path / "app" / "main.py").exists():
        parser.error(f"{repo.path} has no app/main.py")
    # SIGTERM, and SIGINT also where the shell that started this ignores it (a background job), end it cleanly
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    made_work = args.work is None
    work = Path(tempfile.mkdtemp(prefix="ctrpo-scale-")) if made_work else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    report = {
        "meta": {
            "repo": repo.describe(),
            "benchmark_commit": Repo(ROOT).describe()["commit"],
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "host": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("out",)},
            "work": str(work),
        },
        "rows": [],
    }
    print(f"measuring {repo.path} ({report['meta']['repo']['commit']}); work folder {work}", flush=True)
    procs = Processes()
    try:
        runs_folder.ensure_template(args.template.resolve())
        for n in sizes:
            report["rows"].append(measure(n, args, repo, work, args.template.resolve(), procs))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1))
            print(table(report["rows"]), flush=True)
    except KeyboardInterrupt:
        print("interrupted: ending the servers and the training run", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        procs.end_all()
        if made_work and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{table(report['rows'])}\n\nwritten to {args.out}")


if __name__ == "__main__":
    main()
