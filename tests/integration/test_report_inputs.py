"""`ctrpo report`'s inputs and endings (issue 31): every parameter of every notebook is declared with its type
and range and checked before anything is written (exit 2 naming it); SIGTERM/SIGINT stop a report (exit 130,
status "stopped"); a write refused before the notebook's first save (a full disk) leaves no folder behind and
names the file."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli

from ctrpo_core import cli, reports
from ctrpo_core.config.rules import INF, ConfigError
from ctrpo_core.reports.parameters import DECLARED, MAX_ITEMS, Param


def test_every_parameter_of_every_notebook_is_declared():
    assert sorted(DECLARED) == reports.available()
    for name in reports.available():
        assert list(DECLARED[name]) == list(reports.parameters(name)), name
        defaults = {k: spec["value"] for k, spec in reports.parameters(name).items() if k not in reports.RESERVED}
        assert reports.check_parameters(name, defaults) == defaults, name  # the notebook's own defaults pass
        reports.check_settings(name, defaults)


def _valid_numbers(spec: Param, n: int) -> list:
    """``n`` distinct values inside ``spec``'s range, increasing."""
    rule = spec.range
    lo = 0.0 if rule.lo == -INF or rule.lo < -1e6 else rule.lo
    if spec.kind == "int":
        return [int(lo) + i for i in range(n)]
    hi = lo + 1.0 if rule.hi == INF else min(rule.hi, lo + 1.0)
    return [lo + (hi - lo) * (i + 1) / (n + 1) for i in range(n)]


def _outside(spec: Param) -> list:
    """Values just outside ``spec``'s range (or choices)."""
    if spec.kind == "task" or spec.choices is not None:
        return ["Nope-v0"]
    if spec.kind == "widths":
        return [[0], [64, -1], []]
    rule, bad = spec.range, []
    if rule.lo != -INF:
        bad.append(rule.lo if rule.lo_open else (rule.lo - 1 if spec.kind == "int" else rule.lo - abs(rule.lo) - 1.0))
    if rule.hi != INF:
        bad.append(rule.hi if rule.hi_open else (rule.hi + 1 if spec.kind == "int" else rule.hi * 2 + 1.0))
    return bad


def bad_values(spec: Param) -> list[tuple[str, str]]:
    """(what is wrong, the -p text) for a wrong type and every way out of range the declaration has."""
    if spec.kind == "list":
        cases = [("wrong type", "5"), ("an item of the wrong type", json.dumps([{"a": 1}]))]
        cases += [("an item out of range", json.dumps([v])) for v in _outside(spec.item)]
        lo, hi = spec.length
        if lo > 0:
            cases.append(("too short", "[]"))
        if spec.item.range is not None:
            if hi < 10_000:
                cases.append(("too long", json.dumps(_valid_numbers(spec.item, hi + 1))))
            if spec.order:
                cases.append(("out of order", json.dumps(_valid_numbers(spec.item, max(lo, 2))[::-1])))
        return cases
    if spec.kind in ("str", "task", "benchmark"):  # a benchmark's name: none of the (empty) runs folder's
        return [("wrong type", "[1]"), ("not allowed", "Nope-v0")]
    if spec.kind == "widths":
        return [("wrong type", "64")] + [("out of range", json.dumps(v)) for v in _outside(spec)]
    cases = [("wrong type", "many"), ("wrong type", "[1]")]
    if spec.kind == "int":
        cases.append(("not whole", "1.5"))
    return cases + [("out of range", json.dumps(v)) for v in _outside(spec)]


CASES = [
    (name, key, why, text)
    for name, declared in DECLARED.items()
    for key, spec in declared.items()
    if key not in reports.RESERVED
    for why, text in bad_values(spec)
]


def test_the_cases_cover_every_parameter_with_a_type_and_a_range_case():
    covered = {(name, key) for name, key, _, _ in CASES}
    assert covered == {(n, k) for n, d in DECLARED.items() for k in d if k not in reports.RESERVED}
    ranged = {(n, k) for n, k, why, _ in CASES if "range" in why or why == "not allowed"}
    assert len(ranged) == len(covered)  # every parameter here has a range or a set of allowed values
    assert MAX_ITEMS < 10_000


def test_bad_values_exit_2_naming_the_parameter_and_write_nothing(tmp_path, capsys):
    """In-process through cli.main (the command line's own path), so the ~250 cases take seconds; nothing executes."""
    runs = tmp_path / "runs"
    failures = []
    for name, key, why, text in CASES:
        code = cli.main(["report", name, "-p", key, text, "--runs-dir", str(runs)])
        err = capsys.readouterr().err
        if code != 2 or not err.startswith(f"ctrpo: error: -p {key}:") or err.count("\n") != 1 or "must be" not in err:
            failures.append((name, key, why, text[:60], code, err[-300:]))
        if runs.exists():
            failures.append((name, key, why, text[:60], "wrote", sorted(p.name for p in runs.rglob("*"))))
            break
    assert not failures, failures[:10]


@pytest.mark.parametrize(
    "args,param,allowed",
    [
        (["cnpg_geometry", "-p", "n_steps", "1000000000000"], "-p n_steps", "an integer in [1, 100000]"),
        (["cnpg_geometry", "-p", "n_starts", "-5"], "-p n_starts", "an integer in [1, 100]"),
        (["claims", "-p", "hiddens", "[[0]]"], "-p hiddens", "positive integers"),
    ],
)
def test_the_issue_examples_exit_2_before_a_notebook_starts(tmp_path, args, param, allowed):
    result = run_cli("report", *args, "--runs-dir", tmp_path / "runs", timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(f"ctrpo: error: {param}: must be") and allowed in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_a_valid_value_is_still_taken():
    values = reports.parse_parameters(
        "claims", [("hiddens", "[[8], [32, 32]]"), ("surrogate_steps", "[0.01, 0.1]"), ("total_steps", "1e4")]
    )
    assert values == {"hiddens": [[8], [32, 32]], "surrogate_steps": [0.01, 0.1], "total_steps": 10000}
    assert reports.parse_parameters("cnpg_geometry", [("t_end", "5"), ("n_starts", "100")]) == {
        "t_end": 5.0,
        "n_starts": 100,
    }
    assert reports.parse_parameters("benchmark", [("parallel", "null")]) == {"parallel": None}


def test_quickstart_takes_any_algorithm_and_refuses_a_beta_it_does_not_read():
    """quickstart's β and b_H are C-TRPO's (null: its default), so `-p algo trpo` alone is a valid report, and
    claims' extra runs (noise, widths) may be none."""
    for algo in ("trpo", "ppo", "c-trpo"):
        reports.check_settings("quickstart", reports.parse_parameters("quickstart", [("algo", algo)]))
    with pytest.raises(ConfigError, match="-p beta"):
        reports.check_settings("quickstart", reports.parse_parameters("quickstart", [("algo", "trpo"), ("beta", "2")]))
    reports.check_settings("claims", reports.parse_parameters("claims", [("hiddens", "[]")]))


# ------------------------------------------------------------------------------------------ stopping
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_report_with_exit_130_and_status_stopped(tmp_path, sig):
    runs = tmp_path / "runs"
    # cnpg_geometry trains nothing; 100,000 fixed steps keep its first picture's cell busy for seconds
    proc = subprocess.Popen(
        [sys.executable, "-m", "ctrpo_core.cli", "report", "cnpg_geometry", "--runs-dir", str(runs)]
        + ["-p", "n_starts", "2", "-p", "n_steps", "100000", "-p", "exact_starts", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, status = time.time() + 120, {}
        while time.time() < deadline and proc.poll() is None:
            folders = list((runs / "reports").glob("cnpg_geometry-*"))
            status = reports.read_status(folders[0]) if folders else {}
            if status.get("state") == "running" and (folders[0] / "cnpg_geometry.ipynb").exists():
                break
            time.sleep(0.1)
        assert status.get("state") == "running", (status, proc.poll())
        time.sleep(1.0)  # into the cells
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    (folder,) = list((runs / "reports").glob("cnpg_geometry-*"))
    status = reports.read_status(folder)
    assert status["state"] == "stopped" and status["message"] == f"stopped by {sig.name}", status
    assert f"stopped by {sig.name}" in err and "Traceback" not in err, err[-3000:]
    assert (folder / "cnpg_geometry.ipynb").exists() and not (folder / "results.json").exists()
    row = next(r for r in reports.list_reports(runs) if r["folder"] == folder.name)
    assert row["state"] == "stopped"


def test_a_signal_while_the_folder_is_made_leaves_nothing(tmp_path, capsys, monkeypatch):
    from ctrpo_core.reports import folders

    def signalled():  # SIGTERM arrives while params.json is being assembled
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
        return {}

    monkeypatch.setattr(folders, "kernel_info", signalled)
    assert cli.main(["report", "cnpg_geometry", "--runs-dir", str(tmp_path / "runs")]) == 130
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------------------ a full disk
def refuse(monkeypatch, name: str, nth: int = 1) -> None:
    """The ``nth`` write of a file called ``name`` (through util.atomic's temporary file) fails like a full
    disk: os.fsync raises ENOSPC for it."""
    real, seen = os.fsync, []

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.basename(target).startswith(f".{name}.tmp"):
            seen.append(target)
            if len(seen) == nth:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("name,nth", [("params.json", 1), ("status.json", 1), ("status.json", 2)])
def test_a_full_disk_before_the_notebook_leaves_no_folder_and_names_the_file(tmp_path, capsys, monkeypatch, name, nth):
    """params.json, the 'queued' status (prepare), the 'running' status (execute): each refused in turn."""
    runs = tmp_path / "runs"
    refuse(monkeypatch, name, nth)
    assert cli.main(["report", "cnpg_geometry", "--runs-dir", str(runs)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {runs.resolve()}/reports/cnpg_geometry-" in err and f"/{name}: No space left" in err, err
    assert not runs.exists(), sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))


def test_a_full_disk_at_the_notebooks_first_save_leaves_no_folder(tmp_path, capsys, monkeypatch):
    """papermill's own write of the output notebook (before the kernel starts) refused."""
    from papermill.iorw import LocalHandler

    def full(self, buf, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(LocalHandler, "write", full)
    runs = tmp_path / "runs"
    assert cli.main(["report", "cnpg_geometry", "--runs-dir", str(runs)]) == 1
    err = capsys.readouterr().err
    assert "cannot write " in err and "/cnpg_geometry.ipynb: No space left" in err and "removed" in err, err
    assert not runs.exists(), sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))


def test_a_full_disk_keeps_a_folder_that_holds_a_background_reports_log(tmp_path, monkeypatch):
    """A report started in the background keeps its folder (its report.log is the record) and says failed."""
    folder = reports.prepare("cnpg_geometry", {}, tmp_path / "runs")
    (folder / reports.LOG).write_text("started\n")
    refuse(monkeypatch, "status.json")
    with pytest.raises(reports.ReportNotStarted, match="status.json: No space left"):
        reports.execute(folder)
    assert folder.is_dir() and (folder / reports.LOG).exists()
