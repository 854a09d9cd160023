"""TRPO: the reward surrogate inside a KL ball (C-TRPO with β = 0)."""

from ..engine.base import OnPolicyAlgorithm


class TRPO(OnPolicyAlgorithm):

    def update_policy(self, batch):
        stats = self.trust_region_step(
            batch,
            objective=lambda ev: -(ev["ratio"] * batch.adv_r).mean(),
            divergence=lambda ev: ev["kl"],
        )
        return {**stats, "recovery": 0, "budget": batch.budget}
