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

import numpy as np
import torch

from ..config.schema import TrainConfig
from ..envs import VecEnv
from .critic_fit import CriticFit
from .flat_adam import FlatAdam
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


class ActorFit(FlatAdam):
    """The policy's network (tanh MLP) and its extra parameters (a Gaussian's log std), forward and backward in
    numpy; the loss's gradient with respect to the network's outputs comes from the algorithm's loss."""

    def __init__(self, policy: torch.nn.Module, lr: float):
        super().__init__(policy.parameters(), lr)  # torch's order (a Gaussian's log std comes first)
        linears = [m for m in policy.network if isinstance(m, torch.nn.Linear)]
        where = {id(p): i for i, p in enumerate(self.params)}
        views, grads = self.views(self.theta), self.views(self.grad)
        pick = lambda tensors, flat: [flat[where[id(t)]] for t in tensors]
        self.weights, self.grad_weights = (
            pick([m.weight for m in linears], views),
            pick([m.weight for m in linears], grads),
        )
        self.biases, self.grad_biases = pick([m.bias for m in linears], views), pick([m.bias for m in linears], grads)
        layered = {id(t) for m in linears for t in (m.weight, m.bias)}
        others = [p for p in self.params if id(p) not in layered]  # a Gaussian's log std, or none
        self.extra, self.grad_extra = pick(others, views), pick(others, grads)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """The activations: x, the hidden layers' tanh outputs, the network's output (last)."""
        layers = [x]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = np.matmul(layers[-1], w.T) + b
            layers.append(np.tanh(z) if i < len(self.weights) - 1 else z)
        return layers

    def backward(self, layers: list[np.ndarray], grad_out: np.ndarray, grad_extra: list[np.ndarray]) -> None:
        """The loss's gradient into ``grad``, from its gradient with respect to the network's output (and to
        the extra parameters)."""
        delta = grad_out
        for i in range(len(self.weights) - 1, -1, -1):
            np.matmul(delta.T, layers[i], out=self.grad_weights[i])
            np.sum(delta, axis=0, out=self.grad_biases[i])
            if i:
                delta = np.matmul(delta, self.weights[i]) * (1.0 - layers[i] * layers[i])  # tanh' = 1 − h²
        for target, value in zip(self.grad_extra, grad_extra):
            target[...] = value


class FirstOrderAlgorithm(OnPolicyAlgorithm):
    """Minibatch passes of a surrogate (the algorithm's), critics trained in the same passes.

    The networks' arithmetic is written out in numpy (``ActorFit``, ``engine/critic_fit.py``): thousands of
    minibatches an epoch, where torch's per-operation overhead would dominate. Only the algorithm's loss is a
    torch expression, on the distribution of the network's outputs: its gradient there is all the passes
    need from autograd."""

    def __init__(self, cfg: TrainConfig, env: VecEnv):
        super().__init__(cfg, env)
        self.policy_opt = ActorFit(self.policy, cfg.ppo_lr)
        self.critic_opt = CriticFit(self.critics, cfg.ppo_critic_lr, cfg.critic_l2, cfg.grad_clip)
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

    def summed_kl(self, batch: Batch, reference) -> float:
        """KL(reference‖π_θ) summed over action dimensions, averaged over the batch's states (``reference``: π_k,
        or another policy's distribution on the batch)."""
        with torch.no_grad():
            return float(self.policy.summed_kl(reference, self.policy.distribution(batch.obs)).mean())

    def update(self, batch: Batch) -> tuple[UpdateResult, dict]:
        self.before_passes(batch)
        self.policy_opt.lr = self.learning_rate()
        pi_k = self.old_policy(batch)
        kl, critic_losses = self.passes(batch, self.policy_loss, pi_k, stop_at=pi_k[0], critics=True)
        kl = self.after_passes(batch, pi_k, kl)
        self.updates += 1
        # no line search: the KL bound stops the passes, so it is the divergence too
        return UpdateResult(kl=kl, divergence=kl, budget=batch.budget, own=self.own_metrics()), critic_losses

    def passes(self, batch: Batch, loss, pi_k, stop_at, critics: bool) -> tuple[float, dict]:
        """Up to ``ppo_epochs`` shuffled passes of minibatches: each one Adam step of the actor on ``loss(mb)``
        (and, with ``critics``, of both critics on their MSE, the gradient norm clipped over all of them
        together); after each pass KL(``stop_at``‖π_θ) stops them once it exceeds δ. Returns the last pass's
        KL and the critics' mean losses."""
        cfg, actor, fit = self.cfg, self.policy_opt, self.critic_opt
        actor.pull()
        fit.pull()
        obs, targets = batch.obs.numpy(), torch.stack([batch.target_r, batch.target_c]).numpy()
        kl, losses, minibatches = 0.0, np.zeros(2, dtype=np.float64), 0
        for _ in range(cfg.ppo_epochs):
            for idx in torch.randperm(len(batch)).split(cfg.ppo_minibatch):
                x = obs[idx.numpy()]
                layers = actor.forward(x)
                out = torch.from_numpy(layers[-1]).requires_grad_()
                extra = [torch.from_numpy(v.copy()).requires_grad_() for v in actor.extra]
                dist = self.policy.distribution_from(out, *extra)
                ratio = torch.exp(self.policy.log_prob(dist, batch.actions[idx]) - pi_k[1][idx])
                policy_loss = loss(Minibatch(batch, idx, dist, ratio, self.policy, pi_k[0]))
                policy_loss.backward()
                actor.backward(layers, out.grad.numpy(), [e.grad.numpy() for e in extra])
                grads = [actor.grad]
                if critics:
                    mse = fit.gradient(x, targets[:, idx.numpy()])
                    losses += mse
                    grads.append(fit.grad)
                    if not np.all(np.isfinite(mse)):
                        raise NonFiniteError(f"non-finite critic loss in the {cfg.algo} passes")
                if not math.isfinite(policy_loss.item()):
                    raise NonFiniteError(f"non-finite loss in the {cfg.algo} policy update")
                norm = math.sqrt(sum(float(np.dot(g, g)) for g in grads))
                clip = min(1.0, cfg.grad_clip / (norm + 1e-6))  # torch.nn.utils.clip_grad_norm_, over all of them
                if clip < 1.0:
                    for g in grads:
                        g *= np.float32(clip)
                actor.step()
                if critics:
                    fit.step()
                minibatches += 1
            actor.push()
            kl = self.summed_kl(batch, stop_at)
            if kl > cfg.delta:
                break
        if critics:
            fit.push()
        mean = losses / max(minibatches, 1)
        return kl, {"value_loss_r": float(mean[0]), "value_loss_c": float(mean[1])} if critics else {}

    # ----------------------------------------------------------------- state
    def family_state(self) -> dict:
        return {"policy_opt": self.policy_opt.state_dict(), "updates": self.updates}

    def load_family_state(self, state: dict) -> None:
        self.policy_opt.load_state_dict(state["policy_opt"])
        self.updates = int(state["updates"])
