"""Python 3.11 compatibility shim for safety-gymnasium 1.0.0.

Why this exists: safety-gymnasium's geometry dataclasses use the numpy arrays of
``safety_gymnasium/assets/color.py`` (the dict ``COLOR``) as field defaults. Python >= 3.11
rejects unhashable dataclass defaults ("mutable default <class 'numpy.ndarray'> for field color
is not allowed"), so the navigation tasks (Goal, Button, Push, Circle) cannot even be made.

Fix without touching site-packages: load ``color.py`` on its own before the package is imported,
turn every ``COLOR`` value into a hashable ndarray subclass, and register the module under its
dotted name so the package's own ``from safety_gymnasium.assets.color import COLOR`` picks it up.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

COLOR_MODULE = "safety_gymnasium.assets.color"


class HashableColor(np.ndarray):
    """An ndarray that dataclasses accept as a default (identity hash; colours are never mutated)."""

    def __hash__(self) -> int:
        return id(self)


def install() -> None:
    """Register the patched colour module. Idempotent; must run before ``import safety_gymnasium``."""
    existing = sys.modules.get(COLOR_MODULE)
    if existing is not None:
        if not all(isinstance(v, HashableColor) for v in existing.COLOR.values()):
            raise RuntimeError(
                "safety_gymnasium was imported before the Python 3.11 shim; import it through "
                "ctrpo_core.envs.sg_compat.import_safety_gymnasium()"
            )
        return
    package = importlib.util.find_spec("safety_gymnasium")
    if package is None or not package.submodule_search_locations:
        raise ImportError("safety-gymnasium is not installed (run `make test` or `make app` to set up)")
    path = os.path.join(package.submodule_search_locations[0], "assets", "color.py")
    spec = importlib.util.spec_from_file_location(COLOR_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.COLOR = {name: np.asarray(value).view(HashableColor) for name, value in module.COLOR.items()}
    sys.modules[COLOR_MODULE] = module


def _silence_adroit_notice() -> None:
    """gymnasium-robotics prints a notice about its Adroit tasks (unused here) at every import."""
    try:
        import farama_notifications
    except ImportError:
        return
    farama_notifications.notifications.pop("gymnasium_robotics", None)


def import_safety_gymnasium():
    """Import safety_gymnasium with the shim in place and return the module."""
    install()
    _silence_adroit_notice()
    import safety_gymnasium

    return safety_gymnasium
