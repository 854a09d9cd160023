"""Planning a grid over β × b_H × δ × seeds: one run directory per point, at most ``parallel`` at a time.

A run's name carries its grid point and a key of every other result-changing setting
(``config.settings_key``), and a run directory that exists is reused only when its config.json holds
exactly the planned settings. So a sweep run again skips the runs that finished, resumes the ones that
were stopped, killed or never started, and trains new runs when any setting (steps, cost limit, ...)
changed. A sweep has one owner at a time (a lock per sweep name), and so does each run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from ..config.overrides import applies, check_applicable
from ..config.schema import ConfigError, TrainConfig, format_value, resolve, settings_key, validate_name

GRID_KEYS = ("task", "algo", "beta", "bh", "delta", "seed")  # a run's grid point in the manifest
SWEPT_KEYS = ("seed", "beta", "bh", "delta")  # in the run name itself, hence not in its <key>


def parse_list(param: str, text: str, kind=float) -> list:
    """'0.1,1,2' → [0.1, 1.0, 2.0]; a clear error naming ``param`` otherwise."""
    try:
        values = [kind(v) for v in str(text).split(",") if v.strip() != ""]
    except ValueError:
        raise ConfigError(param, f"expected a comma-separated list of {'integers' if kind is int else 'numbers'}, got {text!r}") from None
    if not values:
        raise ConfigError(param, "the list is empty")
    return values


def unique(param: str, values: list, notes: list[str]) -> list:
    """``values`` without repeats (equal numbers are one grid point: 1 and 1.0 train one run), noting any."""
    seen: list = []
    for value in values:
        if value in seen:
            notes.append(f"{param}: {format_value(value)} is given more than once; it is one grid point")
        else:
            seen.append(value)
    return seen


@dataclass
class SweepPlan:
    name: str
    runs_dir: Path
    configs: list[TrainConfig]
    notes: list[str] = field(default_factory=list)  # what the plan merged or dropped, said once

    def manifest(self) -> dict:
        """One ``grid`` entry per run, in the order of ``runs`` and naming it (two runs of one grid point
        but other settings, e.g. a longer budget, are two entries)."""
        return {"name": self.name, "runs": [c.name for c in self.configs],
                "grid": [{"run": c.name, **{k: getattr(c, k) for k in GRID_KEYS}} for c in self.configs]}


def plan_sweep(task: str, algo: str, betas, bhs, deltas, seeds, runs_dir="runs", name: str | None = None,
               **settings) -> SweepPlan:
    """Validate every grid point (raises ConfigError before anything starts)."""
    name = name or f"sweep-{task}-{algo}"
    validate_name(name)
    notes: list[str] = []
    axes = [unique(param, list(values), notes) for param, values in
            (("--beta", betas), ("--bh", bhs), ("--delta", deltas), ("--seeds", seeds))]
    check_applicable(algo, {"beta": next((b for b in axes[0] if b is not None), None),
                            "bh": next((h for h in axes[1] if h is not None), None)})
    configs = []
    for beta, bh, delta, seed in itertools.product(*axes):
        cfg = resolve(task, algo, beta=beta, bh=bh, delta=delta, seed=seed, runs_dir=str(runs_dir), **settings)
        barrier = f"_beta{format_value(cfg.beta)}_bh{format_value(cfg.bh)}" if applies(algo, "beta") else ""
        # the key covers every other result-changing setting (docs/RUN_FORMAT.md): the runs of one sweep
        # share it, and the name's β, b_H, δ and seed tell them apart
        cfg.name = f"{name}{barrier}_delta{format_value(cfg.delta)}_s{seed}_{settings_key(cfg, exclude=SWEPT_KEYS)}"
        validate_name(cfg.name)
        configs.append(cfg)
    return SweepPlan(name, Path(runs_dir), configs, notes)
