"""Where things are: the checkout this package runs from, and the runs folder when none is given."""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]  # the checkout (make installs the package editable)


def in_checkout() -> bool:
    return (REPOSITORY / "pyproject.toml").is_file()


def default_runs_dir() -> Path:
    """The runs folder when none is given: ``$CTRPO_RUNS_DIR``, else the repository's ``runs/`` (this
    package in a checkout, as ``make`` installs it), else ``./runs``. One answer whatever the working
    directory: the CLI, the app, a papermill report and a JupyterLab kernel (cwd notebooks/) agree."""
    if os.environ.get("CTRPO_RUNS_DIR"):
        return Path(os.environ["CTRPO_RUNS_DIR"])
    return REPOSITORY / "runs" if in_checkout() else Path("runs")
