"""Old import paths keep working after the re-layout (issue 21): each module that moved answers from its new
home with a DeprecationWarning naming it, ``ctrpo_core.api`` did not move, and a name that is gone fails
with a message naming where the module went."""

import importlib
import subprocess
import sys

import pytest

from ctrpo_core import _moved


def fresh(code: str) -> subprocess.CompletedProcess:
    """``code`` in a new interpreter: the import system's state of this one (modules already imported) hides
    nothing."""
    return subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-c", code], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_every_old_module_path_imports(old):
    with pytest.warns(DeprecationWarning, match=_moved.MOVED[old][0].replace(".", r"\.")):
        module = importlib.import_module(f"ctrpo_core.{old}")
    sys.modules.pop(f"ctrpo_core.{old}", None)  # the next test sees the warning again
    assert module is not None


def test_old_catalog_is_the_new_one_and_says_so():
    result = fresh(
        "import ctrpo_core.catalog as c, ctrpo_core.results.catalog as r; "
        "from ctrpo_core.catalog import run_table, find_run; "
        "print(c is r, run_table is r.run_table, find_run is r.find_run)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]
    assert "ctrpo_core.catalog moved to ctrpo_core.results.catalog" in result.stderr


def test_api_did_not_move():
    result = fresh("from ctrpo_core.api import train, launch, resume, stop_runs, list_runs, read_run; print('ok')")
    assert result.returncode == 0 and result.stdout.strip() == "ok" and "DeprecationWarning" not in result.stderr


def test_a_split_module_finds_each_name_in_its_new_home():
    result = fresh(
        "from ctrpo_core import policy_io; from ctrpo_core.runs.policy import find_trained_run; "
        "from ctrpo_core.tools import evaluate, export; "
        "print(policy_io.evaluate is evaluate.evaluate, policy_io.export is export.export, "
        "policy_io.find_run is find_trained_run)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]


def test_a_name_that_is_gone_names_the_new_path_in_one_line():
    result = fresh("from ctrpo_core import policy_io; policy_io.no_such_name")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("AttributeError:") and "ctrpo_core.tools.evaluate" in last
