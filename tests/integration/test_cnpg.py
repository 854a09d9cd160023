"""C-NPG claims on exact tabular flows: safe-set invariance, convergence to the LP optimum, trust-region
shrinkage; and the `ctrpo cnpg` command.

Numerical zero for invariance. The exact C-NPG flow approaches the boundary exponentially (the gap b − V_c
decays at a rate ∝ 1/β), so for small β the true gap soon falls below what float64 can resolve in V_c
(≈ 0.2): an accurately integrated trajectory then sits at b within the integrator's error. The check is
V_c <= b + TOL with TOL = 1e-8, far below the fixed-step overshoot (~1e-4 … 1e-3) and NPG's crossing
(V_c → 0.92); a separate test shows the excursions above b are integration error (they shrink with rtol).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from conftest import run_cli

from ctrpo_core.tabular.cmdp import constrained_optimum, grid_hazard_cmdp, toy_cmdp
from ctrpo_core.tabular.divergence import trust_region_areas
from ctrpo_core.tabular.flows import normalised_flow, ode_flow
from ctrpo_core.tabular.starts import safe_starts

TOY = toy_cmdp()
TOL = 1e-8
ACCURATE = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def toy_starts():
    theta0 = safe_starts(TOY, 10, seed=0, margin=0.1)
    return theta0


@pytest.fixture(scope="module")
def toy_flows(toy_starts):
    """Accurately integrated NPG and C-NPG (β = 1e-2, 1, 2) from the same 10 strictly safe starts."""
    cnpg = ode_flow(TOY, toy_starts, [1e-2, 1.0, 2.0], t_end=20.0, n_record=201, **ACCURATE)
    npg = ode_flow(TOY, toy_starts, [0.0], t_end=10.0, n_record=101, **ACCURATE)
    return cnpg, npg


def test_starts_are_strictly_safe(toy_flows):
    cnpg, npg = toy_flows
    assert np.all(cnpg.V_c[:, :, 0] < TOY.b - 0.1) and np.all(npg.V_c[:, :, 0] < TOY.b - 0.1)


def test_cnpg_keeps_the_safe_set_invariant_npg_leaves_it(toy_flows):
    cnpg, npg = toy_flows
    # every recorded point and every accepted solver step of every C-NPG trajectory
    assert cnpg.V_c.max() <= TOY.b + TOL, cnpg.V_c.max() - TOY.b
    assert cnpg.max_V_c.max() <= TOY.b + TOL
    # the trajectories do reach the boundary region (the check is not vacuous)
    assert np.all(cnpg.V_c[:, :, -1] > TOY.b - 1e-5)
    # NPG from the same starts: crosses for at least one start (here: all, towards V_c = 0.92)
    assert npg.crossed.sum() >= 1
    assert npg.max_V_c.max() > TOY.b + 0.5


def test_excursions_above_b_are_integration_error():
    theta0 = safe_starts(TOY, 3, seed=0, margin=0.1)
    loose = ode_flow(TOY, theta0, [1e-2], t_end=10.0, n_record=101, rtol=1e-8, atol=1e-10)
    tight = ode_flow(TOY, theta0, [1e-2], t_end=10.0, n_record=101, rtol=1e-11, atol=1e-13)
    over_loose, over_tight = loose.overshoot.max(), tight.overshoot.max()
    assert over_tight <= TOL
    assert over_tight <= over_loose / 10 or over_tight == 0.0


def test_fixed_normalised_steps_overshoot_is_reported_not_hidden(toy_starts):
    traj = normalised_flow(TOY, toy_starts, [0.0, 1e-2, 2.0], n_steps=10_000, record_every=50)
    npg, small_beta, large_beta = traj.overshoot.max(axis=1)
    assert npg > 0.5  # NPG heads for the unsafe unconstrained optimum (0, 1)
    assert 1e-6 < small_beta < 1e-2  # a Δt = 0.01 step jumps over the thin barrier layer of β = 1e-2
    assert traj.stopped[1].any() and traj.max_V_c[1].max() > TOY.b
    assert large_beta <= TOL  # β = 2: the fixed-step path stays inside here


def test_cnpg_converges_to_the_lp_optimum_on_the_toy(toy_flows, toy_starts):
    opt = constrained_optimum(TOY)
    cnpg, _ = toy_flows
    V_r_end, V_c_end = cnpg.final()
    # β = 1e-2 and β = 1 by t = 20: within 1e-6 of V_r* = 1.10319 (observed ~1e-9); β = 2 is slower (1e-4)
    assert np.abs(V_r_end[:2] - opt.reward).max() < 1e-6
    assert np.abs(V_r_end[2] - opt.reward).max() < 1e-4
    assert V_c_end.max() <= TOY.b + TOL
    # the paper's normalised steps with β = 2 end there too
    steps = normalised_flow(TOY, toy_starts, [2.0], n_steps=10_000, record_every=100)
    assert np.abs(steps.final()[0] - opt.reward).max() < 1e-6 and steps.max_V_c.max() <= TOY.b


def test_cnpg_converges_to_the_lp_optimum_on_grid_hazard():
    grid = grid_hazard_cmdp()  # b = 0.01 (normalised): least-cost ≈ 0.0003, unconstrained optimum ≈ 0.036
    opt = constrained_optimum(grid)
    free = constrained_optimum(grid_hazard_cmdp(b=1.0))
    assert free.cost > grid.b  # the constraint binds
    theta0 = safe_starts(grid, 2, seed=0)
    cnpg = ode_flow(grid, theta0, [1e-2], t_end=300.0, n_record=61, rtol=1e-8, atol=1e-10)
    V_r_end, V_c_end = cnpg.final()
    assert cnpg.max_V_c.max() <= grid.b + TOL
    # within 0.1% of V_r* (observed ~0.005% at t = 300)
    assert np.all(np.abs(V_r_end - opt.reward) <= 1e-3 * abs(opt.reward)), (V_r_end, opt.reward)
    npg = ode_flow(grid, theta0, [0.0], t_end=100.0, n_record=11, rtol=1e-6, atol=1e-9)
    assert np.all(npg.crossed) and np.all(npg.final()[0] > opt.reward)  # NPG: more reward, unsafe


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_trust_regions_shrink_towards_the_boundary_and_stay_safe(beta):
    areas = trust_region_areas(delta=0.05, beta=beta)  # default bases: x = 0.5, b − V_c from 0.09 down to 0.007
    gaps = TOY.b - areas["V_c_bases"]
    assert np.all(np.diff(gaps) < 0)  # bases ordered towards the boundary
    assert np.all(np.diff(areas["D_C"]) < 0), areas["D_C"]  # D_C regions shrink monotonically
    assert areas["D_C"][-1] < 0.5 * areas["D_C"][0]
    assert np.all(areas["max_V_c_inside"] < TOY.b)  # every grid point inside is safe
    # the plain KL ball does not shrink that way: it grows along this line, and is larger everywhere
    assert np.all(np.diff(areas["KL"]) >= 0) and np.all(areas["KL"] > areas["D_C"])


def test_cli_cnpg_writes_three_offline_html_files(tmp_path):
    out = tmp_path / "cnpg"
    result = run_cli(
        "cnpg", "--beta", "0,0.01,1", "--starts", "3", "--seed", "1", "--delta", "0.05", "--out", out, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for name in ("policy_space", "trust_regions", "value_curves"):
        html = (out / f"{name}.html").read_text()
        assert "<html" in html and "Plotly.newPlot" in html
        assert not re.findall(r"<script[^>]*\bsrc=", html) and len(html) > 1_000_000  # plotly.js inline: works offline
    assert "kaleido" in result.stdout  # PNG export skipped with a note
    assert not list(out.glob("*.png"))


@pytest.mark.parametrize(
    "args, parameter",
    [
        (["--beta", "1,x"], "--beta"),
        (["--beta=-1"], "--beta"),
        (["--beta", ""], "--beta"),
        (["--delta", "0"], "--delta"),
        (["--delta=-0.1"], "--delta"),
        (["--delta", "abc"], "--delta"),
        (["--starts", "0"], "--starts"),
    ],
)
def test_cli_cnpg_bad_values_exit_2_with_one_line(tmp_path, args, parameter):
    out = tmp_path / "cnpg"
    result = run_cli("cnpg", *args, "--out", out, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and parameter in lines[0], result.stderr
    assert not out.exists()


# `ctrpo cnpg`'s files follow `ctrpo export`'s rule (issue 31): no existing file without --force, never through a
# symbolic link, never in a run directory; all checked before any is written; the default is <runs dir>/cnpg.
FIGURES = ("policy_space.html", "trust_regions.html", "value_curves.html")


def cnpg_cli(*args, **kwargs):
    return run_cli("cnpg", "--beta", "0,1", "--starts", "1", *args, timeout=120, **kwargs)


def one_error_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctrpo: error:"), result.stderr
    return lines[0]


def test_cli_cnpg_never_writes_through_a_symbolic_link(tmp_path):
    out = tmp_path / "figures"
    out.mkdir()
    target = tmp_path / "elsewhere.html"
    target.write_text("the user's own file")
    (out / "policy_space.html").symlink_to(target)
    for force in ([], ["--force"]):  # not even with --force
        line = one_error_line(cnpg_cli("--out", out, *force))
        assert "--out" in line and "symbolic link" in line and "policy_space.html" in line, line
    assert (out / "policy_space.html").is_symlink() and (out / "policy_space.html").readlink() == target
    assert target.read_text() == "the user's own file"
    assert sorted(p.name for p in out.iterdir()) == ["policy_space.html"]  # nothing else written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.html", "figures"]


def test_cli_cnpg_replaces_an_existing_file_only_with_force(tmp_path):
    runs = tmp_path / "runs"
    out = runs / "cnpg"  # --runs-dir without --out: the pictures go to RUNS_DIR/cnpg
    out.mkdir(parents=True)
    (out / "value_curves.html").write_text("an older picture")  # the last file cnpg writes
    line = one_error_line(cnpg_cli("--runs-dir", runs))
    assert "--out" in line and "value_curves.html" in line and "--force" in line, line
    # every file is checked before any is written: the first two were not written either
    assert sorted(p.name for p in out.iterdir()) == ["value_curves.html"]
    assert (out / "value_curves.html").read_text() == "an older picture"

    result = cnpg_cli("--runs-dir", runs, "--force")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == list(FIGURES)  # replaced by rename: no temporary file left
    for name in FIGURES:
        html = (out / name).read_text()
        assert "<html>" in html[:100] and html.rstrip().endswith("</html>") and "Plotly.newPlot" in html


def test_cli_cnpg_writes_nothing_in_a_run_directory(tmp_path):
    from ctrpo_core.runs.store import RunDir, inside_run

    run = tmp_path / "runs" / "a-run"
    RunDir(run).create({"task": "GridHazard-v0", "algo": "c-trpo", "seed": 0})
    assert inside_run(run) == run  # a real run directory, as the rule sees it
    before = sorted(p.name for p in run.iterdir())
    for out in (run, run / "figures", run / "deeper" / "figures"):
        for force in ([], ["--force"]):
            line = one_error_line(cnpg_cli("--out", out, *force))
            assert "--out" in line and "run director" in line and str(run) in line, line
    assert sorted(p.name for p in run.iterdir()) == before


def test_cli_cnpg_defaults_to_the_runs_folders_cnpg(tmp_path):
    runs, work = tmp_path / "elsewhere" / "runs", tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "CTRPO_RUNS_DIR": str(runs)}
    result = cnpg_cli(cwd=work, env=env)  # no --out, no --runs-dir: $CTRPO_RUNS_DIR, as the other commands
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (runs / "cnpg").iterdir()) == list(FIGURES)
    assert str(runs / "cnpg") in result.stdout
    assert list(work.iterdir()) == []  # not ./runs/cnpg of the working folder
