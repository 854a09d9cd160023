"""A report's parameters: the notebooks in ``notebooks/``, the parameters cell papermill fills, and the
checks of the values a user gives (``-p KEY VALUE``, the app's form) before anything is written."""

from __future__ import annotations

import ast
import io
import json
import math
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from ..config.algorithms import ALL_SETTINGS
from ..config.rules import INF, MAX_GRID, MAX_MAGNITUDE, RANGES, Range, check_grid
from ..config.schema import ALGORITHM_IDS, ConfigError, resolve, validate_name
from ..envs import TASKS, UnknownTaskError
from ..util.paths import REPOSITORY

NOTEBOOKS_DIR = REPOSITORY / "notebooks"
RESERVED = ("runs_dir",)  # set from --runs-dir, never from -p or the app's form
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # a report name and a report folder's name


def available() -> list[str]:
    """The report names: the notebooks in notebooks/ (without .ipynb)."""
    return sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb") if NAME.match(p.stem))


def notebook_path(name: str) -> Path:
    names = available()
    if name not in names:
        raise ConfigError("report", f"unknown report {name!r}; choose from {', '.join(names)}")
    return NOTEBOOKS_DIR / f"{name}.ipynb"


def parameters(name: str) -> dict[str, dict]:
    """The parameters of a report's ``parameters`` cell, in order: {name: {"default": source text,
    "value": the default as a Python value (None if it is not a literal), "help": its comment}}.

    Read from the notebook's JSON, one ``name = value  # help`` per line, as papermill reads that cell (and
    without importing papermill: the app's Reports page lists these, and papermill's imports weigh 30 MB)."""
    notebook = json.loads(notebook_path(name).read_text(encoding="utf-8"))
    cell = next(
        (c for c in notebook.get("cells", []) if "parameters" in (c.get("metadata", {}).get("tags") or [])), None
    )
    raw = cell.get("source", "") if cell is not None else ""
    source = "".join(raw) if isinstance(raw, list) else str(raw)  # nbformat keeps a cell's source either way
    out = {}
    for line in source.splitlines():
        assignment = _assignment(line)
        if assignment is None:
            continue
        key, default, help_text = assignment
        try:
            value = ast.literal_eval(default)
        except (ValueError, SyntaxError):
            value = None
        out[key] = {"default": default, "value": value, "help": help_text}
    return out


def _assignment(line: str) -> tuple[str, str, str] | None:
    """(name, value's source, comment) of a line ``name = value  # comment``; None for anything else."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    if len(tokens) < 3 or tokens[0].type != tokenize.NAME or tokens[1].string != "=":
        return None
    comment = next((t for t in tokens if t.type == tokenize.COMMENT), None)
    end = comment.start[1] if comment is not None else len(line)
    default = line[tokens[1].end[1] : end].strip()
    return tokens[0].string, default, comment.string.lstrip("#").strip() if comment is not None else ""


FOLLOWS_CHOICE = ("total_steps", "cost_limit", "delta", "beta", "bh")  # settings whose default is the task's


def form_defaults(name: str, task: str | None = None, algo: str | None = None) -> dict:
    """The parameters of report ``name`` (reserved ones left out) as its form shows them for the chosen
    ``task`` and ``algo``: the notebook's defaults, with a null training setting ("the task's default")
    shown as the value that task and algorithm train with (e.g. total_steps 160000 on HazardEdge-v0), so a
    form never shows one task's numbers for another. Leaving such a value unchanged passes nothing (the
    notebook then resolves the very same default)."""
    values = {k: spec["value"] for k, spec in parameters(name).items() if k not in RESERVED}
    task = task or values.get("task")
    algo = algo or values.get("algo") or "c-trpo"
    if "task" in values:
        values["task"] = task
    if "algo" in values:
        values["algo"] = algo
    if isinstance(task, str):
        try:
            cfg = resolve(task, algo)
        except Exception:  # an unknown task: the form shows the notebook's own defaults
            return values
        for key in FOLLOWS_CHOICE:
            if key in values and values[key] is None:
                values[key] = getattr(cfg, key)
    return values


def parse_literal(text: str):
    """A ``-p`` value: JSON when it parses (numbers, lists, true/false/null), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


# ------------------------------------------------------------------------------------ what each parameter accepts
MAX_ITEMS = 20  # values of a list that is no grid axis (a picture's β, the surrogate's step sizes)
MAX_REPS = 100_000  # bootstrap replicates: every replicate resamples all runs of an algorithm at once
MAX_PATH_STEPS = 100_000  # cnpg_geometry's fixed steps per path (Δt 0.01: flow time 1,000; ~20 s at its defaults)
MAX_FLOW_TIME = 1_000.0  # cnpg_geometry's flow time of the exact flows (they converge by t = 30 on the toy)


@dataclass(frozen=True)
class Param:
    """What one report parameter accepts. ``kind``: "int", "float", "str", "task" (a task id), "benchmark" (the
    name of a benchmark of the runs folder), "widths" (a list of positive layer widths, as the setting ``hidden``)
    or "list" (of ``item``s, ``length`` values,
    ``order`` "increasing" or "non-decreasing" where the notebook reads them so); ``optional``: null is
    accepted too (the task's default, a process per core); ``truth``: a task must have a ground truth."""

    kind: str
    range: Range | None = None
    choices: tuple | None = None
    optional: bool = False
    item: Param | None = None
    length: tuple[int, int] = (1, MAX_ITEMS)
    order: str = ""
    truth: bool = False
    note: str = ""

    def allowed(self) -> str:
        """What a value must be, in words: 'an integer in [1, 100]', 'a JSON list of 1-20 values, each ...'."""
        if self.kind == "list":
            lo, hi = self.length
            count = f"{lo}" if lo == hi else f"{lo}-{hi:,}"
            order = f", in {self.order} order" if self.order else ""
            text = f"a JSON list of {count} values{order}, each {self.item.allowed()}"
        elif self.choices is not None:
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.kind == "task":
            text = "one of " + ", ".join(truth_tasks() if self.truth else TASKS)
            text += " (the tasks with a ground truth)" if self.truth else " (see `ctrpo tasks`)"
        elif self.kind == "widths":
            text = "a JSON list of positive integers (layer widths, e.g. [64, 64])"
        elif self.kind == "benchmark":
            text = "the name of a benchmark of the runs folder (`ctrpo benchmark` prints it, e.g. paper-1M)"
        elif self.range is not None:
            text = self.range.describe()
        else:
            text = {"int": "an integer", "float": "a number", "str": "a string"}[self.kind]
        return text + (" or null" + (f" ({self.note})" if self.note else "") if self.optional else "")


def truth_tasks() -> list[str]:
    """The tasks whose runs log the ground truth (envs/truth.py): the ones the claims report can test."""
    from ..envs.truth import for_task  # noqa: PLC0415 (it imports torch: only a claims check pays for that)

    return [task for task in TASKS if for_task(task) is not None]


def setting(key: str, **changes) -> Param:
    """A parameter that is the training setting ``key``: its kind, range and choices, as `ctrpo train` checks
    them (config/settings.py and the algorithms' declarations)."""
    s = ALL_SETTINGS[key]
    kind = {"ints": "widths"}.get(s.kind, s.kind)
    fields = {"kind": kind, "range": s.range, "choices": s.choices, "optional": s.optional}
    return Param(**{**fields, **changes})


def grid(item: Param) -> Param:
    """A grid axis (seeds, tasks, β, ...): at least one value; the grid's size is bounded by check_grid."""
    return Param("list", item=item, length=(1, MAX_GRID))


def beside(item: Param) -> Param:
    """Extra runs beside a grid (claims' noise and width runs): none or more."""
    return Param("list", item=item, length=(0, MAX_GRID))


def listed(item: Param, lo: int = 1, hi: int = MAX_ITEMS, order: str = "") -> Param:
    return Param("list", item=item, length=(lo, hi), order=order)


def number(rule: Range) -> Param:
    return Param("float", range=rule)


TASK = Param("task")
ALGO = Param("str", choices=ALGORITHM_IDS)
DEFAULT_OF_TASK = "the task's default"
C_TRPO_DEFAULT = "C-TRPO's default; other algorithms read no β or b_H"
TOTAL_STEPS = setting("total_steps", optional=True, note=DEFAULT_OF_TASK)
COST_LIMIT = setting("cost_limit", note=DEFAULT_OF_TASK)
PARALLEL = Param("int", range=RANGES["parallel"], optional=True, note="a process per core")
RUNS_DIR = Param("str", optional=True)  # reserved: set from --runs-dir
FRACTION = number(Range(0.0, 1.0))
TOLERANCE = number(Range(0.0, INF, hi_open=True))  # a finite threshold >= 0
SLOPE = number(Range(-MAX_MAGNITUDE, MAX_MAGNITUDE))
BETA = setting("beta")
POSITIVE_BETA = number(Range(0.0, BETA.range.hi, lo_open=True))  # C-NPG flows (NPG, β 0, is drawn beside them)
STARTS = Param("int", range=RANGES["starts"])  # as `ctrpo cnpg --starts`

# Every parameter of every notebook's ``parameters`` cell, declared once (tests/integration/
# test_report_inputs.py fails while a notebook has one that is not declared here): checked before anything
# is written, so a bad value exits 2 naming it instead of failing a cell of a half-written report.
DECLARED: dict[str, dict[str, Param]] = {
    "quickstart": {
        "task": TASK,
        "algo": ALGO,
        "seed": setting("seed"),
        "beta": setting("beta", optional=True, note=C_TRPO_DEFAULT),
        "bh": setting("bh", optional=True, note=C_TRPO_DEFAULT),
        "total_steps": TOTAL_STEPS,
        "cost_limit": COST_LIMIT,
    },
    "barrier_sensitivity": {
        "task": TASK,
        "betas": grid(BETA),
        "bhs": grid(setting("bh")),
        "seeds": grid(setting("seed")),
        "total_steps": TOTAL_STEPS,
        "cost_limit": COST_LIMIT,
        "return_drop": FRACTION,
        "parallel": PARALLEL,
        "runs_dir": RUNS_DIR,
    },
    "benchmark": {
        "name": Param("benchmark", optional=True, note="train and report the small benchmark of the other parameters"),
        "tasks": grid(TASK),
        "algos": grid(ALGO),
        "seeds": grid(setting("seed")),
        "total_steps": setting("total_steps", optional=True, note="the paper's 10M"),
        "cost_limit": setting("cost_limit", optional=True, note=DEFAULT_OF_TASK),
        "reps": Param("int", range=Range(1, MAX_REPS, integer=True)),
        "parallel": PARALLEL,
        "runs_dir": RUNS_DIR,
    },
    "claims": {
        "tasks": grid(Param("task", truth=True)),
        "algos": grid(ALGO),
        "seeds": grid(setting("seed")),
        "betas": grid(BETA),
        "noise_steps_per_epoch": beside(setting("steps_per_epoch")),
        "hiddens": beside(setting("hidden")),
        "total_steps": TOTAL_STEPS,
        "max_crossings_per_run": TOLERANCE,
        "surrogate_steps": listed(number(Range(0.0, 10.0, lo_open=True)), lo=2, order="increasing"),
        "surrogate_max_error": TOLERANCE,
        "surrogate_slopes": listed(SLOPE, lo=2, hi=2, order="non-decreasing"),
        "cnpg_betas": listed(POSITIVE_BETA),
        "cnpg_tolerance": TOLERANCE,
        "cnpg_gap": TOLERANCE,
        "return_share": TOLERANCE,
        "parallel": PARALLEL,
        "runs_dir": RUNS_DIR,
    },
    "cnpg_geometry": {
        "betas": listed(BETA),
        "n_starts": STARTS,
        "seed": setting("seed"),
        "n_steps": Param("int", range=Range(1, MAX_PATH_STEPS, integer=True)),
        "exact_betas": listed(POSITIVE_BETA),
        "exact_starts": STARTS,
        "t_end": number(Range(0.0, MAX_FLOW_TIME, lo_open=True)),
        "rtol": number(Range(0.0, 1.0, lo_open=True)),
        "atol": number(Range(0.0, 1.0, lo_open=True)),
        "delta": setting("delta"),
        "tol": TOLERANCE,
    },
}


def declared(name: str) -> dict[str, Param]:
    """The declarations of report ``name``'s parameters ({} for a notebook nobody declared yet: its values
    are then checked against the type of their defaults only)."""
    return DECLARED.get(name, {})


def _shown(value, text: str | None) -> str:
    shown = text if text is not None else json.dumps(value, default=str)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _whole(value):
    """An integral float (JSON 1e6) as an int; anything else unchanged."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _valid(spec: Param, value):
    """``value`` as ``spec`` takes it (an int for a float, 1e6 for an int), or raise ValueError."""
    if value is None:
        if spec.optional:
            return None
        raise ValueError
    if spec.kind == "list":
        if not isinstance(value, list) or not spec.length[0] <= len(value) <= spec.length[1]:
            raise ValueError
        items = [_valid(spec.item, v) for v in value]
        pairs = list(zip(items, items[1:]))
        if (spec.order == "increasing" and not all(a < b for a, b in pairs)) or (
            spec.order == "non-decreasing" and not all(a <= b for a, b in pairs)
        ):
            raise ValueError
        return items
    if spec.kind == "widths":
        if not isinstance(value, list) or not value:
            raise ValueError
        widths = [_whole(w) for w in value]
        if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
            raise ValueError
        return widths
    if spec.kind == "benchmark":  # a sweep's name (its manifest's file name); that it exists: check_parameters
        if not isinstance(value, str):
            raise ValueError
        try:
            validate_name(value)
        except ConfigError:
            raise ValueError from None
        return value
    if spec.kind in ("str", "task"):
        if not isinstance(value, str) or (spec.choices is not None and value not in spec.choices):
            raise ValueError
        if spec.kind == "task" and value not in (truth_tasks() if spec.truth else TASKS):
            raise ValueError
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError
    value = _whole(value) if spec.kind == "int" else float(value)
    if (spec.kind == "int" and not isinstance(value, int)) or (spec.range and not spec.range.contains(value)):
        raise ValueError
    return value


def check_value(key: str, spec: Param, value, text: str | None = None):
    """``value`` of parameter ``key`` checked against its declaration; ConfigError naming ``-p KEY`` and what
    it accepts otherwise."""
    try:
        return _valid(spec, value)
    except (ValueError, TypeError, OverflowError):
        raise ConfigError(f"-p {key}", f"must be {spec.allowed()}, got {_shown(value, text)}") from None


def _describe(value) -> str:
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a JSON list",
        dict: "a JSON object",
    }.get(type(value), "a JSON value")


def _coerce(key: str, value, text: str | None, default):
    """``value`` checked against the type of the parameter's default (a default of None takes anything;
    null is accepted for every parameter: the notebooks read None as "the default of the task"). For a
    parameter no declaration describes."""
    if default is None or value is None:
        return value
    if isinstance(default, str):
        return value if isinstance(value, str) else (text if text is not None else str(value))
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, list)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    if not ok:
        shown = text if text is not None else json.dumps(value)
        raise ConfigError(
            f"-p {key}",
            f"expected {_describe(default if not isinstance(default, tuple) else [])} "
            f"(default {json.dumps(default)}), got {shown}",
        )
    return value


def check_parameters(name: str, values: dict, texts: dict | None = None, runs_dir=None) -> dict:
    """Validate parameter values for report ``name``: unknown or reserved names, then each value against its
    declaration (type, range, choices; :data:`DECLARED`). Returns the values as the notebook gets them (an
    int for a float parameter becomes a float). A string parameter given as other JSON (``-p task 5``) is
    taken as the text typed. With ``runs_dir``, a benchmark's name must be one of that folder's."""
    known = parameters(name)
    specs = declared(name)
    texts = texts or {}
    out = {}
    for key, value in values.items():
        if key in RESERVED:
            raise ConfigError(f"-p {key}", "is set by --runs-dir (the runs folder), not by -p")
        if key not in known:
            raise ConfigError(
                "-p",
                f"unknown parameter {key!r} of report {name}; its parameters: "
                f"{', '.join(k for k in known if k not in RESERVED)}",
            )
        text = texts.get(key)
        spec = specs.get(key)
        if spec is None:
            out[key] = _coerce(key, value, text, known[key]["value"])
            continue
        if spec.kind in ("str", "task", "benchmark") and value is not None and not isinstance(value, str):
            value = text if text is not None else json.dumps(value)
        out[key] = check_value(key, spec, value, text)
        if spec.kind == "benchmark" and out[key] is not None and runs_dir is not None:
            from ..sweeps.manifest import list_sweeps  # noqa: PLC0415 (it loads pandas: only a benchmark's name needs it)

            there = list_sweeps(runs_dir, kind="benchmark")
            if out[key] not in there:
                raise ConfigError(
                    f"-p {key}",
                    f"must be {spec.allowed()}; {str(runs_dir)!r} has "
                    + (", ".join(there) if there else "none (`ctrpo benchmark` trains one)")
                    + f", got {_shown(out[key], text)}",
                )
    return out


def parse_parameters(name: str, pairs) -> dict:
    """``[(key, text), ...]`` as given with ``-p KEY VALUE`` → checked parameter values."""
    texts = {key: text for key, text in pairs}
    return check_parameters(name, {key: parse_literal(text) for key, text in texts.items()}, texts)


LISTS = {"betas": "beta", "bhs": "bh", "deltas": "delta", "seeds": "seed", "tasks": "task", "algos": "algo"}
SETTINGS = ("beta", "bh", "delta", "seed", "total_steps", "cost_limit", "steps_per_epoch", "num_envs", "algo")
# lists of a setting that the claims report trains with beside the grid (one run per value and seed, no product)
BESIDE = {"noise_steps_per_epoch": "steps_per_epoch", "hiddens": "hidden"}


def check_settings(name: str, values: dict) -> None:
    """The training settings a report's parameters describe, validated together as ``ctrpo train`` would
    validate them (each value was checked alone by :func:`check_parameters`): every task with every
    algorithm, each value of a list with the first task and algorithm, and the size of the grid, so nothing
    starts with settings that cannot run. Raises ConfigError naming ``-p KEY``."""
    merged = {k: spec["value"] for k, spec in parameters(name).items()}
    merged.update(values)
    check_grid({f"-p {key}": merged[key] for key in LISTS if key in merged})  # the runs it would plan
    if "task" not in merged and "tasks" not in merged:
        return
    tasks = merged["tasks"] if "tasks" in merged else [merged["task"]]
    algos = merged["algos"] if "algos" in merged else [merged.get("algo") or "c-trpo"]
    base = {k: merged[k] for k in SETTINGS if k in merged and merged[k] is not None and k != "algo"}

    def check(key: str, task, algo, **extra) -> None:
        try:
            resolve(task, algo, **base, **extra)
        except UnknownTaskError as exc:
            raise ConfigError(f"-p {key}", str(exc)) from None
        except ConfigError as exc:
            field = exc.param.lstrip("-").replace("-", "_")
            shown = next((k for k, f in {**LISTS, **BESIDE}.items() if f == field and k in values), field)
            raise ConfigError(f"-p {shown}", str(exc).split(": ", 1)[-1]) from None
        except TypeError as exc:
            raise ConfigError(f"-p {key}", f"a value of the wrong type ({exc})") from None

    for task in tasks:
        for algo in algos:
            check("tasks" if "tasks" in merged else "task", task, algo)
    for key, field in LISTS.items():
        if key in merged and key not in ("tasks", "algos"):
            for value in merged[key]:
                check(key, tasks[0], algos[0], **{field: value})
    for key, field in BESIDE.items():  # C-TRPO runs (claims.plan)
        for value in merged.get(key, []):
            check(key, tasks[0], "c-trpo", **{field: tuple(value) if field == "hidden" else value})
