"""TRPO (Schulman et al., 2015): the reward surrogate inside a KL ball; C-TRPO with β = 0, unconstrained."""

from __future__ import annotations

from ctrpo_core.engine.results import UpdateResult
from ctrpo_core.engine.trust_region_step import TrustRegionAlgorithm

ALGORITHM = {
    "id": "trpo",
    "name": "TRPO",
    "color": "#e377c2",
    "marker": "x",
    "rank": 10,
    "summary": "TRPO: the reward only, in a KL ball (unconstrained)",
    "family": "trust region",
    "learner": "TRPO",
    "constrained": False,
}


class TRPO(TrustRegionAlgorithm):
    def update_policy(self, batch) -> UpdateResult:
        return self.trust_region_step(
            batch,
            objective=lambda ev: -(ev.ratio * batch.adv_r).mean(),
            divergence=lambda ev: ev.kl,
        )
