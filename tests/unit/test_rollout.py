"""Episodes of a run's latest checkpoint rendered as GIFs: drawn built-ins, MuJoCo offscreen."""

import io

from PIL import Image

from ctrpo_core import api
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
