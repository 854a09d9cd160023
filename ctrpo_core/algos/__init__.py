"""The algorithms, each a small subclass of the engine stating objective, divergence, acceptance.

``REGISTRY`` (``config/algorithms.py``) is the one list of algorithm ids and of the settings each reads;
``make_algorithm`` imports an algorithm's module only when it is trained.
"""

from __future__ import annotations

import importlib

from ..config.algorithms import ALGORITHM_IDS, REGISTRY, UNCONSTRAINED, AlgorithmEntry, legend_rank  # noqa: F401


def algorithm_class(algo: str):
    entry = REGISTRY[algo]
    return getattr(importlib.import_module(f"{__name__}.{entry.module}"), entry.cls)


def make_algorithm(cfg, env):
    return algorithm_class(cfg.algo)(cfg, env)
