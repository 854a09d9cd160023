import contextlib
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    """Each test carries its tier's marker (its folder), so `-m unit` or `-m "not e2e"` select by tier."""
    for item in items:
        tier = next((part for part in Path(str(item.fspath)).parts if part in TIERS), None)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))


# `make test` runs the suite on two pytest-xdist workers, a file's tests on one worker (--dist loadfile: they
# share module fixtures, an app server, a Ray instance). What files share (the claims report, the HazardEdge-v0
# runs) is made once in a folder both workers see, one worker at a time; the other waits and reuses it.
def session_folder(tmp_path_factory, name: str) -> Path:
    """A folder of this test session that every worker sees (the session's base temp), or this process's own
    when the suite runs in one process."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / name
    else:
        folder = tmp_path_factory.getbasetemp() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def one_worker_at_a_time(folder: Path):
    """Hold the folder's lock (flock: released when its holder dies) while the work inside runs."""
    with open(folder / ".worker.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run_cli(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `ctrpo` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "ctrpo_core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kwargs.pop("cwd", ROOT),
        **kwargs,
    )


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "runs"


# The claims report with small parameters (tests/test_claims.py, tests/test_reports.py): executed once.
CLAIMS_CI_PARAMETERS = {
    "seeds": [0],
    "total_steps": 20000,
    "betas": [0.1, 1.0],
    "hiddens": [[16, 16]],
    "noise_steps_per_epoch": [1000],
}


@pytest.fixture(scope="session")
def claims_report(tmp_path_factory):
    """(runs folder, report folder, seconds it took) of `ctrpo report claims` run with CLAIMS_CI_PARAMETERS,
    once per session."""
    import json
    import time

    base = session_folder(tmp_path_factory, "claims")
    runs, record = base / "runs", base / "report.json"
    with one_worker_at_a_time(base):
        if not record.exists():
            params = [a for k, v in CLAIMS_CI_PARAMETERS.items() for a in ("-p", k, json.dumps(v))]
            start = time.time()
            result = run_cli("report", "claims", "--runs-dir", runs, *params, timeout=900)
            assert result.returncode == 0, result.stderr[-3000:]
            folder = next((runs / "reports").glob("claims-*"))
            record.write_text(json.dumps({"folder": str(folder), "seconds": time.time() - start}))
        made = json.loads(record.read_text())
    return runs, Path(made["folder"]), made["seconds"]


def randomise(module: nn.Module, scale: float = 0.5, seed: int = 0) -> None:
    """Move the parameters away from the near-uniform init so every block of a Hessian matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def distribution_at(policy: nn.Module, theta: torch.Tensor, obs: torch.Tensor):
    """π_θ(·|obs) for a flat parameter vector θ (same order as trust_region.flat_params)."""
    params, offset = {}, 0
    for name, p in policy.named_parameters():
        params["policy." + name] = theta[offset : offset + p.numel()].view_as(p)
        offset += p.numel()
    assert offset == theta.numel()
    return torch.func.functional_call(DistOf(policy), params, (obs,))


class DistOf(nn.Module):
    """Wraps a policy so torch.func.functional_call can return its distribution."""

    def __init__(self, policy):
        super().__init__()
        self.policy = policy

    def forward(self, obs):
        return self.policy.distribution(obs)


# ---------------------------------------------------------------- HazardEdge-v0 runs at the task's settings
# The learning tests, the demo's promises and the Demo page read runs of HazardEdge-v0 at the task's
# settings, seeds 0-2. The suite states them here and trains each once, into one session folder, planned as
# the barrier_sensitivity and benchmark reports plan the same settings (so those reports, run at their
# defaults into such a folder, reuse them). No report's default decides what a test reads.
EDGE = "HazardEdge-v0"
SEEDS = (0, 1, 2)


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory) -> Path:
    return session_folder(tmp_path_factory, "shared") / "runs"


def train_edge_runs(runs_dir: Path, betas=(), bhs=(), baselines=(), **settings) -> dict:
    """C-TRPO over ``betas`` (at the task's b_H) and ``bhs`` (at the task's β), and the ``baselines`` (with
    ``settings`` such as a shorter total_steps), each over SEEDS, trained where not finished yet;
    {(algo, beta, bh, seed): run directory}."""
    from ctrpo_core.results.analysis import run_configs, sensitivity_plan
    from ctrpo_core.sweeps.benchmark import benchmark_configs

    configs = []
    if betas:
        configs += sensitivity_plan(EDGE, betas, [None], SEEDS, runs_dir).configs
    if bhs:
        configs += sensitivity_plan(EDGE, [None], bhs, SEEDS, runs_dir).configs
    configs += benchmark_configs(list(baselines), [EDGE], SEEDS, runs_dir, **settings) if baselines else []
    configs = list({c.name: c for c in configs}.values())
    with one_worker_at_a_time(runs_dir.parent):  # the other worker's runs are reused once finished
        states = run_configs(configs, parallel=None, report=lambda line: None)
    assert set(states.values()) == {"finished"}, states
    return {(c.algo, c.beta, c.bh, c.seed): runs_dir / c.name for c in configs}


@pytest.fixture(scope="session")
def demo_runs(shared_runs):
    """A runs folder holding the classroom demo at its defaults (`ctrpo demo`), which reuses the runs of the
    same settings trained for the tests (C-TRPO, TRPO-Lag, TRPO at seed 0)."""
    train_edge_runs(shared_runs, betas=[1.0], baselines=("trpo-lag", "trpo"))
    with one_worker_at_a_time(shared_runs.parent):
        result = run_cli("demo", "--runs-dir", shared_runs, timeout=600)
    assert result.returncode == 0, result.stderr
    return shared_runs


# ---------------------------------------------------------------- the notebooks on the project's kernel
LAB_KERNEL = "ctrpo-explorer"  # the project's kernel (`make lab`'s set-up installs it into .venv)
# Small enough that all five notebooks run in well under a minute together on 2 cores (`ctrpo report`,
# tests/integration/test_reports.py). The notebooks that train many runs at full budgets by default (the
# grids of barrier_sensitivity and benchmark, the claims) run at their defaults in
# benchmarks/notebook_defaults.py (`make bench`): a long experiment, not a test.
CI_PARAMETERS = {
    "quickstart": {"total_steps": 10000},
    "barrier_sensitivity": {"betas": [0.0, 10.0], "bhs": [0.6, 1.0], "seeds": [0], "total_steps": 8000, "parallel": 1},
    "benchmark": {
        "algos": ["c-trpo", "cpo", "trpo"],
        "tasks": ["HazardEdge-v0", "GridHazard-v0"],  # PPO's return at 4,000 steps: above 0, below 0
        "seeds": [0, 1],
        "total_steps": 4000,
        "reps": 500,
        "parallel": 1,
    },
    "cnpg_geometry": {},
    "claims": CLAIMS_CI_PARAMETERS,
}
AT_DEFAULTS = ("cnpg_geometry", "quickstart")  # cheap at their defaults: executed so on the project's kernel


class LabReports(dict):
    """{notebook name: executed notebook path}; ``runs_dir``: the runs folder they shared; ``parameters``: {name:
    what papermill injected}; ``html``: {name: HTML export}; ``seconds``: {name: execution time}; ``errors``:
    {name: what stopped it} (empty when all finished)."""

    def __init__(self, runs_dir: Path):
        super().__init__()
        self.runs_dir = runs_dir
        self.parameters: dict[str, dict] = {}
        self.html: dict[str, Path] = {}
        self.seconds: dict[str, float] = {}
        self.errors: dict[str, str] = {}


@pytest.fixture(scope="session")
def lab_reports(tmp_path_factory):
    """The AT_DEFAULTS notebooks executed once on the project's kernel (what JupyterLab runs) with their
    default parameters, each in its own working folder, training into one runs folder (``runs_dir`` set where
    a notebook has one, as `ctrpo report` sets it). Every notebook with small parameters: test_reports. A
    failing notebook is recorded in ``errors``, its partial notebook kept."""
    import time

    import papermill

    from ctrpo_core import reports

    base = tmp_path_factory.mktemp("lab_reports")
    out = LabReports(base / "runs")
    for name in AT_DEFAULTS:
        work = base / name
        work.mkdir()
        path = work / f"{name}.ipynb"
        injected = {}
        if "runs_dir" in reports.parameters(name):
            injected["runs_dir"] = str(out.runs_dir)
        out.parameters[name] = injected
        start = time.time()
        before = os.environ.get("CTRPO_RUNS_DIR")
        os.environ["CTRPO_RUNS_DIR"] = str(out.runs_dir)  # the kernel's default runs folder (never the repo's)
        try:
            papermill.execute_notebook(
                str(reports.notebook_path(name)),
                str(path),
                parameters=injected,
                kernel_name=LAB_KERNEL,
                cwd=str(work),
                progress_bar=False,
                log_output=False,
                kernel_manager_class=reports._kernel_manager_class(),
            )
        except Exception as exc:  # a failing cell, a kernel that died or did not start
            out.errors[name] = f"{type(exc).__name__}: {exc}"[-3000:]
        finally:
            if before is None:
                os.environ.pop("CTRPO_RUNS_DIR", None)
            else:
                os.environ["CTRPO_RUNS_DIR"] = before
        out.seconds[name] = time.time() - start
        out[name] = path
        if path.exists():
            reports.export_html(path, path.with_suffix(".html"))
            out.html[name] = path.with_suffix(".html")
    print("\nnotebooks on the project's kernel (s): " + ", ".join(f"{n} {t:.0f}" for n, t in out.seconds.items()))
    return out
