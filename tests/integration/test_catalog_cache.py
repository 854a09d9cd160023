"""The catalog costs what changed (issue 31): a run's summary is read again only when its files change, Live's
metrics reads take only the appended rows, a fresh process starts from the runs folder's catalog file, and a
file that is not a regular one (a FIFO, a folder, a device) makes its run damaged instead of stalling a listing."""

import collections
import json
import os
import shutil
import time

import pytest
from conftest import ROOT, run_cli
from streamlit.testing.v1 import AppTest

from ctrpo_core import api
from ctrpo_core.results import catalog
from ctrpo_core.runs import store

RUN_FILES = ("config.json", "metrics.csv", "status.json")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished 3-epoch run of the built-in grid task."""
    runs = tmp_path_factory.mktemp("source") / "runs"
    return api.train(
        "GridHazard-v0", "c-trpo", total_steps=1200, steps_per_epoch=400, num_envs=4, runs_dir=str(runs), name="a"
    ).path


@pytest.fixture
def reads(monkeypatch):
    """{(run name, file name): [offsets read from]}: every read of a run file by the store."""
    seen = collections.defaultdict(list)
    real = store.read_regular

    def counting(path, limit, offset=0):
        seen[(path.parent.name, path.name)].append(offset)
        return real(path, limit, offset)

    monkeypatch.setattr(store, "read_regular", counting)
    return seen


@pytest.fixture
def folder(tmp_path, trained):
    """Five copies of the run; "growing" holds its first epoch only, as if it were training."""
    runs = tmp_path / "runs"
    for name in ("r0", "r1", "r2", "r3", "growing"):
        shutil.copytree(trained, runs / name)
    metrics = runs / "growing" / "metrics.csv"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines[:2]))
    return runs, lines[2:]


def fresh_process_memory():
    catalog._SUMMARIES.clear(), catalog._LOADED.clear(), catalog._FRAMES.clear(), catalog._CHANGED.clear()
    catalog._CURVES.clear()


def metrics_reads(reads):
    return {run: offsets for (run, name), offsets in reads.items() if name == "metrics.csv"}


def test_a_summary_is_read_again_only_when_its_run_changes(folder, reads):
    runs, later_rows = folder
    fresh_process_memory()
    table = catalog.run_table(runs).set_index("name")
    assert table.loc["growing", "epoch"] == 1 and table.loc["r0", "epoch"] == 3
    assert set(metrics_reads(reads)) == {"r0", "r1", "r2", "r3", "growing"}
    reads.clear()
    catalog.run_table(runs)
    assert not reads, "nothing changed, nothing is read"
    with open(runs / "growing" / "metrics.csv", "a") as f:
        f.write(later_rows[0])
    table = catalog.run_table(runs).set_index("name")
    assert table.loc["growing", "epoch"] == 2
    assert set(metrics_reads(reads)) == {"growing"}, "only the run that changed is read"


def test_live_reads_only_the_appended_rows(folder, reads):
    runs, later_rows = folder
    fresh_process_memory()
    path = runs / "growing"
    _, _, metrics = catalog.read_run_files(path)
    size = (path / "metrics.csv").stat().st_size
    assert len(metrics) == 1 and metrics_reads(reads)["growing"] == [0]
    reads.clear()
    with open(path / "metrics.csv", "a") as f:
        f.write(later_rows[0] + later_rows[1][:10])  # a whole row and the start of the next
    _, _, metrics = catalog.read_run_files(path)
    assert metrics_reads(reads)["growing"] == [size], "the read starts where the last one ended"
    assert metrics.epoch.tolist() == [1, 2]
    with open(path / "metrics.csv", "a") as f:
        f.write(later_rows[1][10:])
    _, _, metrics = catalog.read_run_files(path)
    assert metrics.epoch.tolist() == [1, 2, 3]
    whole = store.RunDir(path).read_metrics()
    assert metrics.equals(whole), "appended reads give the same frame as one read of the whole file"


def test_a_fresh_process_starts_from_the_catalog_file(folder, reads):
    runs, _ = folder
    fresh_process_memory()
    first = catalog.run_table(runs)
    catalog.save_catalog(runs)
    assert (runs / catalog.CATALOG_FILE).is_file()
    fresh_process_memory()
    reads.clear()
    again = catalog.run_table(runs)
    assert not metrics_reads(reads), "rows whose files did not change come from the catalog file"
    assert again.drop(columns="eta_s").equals(first.drop(columns="eta_s"))
    # a foreign or damaged catalog file is only a cache: the runs are read again
    (runs / catalog.CATALOG_FILE).write_text("[1, 2")
    fresh_process_memory()
    assert len(catalog.run_table(runs)) == 5 and len(metrics_reads(reads)) == 5


def test_a_run_with_more_rows_than_planned_epochs_is_damaged(folder):
    runs, _ = folder
    fresh_process_memory()
    metrics = runs / "r0" / "metrics.csv"
    header, *rows = metrics.read_text().splitlines(keepends=True)
    metrics.write_text(header + "".join(rows * 5))
    row = catalog.summarize_run(runs / "r0")
    assert row["state"] == "damaged" and "planned" in row["message"], row


def planted(path, kind):
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")  # a device, whatever user runs the tests


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_a_file_that_is_not_a_regular_one_makes_its_run_damaged(folder, kind, monkeypatch):
    runs, _ = folder
    for file, name in zip(RUN_FILES, ("r1", "r2", "r3")):
        planted(runs / name / file, kind)
    planted(runs / "r0" / ".lock", kind) if (runs / "r0" / ".lock").exists() else None
    started = time.monotonic()
    listed = run_cli("ls", "--runs-dir", str(runs), "--json", timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert time.monotonic() - started < 60
    states = {row["name"]: row for row in json.loads(listed.stdout)}
    for name in ("r1", "r2", "r3"):
        assert states[name]["state"] == "damaged", states[name]
        assert "not a regular file" in states[name]["message"] or "is a" in states[name]["message"], states[name]
    assert states["r0"]["state"] == "finished"
    if kind == "fifo":  # the pages list the folder too
        monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
        for page in ("views/home.py", "views/live.py", "views/compare.py"):
            at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60).run().switch_page(page).run()
            assert not at.exception, (page, [e.value for e in at.exception])


def test_compare_s_curves_are_kept_compact_and_read_once(folder, reads):
    """load_curves(columns=...): what Compare pools over thousands of runs; the same numbers and settings as a
    full read, each run's metrics read once while its files do not change."""
    runs, later_rows = folder
    fresh_process_memory()
    paths = catalog.run_dirs(runs)
    full = catalog.load_curves(paths)
    reads.clear()
    compact = catalog.load_curves(paths, columns=catalog.CURVE_COLUMNS)
    assert full[list(compact.columns)].equals(compact)
    reads.clear()
    catalog.load_curves(paths, columns=catalog.CURVE_COLUMNS)
    assert not metrics_reads(reads)
    with open(runs / "growing" / "metrics.csv", "a") as f:
        f.write(later_rows[0])
    again = catalog.load_curves(paths, columns=catalog.CURVE_COLUMNS)
    assert set(metrics_reads(reads)) == {"growing"} and len(again) == len(compact) + 1
