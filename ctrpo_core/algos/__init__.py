"""The algorithms: one module each, declaring everything about itself (``ALGORITHM``: id, name, colour, family,
settings, metrics) and the learner that trains it, a small subclass of an engine family stating its objective,
its divergence or penalty, and its acceptance rule. ``config/algorithms.py`` reads the declarations without
importing the modules; ``make_algorithm`` imports a module only when a run trains with it.
"""

from __future__ import annotations

import importlib

from ..config.algorithms import algorithm


def algorithm_class(algo: str):
    spec = algorithm(algo)
    return getattr(importlib.import_module(spec.module), spec.learner)


def make_algorithm(cfg, env):
    return algorithm_class(cfg.algo)(cfg, env)
