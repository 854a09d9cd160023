"""The paper's comparison at its settings: C-TRPO, CPO and TRPO-Lag on SafetyHopperVelocity-v1 and
SafetyHalfCheetahVelocity-v1, with the policy initialised as the authors' code does ("after") and as
this project did before (``policy_init = "small"``, "before").

    .venv/bin/python benchmarks/baselines.py [--tasks hopper,halfcheetah] [--algos c-trpo,cpo,trpo-lag]
        [--seeds 0,1,2] [--inits default,small] [--steps 1000000] [--runs-dir DIR]

2 tasks x 3 algorithms x 3 seeds x 2 inits = 36 runs of 1M steps (10 envs, 20,000 steps per epoch), one
core per run, as many at a time as this process may use cores: about 2 hours on 2 cores. The new
default ("default") trains first. Finished runs in ``--runs-dir`` are reused (their names carry the
settings key, so a run of other settings is never taken for one of these). Writes
``benchmarks/results/baselines.md``: per task and algorithm the median over seeds and the per-seed
final return, final cost (the last 10% of epochs) and Reg+, before → after, and TRPO-Lag's λ and Ĵ_c
epoch by epoch on SafetyHalfCheetahVelocity-v1, seed 0, from epoch 20 on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from ctrpo_core.config import resolve, settings_key  # noqa: E402
from ctrpo_core.results.analysis import run_configs, run_summaries  # noqa: E402
from ctrpo_core.util import cores  # noqa: E402

TASKS = {"hopper": "SafetyHopperVelocity-v1", "halfcheetah": "SafetyHalfCheetahVelocity-v1"}
ALGOS = ("c-trpo", "cpo", "trpo-lag")
INITS = {"default": "after", "small": "before"}  # policy_init -> how the table names it
RESULTS = ROOT / "benchmarks" / "results" / "baselines.md"
TRACE_FROM_EPOCH = 20


def configs_for(tasks, algos, seeds, inits, steps, runs_dir) -> list:
    configs = []
    for init in inits:  # the new default first: a stopped benchmark has the figures that matter most
        for short in tasks:
            for algo in algos:
                for seed in seeds:
                    cfg = resolve(TASKS[short], algo, seed=seed, total_steps=steps, runs_dir=runs_dir, policy_init=init)
                    cfg.name = f"{short}_{algo}_{init}_s{seed}_{settings_key(cfg)}"
                    configs.append(cfg)
    return configs


def _cell(rows: pd.DataFrame, init: str, column: str, fmt: str) -> str:
    values = rows[rows.policy_init == init].sort_values("seed")[column]
    if values.empty:
        return "—"
    per_seed = " / ".join(format(v, fmt) for v in values)
    return f"**{format(values.median(), fmt)}** ({per_seed})"


def comparison_table(summaries: pd.DataFrame, inits) -> list[str]:
    before, after = ("small" if "small" in inits else None), ("default" if "default" in inits else None)
    lines = ["| task | algorithm | | final return | final cost | Reg+ |", "| --- | --- | --- | --- | --- | --- |"]
    for task in summaries.task.unique():
        for algo in ALGOS:
            rows = summaries[(summaries.task == task) & (summaries.algo == algo)]
            if rows.empty:
                continue
            for init in (before, after):
                if init is None:
                    continue
                lines.append(
                    f"| {task} | {algo} | {INITS[init]} | {_cell(rows, init, 'final_return', ',.0f')} | "
                    f"{_cell(rows, init, 'final_cost', '.1f')} | {_cell(rows, init, 'reg_plus', ',.0f')} |"
                )
    return lines


def multiplier_trace(runs_dir: Path, configs) -> list[str]:
    """TRPO-Lag on HalfCheetah, seed 0: λ and Ĵ_c per epoch, before and after, side by side."""
    columns = {}
    for cfg in configs:
        if cfg.task == TASKS["halfcheetah"] and cfg.algo == "trpo-lag" and cfg.seed == 0:
            path = runs_dir / cfg.name / "metrics.csv"
            metrics = pd.read_csv(path).set_index("epoch") if path.exists() else None
            if metrics is not None and len(metrics):  # a queued run has the header only
                columns[cfg.policy_init] = metrics
    if not columns:
        return []
    inits = [init for init in ("small", "default") if init in columns]  # before, then after
    header = "| epoch | " + " | ".join(f"λ {INITS[i]} | Ĵ_c {INITS[i]}" for i in inits) + " |"
    lines = [
        "TRPO-Lag on SafetyHalfCheetahVelocity-v1, seed 0: the multiplier λ (used in the epoch's "
        "update) and Ĵ_c per epoch (b = 25)",
        "",
        header,
        "| ---: |" + " ---: | ---: |" * len(inits),
    ]
    last = max(int(m.index.max()) for m in columns.values())
    for epoch in range(TRACE_FROM_EPOCH, last + 1):
        cells = []
        for init in inits:
            m = columns[init]
            cells += (
                [f"{m.at[epoch, 'lagrange_multiplier']:.3f}", f"{m.at[epoch, 'ep_cost']:.1f}"]
                if epoch in m.index
                else ["", ""]
            )
        lines.append(f"| {epoch} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="hopper,halfcheetah", help=f"any of {', '.join(TASKS)}")
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--inits", default="default,small", help="policy_init values: default (after), small (before)")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--runs-dir", default=str(ROOT / "runs" / "baselines"))
    args = parser.parse_args(argv)
    tasks, algos, inits = args.tasks.split(","), args.algos.split(","), args.inits.split(",")
    for value, allowed, flag in ((tasks, TASKS, "--tasks"), (algos, ALGOS, "--algos"), (inits, INITS, "--inits")):
        unknown = [v for v in value if v not in allowed]
        if unknown:
            parser.error(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    configs = configs_for(tasks, algos, [int(s) for s in args.seeds.split(",")], inits, args.steps, args.runs_dir)
    states = run_configs(configs, parallel=cores.available(), report=lambda line: print(line, flush=True))
    finished = [Path(args.runs_dir) / cfg.name for cfg in configs if states.get(cfg.name) == "finished"]
    summaries = run_summaries(finished)
    summaries["policy_init"] = [cfg.policy_init for cfg in configs if states.get(cfg.name) == "finished"]
    lines = [
        f"Paper settings, {args.steps:,} steps, seeds {args.seeds}, one core per run; runs in {args.runs_dir}. "
        "Each cell: **median over seeds** (per seed, in seed order); final = the mean of the last 10% of "
        "epochs; b = 25. before: the policy's last layer × 0.01 with a zero bias (policy_init = small); "
        "after: PyTorch's default init, as the authors' code (policy_init = default).",
        "",
        *comparison_table(summaries, inits),
        "",
        *multiplier_trace(Path(args.runs_dir), configs),
    ]
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
