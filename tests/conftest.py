import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `ctrpo` command line in a subprocess."""
    return subprocess.run([sys.executable, "-m", "ctrpo_core.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=kwargs.pop("cwd", ROOT), **kwargs)


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "runs"
