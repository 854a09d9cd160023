"""PPO-Lag as the authors ran it: PPO's clipped surrogate (ε = 0.2) on the Lagrangian advantage
(Â_r − λÂ_c)/(1 + λ), λ by Adam from Ĵ_c once per epoch before the passes; the passes, their KL stop at δ = 0.02,
the decaying actor rate and the one joint gradient clip are the first-order family's (engine/first_order_step.py)."""

from __future__ import annotations

from ctrpo_core.algos.lagrange import LagrangeMultiplier
from ctrpo_core.engine.first_order_step import FirstOrderAlgorithm, clipped

ALGORITHM = {
    "id": "ppo-lag",
    "name": "PPO-Lag",
    "color": "#9467bd",
    "marker": "triangle-down",
    "rank": 4,
    "summary": "PPO-Lag: clipped surrogate on the Lagrangian, λ by Adam",
    "family": "first order",
    "learner": "PPOLag",
    "reads": {"lagrange_init": None, "lagrange_lr": None},
    "metrics": {"lagrange_multiplier": "λ after this epoch's update"},
}


class PPOLag(FirstOrderAlgorithm):
    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.multiplier = LagrangeMultiplier(cfg.lagrange_init, cfg.lagrange_lr)
        self.advantage = None

    def before_passes(self, batch):
        self.multiplier.update(batch.cost_estimate, batch.cost_limit)
        self.advantage = self.multiplier.lagrangian_advantage(batch.adv_r, batch.adv_c)

    def policy_loss(self, mb):
        return -clipped(mb.ratio, self.advantage[mb.idx], self.cfg.ppo_clip).mean()

    def own_metrics(self):
        return {"lagrange_multiplier": self.multiplier.value}

    def algo_state(self):
        return {"lagrange_multiplier": self.multiplier.state_dict()}

    def load_algo_state(self, state):
        self.multiplier.load_state_dict(state["lagrange_multiplier"])
