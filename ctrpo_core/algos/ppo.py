"""PPO (Schulman et al., 2017) as the paper's authors ran it, unconstrained: the clipped surrogate on the reward
advantage alone; PPO-Lag with λ ≡ 0 (the first-order family's passes, KL stop, decaying rate and joint clip).
The paper normalises every algorithm's return by PPO's."""

from __future__ import annotations

from ctrpo_core.engine.first_order_step import FirstOrderAlgorithm, clipped

ALGORITHM = {
    "id": "ppo",
    "name": "PPO",
    "color": "#a6761d",
    "marker": "cross",
    "rank": 11,
    "summary": "PPO: the clipped reward surrogate (unconstrained)",
    "family": "first order",
    "learner": "PPO",
    "constrained": False,
}


class PPO(FirstOrderAlgorithm):
    def policy_loss(self, mb):
        return -clipped(mb.ratio, mb.adv_r, self.cfg.ppo_clip).mean()
