"""The cost of planned runs (sweeps/cost.py) where no run exists yet: the measured table, the placement of
runs on cores, the words of a duration, and the line the Sensitivity page shows before its button."""

import pytest

from ctrpo_core.sweeps import cost
from ctrpo_core.sweeps.plan import parse_grid, plan_sweep


def test_runs_are_placed_longest_first_on_the_slots():
    assert cost.makespan([10, 10, 10, 10], 2) == 20
    assert cost.makespan([30, 10, 10, 10], 2) == 30  # the longest run alone bounds the time
    assert cost.makespan([5, 4, 3], 8) == 5
    assert cost.makespan([5, 4, 3], 1) == 12


@pytest.mark.parametrize(
    "seconds,words",
    [
        (10, "under a minute"),
        (60, "about 1 min"),
        (400, "about 7 min"),
        (89 * 60, "about 89 min"),
        (3 * 3600, "about 3.0 h"),
        (50 * 3600, "about 50 h"),
    ],
)
def test_a_duration_in_words(seconds, words):
    assert cost.approximate(seconds) == words


def test_without_history_the_measured_table_prices_each_run(tmp_path):
    plan = plan_sweep(
        "HazardEdge-v0",
        "c-trpo",
        [0.0, 1.0],
        [0.8],
        [None],
        [0, 1, 2],
        runs_dir=tmp_path / "runs",
        name="t",
        total_steps=20_000,
        steps_per_epoch=500,
    )
    estimate = cost.estimate(plan.configs, cores=2)
    steps = cost.planned_steps(plan.configs[0])  # whole epochs of whole per-env rollouts: 40 × 15 × 32
    assert steps == 19_200
    rate = cost.MEASURED_STEPS_PER_S["HazardEdge-v0"]
    one = steps / rate + cost.STARTUP_S
    task = estimate.per_task["HazardEdge-v0"]
    assert (estimate.planned, estimate.done, estimate.to_train, task.source) == (6, 0, 6, cost.TABLE)
    assert estimate.cpu_s == pytest.approx(6 * one) and estimate.wall_s == pytest.approx(3 * one)
    assert cost.estimate(plan.configs, cores=1).wall_s == pytest.approx(6 * one)
    assert cost.estimate(plan.configs, cores=4, parallel=2).wall_s == pytest.approx(3 * one)  # 2 at a time
    assert cost.cpu_hours(estimate) == {"HazardEdge-v0": pytest.approx(6 * one / 3600)}


def test_the_line_before_the_launch_button(tmp_path):
    grid = parse_grid("0, 1, 10", "0.6,0.8,1", "", "0,1,2")
    plan = plan_sweep("HazardEdge-v0", "c-trpo", **grid, runs_dir=tmp_path / "runs", name="s")
    line = cost.sweep_line(plan, cost.estimate(plan.configs, cores=2))
    assert line.startswith("27 runs: β 0, 1, 10 × b_H 0.6, 0.8, 1 × seeds 0, 1, 2 on HazardEdge-v0, about ")
    assert line.endswith(" min on 2 cores")
    swept = plan_sweep("GridHazard-v0", "trpo", **parse_grid("", "", "0.01,0.02", "0"), runs_dir=tmp_path, name="d")
    assert cost.sweep_line(swept, None) == "2 runs: δ 0.01, 0.02 × seeds 0 on GridHazard-v0 (trpo)"


@pytest.mark.parametrize(
    "fields,param", [(("1,x", "", "", "0"), "--beta"), (("", "", "", ""), "--seeds"), (("", "", "a", "0"), "--delta")]
)
def test_a_bad_grid_field_names_itself(fields, param):
    from ctrpo_core.config import ConfigError

    with pytest.raises(ConfigError) as error:
        parse_grid(*fields)
    assert error.value.param == param
