"""Episodes of runs' policies rendered in a short-lived process, for the app.

Rendering needs torch and the task's physics; the app's server imports neither, so its memory stays what its
pages need (about half of it would be torch's). One process renders every episode a page asks for at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

RENDER_TIMEOUT_S = 300


class RenderError(RuntimeError):
    """An episode that could not be rendered; ``str()`` says why."""


def render_episodes(
    paths, seed: int = 0, deterministic: bool = True, max_steps: int = 300, frame_ms: int = 60
) -> list[dict | RenderError]:
    """Per run of ``paths``: {'gif': bytes, 'return', 'cost', 'steps'} of one episode of its latest policy, or the
    RenderError that says why there is none."""
    paths = [str(p) for p in paths]
    if not paths:
        return []
    with tempfile.TemporaryDirectory(prefix="ctrpo-render-") as out:
        args = [out, str(int(seed)), "1" if deterministic else "0", str(int(max_steps)), str(int(frame_ms)), *paths]
        try:
            done = subprocess.run(
                [sys.executable, "-m", "ctrpo_core.tools.render", *args],
                capture_output=True,
                text=True,
                timeout=RENDER_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return [RenderError(f"rendering took longer than {RENDER_TIMEOUT_S} s")] * len(paths)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            return [RenderError(last)] * len(paths)
        episodes = []
        for item in json.loads(lines[-1]):
            if "error" in item:
                episodes.append(RenderError(item["error"]))
            else:
                episodes.append({**item, "gif": (Path(out) / item["gif"]).read_bytes()})
        return episodes
