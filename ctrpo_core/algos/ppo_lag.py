"""PPO-Lag: clipped PPO (ε = 0.2) on the Lagrangian advantage; the pass loop stops early once the
mean KL to π_k exceeds δ (the trust radius doubles as PPO's target KL)."""

from __future__ import annotations

import torch

from ..engine.base import NonFiniteError, OnPolicyAlgorithm
from .lagrange import LagrangeMultiplier


class PPOLag(OnPolicyAlgorithm):
    name = "ppo-lag"

    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.multiplier = LagrangeMultiplier(cfg.lagrange_init, cfg.lagrange_lr)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.ppo_lr)

    def update_policy(self, batch):
        cfg = self.cfg
        self.multiplier.update(batch.cost_estimate, batch.cost_limit)
        adv = self.multiplier.lagrangian_advantage(batch.adv_r, batch.adv_c)
        old_dist, old_logp = self.old_policy(batch)
        kl = 0.0
        for _ in range(cfg.ppo_epochs):
            for idx in torch.randperm(len(batch)).split(cfg.ppo_minibatch):
                dist = self.policy.distribution(batch.obs[idx])
                ratio = torch.exp(self.policy.log_prob(dist, batch.actions[idx]) - old_logp[idx])
                clipped = torch.clamp(ratio, 1 - cfg.ppo_clip, 1 + cfg.ppo_clip)
                loss = -torch.min(ratio * adv[idx], clipped * adv[idx]).mean()
                if not torch.isfinite(loss):
                    raise NonFiniteError("non-finite PPO loss in the ppo-lag policy update")
                self.policy_opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip)
                self.policy_opt.step()
            with torch.no_grad():
                kl = self.evaluate(batch, old_dist, old_logp)["kl"].item()
            if kl > cfg.delta:
                break
        return {"kl": kl, "divergence": kl, "recovery": 0, "budget": batch.budget,
                "lagrange_multiplier": self.multiplier.value}

    def algo_state(self):
        return {"lagrange_multiplier": self.multiplier.value, "policy_opt": self.policy_opt.state_dict()}

    def load_algo_state(self, state):
        self.multiplier.value = float(state["lagrange_multiplier"])
        self.policy_opt.load_state_dict(state["policy_opt"])
