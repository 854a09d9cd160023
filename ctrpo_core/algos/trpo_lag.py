"""TRPO-Lag: TRPO on the Lagrangian advantage, λ updated from the episode cost."""

from dataclasses import replace

from ..engine.base import OnPolicyAlgorithm
from ..engine.results import UpdateResult
from .lagrange import LagrangeMultiplier


class TRPOLag(OnPolicyAlgorithm):

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
        return replace(step, lagrange_multiplier=self.multiplier.value)

    def algo_state(self):
        return {"lagrange_multiplier": self.multiplier.state_dict()}

    def load_algo_state(self, state):
        self.multiplier.load_state_dict(state["lagrange_multiplier"])
