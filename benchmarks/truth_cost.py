"""What the ground truth costs: epoch time with the truth logged over epoch time without it, per built-in
task with a known model, measured side by side in one process (alternating, so that machine noise hits
both alike).

    .venv/bin/python benchmarks/truth_cost.py [--epochs 20] [--repeats 2] [--algo c-trpo]

The truth is on by default where it costs under 10% of an epoch (issue 20); this prints the ratio per task
and writes it to ``benchmarks/results/truth_cost.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ctrpo_core import api  # noqa: E402
from ctrpo_core.config import resolve  # noqa: E402
from ctrpo_core.runs import trainer  # noqa: E402

TASKS = ("HazardEdge-v0", "GridHazard-v0")
RESULTS = ROOT / "benchmarks" / "results" / "truth_cost.md"


def epoch_seconds(task: str, algo: str, epochs: int, runs_dir: Path, name: str, with_truth: bool) -> float:
    """Mean seconds per epoch of a fresh run of ``epochs`` epochs (the first epoch left out: warm-up)."""
    original = trainer.TruthLog.for_run
    if not with_truth:
        trainer.TruthLog.for_run = classmethod(lambda cls, cfg: None)
    try:
        cfg = resolve(task, algo)
        run = api.train(task, algo, total_steps=epochs * cfg.steps_per_epoch, runs_dir=str(runs_dir), name=name)
    finally:
        trainer.TruthLog.for_run = original
    seconds = run.read_metrics().time_s.diff().dropna()
    return float(seconds.mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--algo", default="c-trpo")
    args = parser.parse_args(argv)
    lines = [
        f"{args.algo}, {args.epochs} epochs per run, {args.repeats} alternating repeats, one process",
        "",
        "| task | s/epoch with the truth | s/epoch without | ratio | truth's share of an epoch |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory(prefix="ctrpo-truth-cost-") as tmp:
        for task in TASKS:
            on, off = [], []
            for k in range(args.repeats):
                on.append(epoch_seconds(task, args.algo, args.epochs, Path(tmp), f"{task}_on_{k}", True))
                off.append(epoch_seconds(task, args.algo, args.epochs, Path(tmp), f"{task}_off_{k}", False))
            with_truth, without = sum(on) / len(on), sum(off) / len(off)
            lines.append(
                f"| {task} | {with_truth:.3f} | {without:.3f} | {with_truth / without:.3f} | "
                f"{1 - without / with_truth:.1%} |"
            )
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
