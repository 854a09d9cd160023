"""Issue 31: a run's name is never left half-made by a killed creation, a resume never mixes the settings a run
was trained with and those of an edited config.json, and a stop request goes once the run has stopped."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_cli

from ctrpo_core.config import ConfigError, resolve
from ctrpo_core.results import catalog
from ctrpo_core.runs import STOP_REQUEST, RunDir, lifecycle
from ctrpo_core.runs.ownership import Ownership, is_owned

TASK = "HazardEdge-v0"  # the smallest built-in task: a 2-epoch run takes about a second
TINY = dict(total_steps=400, steps_per_epoch=200, num_envs=2)


def files(path: Path) -> dict[str, bytes]:
    """Every file of a run directory but its lock (whose holder note a refused owner rewrites), by name."""
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file() and p.name != ".lock"
    }


def listed(root: Path) -> list[str]:
    """The runs `ctrpo ls` lists."""
    return sorted(catalog.run_table(root).name) if root.exists() else []


def assert_complete(path: Path) -> None:
    """A run folder is whole: config.json, the metrics header and status queued (or more)."""
    run = RunDir(path)
    assert run.read_config()["name"] == path.name
    assert run.read_metrics().empty and run.columns()[0] == "epoch"
    assert run.read_status()["state"] == "queued"


# ---------------------------------------------------------------------------------------------- 1 atomic creation
KILL_AT = r"""
import os, signal, sys
from ctrpo_core.config import resolve
from ctrpo_core.runs import lifecycle

root, name, at = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = resolve("HazardEdge-v0", "c-trpo", runs_dir=root, name=name)
calls = 0

def killing(module, attr):
    real = getattr(module, attr)
    def call(*args, **kwargs):
        global calls
        calls += 1
        if calls == at:  # this step is not taken: the process dies as with kill -9
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(module, attr, call)

for attr in ("mkdir", "open", "fsync", "replace", "rename", "close", "unlink", "rmdir"):
    killing(os, attr)
killing(lifecycle, "_rename_noreplace")
lifecycle.create(cfg)
print(calls)
"""


def age(root: Path, seconds: float = 120.0) -> None:
    """Make the hidden creation folders (and their files) look ``seconds`` old."""
    then = time.time() - seconds
    for folder in root.glob(f"{lifecycle.CREATING}/*"):
        for p in (*folder.iterdir(), folder):
            os.utime(p, (then, then))


def test_a_kill_at_every_step_of_creation_leaves_the_name_usable(tmp_path):
    """Kill the creating process before each file operation in turn (SIGKILL: no clean-up runs): the run's
    name holds a whole run or nothing, `ls` lists exactly the whole runs, and creating the name again either
    succeeds or says the (whole) run exists; stale hidden leftovers go when the name is created again."""
    outcomes = []
    for at in range(1, 100):
        root = tmp_path / f"kill{at}"
        proc = subprocess.run(
            [sys.executable, "-c", KILL_AT, str(root), "r", str(at)], cwd=ROOT, capture_output=True, text=True
        )
        if proc.returncode == 0:  # fewer steps than ``at``: every step has been killed once
            assert int(proc.stdout) == at - 1 and at > 10, proc.stdout
            assert_complete(root / "r")
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        path = root / "r"
        whole = path.exists()
        if whole:
            assert_complete(path)  # never a folder of the name without its files
        assert listed(root) == (["r"] if whole else [])  # the hidden folder is never listed
        age(root)
        cfg = resolve(TASK, "c-trpo", runs_dir=str(root), name="r")
        if whole:
            with pytest.raises(ConfigError, match="already exists"):
                lifecycle.create(cfg)
        else:
            assert_complete(lifecycle.create(cfg).path)
        assert listed(root) == ["r"]
        assert not (root / ".creating").exists()  # the stale leftovers of "r" were removed
        outcomes.append(whole)
    else:
        pytest.fail("creation never completed")
    assert False in outcomes and True in outcomes  # killed both before and after the rename


TIGHT_LOOP = r"""
import sys
from ctrpo_core.config import resolve
from ctrpo_core.runs import lifecycle

cfgs = [resolve("HazardEdge-v0", "c-trpo", runs_dir=sys.argv[1], name=f"c{i}") for i in range(400)]
print("ready", flush=True)
for cfg in cfgs:
    lifecycle.create(cfg)
"""


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.1, 0.25])
def test_runs_killed_while_created_in_a_loop_are_whole_or_absent(tmp_path, delay):
    """Real SIGKILLs at several delays into a loop of creations: every name is a whole run or free."""
    root = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-c", TIGHT_LOOP, str(root)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.kill()
    proc.wait()
    visible = sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []
    for name in visible:
        assert_complete(root / name)
    assert listed(root) == visible
    age(root)
    for i in range(len(visible), len(visible) + 2):  # the name being created when killed, and the next
        assert_complete(lifecycle.create(resolve(TASK, "c-trpo", runs_dir=str(root), name=f"c{i}")).path)
    assert not (root / ".creating").exists()


def test_a_folder_left_by_an_in_place_creation_is_recognised_and_cleared(tmp_path):
    """What earlier versions left (the run's name holding only `.config.json.tmp<pid>`): `--resume` says what
    it is, `ls` hides it, and creating the name again clears it. Anything holding other files stays."""
    root = tmp_path / "runs"
    (root / "left").mkdir(parents=True)
    (root / "left" / ".config.json.tmp4242").write_text('{"task": "Hazard')
    resume = run_cli("train", "--resume", root / "left")
    assert resume.returncode == 2 and resume.stderr.count("\n") == 1
    assert "--resume" in resume.stderr and "killed" in resume.stderr and "create the run again" in resume.stderr
    assert listed(root) == []
    new = run_cli("train", "--task", TASK, "--algo", "c-trpo", "--runs-dir", root, "--name", "left", *_flags(TINY))
    assert new.returncode == 0, new.stderr
    assert listed(root) == ["left"] and lifecycle.state(root / "left") == "finished"

    # not a killed creation: a file of someone else's, an empty folder, a whole run: refused, untouched
    (root / "mine").mkdir()
    (root / "mine" / ".config.json.tmp1").write_text("x")
    (root / "mine" / "notes.txt").write_text("keep")
    (root / "empty").mkdir()
    for name in ("mine", "empty", "left"):
        before = files(root / name)
        with pytest.raises(ConfigError) as exc:
            lifecycle.create(resolve(TASK, "c-trpo", runs_dir=str(root), name=name))
        assert "already exists" in str(exc.value) and exc.value.param == "name"
        assert ("not a run" in str(exc.value)) is (name != "left")
        assert files(root / name) == before


def test_a_batch_trains_a_run_whose_name_holds_what_a_killed_creation_left(tmp_path):
    """`ctrpo demo` and sweeps plan by name: such a leftover is a run to create, not a damaged one."""
    from ctrpo_core.sweeps.batch import classify, create_new

    root = tmp_path / "runs"
    cfg = resolve(TASK, "c-trpo", runs_dir=str(root), name="left")
    (root / "left").mkdir(parents=True)
    (root / "left" / ".config.json.tmp4242").write_text('{"task": "Hazard')
    settled, jobs = classify([cfg])
    assert not settled and [job.how for job in jobs] == ["new"]
    jobs, raced = create_new(jobs)
    assert not raced and lifecycle.state(root / "left") == "queued"


def test_only_stale_hidden_folders_of_the_same_name_are_removed(tmp_path):
    root = tmp_path / "runs"
    area = root / ".creating"
    fresh = area / "r-0123abcd"  # a creation in progress in another process: kept
    stale = area / "r-89abcdef"
    other = area / "r-x-00000000"  # run "r-x"'s: kept
    odd = area / "r-fedcba98"  # stale, but holding a file creation never writes: kept
    for folder in (fresh, stale, other, odd):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / ".metrics.csv.tmp77").write_text("epoch")
    (odd / "model.bin").write_text("keep")
    age(root)
    now = time.time()
    os.utime(fresh / "config.json", (now, now))
    lifecycle.create(resolve(TASK, "c-trpo", runs_dir=str(root), name="r"))
    assert sorted(p.name for p in area.iterdir()) == sorted([fresh.name, other.name, odd.name])
    assert sorted(p.name for p in root.iterdir()) == [".creating", "r"] and listed(root) == ["r"]


def test_a_creation_that_fails_leaves_nothing(tmp_path, monkeypatch):
    """A write refused half-way (a full disk): one ConfigError, no folder of the name, no hidden folder."""
    from ctrpo_core.runs import store

    real = store.atomic_write_bytes

    def refuse_metrics(path, data):
        if Path(path).name == "metrics.csv":
            raise store.WriteError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(store, "atomic_write_bytes", refuse_metrics)
    root = tmp_path / "runs"
    with pytest.raises(ConfigError) as exc:
        lifecycle.create(resolve(TASK, "c-trpo", runs_dir=str(root), name="full"))
    assert exc.value.param == "runs_dir" and "nothing was created" in str(exc.value)
    assert str(root / "full" / "metrics.csv") in str(exc.value)  # named as it would have been
    assert list(root.iterdir()) == []


def _flags(settings: dict) -> list[str]:
    return [item for k, v in settings.items() for item in (f"--{k.replace('_', '-')}", str(v))]


# ---------------------------------------------------------------------------------------------- 2 resume refusal
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 2-epoch C-TRPO run on HazardEdge-v0 (copied by each test)."""
    root = tmp_path_factory.mktemp("trained")
    run = lifecycle.create(resolve(TASK, "c-trpo", runs_dir=str(root), name="base", **TINY))
    assert lifecycle.train(run.path) == "finished"
    return run.path


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    path = tmp_path / "runs" / "edited"
    shutil.copytree(trained, path)
    (path / ".lock").unlink(missing_ok=True)
    RunDir(path).write_status("stopped", "by hand")  # as after a stop: resumable
    return path


def edit_config(path: Path, **changes) -> None:
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, **changes}, indent=2))


def assert_refused(path: Path, *named: str, args=()) -> str:
    before = files(path)
    result = run_cli("train", "--resume", path, *args)
    assert result.returncode == 2, result.stderr
    err = result.stderr
    assert err.count("\n") == 1 and err.startswith("ctrpo: error: --resume: ") and "Traceback" not in err
    for text in named:
        assert text in err, err
    assert "may only extend total_steps" in err and "--total-steps N" in err  # what is allowed
    assert "size mismatch" not in err and "broadcast" not in err
    assert files(path) == before  # nothing written: config.json, metrics, checkpoint, status as they were
    return err


@pytest.mark.parametrize(
    "changes,named",
    [
        ({"beta": 5}, ["beta 1 → 5"]),
        ({"hidden": [32, 32]}, ["hidden [64, 64] → [32, 32]"]),
        ({"hidden": [64, 64, 64]}, ["hidden [64, 64] → [64, 64, 64]"]),
        ({"task": "PointHazard-v0"}, ["task HazardEdge-v0 → PointHazard-v0"]),
        ({"beta": 2.5, "gamma": 0.9, "num_envs": 4}, ["beta 1 → 2.5", "gamma 0.95 → 0.9", "num_envs 2 → 4"]),
        ({"total_steps": 200, "epochs": 1}, ["total_steps 200 is below the 400 steps trained"]),
    ],
)
def test_resume_after_config_json_was_edited_exits_2_naming_the_settings(run_copy, changes, named):
    edit_config(run_copy, **changes)
    assert_refused(run_copy, *named)


def test_the_app_reports_a_refused_resume_as_not_resumed_with_its_reason(run_copy):
    """The Live page's Resume (api.resume_runs) starts the run in a detached process; a process that refuses
    the run (its config.json no longer matches the checkpoint) is reported as not resumed, naming why."""
    from ctrpo_core import api

    edit_config(run_copy, beta=5)
    before = files(run_copy)
    [(name, resumed, why)] = api.resume_runs([run_copy])
    assert (name, resumed) == ("edited", False), why
    assert why.startswith("not resumed: edited: config.json differs") and "beta 1 → 5" in why, why
    assert files(run_copy) == before and lifecycle.state(run_copy) == "stopped"


def test_a_longer_run_does_not_unlock_other_changes(run_copy):
    edit_config(run_copy, beta=5)
    assert_refused(run_copy, "beta 1 → 5", args=("--total-steps", "600"))


@pytest.mark.parametrize("how", ["config.json", "--total-steps"])
def test_extending_total_steps_is_the_one_change_a_resume_takes(run_copy, how):
    if how == "config.json":
        edit_config(run_copy, total_steps=800, epochs=4)
        result = run_cli("train", "--resume", run_copy)
    else:
        result = run_cli("train", "--resume", run_copy, "--total-steps", "800")
    assert result.returncode == 0, result.stderr
    assert RunDir(run_copy).read_metrics().epoch.tolist() == [1, 2, 3, 4]
    assert lifecycle.state(run_copy) == "finished"
    saved = json.loads(torch.load(run_copy / "checkpoint.pt", weights_only=True)["settings"])
    assert saved["total_steps"] == 800 and saved["beta"] == 1


def test_the_checkpoint_carries_the_settings_it_was_trained_with(trained):
    from ctrpo_core.config.schema import result_settings

    ckpt = torch.load(trained / "checkpoint.pt", weights_only=True)
    assert ckpt["format"] == 3
    assert json.loads(ckpt["settings"]) == json.loads(json.dumps(result_settings(RunDir(trained).read_config())))


@pytest.mark.parametrize(
    "changes,named",
    [
        ({"hidden": [32, 32]}, ["hidden [64, 64] → [32, 32]"]),
        ({"task": "PointHazard-v0"}, ["task PointHazard-v0 is not the task trained", "observation size 2 → 8"]),
        ({"num_envs": 4}, ["num_envs 2 → 4"]),
    ],
)
def test_older_checkpoints_are_compared_by_their_network_shapes(run_copy, changes, named):
    """A checkpoint written before they carried their settings: the sizes a config.json edit changed are named
    instead of torch's "size mismatch" or numpy's broadcast error."""
    ckpt = torch.load(run_copy / "checkpoint.pt", weights_only=True)
    del ckpt["settings"]
    ckpt["format"] = 2
    torch.save(ckpt, run_copy / "checkpoint.pt")
    edit_config(run_copy, **changes)
    assert_refused(run_copy, *named)


# ---------------------------------------------------------------------------------------------- 3 stop request
def start_training(root: Path, name: str) -> subprocess.Popen:
    args = [
        "--task",
        TASK,
        "--algo",
        "c-trpo",
        "--total-steps",
        "400000",
        "--steps-per-epoch",
        "200",
        "--num-envs",
        "2",
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "ctrpo_core.cli", "train", *args, "--runs-dir", str(root), "--name", name],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def epochs(path: Path) -> int:
    try:
        return len(RunDir(path).read_metrics())
    except Exception:
        return 0


def test_the_stop_request_is_removed_once_the_run_has_stopped(tmp_path):
    root = tmp_path / "runs"
    proc = start_training(root, "s")
    path = root / "s"
    deadline = time.time() + 120
    while epochs(path) < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert lifecycle.stop(path) is True
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert RunDir(path).read_status()["state"] == "stopped" and not is_owned(path)
    assert not (path / STOP_REQUEST).exists()
    trained = epochs(path)
    result = run_cli("train", "--resume", path, "--total-steps", str(200 * (trained + 1)))
    assert result.returncode == 0, result.stderr
    assert epochs(path) == trained + 1 and lifecycle.state(path) == "finished"


def test_a_stop_asked_before_the_first_epoch_still_stops_the_run(tmp_path, monkeypatch):
    """Asked once the owner holds the run but before it trains (a stopper polling until the run is owned):
    the run stops at epoch 0, and the request goes with it."""
    run = lifecycle.create(
        resolve(TASK, "c-trpo", runs_dir=str(tmp_path), name="early", **{**TINY, "total_steps": 20_000})
    )
    real = lifecycle.load_checkpoint
    asked = []

    def stop_then_load(r, *args):
        asked.append(lifecycle.stop(r.path))
        assert (r.path / STOP_REQUEST).exists()
        return real(r, *args)

    monkeypatch.setattr(lifecycle, "load_checkpoint", stop_then_load)
    assert lifecycle.train(run.path) == "stopped"
    assert asked == [True]
    status = RunDir(run.path).read_status()
    assert status["state"] == "stopped" and status["epoch"] < status["epochs"] and "request" in status["message"]
    assert not (run.path / STOP_REQUEST).exists()


def test_only_the_owner_removes_the_request_and_only_when_it_lets_go(tmp_path):
    """The Ray sweep's sink owns a run on the driver (lifecycle.own) while a worker trains it, and reads the
    request meanwhile: it stays until the sink lets go. Readers and other processes never remove it."""
    run = lifecycle.create(resolve(TASK, "c-trpo", runs_dir=str(tmp_path), name="sunk", **TINY))
    request = run.path / STOP_REQUEST
    ownership = lifecycle.own(run)
    try:
        assert lifecycle.stop(run.path) is True and request.exists()
        assert lifecycle.state(run.path) == "running" and catalog.summarize_run(run.path)
        assert request.exists()
    finally:
        ownership.release()
    assert not request.exists() and lifecycle.stop(run.path) is False and not request.exists()
    with Ownership(run.path):  # a holder that is not a run's trainer (as the tests of the Ray sink hold it)
        assert lifecycle.stop(run.path) is True
    assert request.exists()  # left for the next owner, which clears it as stale


def test_the_ray_sinks_request_stays_while_a_worker_trains_and_goes_when_the_sink_lets_go(tmp_path):
    """The Ray sweep's sink owns the run on the driver while a worker trains a copy, and passes the request on
    (should_stop): the request must outlive the worker's own training, and go when the sink releases the run."""
    pytest.importorskip("ray")
    from ctrpo_core.sweeps import ray as ray_backend

    run = lifecycle.create(resolve(TASK, "c-trpo", runs_dir=str(tmp_path), name="r", **TINY))
    sink = ray_backend.RunSink(str(tmp_path))  # the actor's class, used directly
    token, _ = sink.claim("r", "worker-1", 11)
    assert sink.should_stop("r", token) is False
    assert lifecycle.stop(run.path) is True
    assert sink.should_stop("r", token) is True and sink.should_stop("r", token) is True  # asked again: still
    sink.release("r")
    assert not is_owned(run.path) and not (run.path / STOP_REQUEST).exists()
