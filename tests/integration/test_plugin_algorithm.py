"""One algorithm, one file (issue 30): a renamed copy of TRPO in a module outside the package, registered the
documented way ($CTRPO_ALGORITHMS, docs/ALGORITHM.md "Adding an algorithm"), is trained by `ctrpo train --algo`,
listed by `ctrpo ls`, offered on the Train page and drawn in Compare's legend in its colour, with its own
setting refused for the other algorithms; nothing of the project changes (the copy lives in a temporary
folder). Real processes: the CLI and the app's pages each in a fresh interpreter that reads the variable."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

COLOR = "#3d8c3a"


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """(environment with the plugin registered, runs folder holding one run of it)."""
    folder = tmp_path_factory.mktemp("plugin")
    source = (ROOT / "ctrpo_core" / "algos" / "trpo.py").read_text()
    renames = {
        '"id": "trpo"': '"id": "my-trpo"',
        '"name": "TRPO"': '"name": "My-TRPO"',
        '"color": "#e377c2"': f'"color": "{COLOR}"',
        '"marker": "x"': '"marker": "star"',
        '"rank": 10': '"rank": 50',
        '"constrained": False,': '"constrained": False,\n    "settings": '
        '{"my_knob": {"kind": "float", "default": 1.0, "range": "(0, inf)", "help": "unused"}},',
    }
    for old, new in renames.items():
        assert source.count(old) == 1, old  # trpo.py's declaration as written
        source = source.replace(old, new)
    assert '"my-trpo"' in source and "my_knob" in source  # the copy was renamed (trpo.py's declaration as written)
    (folder / "my_trpo.py").write_text(source)
    env = {
        **os.environ,
        "CTRPO_ALGORITHMS": "my_trpo",
        "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]),
    }
    runs = folder / "runs"
    result = run_cli(
        "train",
        "--task",
        "GridHazard-v0",
        "--algo",
        "my-trpo",
        "--total-steps",
        4000,
        "--runs-dir",
        runs,
        "--name",
        "mine",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    api_trpo = run_cli(
        "train",
        "--task",
        "GridHazard-v0",
        "--algo",
        "trpo",
        "--total-steps",
        4000,
        "--runs-dir",
        runs,
        "--name",
        "theirs",
        env=env,
    )
    assert api_trpo.returncode == 0, api_trpo.stderr
    return env, runs


def test_the_cli_trains_lists_and_guards_a_plugin_algorithm(plugin):
    env, runs = plugin
    listed = {r["name"]: r for r in json.loads(run_cli("ls", "--runs-dir", runs, "--json", env=env).stdout)}
    assert listed["mine"]["algo"] == "my-trpo" and listed["mine"]["state"] == "finished"
    config = json.loads((runs / "mine" / "config.json").read_text())
    assert config["my_knob"] == 1.0
    refused = run_cli(
        "train", "--task", "GridHazard-v0", "--algo", "trpo", "--set", "my_knob=2", "--runs-dir", runs, env=env
    )
    assert refused.returncode == 2 and "my_knob" in refused.stderr and "my-trpo" in refused.stderr
    help_text = run_cli("train", "--help", env=env).stdout
    assert "my-trpo" in " ".join(help_text.split())
    without = run_cli("ls", "--runs-dir", runs, "--json")  # without the variable the run is still listed
    assert {r["name"] for r in json.loads(without.stdout)} == {"mine", "theirs"}


PAGES = r"""
import json, sys
from streamlit.testing.v1 import AppTest
main = sys.argv[1]
train = AppTest.from_file(main, default_timeout=60).run().switch_page("views/train.py").run()
options = train.selectbox(key="algo").options
compare = AppTest.from_file(main, default_timeout=60).run().switch_page("views/compare.py").run()
figure = json.loads(compare.get("plotly_chart")[0].proto.spec)
legend = {t["name"]: t.get("line", {}).get("color") for t in figure["data"]
          if t.get("showlegend", True) and t.get("name")}
errors = [e.value for e in [*train.exception, *compare.exception]]
print(json.dumps({"options": options, "legend": legend, "errors": errors}))
"""


def test_the_app_offers_the_plugin_and_draws_it_in_its_colour(plugin):
    env, runs = plugin
    result = subprocess.run(
        [sys.executable, "-c", PAGES, str(ROOT / "app" / "main.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**env, "CTRPO_RUNS_DIR": str(runs)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    pages = json.loads(result.stdout.strip().splitlines()[-1])
    assert pages["errors"] == [] and "my-trpo" in pages["options"] and "trpo" in pages["options"]
    mine = [color for name, color in pages["legend"].items() if name.startswith("My-TRPO")]
    assert mine == [COLOR], pages["legend"]
