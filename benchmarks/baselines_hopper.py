"""The paper's comparison on SafetyHopperVelocity-v1: C-TRPO, CPO and TRPO-Lag at the paper's settings.

    .venv/bin/python benchmarks/baselines_hopper.py [--steps 1000000] [--seeds 0,1,2] [--runs-dir DIR]

3 algorithms x 3 seeds, 10 envs, 20,000 steps per epoch, one core per run (as many runs at a time as
this process may use cores), 1M steps each: about 40 minutes on 2 cores. Finished runs in ``--runs-dir``
are reused (their names carry the settings key). Prints the median over seeds of the final return,
the final cost (the last 10% of epochs) and Reg+ per algorithm, and writes them to
``benchmarks/results/baselines_hopper.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ctrpo_core import cores  # noqa: E402
from ctrpo_core.analysis import run_configs, run_summaries  # noqa: E402
from ctrpo_core.config import resolve, settings_key  # noqa: E402

TASK = "SafetyHopperVelocity-v1"
ALGOS = ("c-trpo", "cpo", "trpo-lag")
RESULTS = ROOT / "benchmarks" / "results" / "baselines_hopper.md"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--runs-dir", default=str(ROOT / "runs" / "baselines"))
    args = parser.parse_args(argv)
    configs = []
    for algo in ALGOS:
        for seed in map(int, args.seeds.split(",")):
            cfg = resolve(TASK, algo, seed=seed, total_steps=args.steps, runs_dir=args.runs_dir)
            cfg.name = f"hopper_{algo}_s{seed}_{settings_key(cfg)}"
            configs.append(cfg)
    states = run_configs(configs, parallel=cores.available(), report=lambda line: print(line, flush=True))
    summaries = run_summaries([Path(args.runs_dir) / cfg.name for cfg in configs])
    medians = summaries.groupby("algo")[["final_return", "final_cost", "reg_plus"]].median()
    lines = [f"{TASK}, paper settings, {args.steps:,} steps, seeds {args.seeds}; medians over seeds "
             f"(final = the last 10% of epochs); runs in {args.runs_dir}", "",
             "| algorithm | final return | final cost | Reg+ | runs finished |", "| --- | ---: | ---: | ---: | ---: |"]
    for algo in ALGOS:
        done = sum(states.get(cfg.name) == "finished" for cfg in configs if cfg.algo == algo)
        m = medians.loc[algo]
        lines.append(f"| {algo} | {m.final_return:,.0f} | {m.final_cost:.1f} | {m.reg_plus:,.1f} | {done} |")
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
