"""Reports: every notebook executes with its CI parameters through `ctrpo report` (papermill on the venv's
kernel), records the expected numbers, exports HTML that shows its figures offline; same parameters, same
numbers; a failing cell fails the report (exit 1, the error on stderr, the partial notebook kept); bad
input exits 2 with one line; the app's Reports page lists, shows and starts reports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CI_PARAMETERS, ROOT, run_cli
from streamlit.testing.v1 import AppTest

from ctrpo_core import reports
from ctrpo_core.config import resolve


def read_notebook(path):
    """nbformat.read, imported on first use: nbformat takes seconds to import (its JSON schema)."""
    import nbformat

    return nbformat.read(path, as_version=4)


MAIN = str(ROOT / "app" / "main.py")


def cli_params(params: dict) -> list[str]:
    return [a for k, v in params.items() for a in ("-p", k, v if isinstance(v, str) else json.dumps(v))]


def report_cli(name: str, runs: Path, params: dict, timeout: int = 300):
    result = run_cli("report", name, *cli_params(params), "--runs-dir", runs, timeout=timeout)
    folders = sorted((runs / "reports").glob(f"{name}-*"), key=lambda p: p.stat().st_mtime)
    return result, folders[-1] if folders else None


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("reports") / "runs"


@pytest.fixture(scope="module")
def executed(runs, claims_report):
    """Each notebook executed once with its CI parameters: {name: (folder, results, seconds)}."""
    out = {}
    for name, params in CI_PARAMETERS.items():
        if name == "claims":  # the session's claims report (tests/test_claims.py reads it too)
            _, folder, seconds = claims_report
            out[name] = (folder, json.loads((folder / "results.json").read_text()), seconds)
            continue
        start = time.time()
        result, folder = report_cli(name, runs, params)
        assert result.returncode == 0, result.stderr[-3000:]
        out[name] = (folder, json.loads((folder / "results.json").read_text()), time.time() - start)
    print("\nexecution times (s): " + ", ".join(f"{n} {t:.1f}" for n, (_, _, t) in out.items()))
    return out


def test_the_notebooks_are_stored_clean_with_parameters_and_results_cells():
    assert reports.available() == sorted(CI_PARAMETERS)
    for name in reports.available():
        nb = read_notebook(ROOT / "notebooks" / f"{name}.ipynb")
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        tags = [c.metadata.get("tags", []) for c in code]
        assert tags[0] == ["parameters"] and sum("results" in t for t in tags) == 1, name
        # it ends with the key numbers, a written conclusion computed from them, and what to try next
        assert "results" in tags[-2] and "conclusion" in tags[-1], name
        assert nb.cells[-1].cell_type == "markdown" and nb.cells[-1].source.startswith("## Try next"), name
        # every assignment of the parameters cell is one papermill can see (a '=' in a comment hides it)
        assigned = [line.split("=")[0].strip() for line in code[0].source.splitlines() if re.match(r"^\w+\s*=", line)]
        assert list(reports.parameters(name)) == assigned, name
        assert set(CI_PARAMETERS[name]) <= set(assigned)


def test_report_folder_holds_notebook_html_params_and_status(executed):
    for name, (folder, _, _) in executed.items():
        assert folder.parent.name == "reports" and re.fullmatch(rf"{name}-\d{{8}}-\d{{6}}(-\d+)?", folder.name)
        params = json.loads((folder / "params.json").read_text())
        assert params["report"] == name and params["parameters"] == CI_PARAMETERS[name]
        assert params["versions"]["papermill"] and params["versions"]["torch"] and params["versions"]["numpy"]
        # the kernel is this environment's Python (ipykernel's spec under sys.prefix)
        assert params["kernel"]["python"] == sys.executable
        assert Path(params["kernel"]["resource_dir"]).is_relative_to(Path(sys.prefix))
        assert json.loads((folder / "status.json").read_text())["state"] == "finished"
        nb = read_notebook(folder / f"{name}.ipynb")
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        expected = dict(CI_PARAMETERS[name])
        if "runs_dir" in reports.parameters(name):
            expected["runs_dir"] = str(folder.parent.parent.resolve())
        assert len(injected) == (1 if expected else 0)  # papermill injects a cell only when there is something to set
        namespace = {}
        exec(injected[0].source if injected else "", {}, namespace)
        assert namespace == expected, name
        assert reports.read_results(folder / f"{name}.ipynb") == executed[name][1]


def test_html_exports_carry_their_figures_and_load_nothing_from_outside(executed):
    figures = {
        "quickstart": 3,
        "barrier_sensitivity": 7,
        "benchmark": 4,  # the aggregate, the probability of improvement, the performance profile, the curve grid
        "cnpg_geometry": 3,  # one curve figure per task
        "claims": 6,
    }  # (a) two, (b), (c), (d), (e) one each, on its one task
    for name, (folder, _, _) in executed.items():
        html = (folder / f"{name}.html").read_text()
        assert html.count('class="plotly-graph-div"') == figures[name], name
        assert html.count("Plotly.newPlot(") == figures[name]
        assert "plotly.js v" in html and "window.Plotly" in html  # the library itself, inline
        assert not re.search(r"<script[^>]*\bsrc\s*=", html), re.findall(r"<script[^>]*\bsrc\s*=[^>]*>", html)
        assert not re.search(r"<link[^>]*href\s*=\s*[\"']https?:", html)


def test_html_exports_render_their_figures_offline_in_a_real_browser(executed):
    """Headless Chromium opens each exported HTML file: every figure draws, no request leaves the file."""
    from browser import CHROMIUM, CHROMIUM_FLAGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for name, (folder, _, _) in executed.items():
                page = browser.new_page()
                outside, errors = [], []
                page.on(
                    "request",
                    lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None,
                )
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto((folder / f"{name}.html").as_uri())
                divs = page.locator(".plotly-graph-div")
                page.wait_for_function(
                    "n => document.querySelectorAll('.plotly-graph-div .main-svg').length >= n",
                    arg=divs.count(),
                    timeout=30_000,
                )
                drawn = page.evaluate(
                    "[...document.querySelectorAll('.plotly-graph-div')]"
                    ".filter(d => d.querySelector('.main-svg')).length"
                )
                assert drawn == divs.count() > 0, name
                assert outside == [] and errors == [], (name, outside, errors)
                page.close()
        finally:
            browser.close()


def test_quickstart_numbers(executed):
    _, r, _ = executed["quickstart"]
    cfg = resolve("HazardEdge-v0", "c-trpo", total_steps=10000)  # whole epochs of whole steps per env
    assert r["task"] == "HazardEdge-v0" and r["algo"] == "c-trpo"
    assert r["total_steps"] == cfg.epochs * cfg.steps_per_env * cfg.num_envs
    assert r["final_cost"] <= r["b"] and r["safe"] is True
    assert r["reg_plus"] >= 0 and 0 <= r["recovery_frac"] <= 1
    assert r["final_epochs"] == 1 and 20 < r["constrained_optimum"] < 40


def conclusion_of(folder: Path, name: str) -> str:
    nb = read_notebook(folder / f"{name}.ipynb")
    cell = next(c for c in nb.cells if "conclusion" in c.metadata.get("tags", []))
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_each_report_ends_with_a_conclusion_made_of_its_own_numbers(executed):
    folder, r, _ = executed["quickstart"]
    text = conclusion_of(folder, "quickstart")
    assert f"{r['final_return']:.3g}" in text and f"{r['reg_plus']:.3g}" in text and f"b = {r['b']:g}" in text
    assert f"{100 * r['final_return'] / r['constrained_optimum']:.0f}% of it" in text
    folder, r, _ = executed["barrier_sensitivity"]
    text = conclusion_of(folder, "barrier_sensitivity")
    for row in r["grid"]:
        assert f"β = {row['beta']:g}" in text and f"{row['reg_plus']:.3g}" in text
    assert "b_H = 0.6: Reg+" in text and "At β = 10, from b_H = 0.6 to 1" in text
    folder, r, _ = executed["benchmark"]
    text = conclusion_of(folder, "benchmark")
    assert all(task in text for task in CI_PARAMETERS["benchmark"]["tasks"])
    assert f"highest normalised return: {r['best_probably_safe'] or 'none'}" in text
    folder, r, _ = executed["cnpg_geometry"]
    assert conclusion_of(folder, "cnpg_geometry").count("stayed inside the safe set") >= len(r["final_V_r"]) - 2
    for name, (folder, _, _) in executed.items():  # the key numbers are a table, not a JSON dump
        html = (folder / f"{name}.html").read_text()
        assert "key number" in html and '{\n "' not in html and "Try next" in html, name


def test_quickstart_twice_gives_identical_numbers(executed, runs):
    result, folder = report_cli("quickstart", runs, CI_PARAMETERS["quickstart"])
    assert result.returncode == 0, result.stderr[-2000:]
    first_folder, first, _ = executed["quickstart"]
    assert folder != first_folder
    assert json.loads((folder / "results.json").read_text()) == first


def test_cnpg_invariance_and_convergence(executed):
    _, r, _ = executed["cnpg_geometry"]
    assert r["invariant"] is True and r["cnpg_max_excess"] <= r["tol"] == 1e-8
    assert abs(r["lp_V_r"] - 1.103) < 1e-3 and r["cnpg_max_gap_to_lp"] < 1e-4
    npg = r["max_V_c"]["NPG (β = 0)"]
    assert min(npg) > r["b"] + 0.5  # NPG leaves the safe set: the check is not vacuous
    assert r["fixed_steps"]["betas"][0] == 0.0 and r["fixed_steps"]["crossed"][0] > 0


def test_benchmark_trains_its_small_benchmark_and_aggregates_it(executed):
    """Without -p name the report plans and trains its own benchmark (PPO and CPO added) and reports it."""
    _, r, _ = executed["benchmark"]
    params = CI_PARAMETERS["benchmark"]
    algos = list(dict.fromkeys([*params["algos"], "ppo", "cpo"]))
    assert r["name"].startswith("report-") and r["algos"] == algos and r["tasks"] == params["tasks"]
    assert r["planned"] == r["finished"] == len(algos) * len(params["tasks"]) * len(params["seeds"])
    assert r["not_counted"] == 0 and r["reps"] == params["reps"] and r["steps"] == params["total_steps"]
    assert len(r["per_task"]) == len(algos) * len(params["tasks"])  # one per task × algorithm
    for row in r["per_task"]:
        assert row["finished seeds"] == len(params["seeds"]) and row["not counted"] == ""
        for name in ("V_r", "V_c", "Reg+"):
            assert row[f"{name} CI low"] <= row[f"{name} IQM"] <= row[f"{name} CI high"]
    assert [row["algo"] for row in r["aggregate"]] == ["c-trpo", "cpo", "trpo", "ppo"]  # the legends' order
    # the normalised return is counted on the tasks where PPO's mean final return is above 0 (with 2 seeds, its IQM);
    # the others are left out, and the report says why
    positive = {row["task"] for row in r["per_task"] if row["algo"] == "ppo" and row["V_r IQM"] > 0}
    assert positive, r["per_task"]
    below = sorted(set(params["tasks"]) - positive)
    assert all(any(line.startswith(f"{t}: PPO's mean final return there is") for line in r["left_out"]) for t in below)
    for row in r["aggregate"]:
        assert row["tasks"] == len(positive) and row["runs"] == len(positive) * len(params["seeds"])
        for name in ("return / PPO", "V_c / b − 1", "Reg+ / CPO's Reg+"):
            assert row[f"{name} CI low"] <= row[f"{name} IQM"] <= row[f"{name} CI high"]
    ppo = next(row for row in r["aggregate"] if row["algo"] == "ppo")
    # the reference's own normalised return has mean 1 per task, so its IQM over the tasks × 2 seeds is near 1
    assert 0.5 < ppo["return / PPO IQM"] < 1.5
    cpo = next(row for row in r["aggregate"] if row["algo"] == "cpo")
    assert cpo["Reg+ / CPO's Reg+ CI low"] <= 1.0 <= cpo["Reg+ / CPO's Reg+ CI high"]
    assert r["probably_safe"] == [row["algo"] for row in r["aggregate"] if row["probably safe"]]
    assert [row["versus"] for row in r["improvement"]] == ["cpo", "trpo", "ppo"]
    for row in r["improvement"]:
        for name in ("return / PPO", "Reg+ / CPO's Reg+"):
            assert 0 <= row[f"P({name}) CI low"] <= row[f"P({name}) better"] <= row[f"P({name}) CI high"] <= 1


def test_benchmark_reports_a_benchmark_by_name_and_trains_nothing(executed, runs):
    """-p name: the benchmark the first report trained, reported again: the same tables, nothing trained."""
    _, first, _ = executed["benchmark"]
    result, folder = report_cli("benchmark", runs, {"name": first["name"], "reps": 500})
    assert result.returncode == 0, result.stderr[-2000:]
    again = json.loads((folder / "results.json").read_text())
    assert again["name"] == first["name"] and again["finished"] == first["finished"]
    assert again["aggregate"] == first["aggregate"] and again["per_task"] == first["per_task"]
    nb = read_notebook(folder / "benchmark.ipynb")
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "to run" not in printed  # no sweep ran


def test_sensitivity_grid_and_reuse(executed, runs):
    _, r, _ = executed["barrier_sensitivity"]
    params = CI_PARAMETERS["barrier_sensitivity"]
    assert len(r["grid"]) == len(params["betas"]) * len(params["bhs"])  # one row per grid point
    assert {(row["beta"], row["bh"]) for row in r["grid"]} == {(b, h) for b in params["betas"] for h in params["bhs"]}
    assert all(row["seeds"] == 1 and 0 <= row["recovery_frac"] <= 1 for row in r["grid"])
    assert set(r["onset"]) == {"0.6", "1"} and r["reused"] == 0
    # a second execution reuses every finished run of the runs folder and reports the same grid
    result, folder = report_cli("barrier_sensitivity", runs, params)
    assert result.returncode == 0, result.stderr[-2000:]
    again = json.loads((folder / "results.json").read_text())
    assert again["reused"] == again["runs"] == 4 and again["grid"] == r["grid"]


def test_a_failing_cell_fails_the_report(runs):
    # `ctrpo report` checks the settings before anything starts, so a failing cell needs a parameter that
    # changed after the check (here by hand, in params.json): the executor then keeps the evidence
    folder = reports.prepare("quickstart", {}, runs)
    params = json.loads((folder / "params.json").read_text())
    (folder / "params.json").write_text(json.dumps({**params, "parameters": {"task": "Nope-v0"}}))
    result = subprocess.run(
        [sys.executable, "-m", "ctrpo_core.reports.papermill", str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 1
    assert "UnknownTaskError" in result.stdout and "Nope-v0" in result.stdout and "failed" in result.stdout
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "failed" and "Nope-v0" in status["message"]
    nb = read_notebook(folder / "quickstart.ipynb")  # the partially executed notebook
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "UnknownTaskError"
    assert not (folder / "results.json").exists() and (folder / "quickstart.html").exists()
    assert next(r for r in reports.list_reports(runs) if r["folder"] == folder.name)["state"] == "failed"


@pytest.mark.parametrize(
    "args,param",
    [
        (["nope"], "report"),
        (["quickstart", "-p", "nope", "1"], "-p"),
        (["quickstart", "-p", "seed", "x"], "-p seed"),
        (["quickstart", "-p", "task", "Nope-v0"], "-p task"),
        (["quickstart", "-p", "beta", "-1"], "-p beta"),
        (["benchmark", "-p", "seeds", "0,1"], "-p seeds"),
        (["benchmark", "-p", "parallel", "0"], "-p parallel"),
        (["barrier_sensitivity", "-p", "seeds", json.dumps(list(range(3_400)))], "-p seeds"),  # 40,800 runs
        (["benchmark", "-p", "runs_dir", "/tmp"], "-p runs_dir"),
        (["benchmark", "-p", "name", "paper-10M"], "-p name"),  # no such benchmark in the runs folder
        ([], "report"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, param):
    result = run_cli("report", *args, "--runs-dir", tmp_path / "runs", timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"ctrpo: error: {param}")
    assert not (tmp_path / "runs").exists()


def test_parameter_values_parse_as_json_else_strings():
    assert reports.parse_literal("3") == 3 and reports.parse_literal("[0, 1]") == [0, 1]
    assert reports.parse_literal("null") is None and reports.parse_literal("GridHazard-v0") == "GridHazard-v0"
    values = reports.parse_parameters(
        "quickstart", [("beta", "2"), ("task", "PointHazard-v0"), ("total_steps", "8000")]
    )
    assert values == {"beta": 2.0, "task": "PointHazard-v0", "total_steps": 8000} and isinstance(values["beta"], float)
    assert reports.parse_parameters("benchmark", [("tasks", '["PointHazard-v0"]')]) == {"tasks": ["PointHazard-v0"]}


def test_resolve_report_stays_inside_the_reports_folder(executed, runs):
    folder = executed["cnpg_geometry"][0]
    assert reports.resolve_report(runs, folder.name) == folder.resolve()
    for bad in ("..", "../..", "/etc", f"../{folder.name}", "nope"):
        with pytest.raises(ValueError):
            reports.resolve_report(runs, bad)


# ------------------------------------------------------------------------------------------ the app
def reports_page() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    return at.switch_page("views/reports.py").run()


def test_reports_page_with_no_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(tmp_path / "runs"))
    at = reports_page()
    assert not at.exception, [e.value for e in at.exception]
    assert any("No report yet" in i.value for i in at.info)
    assert at.selectbox(key="rep_name").options == reports.available()


def test_reports_page_lists_and_shows_a_report(executed, runs, monkeypatch, tmp_path):
    copy = tmp_path / "runs"
    for name in ("cnpg_geometry", "quickstart"):
        folder = executed[name][0]
        shutil.copytree(folder, copy / "reports" / folder.name)
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(copy))
    at = reports_page()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert sorted(table["notebook"]) == ["cnpg_geometry", "quickstart"] and set(table["state"]) == {"finished"}
    at.selectbox(key="rep_select").set_value(executed["cnpg_geometry"][0].name).run()
    assert not at.exception
    assert at.get("iframe"), "the report's HTML is shown"


def test_reports_form_validates_and_starts_a_report_in_the_background(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("CTRPO_RUNS_DIR", str(runs))
    at = reports_page()
    at.selectbox(key="rep_name").set_value("cnpg_geometry").run()
    at.text_input(key="rep_cnpg_geometry_n_starts").set_value("many")
    at.button[0].click().run()
    assert not at.exception
    assert any("-p n_starts" in e.value for e in at.error), [e.value for e in at.error]
    assert not (runs / "reports").exists() or not any((runs / "reports").iterdir())
    at.text_input(key="rep_cnpg_geometry_n_starts").set_value("2")
    at.text_input(key="rep_cnpg_geometry_n_steps").set_value("500")
    at.text_input(key="rep_cnpg_geometry_exact_starts").set_value("1")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    listed = reports.list_reports(runs)
    assert len(listed) == 1 and listed[0]["parameters"] == {"n_starts": 2, "n_steps": 500, "exact_starts": 1}
    folder = Path(listed[0]["path"])
    deadline = time.time() + 120
    while reports.list_reports(runs)[0]["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
    assert reports.list_reports(runs)[0]["state"] == "finished", (folder / "report.log").read_text()[-2000:]
    assert json.loads((folder / "results.json").read_text())["invariant"] is True
