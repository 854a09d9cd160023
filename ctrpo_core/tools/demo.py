"""The classroom demo: C-TRPO, TRPO and TRPO-Lag side by side on HazardEdge-v0 (``ctrpo demo``, the
app's Demo page).

The three runs share the seed and every setting but the algorithm; their names carry the settings key,
so a demo run again reuses the finished runs (a lecture can replay in seconds) and a demo with other
settings trains new ones. Summaries use the last 10% of epochs ("final") and the cumulative Reg+.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..config.algorithms import legend_rank
from ..config.overrides import applies
from ..config.schema import ConfigError, TrainConfig, format_value, resolve, result_settings, settings_key
from ..results.catalog import final_values, run_dirs, run_table
from ..results.figure_style import algo_name
from ..results.plots import curve_panels
from ..runs.ownership import effective_state, is_owned
from ..runs.store import DamagedRunError, RunDir
from ..sweeps.backends import DetachedBackend, LocalBackend
from ..sweeps.batch import states, train_all

if TYPE_CHECKING:  # the tables' type only: pandas is imported where a table is built
    import pandas as pd

TASK = "HazardEdge-v0"
ALGOS = ("c-trpo", "trpo", "trpo-lag")


def plan(runs_dir="runs", seed: int = 0, algos=ALGOS, **settings) -> list[TrainConfig]:
    """One config per algorithm, named ``demo_<algo>_s<seed>_<settings key>``; β and the other settings
    only some algorithms read go to those alone. A finished run in ``runs_dir`` trained with exactly a
    config's settings (e.g. by a report) is reused under its own name rather than trained again."""
    configs = []
    for algo in algos:
        own = {k: v for k, v in settings.items() if applies(algo, k)}
        cfg = resolve(TASK, algo, seed=seed, runs_dir=str(runs_dir), **own)
        extra = f"_beta{format_value(cfg.beta)}" if applies(algo, "beta") else ""
        cfg.name = f"demo_{algo}{extra}_s{seed}_{settings_key(cfg)}"
        configs.append(cfg)
    return [cfg for _, cfg in trained_elsewhere([(cfg.algo, cfg) for cfg in configs], runs_dir)]


def short_label(config: dict | TrainConfig) -> str:
    """A demo run's name in legends: "C-TRPO β=1", "TRPO", "TRPO-Lag"."""
    if isinstance(config, TrainConfig):
        config = config.to_dict()
    algo = config.get("algo", "?")
    name = algo_name(algo)
    return f"{name} β={format_value(config['beta'])}" if algo == "c-trpo" else name


def beta_runs(runs_dir="runs", seed: int = 0, **settings) -> dict[float, Path]:
    """{β: run directory} of the C-TRPO runs in ``runs_dir`` that share every result-changing setting of
    the demo's C-TRPO run (seed and ``settings`` included) but β: the demo's β overlays, found again in
    the runs folder by a new browser session, whoever trained them (the Demo page's β slider, ``ctrpo
    demo``, the barrier_sensitivity report). Per β, a finished run before one still training, then the
    first by name; queued and training runs count (their curves grow), failed and stopped ones do not."""
    base = result_settings(resolve(TASK, "c-trpo", seed=seed, **settings), exclude=("beta",))
    found: dict[float, list[tuple[int, str, Path]]] = {}
    listed = run_table(runs_dir)  # the kept summaries: only the C-TRPO runs of the task and seed are read here
    if listed.empty:
        return {}
    mine = listed[(listed.task == TASK) & (listed.algo == "c-trpo") & (listed.seed == seed)]
    for path in map(Path, mine.path):
        try:
            run = RunDir(path)
            config, status = run.read_config(), run.read_status()
            if (
                config.get("task") != TASK
                or config.get("algo") != "c-trpo"
                or result_settings(config, exclude=("beta",)) != base
            ):
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
            out[path.name] = (path, f"{algo_name('c-trpo')} β={format_value(beta)}")
    return out


STEPS_ENV = "CTRPO_DEMO_TOTAL_STEPS"  # shortens the Demo page's runs (the browser tests); never set by default


def page_settings() -> dict:
    """The settings the Demo page trains with: the demo's defaults, or a shorter ``total_steps`` when the
    environment variable CTRPO_DEMO_TOTAL_STEPS is set (the README's tests section). ConfigError naming
    it when its value is not a positive integer."""
    text = os.environ.get(STEPS_ENV, "").strip()
    if not text:
        return {}
    try:
        steps = int(text)
        if steps <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError(
            STEPS_ENV, f"must be a positive integer (environment steps per demo run), got {text!r}"
        ) from None
    return {"total_steps": steps}


# ---------------------------------------------------------------------------------------------- the Demo page
BETA_CHOICES = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # the β slider's stops
NEAR, OVERSHOOT, BELOW = 1.1, 1.25, 0.6  # a final cost ≤ 1.1 b is at the limit; a peak > 1.25 b overshot it
FAR = 2.0  # a final cost above 2 b is far above the limit (above the lowest top of the focused cost axis)


def default_beta() -> float:
    """C-TRPO's β on the demo task by default (config/schema.py): where the β slider starts."""
    return resolve(TASK, "c-trpo").beta


def curves_figure(curves, labels: dict, cost_limit: float, log_cost: bool = False):
    """The Demo's return, cost and Reg+ panels: the cost axis focused on the limit b (runs far above it marked
    at its top edge with their value) unless ``log_cost``, Reg+ on a log axis always (it spans 0.1 to
    thousands)."""
    return curve_panels(
        curves,
        pooled=False,
        cost_limit=cost_limit,
        labels=labels,
        focus_cost=not log_cost,
        log_metrics=("ep_cost", "cost_regret") if log_cost else ("cost_regret",),
    )


def significant(value, digits: int = 3):
    """``value`` rounded to ``digits`` significant digits, its whole part always kept (2924.2 → 2924,
    28.978 → 29.0, 0.1162 → 0.116); None and NaN pass through."""
    if value is None or not math.isfinite(float(value)) or float(value) == 0:
        return value
    return round(float(value), max(0, digits - 1 - math.floor(math.log10(abs(float(value))))))


def _text(value) -> str:
    """A number in a sentence read from across a room: 2 significant digits, the whole part kept and its
    thousands separated (2,924; 47; 5.1; 0.12)."""
    value = significant(value, 2)
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:g}"


TABLE_COLUMNS = {
    "run": "run",
    "state": "state",
    "final_return": "final return",
    "final_cost": "final cost",
    "reg_plus": "Reg+",
    "recovery_epochs": "epochs in recovery",
}
TABLE_NUMBERS = ("final return", "final cost", "Reg+")  # shown with thousands separators (format "localized")


def _progress(state, epoch, epochs) -> str:
    """A run's state in one short word, with its epochs while they are not all done: "running 12/80"."""
    try:
        done, planned = int(epoch), int(epochs)
    except (TypeError, ValueError):
        return str(state)
    return str(state) if state == "finished" and done == planned else f"{state} {done}/{planned}"


def table_view(rows: "pd.DataFrame", labels: dict) -> "pd.DataFrame":
    """The Demo's table of its runs (``run_table`` rows): legend names, plain column names, the epochs in the
    state while a run trains, final values to 3 significant digits (six columns: they fit 1024 px)."""
    state = [_progress(*r) for r in zip(rows.state, rows.epoch, rows.epochs)]
    view = rows.assign(run=rows.name.map(labels), state=state)[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    for column in TABLE_NUMBERS:
        view[column] = view[column].map(significant)
    return view


def _facts(curves, labels: dict) -> list[dict]:
    """Per run shown, in legend order: its name, algorithm, final return and cost, peak cost and Reg+."""
    facts = []
    for run, g in curves.groupby("run", sort=False):
        values = final_values(g)
        facts.append(
            dict(
                name=labels.get(run, run),
                algo=g.algo.iloc[0],
                beta=g.beta.iloc[0],
                ret=values["final_return"],
                cost=values["final_cost"],
                peak=float(g.ep_cost.max()),
                reg=values["reg_plus"],
            )
        )
    return sorted(facts, key=lambda f: (legend_rank(f["algo"]), f["beta"] if f["beta"] == f["beta"] else 0))


def _names(names: list[str]) -> str:
    """ "C-TRPO β=0.1, β=1 and β=10": one algorithm's name once."""
    prefix = "C-TRPO "
    if len(names) > 1 and all(n.startswith(prefix) for n in names):
        names = [names[0]] + [n.removeprefix(prefix) for n in names[1:]]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _verb(names: list[str], one: str, many: str) -> str:
    return one if len(names) == 1 else many


def _cost_class(fact: dict, b: float) -> str:
    if fact["cost"] > FAR * b:
        return "far"
    if fact["cost"] > NEAR * b:
        return "above"
    if fact["peak"] > OVERSHOOT * b:
        return "overshoot"
    return "below" if fact["cost"] < BELOW * b else "at"


def _cost_note(facts: list[dict], b: float) -> str:
    """What the cost panel shows, run by run, from the numbers: at the limit, an overshoot pulled back,
    above it, far above it."""
    groups: dict[tuple, list[dict]] = {}
    for f in facts:  # one algorithm's runs of one kind in one clause; an overshoot or a final value: each its own
        kind = _cost_class(f, b)
        key = (kind, f["algo"]) if kind in ("at", "below") else (kind, f["name"])
        groups.setdefault(key, []).append(f)
    clauses = []
    for (kind, _), group in groups.items():
        names = [f["name"] for f in group]
        who, peak = _names(names), max(f["peak"] for f in group)
        if kind == "at":
            clauses.append(
                f"{who} {_verb(names, 'stays', 'stay')} at the dashed limit b = {b:g} (never above {_text(peak)})"
            )
        elif kind == "below":
            clauses.append(f"{who} {_verb(names, 'stays', 'stay')} below the limit (never above {_text(peak)})")
        elif kind == "overshoot":
            clauses.append(f"{who} overshoots to {_text(peak)}, then is pulled back to {_text(group[0]['cost'])}")
        elif kind == "above":
            clauses.append(f"{who} ends above the limit, at {_text(group[0]['cost'])}")
        else:
            clauses.append(f"{who} goes far above, to {_text(group[0]['cost'])}")
    return "; ".join(clauses) + "."


def _return_note(facts: list[dict], b: float) -> str:
    """What the return panel shows: who earns the most and what it paid for it; where the others end."""
    ranked = sorted(facts, key=lambda f: -f["ret"])
    best, others = ranked[0], ranked[1:]
    if not others:
        return f"{best['name']} ends at a return of {_text(best['ret'])}."
    low, high = min(f["ret"] for f in others), max(f["ret"] for f in others)
    span = _text(low) if _text(low) == _text(high) else f"{_text(low)}–{_text(high)}"
    who = "the other run ends" if len(others) == 1 else "the others end"
    within = all(f["cost"] <= NEAR * b for f in others)
    if best["cost"] > NEAR * b:
        over = f"{best['cost'] / b:.0f}× the limit" if best["cost"] >= FAR * b else f"above the limit b = {b:g}"
        return (
            f"{best['name']} earns the most ({_text(best['ret'])}) by spending {_text(best['cost'])} cost per "
            f"episode, {over}; {who} at {span}" + (", with cost at or under the limit." if within else ".")
        )
    return f"{best['name']} earns the most ({_text(best['ret'])}); {who} at {span}" + (
        ", all with cost at or under the limit." if within else "."
    )


def _regret_note(facts: list[dict]) -> str:
    """What the Reg+ panel shows: each run's total cost above b, largest first."""
    ranked = sorted(facts, key=lambda f: -f["reg"])
    prefix, values, previous = "C-TRPO ", [], ""
    for f in ranked:  # "C-TRPO β=0.1 4.6, β=1 1.1": the algorithm's name once in a row
        same = f["name"].startswith(prefix) and previous.startswith(prefix)
        values.append(f"{f['name'].removeprefix(prefix) if same else f['name']} {_text(f['reg'])}")
        previous = f["name"]
    zero = [f["name"] for f in ranked if not f["reg"] > 0]
    note = f"Reg+ adds up the cost above b over training (log axis): {', '.join(values)}."
    return note + (f" {_names(zero)} never went above b: a log axis draws no 0." if zero else "")


def panel_notes(curves, labels: dict, cost_limit: float) -> list[str]:
    """One line under each of the Demo's three panels (return, cost, Reg+): what to see there, written from
    the runs shown (their final values over the last 10% of epochs, peaks and Reg+) so that it never
    claims what they do not show. Empty while nothing has been drawn."""
    if curves is None or not len(curves):
        return []
    facts = _facts(curves, labels)
    return [_return_note(facts, cost_limit), _cost_note(facts, cost_limit), _regret_note(facts)]


def summary(cfg: TrainConfig) -> dict:
    """The demo's numbers of one run (its JSON row)."""
    path = Path(cfg.runs_dir) / cfg.name
    row = {"algo": cfg.algo, "seed": cfg.seed, "dir": str(path)}
    try:
        metrics = RunDir(path).read_metrics()
    except DamagedRunError:
        metrics = None
    values = (
        final_values(metrics)
        if metrics is not None and len(metrics)
        else {"final_return": None, "final_cost": None, "reg_plus": None, "recovery_epochs": None}
    )
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
    return [name for name, outcome in train_all(configs, DetachedBackend()).items() if outcome.state == "queued"]


def table(rows: list[dict], cost_limit: float) -> str:
    """The demo's numbers as a small text table."""
    head = f"{'algorithm':<10} {'return':>8} {'cost':>7} {'Reg+':>9} {'recovery epochs':>16}"
    lines = [head, "-" * len(head)]
    for r in rows:
        fmt = lambda v, spec: "-" if v is None else format(v, spec)
        lines.append(
            f"{r['algo']:<10} {fmt(r['final_return'], '8.2f')} {fmt(r['final_cost'], '7.2f')} "
            f"{fmt(r['reg_plus'], '9.1f')} {fmt(r['recovery_epochs'], '16d')}"
        )
    lines.append(
        f"(final return and cost: means over the last 10% of epochs; cost limit b = {cost_limit:g}; "
        f"Reg+ = Σ max(0, Ĵ_c − b) over epochs)"
    )
    return "\n".join(lines)


def stderr_report(line: str) -> None:
    """Progress on stderr: one line rewritten in place on a terminal, a line each otherwise."""
    print(
        f"\r{line}" if sys.stderr.isatty() else line,
        end="" if sys.stderr.isatty() else "\n",
        file=sys.stderr,
        flush=True,
    )


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
            cfg.name = (
                f"demogrid_{algo}_beta{format_value(cfg.beta)}_bh{format_value(cfg.bh)}_s{seed}_{settings_key(cfg)}"
            )
            out.append((label, cfg))
    return out


def trained_elsewhere(plan: list[tuple[str, TrainConfig]], runs_dir) -> list[tuple[str, TrainConfig]]:
    """The plan with each config renamed to a finished run in ``runs_dir`` that was trained with exactly
    its settings (seed included) under any name, e.g. by the barrier_sensitivity and benchmark reports;
    configs without such a run keep their names."""
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
    return pd.DataFrame([{"setting": label, "beta": cfg.beta, "bh": cfg.bh, **summary(cfg)} for label, cfg in plan])


def behaviour_table(rows) -> "pd.DataFrame":
    """Per setting: median and interquartile range over seeds of Reg+, final cost, final return and the
    recovery-epoch count."""

    def iqr(s):
        return f"{s.quantile(0.25):.3g}–{s.quantile(0.75):.3g}"

    order = list(dict.fromkeys(rows.setting))
    table = rows.groupby("setting", sort=False).agg(
        seeds=("seed", "count"),
        reg_plus=("reg_plus", "median"),
        reg_plus_iqr=("reg_plus", iqr),
        final_cost=("final_cost", "median"),
        final_cost_iqr=("final_cost", iqr),
        final_return=("final_return", "median"),
        final_return_iqr=("final_return", iqr),
        recovery_epochs=("recovery_epochs", "median"),
    )
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
        "C-TRPO's Reg+ is below TRPO-Lag's and TRPO's": ctrpo.reg_plus < m.loc["trpo-lag"].reg_plus
        and ctrpo.reg_plus < m.loc["trpo"].reg_plus,
        "C-TRPO's return is at least 80% of TRPO-Lag's": ctrpo.final_return >= 0.8 * m.loc["trpo-lag"].final_return,
    }
