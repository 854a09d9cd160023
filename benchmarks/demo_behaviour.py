"""The demo task's behaviour table: C-TRPO's β line and b_H line and the baselines on HazardEdge-v0,
5 seeds each with the task's default settings, trained in parallel (one process per core).

Prints the medians (and interquartile ranges) of Reg+, final cost, final return and recovery epochs per
setting, the demo's promises checked on them, and the wall time of the whole grid (target: 5 minutes
on 2 cores). Runs are named after their settings, so a second call reuses them (use a fresh --runs-dir
to time it).

    .venv/bin/python benchmarks/demo_behaviour.py [--seeds 0,1,2,3,4] [--runs-dir DIR] [--set KEY=VALUE ...]

``--set`` changes a setting of every run of the grid, e.g. ``--set policy_init=small`` for the policy
initialisation of runs trained before conventions 3 (the before/after of docs/BASELINES.md); the table
is then written to ``results/demo_behaviour_<key>_<value>.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from ctrpo_core.config import ConfigError, overrides
from ctrpo_core.results.analysis import run_configs
from ctrpo_core.runs import lifecycle
from ctrpo_core.tools import demo

RESULTS = Path(__file__).parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--runs-dir", help="where the runs go (default: a fresh temporary folder)")
    parser.add_argument("--parallel", type=int, default=os.cpu_count())
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every run of the grid (ctrpo train's --set)",
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs_dir = args.runs_dir or tempfile.mkdtemp(prefix="ctrpo-demo-grid-")
    try:
        settings = overrides.parse_assignments(args.set)
        plan = demo.grid_plan(seeds, runs_dir, **settings)
    except ConfigError as exc:
        parser.error(str(exc))
    configs = demo.unique_configs(plan)
    reused = sum(lifecycle.state(Path(c.runs_dir) / c.name) == "finished" for c in configs)
    started = time.perf_counter()
    states = run_configs(configs, parallel=args.parallel, report=lambda line: print(line, file=sys.stderr))
    wall = time.perf_counter() - started
    assert all(s == "finished" for s in states.values()), states
    table = demo.behaviour_table(demo.grid_rows(plan))
    checks = demo.behaviour_checks(table, configs[0].cost_limit)
    changed = "".join(f", {k}={v}" for k, v in settings.items())
    text = [
        f"# HazardEdge-v0 behaviour grid: {len(configs)} runs, seeds {args.seeds}, {args.parallel} at a time{changed}",
        "",
        table.round(3).to_string(),
        "",
        *[f"- {'PASS' if ok else 'FAIL'}: {name}" for name, ok in checks.items()],
        "",
        f"whole grid: {wall:.0f} s wall on {os.cpu_count()} cores (target <= 300 s)"
        if not reused
        else f"{reused} of {len(configs)} runs reused from {runs_dir}: no timing (use a fresh --runs-dir to time it)",
    ]
    print("\n".join(text))
    RESULTS.mkdir(exist_ok=True)
    suffix = "".join(f"_{k}_{v}" for k, v in settings.items())
    (RESULTS / f"demo_behaviour{suffix}.md").write_text("\n".join(text) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
