"""The algorithms: collected from their own files, each declaring everything about itself in one place.

An algorithm is one module whose ``ALGORITHM`` is a plain-data dict (literals only):

    ALGORITHM = {
        "id": "trpo-lag", "name": "TRPO-Lag", "color": "#ff7f0e", "rank": 2,
        "summary": "TRPO on the Lagrangian, λ by Adam",
        "family": "trust region",           # or "first order": which engine step moves the policy
        "learner": "TRPOLag",               # the class in this module that trains
        "constrained": True,                # False: ignores the cost (listed last in legends)
        "reads": {"lagrange_init": None, "lagrange_lr": None},  # shared settings it reads (a value: its default)
        "settings": {"my_knob": {"kind": "float", "default": 1.0, "range": "(0, inf)", "help": "..."}},
        "metrics": {"lagrange_multiplier": "λ after this epoch's update"},  # its own metrics.csv columns
    }

The registry reads that dict from the file's syntax tree without running the module, so listing algorithms,
their names, colours and settings never imports torch (the CLI's start, `ctrpo ls`, the app's pages). The
built-in algorithms are the modules of ``ctrpo_core/algos/``; more come from the modules named in the
environment variable ``CTRPO_ALGORITHMS`` (comma-separated importable module names, e.g. ``my_algos.safe_trpo``),
which need no change to this package (docs/ALGORITHM.md, "Adding an algorithm").
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .rules import ConfigError
from .settings import ALL, FAMILIES, KINDS, SETTINGS, Setting, interval

PLUGINS_ENV = "CTRPO_ALGORITHMS"
BUILT_IN = Path(__file__).resolve().parents[1] / "algos"
REQUIRED = ("id", "name", "color", "summary", "family", "learner")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class AlgorithmDeclarationError(ConfigError):
    """An algorithm file whose ALGORITHM dict cannot be used; the message names the file and the field."""

    def __init__(self, path, message: str):
        super().__init__("algo", f"{path}: {message}")


@dataclass(frozen=True)
class Algorithm:
    id: str
    name: str
    color: str
    summary: str
    family: str
    module: str  # importable module name of the learner
    learner: str  # the class in that module
    path: str
    constrained: bool = True
    rank: int = 100
    marker: str = "circle"  # its Plotly marker symbol: a second channel beside the colour (colour-blind readers)
    reads: tuple[tuple[str, object], ...] = ()  # (shared setting, its default for this algorithm or None)
    settings: tuple[Setting, ...] = ()  # declared by this algorithm
    metrics: tuple[tuple[str, str], ...] = ()  # (column, what it holds)

    def default_of(self, key: str):
        """This algorithm's own default of a shared setting it reads, or None."""
        return dict(self.reads).get(key)

    @property
    def metric_columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.metrics)


def _literal(path: Path) -> dict | None:
    """The ALGORITHM dict of the module at ``path`` (None: the module declares none, e.g. a helper)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        raise AlgorithmDeclarationError(path, f"cannot be read: {exc}") from None
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "ALGORITHM" for t in targets) and node.value is not None:
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise AlgorithmDeclarationError(path, "ALGORITHM must be plain data (literals only)") from None
            if not isinstance(value, dict):
                raise AlgorithmDeclarationError(path, "ALGORITHM must be a dict")
            return value
    return None


def _own_setting(path, key: str, spec) -> Setting:
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS or "default" not in spec or "help" not in spec:
        raise AlgorithmDeclarationError(
            path, f"settings[{key!r}] needs a kind ({', '.join(KINDS)}), a default and a help text"
        )
    known = {"kind", "default", "help", "range", "choices", "optional", "flag", "label", "symbol", "by_task"}
    if set(spec) - known:
        raise AlgorithmDeclarationError(path, f"settings[{key!r}] has unknown fields {sorted(set(spec) - known)}")
    text = spec.get("range")
    rng = interval(text, integer=spec["kind"] == "int") if text else None
    choices = tuple(spec["choices"]) if spec.get("choices") is not None else None
    return Setting(
        key,
        spec["kind"],
        spec["default"],
        spec["help"],
        range=rng,
        choices=choices,
        optional=bool(spec.get("optional", False)),
        read_by=None,
        flag=bool(spec.get("flag", False)),
        label=spec.get("label", ""),
        symbol=spec.get("symbol", ""),
        by_task=dict(spec.get("by_task", {})),
    )


def declaration(path: Path, module: str) -> Algorithm | None:
    """The Algorithm a module declares (checked), or None when it declares none."""
    data = _literal(path)
    if data is None:
        return None
    missing = [k for k in REQUIRED if not isinstance(data.get(k), str) or not data.get(k)]
    if missing:
        raise AlgorithmDeclarationError(path, f"ALGORITHM needs {', '.join(missing)} (text)")
    if not _COLOR.match(data["color"]):
        raise AlgorithmDeclarationError(path, f"color must be #rrggbb, got {data['color']!r}")
    if data["family"] not in FAMILIES:
        raise AlgorithmDeclarationError(path, f"family must be one of {', '.join(FAMILIES)}, got {data['family']!r}")
    reads = data.get("reads", {})
    reads = dict.fromkeys(reads) if isinstance(reads, (list, tuple)) else reads
    own = data.get("settings", {})
    metrics = data.get("metrics", {})
    if not isinstance(reads, dict) or not isinstance(own, dict) or not isinstance(metrics, dict):
        raise AlgorithmDeclarationError(path, "reads, settings and metrics must be dicts")
    unknown = [k for k in reads if k not in SETTINGS]
    if unknown:
        raise AlgorithmDeclarationError(path, f"reads unknown settings {unknown} (declare them under settings)")
    return Algorithm(
        id=data["id"],
        name=data["name"],
        color=data["color"].lower(),
        summary=data["summary"],
        family=data["family"],
        module=module,
        learner=data["learner"],
        path=str(path),
        constrained=bool(data.get("constrained", True)),
        rank=int(data.get("rank", 100)),
        marker=str(data.get("marker", "circle")),
        reads=tuple(reads.items()),
        settings=tuple(_own_setting(path, k, v) for k, v in own.items()),
        metrics=tuple((str(k), str(v)) for k, v in metrics.items()),
    )


def _plugin_paths() -> list[tuple[Path, str]]:
    """(file, module name) of the modules named in $CTRPO_ALGORITHMS, located without running them."""
    out = []
    for name in filter(None, (n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            raise ConfigError("algo", f"{PLUGINS_ENV}: no Python module {name!r} on the module path")
        out.append((Path(spec.origin), name))
    return out


def collect() -> dict[str, Algorithm]:
    """Every algorithm: the built-in modules, then the plugins, in rank order; a duplicate id or a setting
    declared twice is an error naming both files."""
    sources = [(p, f"ctrpo_core.algos.{p.stem}") for p in sorted(BUILT_IN.glob("*.py")) if p.stem != "__init__"]
    found: dict[str, Algorithm] = {}
    owners: dict[str, str] = {}
    for path, module in sources + _plugin_paths():
        algo = declaration(path, module)
        if algo is None:
            continue
        if algo.id in found:
            raise AlgorithmDeclarationError(path, f"the id {algo.id!r} is taken by {found[algo.id].path}")
        for s in algo.settings:
            if s.key in SETTINGS or s.key in owners:
                raise AlgorithmDeclarationError(
                    path, f"setting {s.key!r} is declared already ({owners.get(s.key, 'config/settings.py')})"
                )
            owners[s.key] = str(path)
        found[algo.id] = algo
    return dict(sorted(found.items(), key=lambda item: (item[1].rank, item[0])))


ALGORITHMS: dict[str, Algorithm] = collect()
ALGORITHM_IDS = tuple(ALGORITHMS)
UNCONSTRAINED = tuple(a for a, spec in ALGORITHMS.items() if not spec.constrained)
# every setting: the shared ones, then each algorithm's own
ALL_SETTINGS: dict[str, Setting] = {**SETTINGS, **{s.key: s for a in ALGORITHMS.values() for s in a.settings}}


def algorithm(algo: str) -> Algorithm:
    if algo not in ALGORITHMS:
        raise ConfigError("algo", f"unknown algorithm {algo!r}; choose from {', '.join(ALGORITHM_IDS)}")
    return ALGORITHMS[algo]


def applies(algo: str, key: str) -> bool:
    """Whether ``algo`` reads setting ``key``: the settings every algorithm reads, its family's, the ones it
    declares and the shared ones it lists under ``reads`` (a key that is no setting, such as ``task``, applies to
    every run). Unknown algorithms read only the common ones."""
    setting = ALL_SETTINGS.get(key)
    if setting is None:
        return True
    if setting.read_by == ALL:
        return True
    spec = ALGORITHMS.get(algo)
    if spec is None:
        return False
    return setting.read_by == spec.family or key in dict(spec.reads) or any(s.key == key for s in spec.settings)


def readers(key: str) -> list[str]:
    """The algorithms that read ``key``."""
    return [a for a in ALGORITHM_IDS if applies(a, key)]


def legend_rank(algo) -> int:
    """Where an algorithm stands in legends and tables: by rank (C-TRPO first), the unconstrained ones last,
    ids this version does not know after all."""
    ordered = [a for a in ALGORITHM_IDS if a not in UNCONSTRAINED] + list(UNCONSTRAINED)
    return ordered.index(algo) if algo in ordered else len(ordered)
