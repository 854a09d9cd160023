"""Four sessions press "Run the demo" at once (issue 31): one set of three runs, one training process each, and
every session shows them without a traceback; the late ones say the runs were already started."""

import json
import subprocess
import sys

from conftest import ROOT

from ctrpo_core.runs import lifecycle
from ctrpo_core.tools import demo

SESSIONS = 4
# One browser session in its own process (AppTest is not thread-safe): it opens the Demo, says so with a file,
# waits until every session has, presses "Run the demo" and prints what the page shows.
SESSION = """
import json, sys, time
from pathlib import Path
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=180).run().switch_page("views/demo.py").run()
ready = Path(sys.argv[2])
(ready / sys.argv[3]).touch()
while len(list(ready.iterdir())) < int(sys.argv[4]):
    time.sleep(0.01)
at.button[0].click().run()
print(json.dumps({"exceptions": [str(e.value) for e in at.exception], "info": [i.value for i in at.info]}))
"""


def test_four_sessions_start_the_demo_at_once(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
    monkeypatch.setenv(demo.STEPS_ENV, "2000")  # short runs: the race is at their start
    ready = tmp_path / "ready"  # the barrier: a file per session that has opened the page
    ready.mkdir()
    sessions = [
        subprocess.Popen(
            [sys.executable, "-c", SESSION, str(ROOT / "app" / "main.py"), str(ready), str(i), str(SESSIONS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(SESSIONS)
    ]
    pages = []
    for proc in sessions:
        out, err = proc.communicate(timeout=400)
        assert proc.returncode == 0, err[-3000:]
        pages.append(json.loads(out.strip().splitlines()[-1]))
    for page in pages:
        assert not page["exceptions"], page["exceptions"]
    runs_made = sorted(p.name for p in runs.iterdir() if not p.name.startswith("."))
    assert len(runs_made) == 3, runs_made
    notes = [" ".join(page["info"]) for page in pages]
    assert sum("Started 3 runs" in n for n in notes) == 1, notes
    assert sum("already started" in n for n in notes) == SESSIONS - 1, notes
    # one process per run: a second one would have been refused by the run's lock, and said so in its log
    for name in runs_made:
        log = runs / ".launch" / f"{name}.log"
        text = log.read_text() if log.exists() else ""
        assert "error" not in text.lower(), text
        assert lifecycle.state(runs / name) in ("running", "finished"), name
        lifecycle.stop(runs / name)  # the test only needed their start
