"""IPO (Liu, Ding & Liu, 2020), as the paper's authors ran it (their ipo.py): PPO's clipped reward surrogate plus a
term in the cost surrogate weighted by 1/(t·(Ĵ_c − b)) while Ĵ_c < b; at or above the limit only the pessimistic
clipped cost surrogate mean(max(r·Â_c, clip(r)·Â_c)) is minimised (a recovery step).

The authors' term, mean(r·Â_c)/(t·(Ĵ_c − b)), has the opposite sign of the log barrier's gradient: the barrier
−(1/t)·log(b − J_c) adds +mean(r·Â_c)/(t·(b − J_c)) to the loss, which lowers the cost as it nears b, where theirs
raises it. ``ipo_barrier`` = "authors" (the default) reproduces their runs; "paper" is the log barrier."""

from __future__ import annotations

from ctrpo_core.engine.first_order_step import FirstOrderAlgorithm, clipped

ALGORITHM = {
    "id": "ipo",
    "name": "IPO",
    "color": "#d29879",
    "marker": "triangle-left",
    "rank": 8,
    "summary": "IPO: PPO with a log barrier on the cost (recovery above the limit)",
    "family": "first order",
    "learner": "IPO",
    "settings": {
        "ipo_t": {
            "kind": "float",
            "default": 20.0,
            "range": "(0, inf)",
            "help": "IPO's barrier parameter t: the barrier's weight is 1/t",
        },
        "ipo_barrier": {
            "kind": "str",
            "default": "authors",
            "choices": ["authors", "paper"],
            "help": "IPO's barrier term: authors (their code's sign, which pulls toward the limit) or "
            "paper (the log barrier, which pushes away from it)",
        },
    },
}


class IPO(FirstOrderAlgorithm):
    def feasible(self, batch) -> bool:
        return batch.cost_estimate < batch.cost_limit

    def policy_loss(self, mb):
        cfg, batch = self.cfg, mb.batch
        if not self.feasible(batch):  # recovery: the pessimistic cost surrogate alone
            return -clipped(mb.ratio, -mb.adv_c, cfg.ppo_clip).mean()
        gap = batch.cost_estimate - batch.cost_limit  # < 0
        weight = 1.0 / (cfg.ipo_t * gap) if cfg.ipo_barrier == "authors" else -1.0 / (cfg.ipo_t * gap)
        return -clipped(mb.ratio, mb.adv_r, cfg.ppo_clip).mean() + weight * (mb.ratio * mb.adv_c).mean()

    def update(self, batch):
        result, losses = super().update(batch)
        return result.replace(recovery=int(not self.feasible(batch))), losses
