"""P3O (Zhang et al., 2022), as the paper's authors ran it (their p3o.py): PPO's clipped reward surrogate plus an
exact penalty on the pessimistically clipped cost surrogate, per minibatch:

    L = −mean(min(r·Â_r, clip(r)·Â_r)) + κ·max(0, mean(max(r·Â_c, clip(r)·Â_c)) + (1 − γ)·(Ĵ_c − b))

with κ = p3o_kappa; the max(0, ·) acts on the minibatch's mean, so the penalty only pushes while the cost surrogate
plus the discounted violation is positive."""

from __future__ import annotations

import torch

from ctrpo_core.engine.first_order_step import FirstOrderAlgorithm, clipped

ALGORITHM = {
    "id": "p3o",
    "name": "P3O",
    "color": "#666600",
    "marker": "triangle-right",
    "rank": 9,
    "summary": "P3O: PPO with an exact penalty on the clipped cost surrogate",
    "family": "first order",
    "learner": "P3O",
    "settings": {
        "p3o_kappa": {
            "kind": "float",
            "default": 10.0,
            "range": "(0, inf)",
            "help": "P3O's penalty weight κ on the clipped cost surrogate's violation",
        },
    },
}


class P3O(FirstOrderAlgorithm):
    def policy_loss(self, mb):
        cfg, batch = self.cfg, mb.batch
        reward = -clipped(mb.ratio, mb.adv_r, cfg.ppo_clip).mean()
        cost = -clipped(mb.ratio, -mb.adv_c, cfg.ppo_clip).mean()  # mean(max(r·Â_c, clip(r)·Â_c))
        violation = cost + (1 - cfg.gamma) * (batch.cost_estimate - batch.cost_limit)
        return reward + cfg.p3o_kappa * torch.relu(violation)
