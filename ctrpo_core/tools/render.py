"""Render an episode of a run's latest checkpoint as an animated GIF.

The built-in tasks are drawn with Pillow; Safety-Gymnasium tasks use MuJoCo's offscreen renderer
(``MUJOCO_GL=egl``, set before MuJoCo is imported).
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..envs import get_spec, make_vec_env
from ..envs.builtin import grid_hazard, hazard_edge, point_hazard
from ..envs.safety_gym import make_single
from ..results.figure_style import color_of
from ..runs.policy import act, load_policy

SIZE = 320
OUTLINE = "#222222"  # around the agent's path and dot: TRPO's pink stays visible on the red hazard


def _draw_grid(state: int, color: str) -> Image.Image:
    cell = SIZE // grid_hazard.COLS
    img = Image.new("RGB", (cell * grid_hazard.COLS, cell * grid_hazard.ROWS), "white")
    draw = ImageDraw.Draw(img)
    for r in range(grid_hazard.ROWS):
        for c in range(grid_hazard.COLS):
            s = grid_hazard.cell(r, c)
            fill = "#f4a3a3" if grid_hazard.IS_HAZARD[s] else "#a8e6a1" if s == grid_hazard.GOAL_STATE else "white"
            draw.rectangle([c * cell, r * cell, (c + 1) * cell - 1, (r + 1) * cell - 1], fill=fill, outline="#999")
    r, c = divmod(int(state), grid_hazard.COLS)
    pad = cell // 4
    draw.ellipse(
        [c * cell + pad, r * cell + pad, (c + 1) * cell - pad, (r + 1) * cell - pad],
        fill=color,
        outline=OUTLINE,
        width=2,
    )
    return img


def _draw_point(trail: list[np.ndarray], color: str) -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE), "white")
    draw = ImageDraw.Draw(img)
    scale = SIZE / (2 * point_hazard.ARENA)
    to_px = lambda p: ((p[0] + point_hazard.ARENA) * scale, (point_hazard.ARENA - p[1]) * scale)

    def disc(center, radius, fill, outline=None):
        x, y = to_px(center)
        draw.ellipse(
            [x - radius * scale, y - radius * scale, x + radius * scale, y + radius * scale],
            fill=fill,
            outline=outline,
            width=2,
        )

    disc(point_hazard.HAZARD, point_hazard.HAZARD_RADIUS, "#f4a3a3")
    disc(point_hazard.GOAL, point_hazard.GOAL_RADIUS, "#a8e6a1")
    if len(trail) > 1:
        draw.line([to_px(p) for p in trail], fill=color, width=3)
    disc(trail[-1], 0.06, color, OUTLINE)
    return img


def _draw_edge(trail: list[float], color: str) -> Image.Image:
    """HazardEdge-v0 as a space-time picture: position left to right, time top to bottom; the hazard
    (x > edge) is red, the reward cap a dashed line, the episode so far a path in ``color`` (the algorithm's),
    outlined and thick enough to see when the picture is shrunk to a third of a screen."""
    width, height, margin = SIZE, SIZE, 12
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    to_px = lambda x: margin + x * (width - 2 * margin)
    to_py = lambda t: margin + t / hazard_edge.HORIZON * (height - 2 * margin)
    draw.rectangle([to_px(hazard_edge.EDGE), 0, width, height], fill="#f4a3a3")
    for y in range(0, height, 8):
        draw.line([to_px(hazard_edge.REWARD_CAP), y, to_px(hazard_edge.REWARD_CAP), y + 4], fill="#999")
    points = [(to_px(x), to_py(t)) for t, x in enumerate(trail)]
    if len(points) > 1:
        draw.line(points, fill=OUTLINE, width=9, joint="curve")
        draw.line(points, fill=color, width=5, joint="curve")
    x, y = points[-1]
    draw.ellipse([x - 10, y - 10, x + 10, y + 10], fill=color, outline=OUTLINE, width=3)
    return img


def _builtin_frame(env, trail: list, color: str) -> Image.Image:
    """The picture of a built-in env's first copy now (``trail``: where it has been this episode), the agent
    drawn in ``color``."""
    if isinstance(env, grid_hazard.GridHazardEnv):
        return _draw_grid(env.states[0], color)
    if isinstance(env, hazard_edge.HazardEdgeEnv):
        trail.append(float(env.x[0]))
        return _draw_edge(trail, color)
    trail.append(env.pos[0].copy())
    return _draw_point(trail, color)


def _builtin_episode(policy, normalizer, cfg, seed, deterministic, max_steps):
    env = make_vec_env(cfg.task, 1, seed)
    obs = env.reset()
    frames, total_r, total_c, trail = [], 0.0, 0.0, []
    color = color_of(cfg.algo, cfg.beta)  # the algorithm's colour in every figure
    for _ in range(max_steps):
        frames.append(_builtin_frame(env, trail, color))
        obs, reward, cost, terminated, truncated, _ = env.step(act(policy, normalizer, obs, deterministic))
        total_r += float(reward[0])
        total_c += float(cost[0])
        if terminated[0] or truncated[0]:
            break
    return frames, total_r, total_c


def _mujoco_episode(policy, normalizer, cfg, seed, deterministic, max_steps):
    os.environ.setdefault("MUJOCO_GL", "egl")

    env = make_single(cfg.task, render_mode="rgb_array", width=SIZE, height=SIZE)
    low, high = env.action_space.low, env.action_space.high
    obs, _ = env.reset(seed=seed)
    frames, total_r, total_c = [], 0.0, 0.0
    try:
        for _ in range(max_steps):
            frames.append(Image.fromarray(env.render()))
            a = act(policy, normalizer, obs[None].astype(np.float32), deterministic)[0]
            obs, reward, cost, terminated, truncated, _ = env.step(low + (np.clip(a, -1, 1) + 1) * 0.5 * (high - low))
            total_r += float(reward)
            total_c += float(cost)
            if terminated or truncated:
                break
    finally:
        env.close()
    return frames, total_r, total_c


def render_episode(
    run_dir, seed: int = 0, deterministic: bool = True, max_steps: int = 300, frame_ms: int = 60
) -> dict:
    """One episode of the run's latest policy: {'gif': bytes, 'return', 'cost', 'steps'}."""
    policy, normalizer, cfg = load_policy(run_dir)
    episode = _builtin_episode if get_spec(cfg.task).source == "built-in" else _mujoco_episode
    frames, total_r, total_c = episode(policy, normalizer, cfg, seed, deterministic, max_steps)
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return {"gif": buffer.getvalue(), "return": total_r, "cost": total_c, "steps": len(frames)}


def main(argv=None) -> int:
    """``python -m ctrpo_core.tools.render OUT_DIR SEED DETERMINISTIC MAX_STEPS FRAME_MS RUN [RUN ...]``: each
    run's episode as OUT_DIR/<i>.gif, and one JSON line on stdout: per run {return, cost, steps, gif} or
    {error} (what :mod:`ctrpo_core.tools.episodes` starts, so the app's server never loads torch)."""
    args = sys.argv[1:] if argv is None else argv
    out, seed, deterministic, max_steps, frame_ms, runs = (
        Path(args[0]),
        int(args[1]),
        args[2] == "1",
        int(args[3]),
        int(args[4]),
        args[5:],
    )
    results = []
    for i, run in enumerate(runs):
        try:
            episode = render_episode(run, seed, deterministic, max_steps, frame_ms)
        except Exception as exc:  # a damaged run or a missing renderer: said for that run alone
            results.append({"error": f"{type(exc).__name__}: {exc}"})
            continue
        (out / f"{i}.gif").write_bytes(episode.pop("gif"))
        results.append({**episode, "gif": f"{i}.gif"})
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
