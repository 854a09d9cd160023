"""`ctrpo sweep --backend ray` on a local Ray instance with 2 CPUs (started once for the module):
the same run directories as the local backend, a killed worker resumes from its checkpoint, a sweep
whose driver died resumes, no Ray means exit 2 with an install hint, and the Sensitivity page
launches a Ray sweep whose runs the app shows like local ones."""

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
import torch

# ray takes about 2 s to import: imported when a test of this module runs, not when the suite is collected
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="the ray extra (requirements/ray.txt; `make test` installs it)"
)

from conftest import ROOT, run_cli  # noqa: E402

from ctrpo_core import cli  # noqa: E402
from ctrpo_core.config import resolve  # noqa: E402
from ctrpo_core.results import catalog  # noqa: E402
from ctrpo_core.runs import (  # noqa: E402
    HOST,
    RunDir,
    lifecycle,  # noqa: E402
)
from ctrpo_core.runs.ownership import Ownership, is_owned  # noqa: E402
from ctrpo_core.sweeps.execute import run_sweep  # noqa: E402
from ctrpo_core.sweeps.plan import plan_sweep  # noqa: E402
from ctrpo_core.sweeps.ray import RayBackend, init_ray  # noqa: E402

GRID = [
    "sweep",
    "--task",
    "GridHazard-v0",
    "--beta",
    "0.1,1",
    "--bh",
    "0.8,1",
    "--seeds",
    "0",
    "--total-steps",
    "1000",
    "--steps-per-epoch",
    "500",
    "--num-envs",
    "4",
    "--name",
    "grid",
    "--runs-dir",
    "runs",
]
POINTS = [
    "grid_beta0.1_bh0.8_delta0.02_s0",
    "grid_beta0.1_bh1_delta0.02_s0",
    "grid_beta1_bh0.8_delta0.02_s0",
    "grid_beta1_bh1_delta0.02_s0",
]
TIMING = ["time_s", "steps_per_s"]


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    started = init_ray(num_cpus=2)  # the same local start as `ctrpo sweep --backend ray` (loopback only)
    assert ray.cluster_resources()["CPU"] == 2
    yield
    if started:
        ray.shutdown()


def run_names(runs):
    return sorted(p.name for p in runs.iterdir() if p.is_dir() and not p.name.startswith("."))


def grid_point(name: str) -> str:
    return re.sub(r"_[0-9a-f]{8}$", "", name)  # without the settings key


def same_tensors(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_tensors(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_tensors(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b


def test_stop_run_of_a_remote_run_asks_its_owner_only(tmp_path):
    run = lifecycle.create(resolve("GridHazard-v0", "c-trpo", runs_dir=str(tmp_path), name="r"))
    run.write_status_dict(
        {
            "state": "running",
            "pid": os.getpid(),
            "message": "",
            "updated": time.time(),
            "host": "worker-elsewhere",
            "backend": "ray",
        }
    )
    assert catalog.stop_run(run.path) is False  # nobody owns it here: its status alone proves nothing
    with Ownership(run.path):  # as the sweep's sink holds it while a task trains the run
        assert catalog.stop_run(run.path) is True and (run.path / ".stop-request").exists()


def test_without_ray_the_ray_backend_exits_2_with_an_install_hint(tmp_path):
    script = (
        "import sys; sys.modules['ray'] = None\n"  # `import ray` fails as if it were not installed
        "from ctrpo_core.cli import main\n"
        f"sys.exit(main({GRID + ['--runs-dir', str(tmp_path / 'runs'), '--backend', 'ray']!r}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "--backend" in result.stderr and "pip install '.[ray]'" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "flags,param",
    [
        (["--address", "127.0.0.1:6379"], "--address"),
        (["--backend", "ray", "--address", "ray://head:10001"], "--address"),
        (["--backend", "ray", "--address", "nohost"], "--address"),
        (["--backend", "ray", "--cpus-per-run", "0"], "--cpus-per-run"),
        (["--backend", "spark"], "--backend"),
    ],
)
def test_bad_backend_options_exit_2(tmp_path, flags, param):
    result = run_cli(*GRID[:-1], tmp_path / "runs", *flags)
    assert result.returncode == 2 and param in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "runs").exists()


def test_sensitivity_page_launches_a_ray_sweep_and_live_shows_its_runs(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs_dir))
    main = str(ROOT / "app" / "main.py")
    at = AppTest.from_file(main, default_timeout=60).run().switch_page("views/sensitivity.py").run()
    assert not at.exception
    assert at.radio(key="sw_backend").options == ["local", "ray"] and at.radio(key="sw_backend").value == "local"
    at.radio(key="sw_backend").set_value("ray")
    at.text_input(key="sw_address").set_value("ray://nowhere:10001")
    at.button[0].click().run()
    assert any("--address" in e.value for e in at.error) and not runs_dir.exists()
    at.text_input(key="sw_address").set_value("")
    at.selectbox(key="sw_task").set_value("GridHazard-v0")
    for key, value in (("sw_beta", "1"), ("sw_bh", "1"), ("sw_seeds", "0"), ("sw_name", "rayapp")):
        at.text_input(key=key).set_value(value)
    at.number_input(key="sw_steps").set_value(2000)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    deadline = time.time() + 60
    while time.time() < deadline and not (runs_dir / ".sweeps" / "rayapp.json").exists():
        time.sleep(0.1)
    run = RunDir(runs_dir / json.loads((runs_dir / ".sweeps" / "rayapp.json").read_text())["runs"][0])
    deadline = time.time() + 150
    while time.time() < deadline and not (run.is_run() and run.read_status().get("state") == "finished"):
        time.sleep(0.5)
    log = runs_dir / ".sweeps" / "rayapp.log"
    assert run.read_status()["state"] == "finished", log.read_text() if log.exists() else "no log"
    assert run.read_status()["backend"] == "ray" and "on a local Ray instance" in log.read_text()
    live = AppTest.from_file(main, default_timeout=60).run().switch_page("views/live.py").run()
    assert not live.exception
    table = live.dataframe[0].value
    assert table.loc[table["run"] == run.name, "state"].tolist() == ["finished"]
    compare = AppTest.from_file(main, default_timeout=60).run().switch_page("views/compare.py").run()
    assert not compare.exception and len(compare.get("plotly_chart")) >= 1


def two_node_cluster(Cluster, tries: int = 3):
    """A head with 1 CPU (the driver's node, where the sink writes) and a worker node with 2. Ray gives a
    starting node 30 s to register, which a loaded 2-core machine (the other test worker training) can miss: that
    is Ray's start-up, not what is tested here, so a node that timed out is started again."""
    for attempt in range(tries):
        cluster = None
        try:
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
            cluster.add_node(num_cpus=2)  # a worker node: two of the first three runs train there
            return cluster
        except Exception as exc:
            if cluster is not None:
                cluster.shutdown()
            if "timed out during startup" not in str(exc) or attempt == tries - 1:
                raise


def statuses(runs) -> dict:
    """{run name: status.json} of the runs that have written one so far."""
    found = {}
    for name in run_names(runs) if runs.exists() else []:
        try:
            found[name] = RunDir(runs / name).read_status()
        except Exception:  # not written yet, or mid-write
            pass
    return found


def test_a_two_node_cluster_trains_a_benchmark_and_a_sweep_that_survives_the_loss_of_its_worker_node(
    tmp_path, monkeypatch
):
    """One cluster of Ray's own multi-node utility: a head (the driver's node) with 1 CPU and a worker node with 2.
    First `ctrpo benchmark --address`: its plan states the cluster's CPUs, its runs train on both nodes and all
    come home to the head. Then a sweep trains on both nodes and the worker node is killed mid-run; Ray retries
    its runs on the head, each resumes from the checkpoint the driver holds; every run ends finished with each
    epoch once, and the app's run table says so."""
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    from ctrpo_core.results.text import list_rows

    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # every node on the loopback address
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    epochs, runs, bench = 30, tmp_path / "runs", tmp_path / "bench"
    args = [*GRID[:-1], runs, "--backend", "ray", "--max-retries", "2"]
    args[args.index("--steps-per-epoch") + 1] = "200"  # GridHazard-v0: about 0.1 s an epoch
    args[args.index("--total-steps") + 1] = str(epochs * 200)
    cluster = two_node_cluster(Cluster)
    out, err = tmp_path / "sweep.out", tmp_path / "sweep.err"
    try:
        address, head, worker = cluster.address, cluster.head_node.node_id, next(iter(cluster.worker_nodes))
        tiny = ["--tasks", "GridHazard-v0", "--algos", "c-trpo", "--seeds", "0", "--steps", "2000"]
        benchmark = run_cli(
            "benchmark", *tiny, "--runs-dir", bench, "--backend", "ray", "--address", address, timeout=180
        )
        assert benchmark.returncode == 0, benchmark.stdout + benchmark.stderr
        with open(out, "w") as stdout, open(err, "w") as stderr:
            sweep = subprocess.Popen(
                [sys.executable, "-m", "ctrpo_core.cli", *map(str, args), "--address", address],
                stdout=stdout,
                stderr=stderr,
                cwd=ROOT,
            )
        try:
            deadline, victim = time.time() + 120, None
            while time.time() < deadline and victim is None and sweep.poll() is None:
                at_removal = statuses(runs)
                on_worker = [
                    name
                    for name, s in at_removal.items()
                    if s.get("node") == worker.node_id and s.get("state") == "running" and s.get("epoch", 0) >= 1
                ]
                if on_worker:
                    victim = on_worker[0]
                else:
                    time.sleep(0.05)
            assert victim is not None, (out.read_text(), err.read_text(), statuses(runs))
            cluster.remove_node(worker, allow_graceful=False)  # the worker node dies: its raylet and workers killed
            trained = RunDir(runs / victim).read_metrics().epoch.tolist()
            assert trained == list(range(1, len(trained) + 1)) and 1 <= len(trained) < epochs  # killed mid-run
            assert sweep.wait(timeout=240) == 0, (out.read_text(), err.read_text())
        finally:
            if sweep.poll() is None:
                sweep.kill()
                sweep.wait()
    finally:
        cluster.shutdown()
    # the benchmark: planned for the cluster's CPUs, trained on both nodes, written home by the head
    assert "wall time under a minute on the Ray cluster's 3 CPUs" in benchmark.stdout, benchmark.stdout
    assert (
        f"on the Ray cluster at {address}" in benchmark.stdout and "benchmark paper-2k: 3 finished" in benchmark.stdout
    )
    assert [n.split("_")[2] for n in run_names(bench)] == ["c-trpo", "cpo", "ppo"]
    statuses_of_bench = [RunDir(bench / name).read_status() for name in run_names(bench)]
    assert all(s["state"] == "finished" and s["sink_node"] == head for s in statuses_of_bench)
    assert worker.node_id in {s["node"] for s in statuses_of_bench}  # trained on another node, written home here
    stdout = out.read_text()
    assert f"on the Ray cluster at {address}" in stdout and "sweep grid: 4 finished" in stdout, stdout
    names = run_names(runs)
    assert [grid_point(n) for n in names] == POINTS
    for name in names:
        run = RunDir(runs / name)
        status = run.read_status()
        assert status["state"] == "finished" and status["sink_node"] == head, (name, status)
        if at_removal.get(name, {}).get("state") != "finished":  # trained to its end after the removal: on the head
            assert status["node"] == head, (name, status)
        metrics = run.read_metrics()
        assert metrics.epoch.tolist() == list(range(1, epochs + 1)), name  # each epoch exactly once
        steps = metrics.total_steps.tolist()
        assert steps == [steps[0] * e for e in range(1, epochs + 1)], name
        assert run.load_checkpoint()["epoch"] == epochs
    # the victim's task was retried (Ray: its node died) and resumed from the driver's checkpoint, not from scratch
    assert re.search(rf"started {victim} \(resumed at epoch [1-9]\d*, attempt 2\)", stdout), stdout
    log = (runs / victim / "train.log").read_text()
    resumed = re.search(r"resuming from the driver's checkpoint at epoch (\d+)", log)
    assert resumed and 1 <= int(resumed.group(1)) < epochs, log
    after = [int(m) for m in re.findall(r"epoch (\d+)/", log[resumed.end() :])]
    assert after == list(range(int(resumed.group(1)) + 1, epochs + 1))
    # the app's run table lists every run finished: `ctrpo ls`'s rows, and the summary every page reads
    rows = list_rows(runs)
    assert [r["name"] for r in rows] == names
    assert all(r["state"] == "finished" and r["finished"] and r["epoch"] == epochs for r in rows), rows
    assert all(catalog.summarize_run(runs / name)["state"] == "finished" for name in names)


def test_ray_sweep_writes_the_same_runs_as_the_local_backend(tmp_path, ray_cluster, monkeypatch, capsys):
    (tmp_path / "local").mkdir()
    (tmp_path / "ray").mkdir()
    local = run_cli(*GRID, "--parallel", "2", cwd=tmp_path / "local")
    assert local.returncode == 0, local.stdout + local.stderr
    monkeypatch.chdir(tmp_path / "ray")  # the same relative --runs-dir, so config.json matches too
    assert cli.main([*GRID, "--backend", "ray"]) == 0
    out = capsys.readouterr().out
    assert "on a local Ray instance, 1 CPU per run" in out and "sweep grid: 4 finished" in out
    local_runs, ray_runs = tmp_path / "local" / "runs", tmp_path / "ray" / "runs"
    names = run_names(ray_runs)
    assert run_names(local_runs) == names and [grid_point(n) for n in names] == POINTS
    for name in names:
        a, b = RunDir(local_runs / name), RunDir(ray_runs / name)
        assert a.read_config() == b.read_config()
        ma, mb = a.read_metrics(), b.read_metrics()
        assert mb.epoch.tolist() == [1, 2]
        pd.testing.assert_frame_equal(ma.drop(columns=TIMING), mb.drop(columns=TIMING), check_exact=True)
        sa, sb = a.read_status(), b.read_status()
        assert sa["state"] == sb["state"] == "finished" and sb["backend"] == "ray" and sb["host"] == HOST
        assert sb["sink_host"] == HOST and "host" not in sa
        assert {"state", "pid", "message", "updated"} <= set(sb)
        ca, cb = a.load_checkpoint(), b.load_checkpoint()  # checkpoints came home
        assert cb["epoch"] == 2 and same_tensors(ca["algo"], cb["algo"])
        assert (ray_runs / name / "train.log").read_text().count("epoch") == 2
        assert catalog.summarize_run(b.path)["state"] == "finished"
    # a second sweep skips the finished runs and never starts a task
    assert cli.main([*GRID, "--backend", "ray"]) == 0
    out = capsys.readouterr().out
    assert "4 already done" in out and "queued" not in out


def test_a_killed_worker_is_retried_and_the_run_resumes_from_its_checkpoint(tmp_path, ray_cluster):
    epochs = 40
    plan = plan_sweep(
        "PointHazard-v0",
        "c-trpo",
        [1.0],
        [0.8],
        [None],
        [0, 1],
        runs_dir=tmp_path / "runs",
        name="kill",
        total_steps=epochs * 1000,
        steps_per_epoch=1000,
        num_envs=4,
    )
    lines, results = [], {}
    sweep = threading.Thread(target=lambda: results.update(run_sweep(plan, RayBackend(max_retries=2), lines.append)))
    sweep.start()
    victim = RunDir(tmp_path / "runs" / plan.configs[0].name)
    deadline, killed = time.time() + 120, None
    while time.time() < deadline and killed is None:
        status = victim.read_status() if (victim.path / "status.json").exists() else {}
        if status.get("state") == "running" and status.get("epoch", 0) >= 3:
            assert status["pid"] != os.getpid() and status["backend"] == "ray"
            os.kill(status["pid"], signal.SIGKILL)  # the worker process of the task
            killed = status["epoch"]
        time.sleep(0.02)
    assert killed is not None and killed < epochs, "the run never reached epoch 3 while running"
    sweep.join(timeout=150)
    assert not sweep.is_alive()
    assert {name: outcome.state for name, outcome in results.items()} == {c.name: "finished" for c in plan.configs}, (
        lines
    )
    assert any(f"started {victim.name} (resumed at epoch" in line and "attempt 2" in line for line in lines), lines
    metrics = victim.read_metrics()
    assert metrics.epoch.tolist() == list(range(1, epochs + 1))  # each epoch exactly once
    assert metrics.total_steps.tolist() == [1000 * e for e in range(1, epochs + 1)]
    assert victim.read_status()["state"] == "finished" and victim.load_checkpoint()["epoch"] == epochs
    log = (victim.path / "train.log").read_text()
    resumed = re.search(r"resuming from the driver's checkpoint at epoch (\d+)", log)
    assert resumed and 3 <= int(resumed.group(1)) <= killed  # not from scratch
    after = [int(m) for m in re.findall(r"epoch (\d+)/", log[resumed.end() :])]
    assert after == list(range(int(resumed.group(1)) + 1, epochs + 1))


def test_a_sweep_whose_driver_died_resumes(tmp_path, ray_cluster, capsys):
    runs = tmp_path / "runs"
    args = [
        "sweep",
        "--task",
        "GridHazard-v0",
        "--beta",
        "1",
        "--bh",
        "1",
        "--seeds",
        "3",
        "--total-steps",
        "1500",
        "--steps-per-epoch",
        "500",
        "--num-envs",
        "4",
        "--name",
        "d",
        "--runs-dir",
        str(runs),
        "--backend",
        "ray",
    ]
    plan = plan_sweep(
        "GridHazard-v0",
        "c-trpo",
        [1.0],
        [1.0],
        [None],
        [3],
        runs_dir=runs,
        name="d",
        total_steps=1500,
        steps_per_epoch=500,
        num_envs=4,
    )
    run = lifecycle.create(plan.configs[0])
    stop = threading.Event()
    lifecycle.train(run.path, callback=lambda row: row["epoch"] == 2 and stop.set(), stop_event=stop)
    assert run.read_metrics().epoch.tolist() == [1, 2]
    # the driver died mid-run: its status says running, on a worker elsewhere, written by a sink now gone
    remote = {
        "state": "running",
        "pid": 12345,
        "message": "",
        "updated": time.time(),
        "host": "worker-elsewhere",
        "backend": "ray",
        "epoch": 2,
        "epochs": 3,
        "sink_host": HOST,
        "sink_pid": os.getpid(),
    }
    run.write_status_dict(remote)
    assert lifecycle.state(run.path) == "stopped"  # whatever the status names, nobody owns the run
    with Ownership(run.path):
        assert lifecycle.state(run.path) == "running"
    capsys.readouterr()
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"queued {run.name} (resume)" in out and "(resumed at epoch 2)" in out
    assert run.read_metrics().epoch.tolist() == [1, 2, 3] and run.read_status()["state"] == "finished"


def test_stop_from_the_app_and_from_the_driver_checkpoints_and_stops_the_runs(tmp_path, ray_cluster):
    plan = plan_sweep(
        "PointHazard-v0",
        "c-trpo",
        [1.0],
        [0.8],
        [None],
        [0, 1, 2],
        runs_dir=tmp_path / "runs",
        name="stop",
        total_steps=200_000,
        steps_per_epoch=1000,
        num_envs=4,
    )
    backend, results = RayBackend(), {}
    sweep = threading.Thread(target=lambda: results.update(run_sweep(plan, backend, lambda line: None)))
    sweep.start()
    first, second, third = (RunDir(tmp_path / "runs" / c.name) for c in plan.configs)

    def wait_until(check, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline and not check():
            time.sleep(0.05)
        assert check()

    epoch_of = lambda run: run.read_status().get("epoch", 0) if (run.path / "status.json").exists() else 0
    wait_until(lambda: epoch_of(first) >= 2 and epoch_of(second) >= 2)
    assert catalog.stop_run(first.path) is True  # the Live page's Stop: passed on by the sweep's sink
    wait_until(lambda: first.read_status()["state"] == "stopped")
    backend.stopping = True  # as the driver's SIGINT/SIGTERM handler does
    sweep.join(timeout=60)
    assert not sweep.is_alive()
    assert results[first.name].state == results[second.name].state == "stopped"
    assert third.name not in results or results[third.name].state == "stopped"  # or never started
    for run in (first, second):
        status = run.read_status()
        assert status["state"] == "stopped" and "stopped by request" in status["message"]
        assert run.read_metrics().epoch.tolist() == list(range(1, status["epoch"] + 1)) and status["epoch"] < 200
        assert run.load_checkpoint()["epoch"] == status["epoch"]


def test_a_run_that_fails_for_its_own_reasons_is_reported_failed_and_not_retried(tmp_path, ray_cluster):
    plan = plan_sweep(
        "GridHazard-v0",
        "c-trpo",
        [1.0],
        [1.0],
        [None],
        [0, 1, 2],
        runs_dir=tmp_path / "runs",
        name="fail",
        total_steps=1000,
        steps_per_epoch=500,
        num_envs=4,
    )
    plan.configs[0].critic_lr = 1e30  # the critics blow up: non-finite loss, the trainer says 'failed'
    damaged = lifecycle.create(plan.configs[1])  # a stopped run whose checkpoint cannot be read: refused
    damaged.write_checkpoint_bytes(b"garbage")
    damaged.write_status("stopped", "by hand")
    lines = []
    results = run_sweep(plan, RayBackend(max_retries=3), lines.append)
    nan, refused, ok = (c.name for c in plan.configs)
    assert results[nan].state == "failed" and results[ok].state == "finished", lines
    assert results[refused].state == "refused" and results[refused].detail.startswith("resume:")
    assert "cannot be read" in results[refused].detail
    assert not any("attempt 2" in line for line in lines), lines  # no retry of either
    assert RunDir(tmp_path / "runs" / refused).read_status()["state"] == "stopped"  # left as it was
    status = RunDir(tmp_path / "runs" / nan).read_status()
    assert status["state"] == "failed" and "non-finite" in status["message"]
    assert not any(is_owned(tmp_path / "runs" / c.name) for c in plan.configs)  # the sink let go of every run


def test_the_sink_owns_its_runs_and_drops_a_stale_attempt(tmp_path):
    from ctrpo_core.sweeps import ray as ray_backend

    run = lifecycle.create(resolve("GridHazard-v0", "c-trpo", runs_dir=str(tmp_path), name="r"))
    sink = ray_backend.RunSink(str(tmp_path))  # the actor's class, used directly
    token, copy = sink.claim("r", "worker-1", 11)
    assert copy["config"]["task"] == "GridHazard-v0" and "checkpoint" not in copy and is_owned(run.path)
    status = {"state": "running", "pid": 11, "message": "", "updated": 0.0, "host": "worker-1", "backend": "ray"}
    assert sink.write("r", token, "write_status", status)
    first = RunDir(tmp_path / "r").read_status()
    assert first["sink_host"] == HOST and first["sink_pid"] == os.getpid()
    with pytest.raises(ValueError):
        sink.write("r", token, "create", {})  # only the forwarded writes of a run's owner
    assert sink.should_stop("r", token) is False
    # a new attempt (a retry) claims the run; the old one is told to stop and its writes are dropped
    second, copy = sink.claim("r", "worker-2", 22)
    assert second != token and is_owned(run.path)
    assert sink.should_stop("r", token) is True and sink.write("r", token, "log", "stale") is False
    assert sink.drain_events() == [
        "started r (new) on worker-1, pid 11",
        "started r (new, attempt 2) on worker-2, pid 22",
    ]
    sink.release("r")
    assert not is_owned(run.path)
    with Ownership(run.path):  # someone else trains it: the sink refuses to hand it out
        busy, copy = sink.claim("r", "worker-3", 33)
        assert busy is None and "already being trained" in copy["busy"]
