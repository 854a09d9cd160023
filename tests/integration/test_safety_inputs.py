"""Nothing a user types can damage data or expose the app (issue 19): export never replaces what the tool
did not create, eval streams, the app serves only a warning off loopback, a full disk is one line and a
failed run, one damaged value breaks no page, long names / deep TOML / odd folders exit 2, and the
smaller cases (a runs folder given twice, -p reference, the sweep manifest and key, one runs folder)."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from ctrpo_core import api, cli
from ctrpo_core.config import settings_key
from ctrpo_core.results import catalog
from ctrpo_core.runs import MAX_EPISODES, RunDir
from ctrpo_core.sweeps import manifest as sweep_manifests
from ctrpo_core.sweeps import plan as sweep_plan
from ctrpo_core.tools import evaluate as policy_io
from ctrpo_core.ui import serving

PYTHON = sys.executable


def run_main(capsys, *argv):
    """``ctrpo ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # --help, --version
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(status, err, code=2):
    assert status == code, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("ctrpo: error:") and "Traceback" not in err, err
    return err


def tree_bytes(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    runs = tmp_path_factory.mktemp("safety") / "runs"
    good = api.train(
        "GridHazard-v0", "c-trpo", total_steps=1000, steps_per_epoch=500, num_envs=4, runs_dir=str(runs), name="good"
    ).path
    shutil.copytree(good, runs / "other")
    return runs


# ---------------------------------------------------------------------------------------------- 1 export
def test_export_replaces_no_run_file_link_fifo_or_device(runs, tmp_path, capsys):
    before = tree_bytes(runs)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the tool's")
    link = tmp_path / "link.pt"
    link.symlink_to(outside)
    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    targets = [
        runs / "good" / "checkpoint.pt",
        runs / "other" / "config.json",
        runs / "other" / "metrics.csv",
        runs / "good" / "new.pt",
        link,
        fifo,
    ]
    if Path("/dev/full").exists():
        targets.append(Path("/dev/full"))
    for target in targets:
        for force in ([], ["--force"]):
            status, out, err = run_main(capsys, "export", "good", "--runs-dir", runs, "--out", target, *force)
            one_line_error(status, err)
            assert "--out" in err and out == "", (target, err)
    assert tree_bytes(runs) == before  # every run file byte for byte, and no new file in a run
    assert link.is_symlink() and outside.read_bytes() == b"not the tool's"
    assert fifo.exists() and not fifo.is_file()
    if Path("/dev/full").exists():
        assert Path("/dev/full").is_char_device()

    out_file = tmp_path / "policy.pt"
    assert run_main(capsys, "export", "good", "--runs-dir", runs, "--out", out_file)[0] == 0
    first = out_file.read_bytes()
    status, _, err = run_main(capsys, "export", "good", "--runs-dir", runs, "--out", out_file)
    assert "--force" in one_line_error(status, err) and out_file.read_bytes() == first
    out_file.write_bytes(b"an older export")
    assert run_main(capsys, "export", "good", "--runs-dir", runs, "--out", out_file, "--force")[0] == 0
    assert out_file.read_bytes() == first  # replaced by the same policy, via a temporary file and a rename
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.pt", "link.pt", "outside.txt", "policy.pt"]


# ---------------------------------------------------------------------------------------------- 2 eval
def test_eval_bounds_episodes_before_any_work_and_streams_its_statistics(runs, capsys, monkeypatch):
    status, out, err = run_main(capsys, "eval", "good", "--runs-dir", runs, "--episodes", 10**9)
    assert str(MAX_EPISODES) in one_line_error(status, err) and "--episodes" in err and out == ""
    listed = policy_io.evaluate(runs / "good", episodes=12, seed=3)
    monkeypatch.setattr(policy_io, "MAX_LISTED", 5)  # beyond it nothing per episode is kept
    streamed = policy_io.evaluate(runs / "good", episodes=12, seed=3)
    assert streamed["returns"] is None and streamed["costs"] is None
    returns, costs = listed["returns"], listed["costs"]
    for key, values in (("return", returns), ("cost", costs)):
        assert streamed[f"{key}_mean"] == pytest.approx(np.mean(values), abs=1e-9)
        assert streamed[f"{key}_std"] == pytest.approx(np.std(values), abs=1e-9)
    assert streamed["safe_fraction"] == np.mean(np.array(costs) <= listed["cost_limit"])


# ---------------------------------------------------------------------------------------------- 3 the app's address
def test_serving_rules():
    for address in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert serving.is_loopback(address), address
    for address in (None, "", "0.0.0.0", "::", "192.168.1.10", "example.org"):
        assert not serving.is_loopback(address), address
    assert serving.remote_allowed({serving.ALLOW_REMOTE: "1"}) and not serving.remote_allowed({})
    assert "127.0.0.1" in serving.refusal("0.0.0.0") and serving.refusal("127.0.0.1") is None


def streamlit_elsewhere(cwd: Path, address: str, runs_dir: Path):
    """`streamlit run /repo/app/main.py` started in another folder (no .streamlit/config.toml there)."""
    from browser import streamlit_server

    env = {k: v for k, v in os.environ.items() if k != serving.ALLOW_REMOTE}
    return streamlit_server(runs_dir, cwd=cwd, address=address, env=env)


def test_app_started_elsewhere_on_every_interface_serves_only_the_warning(runs, tmp_path):
    from browser import CHROMIUM, CHROMIUM_FLAGS
    from playwright.sync_api import sync_playwright

    with streamlit_elsewhere(tmp_path, "0.0.0.0", runs) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        for path in ("/", "/compare", "/train"):
            page.goto(url + path)
            page.get_by_text("is not served on this address").wait_for(timeout=60_000)
            page.get_by_text(serving.ALLOW_REMOTE).first.wait_for(timeout=30_000)
            text = page.inner_text("body")
            assert "127.0.0.1" in text and serving.ALLOW_REMOTE in text, text
            assert "good" not in text and page.locator("[data-testid='stSidebarNav']").count() == 0, text
        browser.close()


# ---------------------------------------------------------------------------------------------- 4 disk full
def limited(max_bytes: int):
    """preexec_fn: files of at most ``max_bytes`` (RLIMIT_FSIZE), and SIGXFSZ ignored so that a write past it
    fails with EFBIG like a full disk (ENOSPC) instead of killing the process."""

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


TRAIN = [
    "-m",
    "ctrpo_core.cli",
    "train",
    "--task",
    "GridHazard-v0",
    "--algo",
    "c-trpo",
    "--total-steps",
    "1000",
    "--steps-per-epoch",
    "500",
    "--num-envs",
    "4",
]


def test_a_write_the_disk_refuses_is_one_line_and_a_failed_run(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    # config.json (about 2 KiB) does not fit: exit 2, nothing left behind
    result = subprocess.run(
        [PYTHON, *TRAIN, "--runs-dir", runs, "--name", "none"],
        capture_output=True,
        text=True,
        preexec_fn=limited(1024),
        timeout=120,
    )
    one_line_error(result.returncode, result.stderr)
    assert "config.json" in result.stderr and "File too large" in result.stderr
    assert list(runs.iterdir()) == []  # no half-made run folder
    # the checkpoint does not fit: exit 1, one line naming it, the run failed with that message
    result = subprocess.run(
        [PYTHON, *TRAIN, "--runs-dir", runs, "--name", "half"],
        capture_output=True,
        text=True,
        preexec_fn=limited(16 * 1024),
        timeout=120,
    )
    one_line_error(result.returncode, result.stderr, code=1)
    assert "checkpoint.pt: File too large" in result.stderr
    status = json.loads((runs / "half" / "status.json").read_text())
    assert (
        status["state"] == "failed"
        and status["message"] == f"cannot write {runs / 'half' / 'checkpoint.pt'}: File too large"
    )
    assert not list((runs / "half").glob(".*.tmp*"))  # the temporary checkpoint was removed
    assert catalog.run_table(runs).set_index("name").loc["half", "state"] == "failed"


def test_a_full_tmpfs_is_one_line_and_a_failed_run(tmp_path):
    """A real ENOSPC: a 3 MB tmpfs as the runs folder (root only; skipped where mount is not permitted)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("mounting a tmpfs needs root and a permitting container")
    try:
        result = subprocess.run(
            [
                PYTHON,
                *TRAIN[:-6],
                "--total-steps",
                "400000",
                "--steps-per-epoch",
                "2000",
                "--checkpoint-every",
                "1",
                "--runs-dir",
                mount,
                "--name",
                "full",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        one_line_error(result.returncode, result.stderr, code=1)
        assert "No space left on device" in result.stderr
        status = json.loads((mount / "full" / "status.json").read_text())
        assert status["state"] == "failed" and "No space left on device" in status["message"]
        assert len(RunDir(mount / "full").read_metrics()) == status["epoch"] > 0  # what it wrote is intact
    finally:
        subprocess.run(["umount", str(mount)], check=False)


# ---------------------------------------------------------------------------------------------- 5 damaged values
def test_out_of_range_values_and_headerless_metrics_are_damaged_and_break_no_page(runs, tmp_path, monkeypatch):
    import pyarrow as pa
    from streamlit.testing.v1 import AppTest

    folder = tmp_path / "runs"
    shutil.copytree(runs / "good", folder / "good")
    config = json.loads((runs / "good" / "config.json").read_text())
    broken = {
        "huge-int": {**config, "total_steps": 10**30},
        "huge-float": {**config, "total_steps": 1e30},
        "huge-envs": {**config, "num_envs": 10**9},
        "huge-beta": {**config, "beta": 1e300},
    }
    for name, edited in broken.items():
        shutil.copytree(runs / "good", folder / name)
        (folder / name / "config.json").write_text(json.dumps(edited))
    for name, data in (("empty-metrics", b""), ("nul-metrics", b"\0" * 64)):
        shutil.copytree(runs / "good", folder / name)
        (folder / name / "metrics.csv").write_bytes(data)
    shutil.copytree(runs / "good", folder / "nan-epoch")
    text = (folder / "nan-epoch" / "metrics.csv").read_text().splitlines()
    (folder / "nan-epoch" / "metrics.csv").write_text("\n".join([text[0], "," + text[1].split(",", 1)[1]]) + "\n")
    table = catalog.run_table(folder)
    pa.Table.from_pandas(table)  # what st.dataframe does with it (the Live page failed here)
    table = table.set_index("name")
    for name in [*broken, "empty-metrics", "nul-metrics", "nan-epoch"]:
        assert table.loc[name, "state"] == "damaged" and table.loc[name, "message"], name
    assert "no header line" in table.loc["empty-metrics", "message"]
    assert table.loc["good", "state"] == "finished" and table.loc["good", "epoch"] == 2
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(folder))
    for page in ("views/live.py", "views/home.py", "views/compare.py"):
        at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60).run()
        at = at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])


# ---------------------------------------------------------------------------------------------- 6 exit 2, no traceback
def test_long_names_deep_toml_and_unwritable_folders_exit_2(runs, tmp_path, capsys):
    long = "a" * 300
    for argv in (
        ["show", long],
        ["eval", long],
        ["export", long, "--out", tmp_path / "p.pt"],
        ["show", "b" * 300 + "/x"],
        ["export", "good", "--out", tmp_path / ("c" * 300)],
    ):
        one_line_error(*run_main(capsys, *argv, "--runs-dir", runs)[::2])
    one_line_error(*run_main(capsys, "train", "--resume", runs / long)[::2])
    deep = tmp_path / "deep.toml"
    deep.write_text("hidden = " + "[" * 2000 + "]" * 2000 + "\n")
    status, _, err = run_main(
        capsys,
        "train",
        "--task",
        "GridHazard-v0",
        "--algo",
        "c-trpo",
        "--config",
        deep,
        "--runs-dir",
        tmp_path / "runs",
    )
    assert "--config" in one_line_error(status, err)
    for target in (Path("/proc/p.pt"), Path("/sys/p.pt"), Path("/proc/self/p.pt")):
        status, _, err = run_main(capsys, "export", "good", "--runs-dir", runs, "--out", target)
        assert "--out" in one_line_error(status, err)
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    if subprocess.run(["chattr", "+i", str(frozen)], capture_output=True).returncode == 0:
        try:
            status, _, err = run_main(capsys, "export", "good", "--runs-dir", runs, "--out", frozen / "p.pt")
            assert "--out" in one_line_error(status, err) and list(frozen.iterdir()) == []
        finally:
            subprocess.run(["chattr", "-i", str(frozen)], check=False)
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------------- 7 smaller
def test_runs_folder_given_twice_is_refused(tmp_path, capsys):
    status, _, err = run_main(
        capsys,
        "train",
        "--task",
        "GridHazard-v0",
        "--algo",
        "c-trpo",
        "--set",
        f"runs_dir={tmp_path / 'x'}",
        "--runs-dir",
        tmp_path / "y",
        "--total-steps",
        500,
        "--steps-per-epoch",
        500,
    )
    assert "--runs-dir" in one_line_error(status, err) and list(tmp_path.iterdir()) == []
    # the same folder twice is one value, not a conflict (validated, nothing trained: a bad β)
    status, _, err = run_main(
        capsys,
        "train",
        "--task",
        "GridHazard-v0",
        "--algo",
        "c-trpo",
        "--set",
        f"runs_dir={tmp_path / 'x'}",
        "--runs-dir",
        tmp_path / "x",
        "--beta",
        -1,
    )
    assert "--beta" in one_line_error(status, err)


def test_benchmark_algorithms_and_tasks_are_checked_before_anything_runs(tmp_path, capsys):
    for key, value in (("algos", '["c-trpo", "sac"]'), ("tasks", '["Nope-v0"]')):
        status, _, err = run_main(capsys, "report", "benchmark", "-p", key, value, "--runs-dir", tmp_path)
        assert f"-p {key}" in one_line_error(status, err)
    assert list(tmp_path.iterdir()) == []


def test_sweep_manifest_has_one_grid_entry_per_run_and_one_key(tmp_path):
    plans = [
        sweep_plan.plan_sweep(
            "GridHazard-v0",
            "c-trpo",
            betas=[0.5, 2.0],
            bhs=[0.8],
            deltas=[None],
            seeds=[0],
            runs_dir=tmp_path,
            name="s",
            total_steps=steps,
            steps_per_epoch=500,
        )
        for steps in (1000, 1500, 2000)
    ]
    for plan in plans:
        sweep_manifests.write_manifest(plan)
        # the swept β is in the name, not in the key: the runs of one plan share it (docs/RUN_FORMAT.md)
        keys = {c.name.rsplit("_", 1)[1] for c in plan.configs}
        assert keys == {settings_key(plan.configs[0], exclude=sweep_plan.SWEPT_KEYS)}
    assert len({p.configs[0].name.rsplit("_", 1)[1] for p in plans}) == 3  # another budget, another key
    manifest = sweep_manifests.sweep_manifest(tmp_path, "s")
    assert len(manifest["runs"]) == len(manifest["grid"]) == 6
    assert [g["run"] for g in manifest["grid"]] == manifest["runs"]
    assert [(g["beta"], g["seed"]) for g in manifest["grid"]] == [(0.5, 0), (2.0, 0)] * 3


def test_one_default_runs_folder_from_any_working_directory(tmp_path):
    code = (
        "from ctrpo_core import cli, config, runs; from ctrpo_core.results import catalog; "
        "print(catalog.default_runs_dir(), cli.runs_dir(None), config.resolve('GridHazard-v0', 'trpo').runs_dir, "
        "runs.default_runs_dir())"
    )
    env = {k: v for k, v in os.environ.items() if k != "CTRPO_RUNS_DIR"}
    for cwd in (tmp_path, ROOT / "notebooks", ROOT):
        out = subprocess.run([PYTHON, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True)
        assert out.stdout.split() == [str(ROOT / "runs")] * 4, (cwd, out.stdout)
    out = subprocess.run(
        [PYTHON, "-c", code],
        cwd=tmp_path,
        env={**env, "CTRPO_RUNS_DIR": str(tmp_path / "r")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == [str(tmp_path / "r")] * 4
    quickstart = (ROOT / "notebooks" / "quickstart.ipynb").read_text()
    assert 'runs_dir=\\"runs\\"' not in quickstart  # it trains into the default runs folder
