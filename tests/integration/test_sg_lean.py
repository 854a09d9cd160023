"""Navigation tasks compiled without visual-only assets (ctrpo_core/envs/sg_lean.py), their per-step Python
vectorised (navigation_lean.py), behave exactly as Safety-Gymnasium as published: same seed and same actions
give identical observations, rewards, costs and episode ends over several episodes, resets included;
rendering envs keep the skybox."""

from __future__ import annotations

import numpy as np
import pytest
from trajectories import trajectory

from ctrpo_core.envs.safety_gym import PAPER_TASKS, make_single
from ctrpo_core.envs.sg_lean import _move_gremlins, strip_visual_only

pytestmark = pytest.mark.timeout(300)

NAVIGATION = [task for task, _, _ in PAPER_TASKS if not task.endswith("Velocity-v1")]
EPISODES, LENGTH = 3, 300  # episodes cut short, long enough to meet hazards (costs) and goals


@pytest.mark.parametrize("task_id", NAVIGATION)
def test_lean_worlds_give_identical_trajectories(task_id):
    published, lean = make_single(task_id, lean=False), make_single(task_id, lean=True)
    # biased forward, so that the robot travels far enough to meet hazards (random ±1 mostly turns in place)
    actions = np.random.default_rng(3).uniform(-0.3, 1.0, size=(EPISODES, LENGTH, *lean.action_space.shape))
    expected, got = trajectory(published, published.step, 7, actions), trajectory(lean, lean.step, 7, actions)
    assert len(expected) == len(got) and len(expected) > EPISODES * LENGTH // 2
    for t, (a, b) in enumerate(zip(expected, got)):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y, err_msg=f"{task_id}, output {t}")
    costs = [row[2] for row in expected if not isinstance(row[0], str)]
    if task_id != "SafetyRacecarCircle1-v0":  # the hazards' cost is vectorised: the comparison must meet it
        assert sum(c > 0 for c in costs) > 0, "no cost met: the comparison did not cover the cost"
    # the two really differ in what they compiled: the published world has a skybox, the lean one not
    published_model, lean_model = published.unwrapped.task.model, lean.unwrapped.task.model
    assert published_model.ntex == lean_model.ntex + 1
    assert lean_model.nbody == published_model.nbody and lean_model.ngeom == published_model.ngeom
    assert lean.unwrapped.task.obs_info.obs_space_dict.contains(None)  # the per-step assert is skipped ...
    assert not published.unwrapped.task.obs_info.obs_space_dict.contains(None)  # ... only in the lean env
    task = lean.unwrapped.task  # the per-step Python is vectorised (navigation_lean.py) only in the lean env
    assert type(task).__name__.startswith("Lean") and type(task.agent).__name__.startswith("Lean")
    assert not type(published.unwrapped.task).__name__.startswith("Lean")
    hazards = [o for o in task._obstacles if type(o).__name__ == "LeanHazards"]
    assert len(hazards) == (task_id != "SafetyRacecarCircle1-v0")
    gremlins = [m for m in lean.unwrapped.task._mocaps.values() if m.name == "gremlins"]
    assert all(m.move.__func__ is _move_gremlins for m in gremlins)  # the Button tasks' faster gremlins ...
    assert all(m.move.__func__ is not _move_gremlins for m in published.unwrapped.task._mocaps.values())  # ... checked
    published.close(), lean.close()


def test_rendering_envs_keep_the_skybox_and_only_the_skybox_is_dropped():
    env = make_single("SafetyPointGoal1-v0", render_mode="rgb_array", width=32, height=32)
    env.reset(seed=0)
    assert "skybox" in env.unwrapped.task.world.xml_string
    model = env.unwrapped.task.model
    assert any(model.tex_type[i] == 2 for i in range(model.ntex))  # mjTEXTURE_SKYBOX
    env.close()
    xml = '<asset><texture type="skybox" fileup="a.png"></texture><texture name="m" type="2d"/></asset>'
    assert strip_visual_only(xml) == '<asset><texture name="m" type="2d"/></asset>'
    assert strip_visual_only('<texture builtin="gradient" type="skybox" width="8"/>') == ""


def test_contact_rules_decide_as_published():
    """The Button tasks' goal, buttons' cost and gremlins' cost, decided on geom-id masks (navigation_lean.py),
    against the published contact loops, with the agent put on each button and gremlin in turn (random
    driving rarely touches them, so the trajectories above do not cover these rules)."""
    import mujoco

    env = make_single("SafetyCarButton1-v0", lean=True)
    env.reset(seed=7)
    task = env.unwrapped.task
    model, data = task.model, task.data
    buttons = next(o for o in task._obstacles if type(o).__name__ == "LeanButtons")
    gremlins = next(o for o in task._obstacles if type(o).__name__ == "LeanGremlins")
    published = {name: type(o).__mro__[1] for name, o in (("buttons", buttons), ("gremlins", gremlins))}
    seen = {"goal": 0, "cost_buttons": 0, "cost_gremlins": 0}
    targets = [p[:2] for p in buttons.pos + gremlins.pos]
    for target in targets:
        for offset in ([0.0, 0.0], [0.15, 0.0], [0.0, -0.2], [0.3, 0.3]):
            data.qpos[:2] = target + np.array(offset)  # the agent's free joint: x, y
            mujoco.mj_forward(model, data)
            for goal in range(buttons.num):
                buttons.goal_button = goal
                assert task.goal_achieved == type(task).__mro__[1].goal_achieved.fget(task)
                seen["goal"] += task.goal_achieved
                buttons.timer = 0
                ours, theirs = buttons.cal_cost(), published["buttons"].cal_cost(buttons)
                assert ours == theirs and type(ours["cost_buttons"]) is type(theirs["cost_buttons"])
                seen["cost_buttons"] += ours["cost_buttons"] > 0
            assert gremlins.cal_cost() == published["gremlins"].cal_cost(gremlins)
            seen["cost_gremlins"] += gremlins.cal_cost()["cost_gremlins"] > 0
    assert all(seen.values()), seen  # every rule met a contact it counts
    env.close()
