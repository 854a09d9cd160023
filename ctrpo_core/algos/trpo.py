"""TRPO: the reward surrogate inside a KL ball (C-TRPO with β = 0)."""

from ..engine.base import OnPolicyAlgorithm
from ..engine.results import UpdateResult


class TRPO(OnPolicyAlgorithm):

    def update_policy(self, batch) -> UpdateResult:
        return self.trust_region_step(
            batch,
            objective=lambda ev: -(ev.ratio * batch.adv_r).mean(),
            divergence=lambda ev: ev.kl,
        )
