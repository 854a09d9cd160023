"""PPO-Lag as the authors ran it: clipped PPO (ε = 0.2) on the Lagrangian advantage (Â_r − λÂ_c)/(1+λ),
40 passes of minibatch 64 that also train both critics, stopped early once the KL to π_k (summed over
action dimensions, averaged over states) exceeds δ (0.02); the actor's Adam rate decays linearly to 0
over training; one gradient-norm clip (40) over actor and critics together."""

from __future__ import annotations

import math

import torch

from ..engine.base import NonFiniteError, OnPolicyAlgorithm
from ..engine.results import UpdateResult
from .lagrange import LagrangeMultiplier


class PPOLag(OnPolicyAlgorithm):

    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.multiplier = LagrangeMultiplier(cfg.lagrange_init, cfg.lagrange_lr)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.ppo_lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=cfg.ppo_critic_lr, foreach=True)
        self.updates = 0  # epochs trained: the position in the learning-rate schedule
        self.critic_losses = {}

    def learning_rate(self) -> float:
        """The actor's rate in this epoch: ppo_lr·(1 − k/K) at epoch k of K (0 after the last)."""
        return self.cfg.ppo_lr * max(0.0, 1.0 - self.updates / self.cfg.epochs)

    def summed_kl(self, batch, old_dist) -> float:
        with torch.no_grad():
            dist = self.policy.distribution(batch.obs)
            kl = torch.distributions.kl_divergence(old_dist, dist)
            return float((kl.sum(-1) if kl.dim() > 1 else kl).mean())

    def update_policy(self, batch) -> UpdateResult:
        cfg = self.cfg
        self.multiplier.update(batch.cost_estimate, batch.cost_limit)
        adv = self.multiplier.lagrangian_advantage(batch.adv_r, batch.adv_c)
        targets = torch.stack([batch.target_r, batch.target_c])
        for group in self.policy_opt.param_groups:
            group["lr"] = self.learning_rate()
        old_dist, old_logp = self.old_policy(batch)
        params = [*self.policy.parameters(), *self.critics.parameters()]
        kl, losses = 0.0, []
        for _ in range(cfg.ppo_epochs):
            for idx in torch.randperm(len(batch)).split(cfg.ppo_minibatch):
                dist = self.policy.distribution(batch.obs[idx])
                ratio = torch.exp(self.policy.log_prob(dist, batch.actions[idx]) - old_logp[idx])
                clipped = torch.clamp(ratio, 1 - cfg.ppo_clip, 1 + cfg.ppo_clip)
                policy_loss = -torch.min(ratio * adv[idx], clipped * adv[idx]).mean()
                mse = ((self.critics(batch.obs[idx]) - targets[:, idx]) ** 2).mean(1)
                critic_loss = mse.sum() + cfg.critic_l2 * sum((p**2).sum() for p in self.critics.parameters())
                loss = policy_loss + critic_loss
                if not torch.isfinite(loss):
                    raise NonFiniteError("non-finite PPO loss in the ppo-lag policy update")
                self.policy_opt.zero_grad()
                self.critic_opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                self.policy_opt.step()
                self.critic_opt.step()
                losses.append(mse.detach())
            kl = self.summed_kl(batch, old_dist)
            if kl > cfg.delta:
                break
        self.updates += 1
        loss_r, loss_c = torch.stack(losses).mean(0).tolist()
        self.critic_losses = {"value_loss_r": loss_r, "value_loss_c": loss_c}
        # no line search: the KL bound stops the passes, so it is the divergence too
        return UpdateResult(kl=kl, divergence=kl, budget=batch.budget, lagrange_multiplier=self.multiplier.value)

    def begin_critic_update(self, batch, concurrent: bool = True):
        """The critics train in the policy passes: nothing to start; the losses come after them."""
        return lambda: self.update_critics(batch)

    def update_critics(self, batch):
        """The critics were trained in the policy passes: report their losses."""
        if not all(math.isfinite(v) for v in self.critic_losses.values()):
            raise NonFiniteError("non-finite critic loss in the ppo-lag passes")
        return dict(self.critic_losses)

    def algo_state(self):
        return {"lagrange_multiplier": self.multiplier.state_dict(), "policy_opt": self.policy_opt.state_dict(),
                "updates": self.updates}

    def load_algo_state(self, state):
        self.multiplier.load_state_dict(state["lagrange_multiplier"])
        self.policy_opt.load_state_dict(state["policy_opt"])
        self.updates = int(state["updates"])
