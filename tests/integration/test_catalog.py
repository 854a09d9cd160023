"""Compare pools only comparable runs (issue 10.2): groups by every result-changing setting, one run per seed."""

from ctrpo_core import api
from ctrpo_core.config import resolve
from ctrpo_core.results import catalog, pooling

SMALL = dict(steps_per_epoch=500, num_envs=4)


def test_runs_of_other_lengths_or_settings_are_never_pooled(runs_dir):
    for name, steps, extra in (
        ("short", 1000, {}),
        ("long", 2000, {}),
        ("long-again", 2000, {}),
        ("other-gamma", 2000, {"gamma": 0.95}),
        ("seed1", 2000, {"seed": 1}),
    ):
        api.train("GridHazard-v0", "c-trpo", total_steps=steps, runs_dir=str(runs_dir), name=name, **SMALL, **extra)
    table = catalog.run_table(runs_dir)
    kept, notes = pooling.one_run_per_seed(table)
    summary = pooling.comparison_table(kept, reps=200).set_index("label")
    labels = table.set_index("name").label
    assert labels["short"] != labels["long"] and "steps=1000" in labels["short"]
    assert "gamma=0.95" in labels["other-gamma"] and labels["other-gamma"] != labels["long"]
    assert labels["long"] == labels["long-again"] == labels["seed1"]
    assert summary.loc[labels["long"], "finished seeds"] == 2 and summary.loc[labels["long"], "seed ids"] == "0,1"
    assert summary.loc[labels["short"], "finished seeds"] == 1 and len(summary) == 3
    assert summary.loc[labels["short"], "note"] == pooling.ONE_SEED_NOTE  # one seed: no CI
    assert summary.loc[labels["short"], ["return CI low", "return CI high"]].isna().all()
    assert len(notes) == 1 and "seed 0" in notes[0]
    assert notes[0].split(" ")[0] in ("long", "long-again") and notes[0].endswith(("long", "long-again"))
    # the curves keep each epoch's own step count (the x axis of every plot), next to the planned length
    curves = catalog.load_curves([runs_dir / "short", runs_dir / "long"])
    assert curves[curves.run == "long"].total_steps.tolist() == [500, 1000, 1500, 2000]
    assert set(curves[curves.run == "short"].planned_steps) == {1000}


def test_labels_keep_distinct_values_apart():
    a = resolve("GridHazard-v0", "c-trpo", beta=1.0).to_dict()
    b = resolve("GridHazard-v0", "c-trpo", beta=1.0000001).to_dict()
    assert catalog.label(a) != catalog.label(b) and "β=1 " in catalog.label(a)
    trpo = resolve("GridHazard-v0", "trpo", hidden=(32, 32)).to_dict()
    assert "hidden=32,32" in catalog.label(trpo) and "β" not in catalog.label(trpo)


def test_a_stopped_run_stops_the_in_process_backend_too(runs_dir):
    """SIGTERM or a stop request stops the run in flight; the in-process backend then starts no other run."""
    import threading
    import time

    from ctrpo_core.results.analysis import run_configs
    from ctrpo_core.runs import lifecycle

    configs = []
    for seed in (0, 1):
        cfg = resolve("GridHazard-v0", "c-trpo", seed=seed, runs_dir=str(runs_dir), total_steps=200_000)
        cfg.name = f"inline{seed}"
        configs.append(cfg)
    first = runs_dir / "inline0"

    def stop_when_owned():
        deadline = time.time() + 60
        while time.time() < deadline and not lifecycle.stop(first):
            time.sleep(0.05)

    stopper = threading.Thread(target=stop_when_owned)
    stopper.start()
    states = run_configs(configs, parallel=1, report=lambda line: None)
    stopper.join()
    assert states == {"inline0": "stopped"} and lifecycle.state(runs_dir / "inline1") == "queued"


def test_a_stopped_pool_starts_no_further_run(runs_dir):
    """The pool's executor hands a worker its next job before it can be cancelled; once the backend is
    stopping (its SIGTERM/SIGINT handler), that job must return untrained and its run stay queued."""
    import threading
    import time

    from ctrpo_core.runs import lifecycle
    from ctrpo_core.sweeps.backends import PoolBackend
    from ctrpo_core.sweeps.batch import classify, create_new

    configs = []
    for seed in (0, 1, 2):
        cfg = resolve("GridHazard-v0", "c-trpo", seed=seed, runs_dir=str(runs_dir), total_steps=400_000)
        cfg.name = f"pool{seed}"
        configs.append(cfg)
    _, jobs = classify(configs)
    create_new(jobs)
    backend = PoolBackend(2)

    def stop_when_running():
        deadline = time.time() + 120
        while time.time() < deadline and lifecycle.state(runs_dir / "pool0") != "running":
            time.sleep(0.05)
        backend.stopping = True  # as the driver's signal handler does

    stopper = threading.Thread(target=stop_when_running)
    stopper.start()
    states = {name: outcome.state for name, outcome in backend.run(jobs, report=lambda line: None).items()}
    stopper.join()
    assert states["pool2"] == "queued" and lifecycle.state(runs_dir / "pool2") == "queued"
    assert "finished" not in states.values()
    assert lifecycle.state(runs_dir / "pool0") == "stopped"
