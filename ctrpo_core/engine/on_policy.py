"""What every on-policy method shares: the rollout and its GAE, observation normalisation, the episode records and
the cost estimate Ĵ_c, the critics' values, and the state a checkpoint holds.

How the policy moves is a family's (``engine/trust_region_step.py``: conjugate gradient, Fisher products, line
search; ``engine/first_order_step.py``: minibatch passes of a clipped surrogate), and what it optimises an
algorithm's (``ctrpo_core/algos/``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np
import torch

from ..config.schema import TrainConfig
from ..envs import RunningNormalizer, VecEnv
from .divergence import cost_surrogate
from .policies import Critics, make_policy
from .results import PolicyEvaluation, UpdateResult
from .rollout import Batch, RolloutBuffer


class NonFiniteError(RuntimeError):
    """A NaN or infinity appeared; the message says where."""


class StopRequested(Exception):
    """Raised inside a rollout when the run was asked to stop (SIGTERM/SIGINT)."""


class OnPolicyAlgorithm:
    """The shared part of every learner. A family adds ``update`` (and sets ``critic_opt``, the critics'
    optimiser, whose state the checkpoint keeps); an algorithm adds its objective."""

    def __init__(self, cfg: TrainConfig, env: VecEnv):
        self.cfg = cfg
        self.env = env
        self.spec = env.spec
        self.policy = make_policy(self.spec, cfg.hidden, cfg.policy_init)
        self.critics = Critics(self.spec.obs_dim, cfg.hidden)  # V_r and V_c
        self.critic_opt = None  # the family's
        # A running normaliser moves the policy's input between updates, outside any trust region;
        # tasks whose observations are scaled already may turn it off (normalize_obs=False).
        self.normalizer = RunningNormalizer(self.spec.obs_dim, frozen=not cfg.normalize_obs)
        self.episode_returns: deque = deque(maxlen=cfg.episode_window)
        self.episode_costs: deque = deque(maxlen=cfg.episode_window)
        self.episode_lengths: deque = deque(maxlen=cfg.episode_window)
        self.episodes_finished = 0
        self.cost_records: list[float] = []  # this epoch's records of the running episode-cost mean
        self.obs: np.ndarray | None = None  # current normalised observation of every env
        self.buffer: RolloutBuffer | None = None  # the rollout's arrays, kept between epochs
        self.should_stop: Callable[[], bool] = lambda: False

    # ----------------------------------------------------------------- rollout
    def start(self) -> None:
        self.obs = self.normalizer(self.env.reset(self.cfg.seed))

    def window_cost(self) -> float:
        """The mean cost of the last ``episode_window`` finished episodes now (NaN before any)."""
        return float(np.mean(self.episode_costs)) if self.episode_costs else math.nan

    def cost_estimate(self) -> float:
        """Ĵ_c as the authors log it: at every episode end the running mean of the last
        ``episode_window`` episode costs is recorded, and Ĵ_c of an epoch is the mean of the epoch's
        records; 0.0 before any record exists (an epoch without an episode end keeps the latest one)."""
        if self.cost_records:
            return float(np.mean(self.cost_records))
        return float(np.mean(self.episode_costs)) if self.episode_costs else 0.0

    def collect(self) -> Batch:
        """One epoch of experience. The policy samples step by step; the critics' values of every
        observation (and of the final observations of time-limited episodes) come after the rollout
        in one batched pass, since the critics do not change during it."""
        cfg, env = self.cfg, self.env
        T, n = cfg.steps_per_env, env.num_envs
        act_shape = () if self.spec.discrete else (self.spec.act_dim,)
        if self.buffer is None:  # preallocated once, refilled every epoch
            self.buffer = RolloutBuffer(T, n, self.spec.obs_dim, act_shape)
        buf = self.buffer
        buf.clear()
        self.cost_records = []
        for module, what in ((self.policy, "policy"), (self.critics, "critic")):
            if not all(torch.isfinite(p).all() for p in module.parameters()):
                raise NonFiniteError(f"non-finite {what} parameters at the start of the rollout")
        truncations: list[tuple[int, np.ndarray, np.ndarray]] = []  # (t, envs, normalised final obs)
        sample = self.policy.sampler()  # the policy is fixed during the rollout
        for t in range(T):
            if self.should_stop():
                raise StopRequested()
            buf.obs[t] = self.obs
            action_np = sample(buf.obs[t])
            if not np.all(np.isfinite(action_np)):
                raise NonFiniteError(f"non-finite action from the policy during the rollout (step {t})")
            raw_obs, reward, cost, terminated, truncated, info = env.step(action_np)
            buf.actions[t] = action_np
            buf.rewards[t], buf.costs[t] = reward, cost
            buf.terminated[t], buf.truncated[t] = terminated, truncated
            if truncated.any():  # bootstrap time-limited episodes from their final observation
                envs = np.flatnonzero(truncated)
                truncations.append((t, envs, self.bootstrap_obs(info["final_obs"][envs])))
            done = terminated | truncated
            if done.any():
                self.episodes_finished += int(done.sum())
                self.episode_returns.extend(info["episode_return"][done].tolist())
                self.episode_lengths.extend(info["episode_len"][done].tolist())
                for cost in info["episode_cost"][done].tolist():  # one record per episode end, in env order
                    self.episode_costs.append(cost)
                    self.cost_records.append(float(np.mean(self.episode_costs)))
            self.obs = self.normalizer(raw_obs)
        if not np.all(np.isfinite(buf.obs)):
            raise NonFiniteError("non-finite observation from the environment")
        last_r, last_c = self.values(buf, truncations)
        return buf.to_batch(last_r, last_c, cfg.gamma, cfg.lam, self.cost_estimate(), cfg.cost_limit)

    def bootstrap_obs(self, final_obs: np.ndarray) -> np.ndarray:
        """What the critics see of a time-limited episode's final observation: the observation as the env gave it
        (``timeout_bootstrap = raw``, the authors' code, which feeds critics trained on normalised inputs) or
        normalised as every other input (``normalized``)."""
        if self.cfg.timeout_bootstrap == "raw":
            return np.asarray(final_obs, dtype=np.float32)
        return self.normalizer.normalize(final_obs)

    def values(self, buf: RolloutBuffer, truncations: list) -> tuple[np.ndarray, np.ndarray]:
        """V_r and V_c of the rollout's observations into ``buf`` (and of the truncated episodes' final
        observations), in one pass of the critics; returns the values of the observations after the
        last step, which bootstrap the episodes still running."""
        T, n, dim = buf.obs.shape
        rows = [buf.obs.reshape(T * n, dim), self.obs.reshape(n, dim)] + [final for _, _, final in truncations]
        with torch.no_grad():
            values = self.critics(torch.from_numpy(np.concatenate(rows))).numpy().astype(np.float64)
        buf.values_r[:], buf.values_c[:] = values[:, : T * n].reshape(2, T, n)
        last_r, last_c = values[:, T * n : T * n + n]
        offset = T * n + n
        for t, envs, _ in truncations:
            buf.final_values_r[t, envs], buf.final_values_c[t, envs] = values[:, offset : offset + len(envs)]
            offset += len(envs)
        return last_r, last_c

    # ----------------------------------------------------------------- the update
    def update(self, batch: Batch) -> tuple[UpdateResult, dict]:
        """Move the policy on one epoch's batch and fit the critics: the step's result and the critics' losses
        (``value_loss_r``, ``value_loss_c``). Each family says how (engine/trust_region_step.py,
        engine/first_order_step.py); each algorithm what it optimises."""
        raise NotImplementedError

    def evaluate(self, batch: Batch, old_dist, old_logp: torch.Tensor) -> PolicyEvaluation:
        """Ratio π_θ/π_k and mean KL(π_k‖π_θ) of the policy currently loaded."""
        dist = self.policy.distribution(batch.obs)
        ratio = torch.exp(self.policy.log_prob(dist, batch.actions) - old_logp)
        return PolicyEvaluation(ratio=ratio, kl=self.policy.kl(old_dist, dist).mean())

    def old_policy(self, batch: Batch):
        """π_k on the batch: its distribution and log-probabilities, detached."""
        with torch.no_grad():
            dist = self.policy.distribution(batch.obs)
            return self.policy.detached(dist), self.policy.log_prob(dist, batch.actions)

    def cost_increase(self, batch: Batch, ev: PolicyEvaluation) -> torch.Tensor:
        """α of the loaded policy: the surrogate cost increase over π_k, in the units of Δb."""
        return cost_surrogate(ev.ratio, batch.adv_c, self.cfg.gamma)

    # ----------------------------------------------------------------- state
    def family_state(self) -> dict:
        """The family's state to checkpoint besides the critics' optimiser (the actor's optimiser)."""
        return {}

    def load_family_state(self, state: dict) -> None:
        pass

    def algo_state(self) -> dict:
        """The algorithm's state to checkpoint (multipliers, modes)."""
        return {}

    def load_algo_state(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        return {
            "policy": self.policy.state_dict(),
            "critics": self.critics.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "normalizer": {k: torch.as_tensor(v) for k, v in self.normalizer.state_dict().items()},
            "obs": torch.as_tensor(self.obs),
            "episodes": {
                "returns": torch.tensor(list(self.episode_returns), dtype=torch.float64),
                "costs": torch.tensor(list(self.episode_costs), dtype=torch.float64),
                "lengths": torch.tensor(list(self.episode_lengths), dtype=torch.float64),
            },
            "episodes_finished": self.episodes_finished,
            "algo": {**self.family_state(), **self.algo_state()},  # one dict: the checkpoints' format
        }

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.critics.load_state_dict(state["critics"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.normalizer.load_state_dict({k: v.numpy() for k, v in state["normalizer"].items()})
        self.obs = state["obs"].numpy().copy()
        self.episode_returns.extend(state["episodes"]["returns"].tolist())
        self.episode_costs.extend(state["episodes"]["costs"].tolist())
        self.episode_lengths.extend(state["episodes"]["lengths"].tolist())
        self.episodes_finished = int(state["episodes_finished"])
        self.load_family_state(state["algo"])
        self.load_algo_state(state["algo"])
