"""The cost of planned runs (sweeps/cost.py) where no run exists yet: the measured table, the placement of
runs on cores, the words of a duration, and the line the Sensitivity page shows before its button."""

import itertools
import json

import pytest

from ctrpo_core.sweeps import cost
from ctrpo_core.sweeps.benchmark import benchmark_configs
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


def finished_run(runs, name: str, algo: str, epoch_seconds: list[float], steps_per_epoch: int = 1000) -> None:
    """A finished run's three files as training writes them: config, status (elapsed = the epochs' sum) and
    metrics.csv's cumulative total_steps and time_s."""
    path = runs / name
    path.mkdir(parents=True)
    config = {"task": "HazardEdge-v0", "algo": algo, "steps_per_epoch": steps_per_epoch, "num_envs": 1}
    (path / "config.json").write_text(json.dumps(config))
    steps, seconds = steps_per_epoch * len(epoch_seconds), sum(epoch_seconds)
    status = {"state": "finished", "total_steps": steps, "elapsed": seconds}
    (path / "status.json").write_text(json.dumps(status))
    rows = ["epoch,total_steps,time_s"]
    for epoch, elapsed in enumerate(itertools.accumulate(epoch_seconds), start=1):
        rows.append(f"{epoch},{epoch * steps_per_epoch},{elapsed}")
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")


def test_a_run_is_priced_by_its_family_and_a_paused_epoch_does_not_count(tmp_path):
    """A first-order algorithm without runs of its own is priced by the first-order runs of its task, not by
    the several-times-faster trust-region ones; a run's speed is its median epoch's, so the epoch it spent
    paused for an hour does not make it look slow."""
    runs = tmp_path / "runs"
    finished_run(runs, "ppo", "ppo", [2.0, 2.0, 3600.0, 2.0])  # 500 steps/s, one epoch paused
    finished_run(runs, "trpo", "trpo", [0.25, 0.25, 0.25])  # 4,000 steps/s
    cppo, trpo_lag = (
        benchmark_configs([algo], ["HazardEdge-v0"], [0], runs, total_steps=4000, steps_per_epoch=1000)[0]
        for algo in ("cppo-pid", "trpo-lag")
    )
    finished = cost.history(runs)
    where = f"the runs finished in {runs}"
    assert cost.speed(cppo, finished, str(runs)) == (pytest.approx(500.0), where)
    assert cost.speed(trpo_lag, finished, str(runs)) == (pytest.approx(4000.0), where)
    other = tmp_path / "other"
    finished_run(other, "ppo", "ppo", [2.0, 2.0, 3600.0, 2.0])
    (other / "ppo" / "metrics.csv").unlink()  # unreadable metrics: status.json's average stands in
    assert cost.speed(cppo, cost.history(other))[0] == pytest.approx(4000 / 3606.0)
