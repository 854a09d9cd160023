"""The package's layers (issue 21): every module of ctrpo_core lives on a floor, imports only from its own
floor or the ones below, and no two modules import each other, directly or around a circle. Imports under
``if TYPE_CHECKING:`` (types only, never executed) are exempt and must be marked that way."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ctrpo_core"
# bottom to top; a module may import its own floor and the floors below it
FLOORS = [
    ("util",),
    ("envs",),
    ("config",),
    ("engine",),
    ("algos",),
    ("tabular",),
    ("runs",),
    ("sweeps",),
    ("results",),
    ("reports",),
    ("tools",),
    ("ui",),
    ("api", "cli"),
]
FLOOR = {part: level for level, parts in enumerate(FLOORS) for part in parts}
SHIM = {"ctrpo_core"}  # the package itself


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, source: str | None = None) -> list[tuple[str, int, bool]]:
    """(imported module, line, whether only under TYPE_CHECKING) for every import of a ctrpo_core module
    (``source``: its text, default the file's)."""
    name, tree = module_name(path), ast.parse(path.read_text() if source is None else source)
    typing_only = {
        n.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
        if hasattr(n, "lineno")
    }
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:  # `from . import module` imports that module
                full = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*full.split("."))).with_suffix(".py").exists() or (
                    PACKAGE.parent / Path(*full.split(".")) / "__init__.py"
                ).exists()
                out.append((full if is_module else target, node.lineno, node.lineno in typing_only))
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno, node.lineno in typing_only) for a in node.names]
    return [(t, line, tc) for t, line, tc in out if t == "ctrpo_core" or t.startswith("ctrpo_core.")]


def floor_of(module: str) -> int | None:
    parts = module.split(".")
    return FLOOR.get(parts[1]) if len(parts) > 1 else None


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_every_module_is_on_a_floor():
    assert [m for m in MODULES if m not in SHIM and floor_of(m) is None] == []


def test_no_module_imports_a_higher_floor():
    upward = []
    for module, path in MODULES.items():
        if module in SHIM:
            continue
        for target, line, typing_only in imports(path):
            if target not in SHIM and not typing_only and floor_of(target) > floor_of(module):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert upward == []


def test_no_import_circles():
    graph = {
        m: {t for t, _, typing_only in imports(p) if not typing_only and t in MODULES and t != m}
        for m, p in MODULES.items()
    }
    # a module imports its package's __init__ first: a package that imports its own module is no circle
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert circles == []


def test_the_checks_see_an_upward_import_and_a_typing_only_one():
    """The checks above can fail: an engine module importing the CLI is an upward import, one under
    ``if TYPE_CHECKING:`` is recognised as types only."""
    probe = PACKAGE / "engine" / "probe.py"  # never written: its source is given
    found = imports(
        probe,
        "from ..cli import main\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from ctrpo_core.api import train\n",
    )
    assert [(t, tc) for t, _, tc in found] == [("ctrpo_core.cli", False), ("ctrpo_core.api", True)]
    assert floor_of("ctrpo_core.cli") > floor_of(module_name(probe))


def test_the_light_paths_load_no_heavy_module():
    """The CLI's start (``ctrpo --help``, ``ctrpo ls``) and the algorithms' declarations stay light: none of the
    heavy modules pyproject.toml lists for deferral (torch, scipy, MuJoCo, ...) is loaded by importing them."""
    import subprocess
    import sys

    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    heavy = config["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-module-level-imports"]
    probe = (
        "import sys, ctrpo_core.cli, ctrpo_core.config.algorithms as a; a.ALGORITHMS;"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
    assert "torch" in heavy and "ctrpo_core.engine" in heavy  # the list the probe reads is the real one
