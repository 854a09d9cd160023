"""Safety-Gymnasium's navigation worlds compiled without the assets only a camera sees.

Every reset of a navigation task (Goal, Button, Push, Circle) writes a new MuJoCo XML for the new
layout and compiles it (``safety_gymnasium.world.World.build``). On this machine kind 1.35 s of the
1.37 s of a PointGoal1 reset go into decoding the six PNG faces of the skybox texture, which nothing
but a rendered frame shows: observations (lidar, accelerometer, ...), rewards and costs never read it.
So an env made without a ``render_mode`` compiles its worlds without the skybox; an env that renders
(the app's Rollout page) keeps it. Same seed and same actions give the same trajectories either way
(tests/test_envs_safety_gym.py compares them against the unchanged env, task by task).

How: inside ``safety_gymnasium.world`` the name ``mujoco`` is replaced by :class:`_Compiler`, which
forwards everything to mujoco except ``MjModel.from_xml_string``; that one drops the visual-only
textures while a lean env resets in this thread (a thread-local flag: a rendering env elsewhere is
unaffected).

The step: the Button tasks move their gremlins before each of the ~10 physics substeps of a step, and
the published ``Gremlins.move`` spends 4/10 of such a step building the same 3-vector with ``np.r_``
and looking up mocap ids by name, once per gremlin. :func:`_move_gremlins` computes the same numbers
(the same float operations in the same order) once per substep and writes them through cached ids.
Lean envs also skip the per-step assert that each observation lies in the task's observation space.
"""

from __future__ import annotations

import re
import threading
import types

import numpy as np

from .navigation_lean import make_lean as vectorise

VISUAL_ONLY = re.compile(r"<texture\b[^>]*\btype=\"skybox\"[^>]*?(/>|>\s*</texture>)")
_state = threading.local()


def strip_visual_only(xml: str) -> str:
    """The MuJoCo XML without its skybox texture (nothing references a skybox by name)."""
    return VISUAL_ONLY.sub("", xml)


class _ModelFactory:
    def __init__(self, mujoco):
        self._mujoco = mujoco

    def __getattr__(self, name):
        return getattr(self._mujoco.MjModel, name)

    def from_xml_string(self, xml: str, *args, **kwargs):
        if getattr(_state, "lean", False):
            xml = strip_visual_only(xml)
        return self._mujoco.MjModel.from_xml_string(xml, *args, **kwargs)


class _Compiler:
    """Stands in for the mujoco module inside safety_gymnasium.world (see the module docstring)."""

    def __init__(self, mujoco):
        self._mujoco = mujoco
        self.MjModel = _ModelFactory(mujoco)

    def __getattr__(self, name):
        return getattr(self._mujoco, name)


def _move_gremlins(self) -> None:
    """``Gremlins.move`` as published, computed once for all gremlins: each of them is sent to the
    same target, (sin t, cos t)·travel at height size, t the simulation time."""
    model = self.engine.model
    cached = getattr(self, "_ctrpo_mocap_ids", None)
    if cached is None or cached[0] is not model:  # a reset compiled a new model
        ids = [model.body_mocapid[model.body(f"gremlin{i}mocap").id] for i in range(self.num)]
        cached = self._ctrpo_mocap_ids = (model, np.array(ids, dtype=np.intp))
    phase = float(self.engine.data.time)
    target = np.array([np.sin(phase), np.cos(phase)]) * self.travel
    self.engine.data.mocap_pos[cached[1]] = (target[0], target[1], self.size)


def _unchecked_space_class(space_class):
    """A subclass of the task's observation Dict space whose ``contains`` is always true: the published
    ``obs()`` asserts every observation against it, ~1/8 of a PointGoal1 step, and it never fails on
    these tasks (the outputs are compared with the published env's in the tests)."""
    return type(f"Unchecked{space_class.__name__}", (space_class,), {"contains": lambda self, x: True})


def install() -> None:
    """Put :class:`_Compiler` in place (idempotent; after the package was imported through sg_compat)."""
    from safety_gymnasium import world

    if not isinstance(world.mujoco, _Compiler):
        world.mujoco = _Compiler(world.mujoco)


def make_lean(env) -> None:
    """Let ``env`` (a Safety-Gymnasium env, wrappers and all) compile its worlds without visual-only
    assets (its resets run with the thread-local flag set) and move its gremlins by
    :func:`_move_gremlins`."""
    from safety_gymnasium.assets.mocaps.gremlins import Gremlins

    install()
    builder = env.unwrapped
    task = getattr(builder, "task", None)
    for mocap in getattr(task, "_mocaps", {}).values():
        if isinstance(mocap, Gremlins):
            mocap.move = types.MethodType(_move_gremlins, mocap)
    space = getattr(getattr(task, "obs_info", None), "obs_space_dict", None)
    if space is not None:
        space.__class__ = _unchecked_space_class(type(space))
    if task is not None and hasattr(task, "lidar_conf"):  # a navigation task: its per-step Python vectorised
        vectorise(task)
    original = builder.reset  # the bound method of the class

    def reset(*args, **kwargs):
        _state.lean = True
        try:
            return original(*args, **kwargs)
        finally:
            _state.lean = False

    builder.reset = reset
