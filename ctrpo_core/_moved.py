"""Old module paths (before the layers of issue 21) for code written against them.

``import ctrpo_core.catalog`` gives ``ctrpo_core.results.catalog`` with a DeprecationWarning naming the new
path; a module that was split (``policy_io``) gives a module that finds each name in its new home. The
table is the one record of what moved where.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

# old module (under ctrpo_core) -> its new home(s), in the order a name is looked up
MOVED: dict[str, tuple[str, ...]] = {
    "ownership": ("runs.ownership",),
    "lifecycle": ("runs.lifecycle",),
    "trainer": ("runs.trainer",),
    "tensorboard_log": ("runs.tensorboard",),
    "policy_io": ("tools.evaluate", "tools.export", "runs.policy", "runs.store"),
    "rollout": ("tools.render", "runs.policy"),
    "overrides": ("config.overrides", "config.rules"),
    "sweep": ("sweeps.execute",),
    "ray_backend": ("sweeps.ray",),
    "signals": ("util.signals",),
    "cores": ("util.cores",),
    "catalog": ("results.catalog",),
    "stats": ("results.stats",),
    "tables": ("results.tables",),
    "plots": ("results.plots",),
    "figure_style": ("results.figure_style",),
    "analysis": ("results.analysis",),
    "conclusions": ("results.conclusions",),
    "notebook": ("reports.notebook",),
    "demo": ("tools.demo",),
    "claims": ("tools.claims",),
    "claims_figures": ("tools.claims_figures",),
    "forms": ("ui.forms",),
    "serving": ("ui.serving",),
}
# names that changed with the move: (old module, old name) -> new module and name
RENAMED: dict[tuple[str, str], tuple[str, str]] = {
    ("policy_io", "find_run"): ("runs.policy", "find_trained_run"),  # a run with a checkpoint (runs.store's
    # find_run is any run directory)
}
PACKAGE = __name__.rpartition(".")[0]


def new_path(old: str) -> str:
    return " and ".join(f"{PACKAGE}.{m}" for m in MOVED[old])


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        old = spec.name.rpartition(".")[2]
        warnings.warn(f"{spec.name} moved to {new_path(old)}", DeprecationWarning, stacklevel=3)
        homes = [importlib.import_module(f"{PACKAGE}.{m}") for m in MOVED[old]]
        renamed = {
            name: getattr(importlib.import_module(f"{PACKAGE}.{module}"), new)
            for (module_old, name), (module, new) in RENAMED.items()
            if module_old == old
        }
        if len(homes) == 1 and not renamed:
            return homes[0]
        module = types.ModuleType(spec.name, f"{spec.name} moved to {new_path(old)}")

        def __getattr__(name):
            if name in renamed:
                return renamed[name]
            for home in homes:
                if hasattr(home, name):
                    return getattr(home, name)
            raise AttributeError(f"{spec.name}.{name} is gone; {spec.name} moved to {new_path(old)}")

        module.__getattr__ = __getattr__
        return module

    def exec_module(self, module):
        pass


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        package, _, old = fullname.rpartition(".")
        if package != PACKAGE or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, _Loader())


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
