"""FOCOPS (Zhang, Vuong & Ross, 2020), as the paper's authors ran it: the cost multiplier ν by Adam from Ĵ_c once
per epoch (clamped to [0, focops_nu_max]), then, on every minibatch of the first-order passes, the first-order
projection loss

    mean_i [ (KL(π_θ‖π_k)(s_i) − (1/λ)·r_i·(Â_r − νÂ_c)_i/(1 + ν)) · 1{KL(π_θ‖π_k)(s_i) <= δ} ]

with λ = focops_lam the temperature, the KL summed over action dimensions, and samples whose KL has passed δ
dropped from the loss (counted as 0 in the mean)."""

from __future__ import annotations

from ctrpo_core.algos.lagrange import LagrangeMultiplier
from ctrpo_core.engine.first_order_step import FirstOrderAlgorithm

ALGORITHM = {
    "id": "focops",
    "name": "FOCOPS",
    "color": "#bbcc33",
    "marker": "pentagon",
    "rank": 6,
    "summary": "FOCOPS: a KL-regularised first-order step toward the optimal update, ν by Adam",
    "family": "first order",
    "learner": "FOCOPS",
    "reads": {"lagrange_init": None, "lagrange_lr": None},
    "settings": {
        "focops_lam": {
            "kind": "float",
            "default": 1.5,
            "range": "(0, inf)",
            "help": "FOCOPS' temperature λ: the weight 1/λ of the advantage against the KL",
        },
        "focops_nu_max": {
            "kind": "float",
            "default": 2.0,
            "range": "(0, inf)",
            "help": "FOCOPS' upper bound on the cost multiplier ν",
        },
    },
    "metrics": {"lagrange_multiplier": "ν after this epoch's update"},
}


class FOCOPS(FirstOrderAlgorithm):
    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.multiplier = LagrangeMultiplier(cfg.lagrange_init, cfg.lagrange_lr, upper=cfg.focops_nu_max)
        self.advantage = None

    def before_passes(self, batch):
        self.multiplier.update(batch.cost_estimate, batch.cost_limit)
        self.advantage = self.multiplier.lagrangian_advantage(batch.adv_r, batch.adv_c)

    def policy_loss(self, mb):
        kl = self.policy.summed_kl(mb.dist, mb.old_dist)  # KL(π_θ‖π_k) per sample
        inside = (kl.detach() <= self.cfg.delta).to(kl.dtype)
        return ((kl - mb.ratio * self.advantage[mb.idx] / self.cfg.focops_lam) * inside).mean()

    def own_metrics(self):
        return {"lagrange_multiplier": self.multiplier.value}

    def algo_state(self):
        return {"lagrange_multiplier": self.multiplier.state_dict()}

    def load_algo_state(self, state):
        self.multiplier.load_state_dict(state["lagrange_multiplier"])
