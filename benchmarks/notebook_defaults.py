"""Every report notebook at its default parameters on the project's kernel, as a JupyterLab user runs it,
all training into one fresh runs folder (reports later in the list reuse the runs of earlier ones with the
same settings). A long experiment: barrier_sensitivity trains 36 runs, benchmark 12, the claims about 9
more; about 10 minutes on 2 cores. The test suite executes the same notebooks with small parameters
(tests/e2e/test_lab.py), quickstart and cnpg_geometry at their defaults.

    .venv/bin/python benchmarks/notebook_defaults.py [--runs-dir DIR] [--only NAME ...]

Prints and writes to ``benchmarks/results/notebook_defaults.md`` each notebook's time, the runs folder's
size after it, and the error that stopped it, if any; exits 1 when a notebook failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ctrpo_core import reports  # noqa: E402

KERNEL = "ctrpo-explorer"  # the project's kernel (`make lab`'s set-up installs it)
RESULTS = ROOT / "benchmarks" / "results" / "notebook_defaults.md"


def execute_at_defaults(name: str, work: Path, runs_dir: Path) -> str:
    """Execute notebook ``name`` at its defaults in ``work`` (only ``runs_dir`` set, as `ctrpo report` sets
    it); '' when it ran to its end, else what stopped it."""
    import papermill

    work.mkdir(parents=True, exist_ok=True)
    injected = {"runs_dir": str(runs_dir)} if "runs_dir" in reports.parameters(name) else {}
    try:
        papermill.execute_notebook(
            str(reports.notebook_path(name)),
            str(work / f"{name}.ipynb"),
            parameters=injected,
            kernel_name=KERNEL,
            cwd=str(work),
            progress_bar=False,
            kernel_manager_class=reports._kernel_manager_class(),
        )
    except Exception as exc:  # a failing cell, a kernel that died or did not start
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", help="runs folder (default: a fresh temporary folder)")
    parser.add_argument("--only", nargs="+", choices=reports.available(), help="these notebooks only")
    args = parser.parse_args(argv)
    names = args.only or reports.available()
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(args.runs_dir or Path(tmp) / "runs").resolve()
        os.environ["CTRPO_RUNS_DIR"] = str(runs_dir)  # the kernel's default runs folder (never the repo's)
        rows = []
        for name in names:
            start = time.time()
            error = execute_at_defaults(name, Path(tmp) / name, runs_dir)
            runs = (
                len([p for p in runs_dir.iterdir() if p.is_dir() and p.name != "reports"]) if runs_dir.is_dir() else 0
            )
            rows.append((name, time.time() - start, runs, error))
            print(
                f"{name}: {rows[-1][1]:.0f} s, {runs} runs in the folder" + (f", FAILED: {error}" if error else ""),
                flush=True,
            )
    total = sum(r[1] for r in rows)
    lines = [
        "# The report notebooks at their defaults",
        "",
        f"`.venv/bin/python benchmarks/notebook_defaults.py` on {os.cpu_count()} cores: each notebook at its "
        "default parameters on the project's kernel, into one fresh runs folder (later notebooks reuse "
        "earlier runs of the same settings).",
        "",
        "| notebook | seconds | runs in the folder after it | error |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {n} | {t:.0f} | {k} | {e or '-'} |" for n, t, k, e in rows]
    lines += ["", f"In all: {total:.0f} s."]
    if args.only is None:
        RESULTS.write_text("\n".join(lines) + "\n")
    print(f"in all {total:.0f} s" + ("" if args.only else f"; written to {RESULTS.relative_to(ROOT)}"))
    return 1 if any(r[3] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
