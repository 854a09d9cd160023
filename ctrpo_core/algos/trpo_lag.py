"""TRPO-Lag: TRPO on the Lagrangian advantage (Â_r − λÂ_c)/(1 + λ), λ updated from Ĵ_c before each step."""

from __future__ import annotations

from ctrpo_core.algos.lagrange import LagrangeMultiplier
from ctrpo_core.engine.results import UpdateResult
from ctrpo_core.engine.trust_region_step import TrustRegionAlgorithm

ALGORITHM = {
    "id": "trpo-lag",
    "name": "TRPO-Lag",
    "color": "#ff7f0e",
    "marker": "square",
    "rank": 1,
    "summary": "TRPO-Lag: TRPO on the Lagrangian, λ by Adam",
    "family": "trust region",
    "learner": "TRPOLag",
    "reads": {"lagrange_init": None, "lagrange_lr": None},
    "metrics": {"lagrange_multiplier": "λ after this epoch's update"},
}


class TRPOLag(TrustRegionAlgorithm):
    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.multiplier = LagrangeMultiplier(cfg.lagrange_init, cfg.lagrange_lr)

    def update_policy(self, batch) -> UpdateResult:
        self.multiplier.update(batch.cost_estimate, batch.cost_limit)
        adv = self.multiplier.lagrangian_advantage(batch.adv_r, batch.adv_c)
        step = self.trust_region_step(
            batch,
            objective=lambda ev: -(ev.ratio * adv).mean(),
            divergence=lambda ev: ev.kl,
        )
        return step.with_own(lagrange_multiplier=self.multiplier.value)

    def algo_state(self):
        return {"lagrange_multiplier": self.multiplier.state_dict()}

    def load_algo_state(self, state):
        self.multiplier.load_state_dict(state["lagrange_multiplier"])
