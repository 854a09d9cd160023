"""Rollout into a buffer, and generalised advantage estimation for reward and cost."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    final_values: np.ndarray,
    last_values: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """GAE(γ, λ) over a (T, n_envs) rollout.

    An episode that ends at step t cuts the λ-chain. Its next value is 0 when it terminated and
    ``final_values[t]`` (the value of its final observation) when it was truncated by a time
    limit; ``last_values`` bootstraps the episodes still running after the last step.
    """
    T = rewards.shape[0]
    advantages = np.zeros_like(rewards, dtype=np.float64)
    running = np.zeros_like(last_values, dtype=np.float64)
    for t in reversed(range(T)):
        next_values = last_values if t == T - 1 else values[t + 1]
        next_values = np.where(terminated[t], 0.0, np.where(truncated[t], final_values[t], next_values))
        delta = rewards[t] + gamma * next_values - values[t]
        ended = terminated[t] | truncated[t]
        running = delta + gamma * lam * np.where(ended, 0.0, running)
        advantages[t] = running
    return advantages


@dataclass
class Batch:
    """One epoch of experience, flattened over (time, env), ready for the updates."""

    obs: torch.Tensor
    actions: torch.Tensor
    adv_r: torch.Tensor  # standardised (mean 0, std 1)
    adv_c: torch.Tensor  # centred only: its scale carries the size of the cost change
    target_r: torch.Tensor  # value targets = raw advantage + value
    target_c: torch.Tensor
    cost_estimate: float  # Ĵ_c: the epoch's mean of the running episode-cost records (0 before any)
    cost_limit: float

    @property
    def budget(self) -> float:
        """Δb = b − Ĵ_c, the remaining cost budget."""
        return self.cost_limit - self.cost_estimate

    def __len__(self) -> int:
        return self.obs.shape[0]


class RolloutBuffer:
    def __init__(self, steps: int, num_envs: int, obs_dim: int, act_shape: tuple[int, ...]):
        self.obs = np.zeros((steps, num_envs, obs_dim), dtype=np.float32)
        self.actions = np.zeros((steps, num_envs, *act_shape), dtype=np.float32)
        self.rewards = np.zeros((steps, num_envs))
        self.costs = np.zeros((steps, num_envs))
        self.values_r = np.zeros((steps, num_envs))
        self.values_c = np.zeros((steps, num_envs))
        self.final_values_r = np.zeros((steps, num_envs))
        self.final_values_c = np.zeros((steps, num_envs))
        self.terminated = np.zeros((steps, num_envs), dtype=bool)
        self.truncated = np.zeros((steps, num_envs), dtype=bool)

    def clear(self) -> None:
        """Zero the final observations' values (the only rows a rollout does not overwrite)."""
        self.final_values_r[:] = 0.0
        self.final_values_c[:] = 0.0

    def to_batch(self, last_values_r, last_values_c, gamma, lam, cost_estimate, cost_limit) -> Batch:
        adv_r = gae(
            self.rewards, self.values_r, self.terminated, self.truncated, self.final_values_r, last_values_r, gamma, lam
        )
        adv_c = gae(
            self.costs, self.values_c, self.terminated, self.truncated, self.final_values_c, last_values_c, gamma, lam
        )
        target_r = (adv_r + self.values_r).reshape(-1)
        target_c = (adv_c + self.values_c).reshape(-1)
        adv_r = adv_r.reshape(-1)
        adv_c = adv_c.reshape(-1)
        adv_r = (adv_r - adv_r.mean()) / (adv_r.std() + 1e-8)
        adv_c = adv_c - adv_c.mean()
        t = lambda x: torch.as_tensor(x, dtype=torch.float32)
        own = lambda x: torch.from_numpy(x.copy())  # the batch outlives the buffer's next rollout
        return Batch(
            obs=own(self.obs.reshape(-1, self.obs.shape[-1])),
            actions=own(self.actions.reshape(-1, *self.actions.shape[2:])),
            adv_r=t(adv_r),
            adv_c=t(adv_c),
            target_r=t(target_r),
            target_c=t(target_c),
            cost_estimate=float(cost_estimate),
            cost_limit=float(cost_limit),
        )
