"""The Python 3.11 shim for safety-gymnasium 1.0.0 (ctrpo_core/envs/sg_compat.py).

Each scenario runs in a fresh interpreter: whether the shim works depends on what was imported
before it, so the test process's own imports must not leak in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(180)


def run_python(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it reports by printing one JSON line last."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_the_shim_safety_gymnasium_navigation_tasks_fail():
    """Shows the shim is needed: a plain import cannot make SafetyPointGoal1-v0 on Python >= 3.11.

    If this starts failing, safety-gymnasium (or Python) changed and the shim may be obsolete.
    """
    report = run_python("""
        import json
        try:
            import safety_gymnasium
            safety_gymnasium.make("SafetyPointGoal1-v0")
            outcome = {"error": None}
        except ValueError as exc:
            outcome = {"error": str(exc)}
        print(json.dumps(outcome))
    """)
    assert report["error"] is not None, "a plain safety_gymnasium import made a navigation task"
    assert "mutable default" in report["error"]
    assert "color" in report["error"]


def test_with_the_shim_safety_point_goal_makes_resets_and_steps():
    report = run_python("""
        import dataclasses, json, sys
        import numpy as np
        from ctrpo_core.envs import sg_compat
        sg = sg_compat.import_safety_gymnasium()
        assert sg_compat.import_safety_gymnasium() is sg  # idempotent
        color = sys.modules[sg_compat.COLOR_MODULE]
        env = sg.make("SafetyPointGoal1-v0")
        obs, _ = env.reset(seed=0)
        obs2, reward, cost, terminated, truncated, _ = env.step(env.action_space.sample())
        env.close()
        print(json.dumps({
            "obs_shape": list(obs.shape),
            "finite": bool(np.isfinite(obs).all() and np.isfinite(obs2).all()),
            "cost": float(cost),
            "colors_hashable": all(isinstance(v, sg_compat.HashableColor) for v in color.COLOR.values()),
            "n_colors": len(color.COLOR),
            "hazard_default_is_patched": any(
                f.name == "color" and f.default is color.COLOR["hazard"]
                for f in dataclasses.fields(sys.modules["safety_gymnasium.assets.geoms.hazards"].Hazards)),
        }))
    """)
    assert report["obs_shape"] == [60]
    assert report["finite"]
    assert report["cost"] >= 0
    assert report["colors_hashable"] and report["n_colors"] > 0
    assert report["hazard_default_is_patched"]


def test_install_after_a_plain_import_raises_runtime_error():
    report = run_python("""
        import json
        try:
            import safety_gymnasium  # fails on Python >= 3.11, but leaves the unpatched colours behind
        except ValueError:
            pass
        from ctrpo_core.envs import sg_compat
        outcome = {}
        for name in ("install", "import_safety_gymnasium"):
            try:
                getattr(sg_compat, name)()
                outcome[name] = None
            except RuntimeError as exc:
                outcome[name] = str(exc)
        print(json.dumps(outcome))
    """)
    for name in ("install", "import_safety_gymnasium"):
        assert report[name] is not None, f"{name}() did not refuse after a plain import"
        assert "import_safety_gymnasium" in report[name]


def test_hashable_color_keeps_the_array_values():
    import numpy as np

    from ctrpo_core.envs.sg_compat import HashableColor

    rgba = np.array([0.1, 0.2, 0.3, 1.0]).view(HashableColor)
    assert isinstance(hash(rgba), int)
    assert {rgba: "ok"}[rgba] == "ok"
    np.testing.assert_array_equal(rgba, [0.1, 0.2, 0.3, 1.0])
