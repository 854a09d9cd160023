"""Sweeps fill the cores this process may use without oversubscribing them: C from the affinity,
max(1, C // P) env processes per run, each run pinned to its own cores when they divide evenly."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from ctrpo_core.runs import RunDir
from ctrpo_core.sweeps.backends import LocalBackend, PoolBackend
from ctrpo_core.sweeps.execute import run_sweep
from ctrpo_core.sweeps.plan import plan_sweep
from ctrpo_core.util import cores

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("c,p,w", [(2, 1, 2), (2, 2, 1), (2, 3, 1), (16, 4, 4), (16, 3, 5), (1, 1, 1), (96, 8, 12)])
def test_env_processes_per_run(c, p, w):
    assert cores.env_workers(p, cores=c) == w


def test_core_sets_are_disjoint_and_only_when_they_divide(monkeypatch):
    monkeypatch.setattr(cores, "allowed", lambda: [2, 3, 5, 7, 11])
    monkeypatch.setattr(cores, "_quota", lambda: None)
    assert cores.core_sets(2) == [[2, 3], [5, 7]]
    assert cores.core_sets(5) == [[2], [3], [5], [7], [11]]
    assert cores.core_sets(6) is None  # more runs than cores: they share, unpinned
    monkeypatch.setattr(cores, "_quota", lambda: 2)  # a cgroup quota of 2 cores caps C
    assert cores.available() == 2 and cores.core_sets(2) == [[2], [3]]


def test_c_is_the_affinity_not_the_machine():
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); from ctrpo_core.util import cores; "
        "print(cores.available())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


SMALL_HOPPER = dict(total_steps=400, steps_per_epoch=200, num_envs=4)


@pytest.mark.skipif(len(cores.allowed()) < 2, reason="needs two cores")
@pytest.mark.parametrize("backend", [LocalBackend, PoolBackend])
def test_a_sweep_gives_each_run_its_share_of_the_cores(tmp_path, backend):
    runs, c = tmp_path / "runs", cores.available()
    plan = plan_sweep(
        "SafetyHopperVelocity-v1",
        "c-trpo",
        [1.0],
        [0.8],
        [None],
        list(range(c)),
        runs_dir=runs,
        name="fill",
        **SMALL_HOPPER,
    )
    assert {o.state for o in run_sweep(plan, backend(c), report=lambda line: None).values()} == {"finished"}
    statuses = [RunDir(runs / cfg.name).read_status() for cfg in plan.configs]
    assert [s["env_processes"] for s in statuses] == [1] * c  # P = C runs: one process each ...
    assert sorted(core for s in statuses for core in s["cores"]) == cores.allowed()[:c]  # ... on its own core
    # one run alone gets every core: its env is stepped by one process per core
    alone = plan_sweep(
        "SafetyHopperVelocity-v1",
        "c-trpo",
        [1.0],
        [0.8],
        [None],
        [0],
        runs_dir=runs,
        name="alone",
        cost_limit=20.0,
        **SMALL_HOPPER,
    )
    assert {o.state for o in run_sweep(alone, backend(c), report=lambda line: None).values()} == {"finished"}
    status = RunDir(runs / alone.configs[0].name).read_status()
    assert status["env_processes"] == min(c, SMALL_HOPPER["num_envs"]) and len(status["cores"]) == c
