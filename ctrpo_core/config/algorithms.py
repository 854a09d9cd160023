"""The algorithms this version knows, and which settings each reads: the one list of algorithm ids.

The CLI, the app and validation read the ids from here; ``ctrpo_core.algos.make_algorithm`` imports an
algorithm's module (``ctrpo_core.algos.<module>``) only when it is trained, so listing the ids does not
import torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlgorithmEntry:
    module: str  # ctrpo_core.algos.<module>
    cls: str
    summary: str
    settings: tuple[str, ...] = ()  # the config fields only this algorithm (among the registered) reads


REGISTRY: dict[str, AlgorithmEntry] = {
    "c-trpo": AlgorithmEntry("c_trpo", "CTRPO", "C-TRPO: TRPO in the constrained divergence D_C (the paper)",
                             ("beta", "bh", "barrier")),
    "trpo": AlgorithmEntry("trpo", "TRPO", "TRPO: the reward only, in a KL ball"),
    "trpo-lag": AlgorithmEntry("trpo_lag", "TRPOLag", "TRPO on the Lagrangian, λ by Adam",
                               ("lagrange_init", "lagrange_lr")),
    "cpo": AlgorithmEntry("cpo", "CPO", "CPO: the linearised constrained step with recovery"),
    "pcpo": AlgorithmEntry("pcpo", "PCPO", "PCPO: a TRPO step projected onto the linearised constraint"),
    "ppo-lag": AlgorithmEntry("ppo_lag", "PPOLag", "PPO-Lag: clipped surrogate on the Lagrangian",
                              ("lagrange_init", "lagrange_lr", "ppo_clip", "ppo_lr", "ppo_critic_lr",
                               "ppo_epochs", "ppo_minibatch")),
}
ALGORITHM_IDS = tuple(REGISTRY)
UNCONSTRAINED = ("trpo",)  # ignores the cost: listed last in legends and tables, after every constrained method


def legend_rank(algo) -> int:
    """Where an algorithm stands in legends and tables: C-TRPO first, then the constrained baselines in
    registry order, the unconstrained ones last, ids this version does not know after all."""
    ordered = [a for a in ALGORITHM_IDS if a not in UNCONSTRAINED] + list(UNCONSTRAINED)
    return ordered.index(algo) if algo in ordered else len(ordered)
