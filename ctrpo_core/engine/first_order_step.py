"""The first-order family, as the paper's authors ran their first-order baselines (SafePO's PPO-Lag skeleton):
up to ``ppo_epochs`` shuffled passes of minibatches (``ppo_minibatch``) over the epoch's batch, each minibatch one
Adam step of the actor and both critics on the algorithm's surrogate loss plus the critics' MSE, with one
gradient-norm clip (``grad_clip``) over actor and critics together; after each pass the KL to π_k, summed over
action dimensions and averaged over states, stops the passes once it exceeds δ. The actor's learning rate
decays linearly from ``ppo_lr`` to 0 over training; the critics' (``ppo_critic_lr``) stays.

An algorithm of this family implements ``policy_loss(mb)`` (its surrogate on one minibatch) and, if it has one,
``before_passes(batch)`` (a multiplier or penalty updated once per epoch, before the passes) and
``after_passes(batch, pi_k)`` (a second stage, e.g. CUP's projection); ``own_metrics()`` names its columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from ..config.schema import TrainConfig
from ..envs import VecEnv
from .on_policy import NonFiniteError, OnPolicyAlgorithm
from .results import UpdateResult
from .rollout import Batch


@dataclass
class Minibatch:
    """One minibatch of a pass: its indices into the batch, the loaded policy's distribution on it and the
    probability ratio π_θ/π_k of its actions; ``old_dist``: π_k on the same samples."""
    batch: Batch
    idx: torch.Tensor
    dist: torch.distributions.Distribution
    ratio: torch.Tensor
    policy: torch.nn.Module
    pi_k: torch.distributions.Distribution  # π_k on the whole batch

    @cached_property
    def old_dist(self) -> torch.distributions.Distribution:
        return self.policy.select(self.pi_k, self.idx)

    @property
    def adv_r(self) -> torch.Tensor:
        return self.batch.adv_r[self.idx]

    @property
    def adv_c(self) -> torch.Tensor:
        return self.batch.adv_c[self.idx]


def clipped(ratio: torch.Tensor, adv: torch.Tensor, eps: float) -> torch.Tensor:
    """PPO's pessimistic surrogate, per sample: min(r·A, clip(r, 1 ± ε)·A)."""
    return torch.min(ratio * adv, torch.clamp(ratio, 1 - eps, 1 + eps) * adv)


class FirstOrderAlgorithm(OnPolicyAlgorithm):
    """Minibatch passes of a surrogate (the algorithm's), critics trained in the same passes."""

    def __init__(self, cfg: TrainConfig, env: VecEnv):
        super().__init__(cfg, env)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.ppo_lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=cfg.ppo_critic_lr, foreach=True)
        self.updates = 0  # epochs trained: the position in the learning-rate schedule

    # ----------------------------------------------------------------- what an algorithm says
    def policy_loss(self, mb: Minibatch) -> torch.Tensor:
        """The algorithm's surrogate loss on one minibatch (a scalar to minimise)."""
        raise NotImplementedError

    def before_passes(self, batch: Batch) -> None:
        """Once per epoch, after the rollout and before the passes (a multiplier's or a penalty's update)."""

    def after_passes(self, batch: Batch, pi_k, kl: float) -> float:
        """Once per epoch, after the passes: a second stage (CUP's projection) may move the policy further;
        ``pi_k`` = (distribution, log-probabilities), ``kl`` the passes' KL. Returns the epoch's KL to π_k."""
        return kl

    def own_metrics(self) -> dict:
        """The algorithm's own columns of this epoch's row (its declaration's "metrics")."""
        return {}

    # ----------------------------------------------------------------- the family's step
    def learning_rate(self) -> float:
        """The actor's rate in this epoch: ppo_lr·(1 − k/K) at epoch k of K (0 after the last)."""
        return self.cfg.ppo_lr * max(0.0, 1.0 - self.updates / self.cfg.epochs)

    def summed_kl(self, batch: Batch, old_dist, reference=None) -> float:
        """KL(π_k‖π_θ) summed over action dimensions, averaged over the batch's states (``reference``: another
        policy's distribution in place of π_k)."""
        with torch.no_grad():
            dist = self.policy.distribution(batch.obs)
            return float(self.policy.summed_kl(reference if reference is not None else old_dist, dist).mean())

    def update(self, batch: Batch) -> tuple[UpdateResult, dict]:
        self.before_passes(batch)
        for group in self.policy_opt.param_groups:
            group["lr"] = self.learning_rate()
        pi_k = self.old_policy(batch)
        kl, critic_losses = self.passes(batch, *pi_k)
        kl = self.after_passes(batch, pi_k, kl)
        self.updates += 1
        # no line search: the KL bound stops the passes, so it is the divergence too
        return UpdateResult(kl=kl, divergence=kl, budget=batch.budget, own=self.own_metrics()), critic_losses

    def passes(self, batch: Batch, old_dist, old_logp) -> tuple[float, dict]:
        """The passes over the batch: each minibatch one step of the actor (the algorithm's loss) and of both
        critics; returns the KL after the last pass and the critics' mean losses."""
        cfg = self.cfg
        targets = torch.stack([batch.target_r, batch.target_c])
        params = [*self.policy.parameters(), *self.critics.parameters()]
        kl, losses = 0.0, []
        for _ in range(cfg.ppo_epochs):
            for idx in torch.randperm(len(batch)).split(cfg.ppo_minibatch):
                dist = self.policy.distribution(batch.obs[idx])
                ratio = torch.exp(self.policy.log_prob(dist, batch.actions[idx]) - old_logp[idx])
                policy_loss = self.policy_loss(Minibatch(batch, idx, dist, ratio, self.policy, old_dist))
                mse = ((self.critics(batch.obs[idx]) - targets[:, idx]) ** 2).mean(1)
                critic_loss = mse.sum() + cfg.critic_l2 * sum((p**2).sum() for p in self.critics.parameters())
                loss = policy_loss + critic_loss
                if not torch.isfinite(loss):
                    raise NonFiniteError(f"non-finite loss in the {cfg.algo} policy update")
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
        loss_r, loss_c = torch.stack(losses).mean(0).tolist()
        if not (math.isfinite(loss_r) and math.isfinite(loss_c)):
            raise NonFiniteError(f"non-finite critic loss in the {cfg.algo} passes")
        return kl, {"value_loss_r": loss_r, "value_loss_c": loss_c}

    # ----------------------------------------------------------------- state
    def family_state(self) -> dict:
        return {"policy_opt": self.policy_opt.state_dict(), "updates": self.updates}

    def load_family_state(self, state: dict) -> None:
        self.policy_opt.load_state_dict(state["policy_opt"])
        self.updates = int(state["updates"])
