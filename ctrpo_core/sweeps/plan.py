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
from ..config.rules import check_grid
from ..config.schema import ConfigError, TrainConfig, format_value, resolve, settings_key, validate_name

GRID_KEYS = ("task", "algo", "beta", "bh", "delta", "seed")  # a run's grid point in the manifest
SWEPT_KEYS = ("seed", "beta", "bh", "delta")  # in the run name itself, hence not in its <key>
AXIS_LABELS = (("β", "betas"), ("b_H", "bhs"), ("δ", "deltas"), ("seeds", "seeds"))  # how a grid is said


def parse_list(param: str, text: str, kind=float) -> list:
    """'0.1,1,2' → [0.1, 1.0, 2.0]; a clear error naming ``param`` otherwise."""
    try:
        values = [kind(v) for v in str(text).split(",") if v.strip() != ""]
    except ValueError:
        raise ConfigError(
            param, f"expected a comma-separated list of {'integers' if kind is int else 'numbers'}, got {text!r}"
        ) from None
    if not values:
        raise ConfigError(param, "the list is empty")
    return values


def parse_grid(betas: str, bhs: str, deltas: str, seeds: str) -> dict:
    """A form's grid fields (comma lists; an empty β, b_H or δ is not swept: the algorithm's or task's
    default) as :func:`plan_sweep`'s lists {betas, bhs, deltas, seeds}; ConfigError naming the field."""
    optional = lambda param, text: parse_list(param, text) if str(text).strip() else [None]
    return {
        "betas": optional("--beta", betas),
        "bhs": optional("--bh", bhs),
        "deltas": optional("--delta", deltas),
        "seeds": parse_list("--seeds", seeds, int),
    }


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
    # what plan_sweep was given (task, algo, each axis without repeats, the other settings): the manifest
    # keeps it, so `ctrpo sweep --resume NAME` plans the very same runs again
    request: dict = field(default_factory=dict)
    launch: dict = field(default_factory=dict)  # how it trains: backend, parallel, address, ... (the CLI's flags)

    def manifest(self) -> dict:
        """One ``grid`` entry per run, in the order of ``runs`` and naming it (two runs of one grid point
        but other settings, e.g. a longer budget, are two entries); ``plan``: the request and launch of
        this plan, the latest of the sweep's name."""
        return {
            "name": self.name,
            "runs": [c.name for c in self.configs],
            "grid": [{"run": c.name, **{k: getattr(c, k) for k in GRID_KEYS}} for c in self.configs],
            "plan": {**self.request, "launch": self.launch},
        }

    @property
    def kind(self) -> str:
        """'sweep', or 'benchmark' for a plan of sweeps/benchmark.py."""
        return str(self.request.get("kind", "sweep"))

    def describe(self) -> str:
        """The grid in words, axes as given: 'β 0, 1, 10 × b_H 0.6, 1 × seeds 0, 1 on HazardEdge-v0' (δ only
        when it is swept: one δ is a setting like the others)."""
        if self.request.get("kind") == "benchmark":  # sweeps/benchmark.py
            r = self.request  # .get: an earlier plan read back from a manifest may lack a field
            tasks, algos, steps = list(r.get("tasks") or []), list(r.get("algos") or []), r.get("steps")
            seeds = ", ".join(map(str, r.get("seeds") or []))
            at = f" at {int(steps):,} steps" if isinstance(steps, (int, float)) else ""
            return f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} × {len(algos)} algorithms × seeds {seeds}{at}"
        axes = [(label, self.request.get(key) or []) for label, key in AXIS_LABELS]
        shown = [
            f"{label} {', '.join(format_value(v) for v in values)}"
            for label, values in axes
            if values and values != [None] and (label != "δ" or len(values) > 1)
        ]
        return f"{' × '.join(shown)} on {self.request.get('task')}" + (
            f" ({self.request.get('algo')})" if self.request.get("algo") != "c-trpo" else ""
        )


def plan_sweep(
    task: str, algo: str, betas, bhs, deltas, seeds, runs_dir="runs", name: str | None = None, **settings
) -> SweepPlan:
    """Validate every grid point (raises ConfigError before anything starts)."""
    name = name or f"sweep-{task}-{algo}"
    validate_name(name)
    notes: list[str] = []
    axes = [
        unique(param, list(values), notes)
        for param, values in (("--beta", betas), ("--bh", bhs), ("--delta", deltas), ("--seeds", seeds))
    ]
    check_grid(dict(zip(("--beta", "--bh", "--delta", "--seeds"), axes)))
    check_applicable(
        algo,
        {
            "beta": next((b for b in axes[0] if b is not None), None),
            "bh": next((h for h in axes[1] if h is not None), None),
        },
    )
    configs = []
    for beta, bh, delta, seed in itertools.product(*axes):
        cfg = resolve(task, algo, beta=beta, bh=bh, delta=delta, seed=seed, runs_dir=str(runs_dir), **settings)
        barrier = "".join(f"_{key}{format_value(getattr(cfg, key))}" for key in ("beta", "bh") if applies(algo, key))
        # the key covers every other result-changing setting (docs/RUN_FORMAT.md): the runs of one sweep
        # share it, and the name's β, b_H, δ and seed tell them apart
        cfg.name = f"{name}{barrier}_delta{format_value(cfg.delta)}_s{seed}_{settings_key(cfg, exclude=SWEPT_KEYS)}"
        validate_name(cfg.name)
        configs.append(cfg)
    request = {
        "task": task,
        "algo": algo,
        "betas": axes[0],
        "bhs": axes[1],
        "deltas": axes[2],
        "seeds": axes[3],
        "settings": dict(settings),
    }
    return SweepPlan(name, Path(runs_dir), configs, notes, request)


def replan(request: dict, runs_dir, name: str) -> SweepPlan:
    """The plan a manifest's ``plan`` entry describes (the same runs, names and all), or ConfigError."""
    try:
        axes = [list(request[key]) for key in ("betas", "bhs", "deltas", "seeds")]
        # JSON has no tuples: a tuple setting (hidden) comes back as a list and must be one again
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(request.get("settings") or {}).items()}
        task, algo = request["task"], request["algo"]
    except (KeyError, TypeError, ValueError):
        raise ConfigError("--resume", f"the manifest of sweep {name} does not say what it planned") from None
    return plan_sweep(task, algo, *axes, runs_dir=runs_dir, name=name, **settings)
