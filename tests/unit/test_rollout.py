"""Episodes of a run's latest checkpoint rendered as GIFs: drawn built-ins, MuJoCo offscreen."""

import io
import os
import subprocess
import sys

from conftest import ROOT
from PIL import Image

from ctrpo_core import api
from ctrpo_core.tools.episodes import RenderError, render_episodes
from ctrpo_core.tools.render import render_episode


def frames(gif: bytes) -> list:
    image = Image.open(io.BytesIO(gif))
    out = []
    try:
        while True:
            out.append(image.convert("RGB").copy())
            image.seek(image.tell() + 1)
    except EOFError:
        return out


def test_point_hazard_episode_is_drawn_and_moves(tmp_path):
    run = api.train(
        "PointHazard-v0", "c-trpo", total_steps=2000, steps_per_epoch=1000, num_envs=4, runs_dir=str(tmp_path), name="p"
    )
    episode = render_episode(run.path, max_steps=40)
    images = frames(episode["gif"])
    # the episode may end at the goal before 40 steps, and the GIF merges identical consecutive frames
    assert 10 <= episode["steps"] <= 40 and episode["steps"] // 2 <= len(images) <= episode["steps"]
    assert images[0].tobytes() != images[-1].tobytes()  # the robot moved


def test_mujoco_episode_renders_offscreen(tmp_path):
    run = api.train(
        "SafetyHopperVelocity-v1",
        "trpo",
        total_steps=400,
        steps_per_epoch=400,
        num_envs=2,
        runs_dir=str(tmp_path),
        name="hopper",
    )
    episode = render_episode(run.path, max_steps=15)
    images = frames(episode["gif"])
    assert 1 <= len(images) <= 15 and images[0].size == (320, 320)
    assert len(set(images[0].getdata())) > 10  # a real rendered scene, not a blank frame


def test_the_app_renders_in_a_process_of_its_own_and_says_why_a_run_cannot_be_drawn(tmp_path):
    """render_episodes: what the Rollout and Demo pages call, so their server never loads torch; the same
    episode as render_episode, and a damaged run is one error among good episodes."""
    run = api.train(
        "HazardEdge-v0", "c-trpo", total_steps=2000, steps_per_epoch=1000, num_envs=4, runs_dir=str(tmp_path), name="e"
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("[]")
    here = render_episode(run.path, seed=3, max_steps=20)
    elsewhere, failed = render_episodes([run.path, broken], seed=3, max_steps=20)
    assert elsewhere["gif"] == here["gif"]
    assert (elsewhere["return"], elsewhere["cost"], elsewhere["steps"]) == (here["return"], here["cost"], here["steps"])
    assert isinstance(failed, RenderError) and "config.json" in str(failed)


def test_no_page_of_the_app_imports_torch(tmp_path):
    """The server's memory is what its pages need: every page is visited (in a fresh process: this one has
    torch already) and torch, papermill and MuJoCo stay out of it."""
    probe = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file(sys.argv[1], default_timeout=120).run()\n"
        "for page in sys.argv[2:]:\n"
        "    at = at.switch_page(page).run()\n"
        "    assert not at.exception, (page, [e.value for e in at.exception])\n"
        "print(sorted(m for m in ('torch', 'papermill', 'mujoco') if m in sys.modules))\n"
    )
    pages = sorted(f"views/{p.name}" for p in (ROOT / "app" / "views").glob("*.py"))
    env = {**os.environ, "CTRPO_RUNS_DIR": str(tmp_path / "runs")}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "app" / "main.py"), *pages],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
