"""Time the toy's policy-space figure: 4 β values × 10 safe starts, normalised steps, on one core.

    .venv/bin/python benchmarks/cnpg_toy.py [--repeats 3] [--steps 10000]

What is timed: ``policy_space_figure(betas=(1e-4, 1e-2, 1, 2), n_starts=10, seed=0)``, i.e. the safe
starts, the LP optimum, the V_r / V_c grid, 10⁴ normalised steps (Δt = 0.01) of NPG and the four C-NPG
flows for all 50 trajectories in one numpy batch, and building the plotly figure (no HTML writing).
The process is pinned to one CPU and BLAS/OpenMP threads are set to 1 before numpy loads. Target < 5 s.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from ctrpo_core.tabular.figures import policy_space_figure

    policy_space_figure(betas=(1.0,), n_starts=2, n_steps=10)  # warm-up: imports, caches
    times, fig = [], None
    for _ in range(args.repeats):
        start = time.perf_counter()
        fig = policy_space_figure(betas=(1e-4, 1e-2, 1.0, 2.0), n_starts=10, seed=0, n_steps=args.steps)
        times.append(time.perf_counter() - start)
    meta = fig.layout.meta
    print(
        f"policy_space_figure, 4 betas x 10 starts (+ NPG), {args.steps} normalised steps, 1 core "
        f"({platform.processor() or platform.machine()}, Python {platform.python_version()})"
    )
    print(
        f"seconds: {', '.join(f'{t:.2f}' for t in times)}  (median {statistics.median(times):.2f}, "
        f"target < {TARGET_S:g})"
    )
    print(
        "max fixed-step overshoot past b per beta: "
        + ", ".join(f"{b:g}: {o:.1e}" for b, o in zip(meta["betas"], meta["overshoot"]))
    )
    return 0 if statistics.median(times) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
