"""The algorithms, each a small subclass of the engine stating objective, divergence, acceptance."""

from __future__ import annotations

from .c_trpo import CTRPO
from .cpo import CPO
from .pcpo import PCPO
from .ppo_lag import PPOLag
from .trpo import TRPO
from .trpo_lag import TRPOLag

ALGORITHMS = {cls.name: cls for cls in (CTRPO, TRPO, TRPOLag, CPO, PCPO, PPOLag)}


def make_algorithm(cfg, env):
    return ALGORITHMS[cfg.algo](cfg, env)
