"""`ctrpo tasks` and unknown task ids, through the real command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctrpo_core.envs import TASKS, UnknownTaskError, get_spec, make_vec_env
from ctrpo_core.envs.safety_gym import PAPER_TASKS

BUILTIN_IDS = ["GridHazard-v0", "PointHazard-v0", "HazardEdge-v0"]
ALL_IDS = BUILTIN_IDS + [task_id for task_id, _, _ in PAPER_TASKS]
CONSOLE_SCRIPT = Path(sys.executable).with_name("ctrpo")


def commands() -> list[list[str]]:
    found = [[sys.executable, "-m", "ctrpo_core.cli"]]
    if CONSOLE_SCRIPT.exists():
        found.append([str(CONSOLE_SCRIPT)])
    return found


def ctrpo(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, *args], capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": "ignore"}
    )


def test_console_script_is_installed():
    assert CONSOLE_SCRIPT.exists(), f"{CONSOLE_SCRIPT} missing: is the package installed in the venv?"


def test_registry_holds_the_eleven_tasks():
    assert sorted(TASKS) == sorted(ALL_IDS)
    assert len(TASKS) == 11


@pytest.mark.parametrize("prefix", commands(), ids=lambda p: "console-script" if len(p) == 1 else "module")
def test_tasks_lists_every_task_with_source_and_sizes(prefix):
    result = ctrpo(prefix, "tasks")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 11
    listed = {}
    for line in lines:
        m = re.match(
            r"^(\S+)\s+(built-in|Safety-Gymnasium)\s+obs=(\d+)\s+act=(\d+)\s+\((discrete|continuous)\)\s+b=(\S+)$", line
        )
        assert m, line
        listed[m.group(1)] = (m.group(2), int(m.group(3)), int(m.group(4)), m.group(5))
        assert float(m.group(6)) == get_spec(m.group(1)).cost_limit, line
    assert sorted(listed) == sorted(ALL_IDS)
    for task_id, (source, obs_dim, act_dim, kind) in listed.items():
        spec = get_spec(task_id)
        assert (source, obs_dim, act_dim) == (spec.source, spec.obs_dim, spec.act_dim), task_id
        assert kind == ("discrete" if spec.discrete else "continuous")
    assert listed["GridHazard-v0"] == ("built-in", 30, 4, "discrete")
    assert listed["PointHazard-v0"] == ("built-in", 8, 2, "continuous")
    assert listed["HazardEdge-v0"] == ("built-in", 2, 1, "continuous")
    for task_id, obs_dim, act_dim in PAPER_TASKS:
        assert listed[task_id] == ("Safety-Gymnasium", obs_dim, act_dim, "continuous")


def test_tasks_with_ids_lists_only_those():
    result = ctrpo(commands()[0], "tasks", "PointHazard-v0", "SafetyHopperVelocity-v1")
    assert result.returncode == 0, result.stderr
    ids = [line.split()[0] for line in result.stdout.strip().splitlines()]
    assert ids == ["PointHazard-v0", "SafetyHopperVelocity-v1"]


@pytest.mark.parametrize("prefix", commands(), ids=lambda p: "console-script" if len(p) == 1 else "module")
def test_unknown_task_exits_2_with_one_line_naming_the_known_ids(prefix):
    result = ctrpo(prefix, "tasks", "Nope")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Nope" in lines[0]
    for task_id in ALL_IDS:
        assert task_id in lines[0]


def test_unknown_id_among_known_ones_is_still_an_error():
    result = ctrpo(commands()[0], "tasks", "GridHazard-v0", "Nope")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_make_vec_env_unknown_task_raises_a_value_error_listing_known_ids():
    with pytest.raises(UnknownTaskError) as info:
        make_vec_env("Nope")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "Nope" in message
    for task_id in ALL_IDS:
        assert task_id in message
    with pytest.raises(ValueError):
        get_spec("Nope")


def test_make_vec_env_rejects_a_non_positive_env_count():
    with pytest.raises(ValueError):
        make_vec_env("GridHazard-v0", num_envs=0)
