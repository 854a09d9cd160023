"""A report's parameters: the notebooks in ``notebooks/``, the parameters cell papermill fills, and the
checks of the values a user gives (``-p KEY VALUE``, the app's form) before anything is written."""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

from ..config.rules import RANGES, check_grid
from ..config.schema import ALGORITHM_IDS, ConfigError, resolve
from ..envs import UnknownTaskError
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
    "value": the default as a Python value (None if it is not a literal), "help": its comment}}."""
    import papermill

    found = papermill.inspect_notebook(str(notebook_path(name)))
    out = {}
    for key, spec in found.items():
        try:
            value = ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):
            value = None
        out[key] = {"default": spec["default"], "value": value, "help": spec.get("help", "")}
    return out


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
    null is accepted for every parameter: the notebooks read None as "the default of the task")."""
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


def check_parameters(name: str, values: dict, texts: dict | None = None) -> dict:
    """Validate parameter values for report ``name`` (unknown or reserved names, types); returns the
    values, coerced where the default's type says so (an int for a float parameter becomes a float)."""
    known = parameters(name)
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
        out[key] = _coerce(key, value, texts.get(key), known[key]["value"])
    return out


def parse_parameters(name: str, pairs) -> dict:
    """``[(key, text), ...]`` as given with ``-p KEY VALUE`` → checked parameter values."""
    texts = {key: text for key, text in pairs}
    return check_parameters(name, {key: parse_literal(text) for key, text in texts.items()}, texts)


LISTS = {"betas": "beta", "bhs": "bh", "deltas": "delta", "seeds": "seed", "tasks": "task", "algos": "algo"}
SETTINGS = ("beta", "bh", "delta", "seed", "total_steps", "cost_limit", "steps_per_epoch", "num_envs", "algo")
ALGORITHM_PARAMETERS = ("reference", "regret_reference")  # parameters that name one algorithm


def check_settings(name: str, values: dict) -> None:
    """The training settings a report's parameters describe, validated as ``ctrpo train`` would validate
    them (unknown task, β = NaN, an empty list, ...), so nothing starts with settings that cannot run.
    Raises ConfigError naming ``-p KEY``."""
    merged = {k: spec["value"] for k, spec in parameters(name).items()}
    merged.update(values)
    for key in LISTS:
        if key in merged and (not isinstance(merged[key], list) or not merged[key]):
            raise ConfigError(f"-p {key}", f"must be a non-empty JSON list, got {json.dumps(merged[key])}")
    for key in ("betas", "beta"):  # also for reports that train nothing (the C-NPG geometry)
        for v in merged.get(key, []) if key == "betas" else [merged.get(key, 0.0)]:
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"-p {key}", f"values must be finite numbers >= 0, got {json.dumps(v)}")

    for key in ALGORITHM_PARAMETERS:  # an algorithm the notebook would meet only in a later cell
        if key in merged and merged[key] not in ALGORITHM_IDS:
            raise ConfigError(f"-p {key}", f"must be one of {', '.join(ALGORITHM_IDS)}, got {json.dumps(merged[key])}")
    parallel = merged.get("parallel")  # null: a process per core; else the range of `ctrpo sweep --parallel`
    if parallel is not None and not RANGES["parallel"].contains(parallel):
        raise ConfigError(
            "-p parallel", f"must be null or a whole number {RANGES['parallel'].short()}, got {json.dumps(parallel)}"
        )
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
            shown = next((k for k, f in LISTS.items() if f == field and k in values), field)
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
