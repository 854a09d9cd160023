"""CUP (Yang et al., 2022), as the paper's authors ran it (SafePO's latest cup.py): two stages per epoch.

1. Performance improvement: PPO's passes on the reward advantage alone (critics trained in them).
2. Projection: π_{k+½} is the policy after stage 1; more passes, of the actor only, minimise

       mean_i [ ν·c·r_i·Â_c,i + KL(π_θ‖π_{k+½})(s_i) ],   c = (1 − γλ)/(1 − γ),   r_i = π_θ(a_i|s_i)/π_k(a_i|s_i)

   (λ the GAE λ, the KL summed over action dimensions), stopped once KL(π_{k+½}‖π_θ) exceeds δ.

ν is the cost multiplier, by Adam from Ĵ_c once per epoch before stage 1, clamped to [0, cup_nu_max]. Both stages
step the same Adam optimiser (the authors' one actor optimiser), so its momentum carries from stage 1 into the
projection; with ν = 0 the projection's loss is the KL to π_{k+½} alone, which only pulls the policy back there."""

from __future__ import annotations

from ctrpo_core.algos.lagrange import LagrangeMultiplier
from ctrpo_core.engine.first_order_step import FirstOrderAlgorithm, clipped

ALGORITHM = {
    "id": "cup",
    "name": "CUP",
    "color": "#aa3377",
    "marker": "hexagon",
    "rank": 7,
    "summary": "CUP: a PPO step on the reward, then a projection that lowers the cost",
    "family": "first order",
    "learner": "CUP",
    "reads": {"lagrange_init": None, "lagrange_lr": None},
    "settings": {
        "cup_nu_max": {
            "kind": "float",
            "default": 0.2,
            "range": "(0, inf)",
            "help": "CUP's upper bound on the cost multiplier ν",
        },
    },
    "metrics": {
        "lagrange_multiplier": "ν after this epoch's update",
        "projection_kl": "KL(π_{k+½}‖π_{k+1}): how far the projection moved the policy",
    },
}


class CUP(FirstOrderAlgorithm):
    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.multiplier = LagrangeMultiplier(cfg.lagrange_init, cfg.lagrange_lr, upper=cfg.cup_nu_max)
        self.projection_kl = 0.0

    def before_passes(self, batch):
        self.multiplier.update(batch.cost_estimate, batch.cost_limit)

    def policy_loss(self, mb):  # stage 1
        return -clipped(mb.ratio, mb.adv_r, self.cfg.ppo_clip).mean()

    def after_passes(self, batch, pi_k, kl):  # stage 2: the projection, of the actor alone
        cfg = self.cfg
        half, _ = self.old_policy(batch)  # π_{k+½}, detached
        coef = self.multiplier.value * (1 - cfg.gamma * cfg.lam) / (1 - cfg.gamma)

        def projection(mb):  # ν·c·r·Â_c + KL(π_θ‖π_{k+½}), r against π_k
            return (
                coef * mb.ratio * mb.adv_c + self.policy.summed_kl(mb.dist, self.policy.select(half, mb.idx))
            ).mean()

        self.projection_kl, _ = self.passes(batch, projection, pi_k, stop_at=half, critics=False)
        return self.summed_kl(batch, pi_k[0])

    def own_metrics(self):
        return {"lagrange_multiplier": self.multiplier.value, "projection_kl": self.projection_kl}

    def algo_state(self):
        return {"lagrange_multiplier": self.multiplier.state_dict()}

    def load_algo_state(self, state):
        self.multiplier.load_state_dict(state["lagrange_multiplier"])
