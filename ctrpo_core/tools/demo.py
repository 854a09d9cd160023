"""The classroom demo: C-TRPO, TRPO and TRPO-Lag side by side on HazardEdge-v0 (``ctrpo demo``, the
app's Demo page).

The three runs share the seed and every setting but the algorithm; their names carry the settings key,
so a demo run again reuses the finished runs (a lecture can replay in seconds) and a demo with other
settings trains new ones. Summaries use the last 10% of epochs ("final") and the cumulative Reg+.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..results.catalog import final_values
from ..config.schema import TrainConfig, format_value, resolve, result_settings, settings_key
from ..runs.store import DamagedRunError, RunDir

if TYPE_CHECKING:  # the tables' type only: pandas is imported where a table is built
    import pandas as pd

TASK = "HazardEdge-v0"
ALGOS = ("c-trpo", "trpo", "trpo-lag")


def plan(runs_dir="runs", seed: int = 0, algos=ALGOS, **settings) -> list[TrainConfig]:
    """One config per algorithm, named ``demo_<algo>_s<seed>_<settings key>``; β and the other settings
    only some algorithms read go to those alone. A finished run in ``runs_dir`` trained with exactly a
    config's settings (e.g. by a report) is reused under its own name rather than trained again."""
    from ..config.overrides import applies

    configs = []
    for algo in algos:
        own = {k: v for k, v in settings.items() if applies(algo, k)}
        cfg = resolve(TASK, algo, seed=seed, runs_dir=str(runs_dir), **own)
        extra = f"_beta{format_value(cfg.beta)}" if applies(algo, "beta") else ""
        cfg.name = f"demo_{algo}{extra}_s{seed}_{settings_key(cfg)}"
        configs.append(cfg)
    return [cfg for _, cfg in trained_elsewhere([(cfg.algo, cfg) for cfg in configs], runs_dir)]


NAMES = {"c-trpo": "C-TRPO", "trpo": "TRPO", "trpo-lag": "TRPO-Lag", "cpo": "CPO", "pcpo": "PCPO", "ppo-lag": "PPO-Lag"}


def short_label(config: dict | TrainConfig) -> str:
    """A demo run's name in legends: "C-TRPO β=1", "TRPO", "TRPO-Lag"."""
    if isinstance(config, TrainConfig):
        config = config.to_dict()
    algo = config.get("algo", "?")
    name = NAMES.get(algo, algo)
    return f"{name} β={format_value(config['beta'])}" if algo == "c-trpo" else name


def beta_runs(runs_dir="runs", seed: int = 0, **settings) -> dict[float, Path]:
    """{β: run directory} of the C-TRPO runs in ``runs_dir`` that share every result-changing setting of
    the demo's C-TRPO run (seed and ``settings`` included) but β: the demo's β overlays, found again in
    the runs folder by a new browser session, whoever trained them (the Demo page's β slider, ``ctrpo
    demo``, the barrier_sensitivity report). Per β, a finished run before one still training, then the
    first by name; queued and training runs count (their curves grow), failed and stopped ones do not."""
    from ..results.catalog import read_run_files, run_dirs
    from ..runs.ownership import effective_state
    from ..runs.ownership import is_owned

    base = result_settings(resolve(TASK, "c-trpo", seed=seed, **settings), exclude=("beta",))
    found: dict[float, list[tuple[int, str, Path]]] = {}
    for path in run_dirs(runs_dir):
        try:
            config, status, _ = read_run_files(path)
            if config.get("task") != TASK or config.get("algo") != "c-trpo" \
                    or result_settings(config, exclude=("beta",)) != base:
                continue
            state = effective_state(status, is_owned(path))
        except Exception:  # a damaged folder is simply not an overlay
            continue
        if state in ("finished", "running", "queued"):
            found.setdefault(float(config["beta"]), []).append((state != "finished", path.name, path))
    return {beta: sorted(runs)[0][2] for beta, runs in sorted(found.items())}


def shown_runs(runs_dir, base: list[TrainConfig], seed: int = 0, **settings) -> dict[str, tuple[Path, str]]:
    """{run name: (run directory, legend label)} of the Demo page: the runs of :func:`plan` (``base``), then
    the C-TRPO runs of every other β found in their runs folder (:func:`beta_runs`), β ascending."""
    out = {cfg.name: (Path(cfg.runs_dir) / cfg.name, short_label(cfg)) for cfg in base}
    own = {cfg.beta for cfg in base if cfg.algo == "c-trpo"}
    for beta, path in beta_runs(runs_dir, seed=seed, **settings).items():
        if beta not in own and path.name not in out:
            out[path.name] = (path, f"{NAMES['c-trpo']} β={format_value(beta)}")
    return out


STEPS_ENV = "CTRPO_DEMO_TOTAL_STEPS"  # shortens the Demo page's runs (the browser tests); never set by default


def page_settings() -> dict:
    """The settings the Demo page trains with: the demo's defaults, or a shorter ``total_steps`` when the
    environment variable CTRPO_DEMO_TOTAL_STEPS is set (the README's tests section). ConfigError naming
    it when its value is not a positive integer."""
    import os

    from ..config.schema import ConfigError

    text = os.environ.get(STEPS_ENV, "").strip()
    if not text:
        return {}
    try:
        steps = int(text)
        if steps <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError(STEPS_ENV, f"must be a positive integer (environment steps per demo run), got {text!r}") \
            from None
    return {"total_steps": steps}


def summary(cfg: TrainConfig) -> dict:
    """The demo's numbers of one run (its JSON row)."""
    path = Path(cfg.runs_dir) / cfg.name
    row = {"algo": cfg.algo, "seed": cfg.seed, "dir": str(path)}
    try:
        metrics = RunDir(path).read_metrics()
    except DamagedRunError:
        metrics = None
    values = final_values(metrics) if metrics is not None and len(metrics) else \
        {"final_return": None, "final_cost": None, "reg_plus": None, "recovery_epochs": None}
    return {**row, **values, "epochs": 0 if metrics is None else len(metrics)}


def progress_line(configs: list[TrainConfig], started: float) -> str:
    parts = []
    for cfg in configs:
        try:
            done = len(RunDir(Path(cfg.runs_dir) / cfg.name).read_metrics())
        except DamagedRunError:
            done = 0
        parts.append(f"{cfg.algo} {done}/{cfg.epochs}")
    return f"demo {time.time() - started:5.0f} s: " + ", ".join(parts)


def run(configs: list[TrainConfig], report=None, parallel: int | None = None, poll_s: float = 1.0) -> dict[str, str]:
    """Train the runs that have not finished (all at once by default: one process each) and call
    ``report(line)`` with their progress about every ``poll_s`` seconds; returns {name: state}."""
    import threading

    from ..sweeps.backends import LocalBackend
    from ..sweeps.batch import states, train_all

    done, started = threading.Event(), time.time()

    def watch():
        while not done.wait(poll_s):
            if report is not None:
                report(progress_line(configs, started))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        results = states(train_all(configs, LocalBackend(parallel or len(configs))))
    finally:
        done.set()
        watcher.join()
    if report is not None:
        report(progress_line(configs, started))
        if report is stderr_report and sys.stderr.isatty():
            print(file=sys.stderr)  # end the line rewritten in place
    return results


def launch(configs: list[TrainConfig]) -> list[str]:
    """Start every run of ``configs`` that is neither finished nor training, each in its own detached
    process (the app's Demo page); returns the names of the runs started."""
    from ..sweeps.backends import DetachedBackend
    from ..sweeps.batch import train_all

    return [name for name, outcome in train_all(configs, DetachedBackend()).items() if outcome.state == "queued"]


def table(rows: list[dict], cost_limit: float) -> str:
    """The demo's numbers as a small text table."""
    head = f"{'algorithm':<10} {'return':>8} {'cost':>7} {'Reg+':>9} {'recovery epochs':>16}"
    lines = [head, "-" * len(head)]
    for r in rows:
        fmt = lambda v, spec: "-" if v is None else format(v, spec)
        lines.append(f"{r['algo']:<10} {fmt(r['final_return'], '8.2f')} {fmt(r['final_cost'], '7.2f')} "
                     f"{fmt(r['reg_plus'], '9.1f')} {fmt(r['recovery_epochs'], '16d')}")
    lines.append(f"(final return and cost: means over the last 10% of epochs; cost limit b = {cost_limit:g}; "
                 f"Reg+ = Σ max(0, Ĵ_c − b) over epochs)")
    return "\n".join(lines)


def stderr_report(line: str) -> None:
    """Progress on stderr: one line rewritten in place on a terminal, a line each otherwise."""
    print(f"\r{line}" if sys.stderr.isatty() else line, end="" if sys.stderr.isatty() else "\n",
          file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- the behaviour grid
BETAS = (0.0, 0.1, 1.0, 10.0)  # C-TRPO's β line (at the default b_H)
BHS = (0.6, 0.8, 1.0)  # C-TRPO's b_H line (at the default β)
BASELINES = ("trpo-lag", "trpo")


def grid_plan(seeds, runs_dir="runs", **settings) -> list[tuple[str, TrainConfig]]:
    """(setting label, config) for the β line, the b_H line and the baselines, each over ``seeds``;
    run names carry the settings key (shared points are trained once)."""
    out = []
    points = [(f"c-trpo β={format_value(b)}", "c-trpo", {"beta": b}) for b in BETAS]
    points += [(f"c-trpo b_H={format_value(h)}", "c-trpo", {"bh": h}) for h in BHS]
    points += [(algo, algo, {}) for algo in BASELINES]
    for label, algo, extra in points:
        for seed in seeds:
            cfg = resolve(TASK, algo, seed=int(seed), runs_dir=str(runs_dir), **{**settings, **extra})
            cfg.name = f"demogrid_{algo}_beta{format_value(cfg.beta)}_bh{format_value(cfg.bh)}_s{seed}_{settings_key(cfg)}"
            out.append((label, cfg))
    return out


def trained_elsewhere(plan: list[tuple[str, TrainConfig]], runs_dir) -> list[tuple[str, TrainConfig]]:
    """The plan with each config renamed to a finished run in ``runs_dir`` that was trained with exactly
    its settings (seed included) under any name, e.g. by the barrier_sensitivity and benchmark reports;
    configs without such a run keep their names."""
    from ..results.catalog import run_dirs
    from ..runs.store import RunDir

    key = lambda config: json.dumps(result_settings(config), sort_keys=True, default=str)
    finished = {}
    for path in run_dirs(runs_dir):
        try:
            run = RunDir(path)
            if run.read_status().get("state") == "finished":
                finished.setdefault(key(run.read_config()), []).append(path)
        except Exception:  # a damaged folder is simply not a match
            continue
    out = []
    for label, cfg in plan:
        matches = finished.get(key(cfg), [])
        if matches and Path(cfg.runs_dir) / cfg.name not in matches:  # its own finished run stays its own
            match = sorted(matches)[0]
            cfg = dataclasses.replace(cfg, name=match.name, runs_dir=str(match.parent))
        out.append((label, cfg))
    return out


def unique_configs(plan: list[tuple[str, TrainConfig]]) -> list[TrainConfig]:
    """The configs of a grid plan, each run once (β = 1 and b_H = 0.8 are one point of both lines)."""
    return list({cfg.name: cfg for _, cfg in plan}.values())


def grid_rows(plan: list[tuple[str, TrainConfig]]) -> "pd.DataFrame":
    """One row per (setting, seed): the setting's label, its β, b_H and the run's summary."""
    import pandas as pd

    return pd.DataFrame([{"setting": label, "beta": cfg.beta, "bh": cfg.bh, **summary(cfg)} for label, cfg in plan])


def behaviour_table(rows) -> "pd.DataFrame":
    """Per setting: median and interquartile range over seeds of Reg+, final cost, final return and the
    recovery-epoch count."""
    def iqr(s):
        return f"{s.quantile(0.25):.3g}–{s.quantile(0.75):.3g}"

    order = list(dict.fromkeys(rows.setting))
    table = rows.groupby("setting", sort=False).agg(
        seeds=("seed", "count"),
        reg_plus=("reg_plus", "median"), reg_plus_iqr=("reg_plus", iqr),
        final_cost=("final_cost", "median"), final_cost_iqr=("final_cost", iqr),
        final_return=("final_return", "median"), final_return_iqr=("final_return", iqr),
        recovery_epochs=("recovery_epochs", "median"))
    return table.loc[order]


def behaviour_checks(table, cost_limit: float = 5.0) -> dict[str, bool]:
    """The demo's promises, on the medians of :func:`behaviour_table`."""
    m = table
    beta = [m.loc[f"c-trpo β={format_value(b)}"] for b in BETAS]
    bh = [m.loc[f"c-trpo b_H={format_value(h)}"] for h in BHS]
    ctrpo = m.loc["c-trpo β=1"]
    return {
        "Reg+ decreases with β": all(a.reg_plus > b.reg_plus for a, b in zip(beta, beta[1:])),
        "Reg+ at β=10 is at most half of β=0's": beta[-1].reg_plus <= 0.5 * beta[0].reg_plus,
        "final cost <= b for β >= 1": all(r.final_cost <= cost_limit for r, b in zip(beta, BETAS) if b >= 1),
        "final cost increases with b_H": all(a.final_cost < b.final_cost for a, b in zip(bh, bh[1:])),
        "recovery epochs fall as b_H rises": all(a.recovery_epochs > b.recovery_epochs for a, b in zip(bh, bh[1:])),
        "C-TRPO's Reg+ is below TRPO-Lag's and TRPO's":
            ctrpo.reg_plus < m.loc["trpo-lag"].reg_plus and ctrpo.reg_plus < m.loc["trpo"].reg_plus,
        "C-TRPO's return is at least 80% of TRPO-Lag's": ctrpo.final_return >= 0.8 * m.loc["trpo-lag"].final_return,
    }
