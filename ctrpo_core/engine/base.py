"""The on-policy trust-region engine: rollout, GAE, critics, and the natural-gradient step.

Algorithms subclass :class:`OnPolicyAlgorithm` and implement only ``update_policy(batch)``,
stating their objective, their divergence and their acceptance rule.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np
import torch

from ..config import TrainConfig
from ..envs import RunningNormalizer, VecEnv
from . import trust_region as tr
from .policies import Critics, make_policy
from .rollout import Batch, RolloutBuffer


def non_negative(x: float) -> float:
    """A divergence as measured: a sum of non-negative terms that float rounding can leave at about
    −1e-9 reads 0; NaN stays NaN (so the line search still rejects it)."""
    return 0.0 if x < 0 else x


class NonFiniteError(RuntimeError):
    """A NaN or infinity appeared; the message says where."""


class StopRequested(Exception):
    """Raised inside a rollout when the run was asked to stop (SIGTERM/SIGINT)."""


class OnPolicyAlgorithm:
    name = "base"

    def __init__(self, cfg: TrainConfig, env: VecEnv):
        self.cfg = cfg
        self.env = env
        self.spec = env.spec
        self.policy = make_policy(self.spec, cfg.hidden)
        self.critics = Critics(self.spec.obs_dim, cfg.hidden)  # V_r and V_c
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=cfg.critic_lr, foreach=True)
        # A running normaliser moves the policy's input between updates, outside any trust region;
        # tasks whose observations are scaled already may turn it off (normalize_obs=False).
        self.normalizer = RunningNormalizer(self.spec.obs_dim, frozen=not cfg.normalize_obs)
        self.episode_returns: deque = deque(maxlen=cfg.episode_window)
        self.episode_costs: deque = deque(maxlen=cfg.episode_window)
        self.episode_lengths: deque = deque(maxlen=cfg.episode_window)
        self.episodes_finished = 0
        self.cost_records: list[float] = []  # this epoch's records of the running episode-cost mean
        self.obs: np.ndarray | None = None  # current normalised observation of every env
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
        cfg, env = self.cfg, self.env
        T, n = cfg.steps_per_env, env.num_envs
        act_shape = () if self.spec.discrete else (self.spec.act_dim,)
        buf = RolloutBuffer(T, n, self.spec.obs_dim, act_shape)
        self.cost_records = []
        for module, what in ((self.policy, "policy"), (self.critics, "critic")):
            if not all(torch.isfinite(p).all() for p in module.parameters()):
                raise NonFiniteError(f"non-finite {what} parameters at the start of the rollout")
        for t in range(T):
            if self.should_stop():
                raise StopRequested()
            obs_t = torch.as_tensor(self.obs, dtype=torch.float32)
            with torch.no_grad():
                action = self.policy.distribution(obs_t).sample()
                buf.values_r[t], buf.values_c[t] = self.critics(obs_t).numpy()
            action_np = action.numpy()
            if not np.all(np.isfinite(action_np)):
                raise NonFiniteError(f"non-finite action from the policy during the rollout (step {t})")
            raw_obs, reward, cost, terminated, truncated, info = env.step(action_np)
            buf.obs[t] = self.obs
            buf.actions[t] = action_np
            buf.rewards[t], buf.costs[t] = reward, cost
            buf.terminated[t], buf.truncated[t] = terminated, truncated
            if truncated.any():  # bootstrap time-limited episodes from their final observation
                final = torch.as_tensor(self.normalizer.normalize(info["final_obs"][truncated]))
                with torch.no_grad():
                    buf.final_values_r[t, truncated], buf.final_values_c[t, truncated] = self.critics(final).numpy()
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
        with torch.no_grad():
            last = torch.as_tensor(self.obs, dtype=torch.float32)
            last_r, last_c = self.critics(last).numpy()
        return buf.to_batch(last_r, last_c, cfg.gamma, cfg.lam, self.cost_estimate(), cfg.cost_limit)

    # ----------------------------------------------------------------- critics
    def update_critics(self, batch: Batch) -> dict:
        """10 passes of minibatch Adam on MSE + critic_l2·Σ‖w‖², the gradient norm of both critics clipped."""
        cfg = self.cfg
        targets = torch.stack([batch.target_r, batch.target_c])  # (2, N)
        params = list(self.critics.parameters())
        losses = []
        for _ in range(cfg.critic_passes):
            for idx in torch.randperm(len(batch)).split(cfg.critic_minibatch):
                mse = ((self.critics(batch.obs[idx]) - targets[:, idx]) ** 2).mean(1)  # per critic
                l2 = sum((p**2).sum() for p in params)  # Σ‖w‖² over both critics' parameters
                loss = mse.sum() + cfg.critic_l2 * l2
                self.critic_opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)  # both critics jointly, as the authors
                self.critic_opt.step()
                losses.append(mse.detach())
        loss_r, loss_c = torch.stack(losses).mean(0).tolist()
        if not (math.isfinite(loss_r) and math.isfinite(loss_c)):
            raise NonFiniteError("non-finite critic loss in the critic update")
        return {"value_loss_r": float(loss_r), "value_loss_c": float(loss_c)}

    # ----------------------------------------------------------------- policy
    def update_policy(self, batch: Batch) -> dict:
        raise NotImplementedError

    def evaluate(self, batch: Batch, old_dist, old_logp: torch.Tensor) -> dict:
        """Ratio π_θ/π_k and mean KL(π_k‖π_θ) of the policy currently loaded."""
        dist = self.policy.distribution(batch.obs)
        ratio = torch.exp(self.policy.log_prob(dist, batch.actions) - old_logp)
        return {"ratio": ratio, "kl": self.policy.kl(old_dist, dist).mean()}

    def old_policy(self, batch: Batch):
        """π_k on the batch: its distribution and log-probabilities, detached."""
        with torch.no_grad():
            dist = self.policy.distribution(batch.obs)
            return self.policy.detached(dist), self.policy.log_prob(dist, batch.actions)

    def trust_region_step(self, batch: Batch, objective: Callable[[dict], torch.Tensor],
                          divergence: Callable[[dict], torch.Tensor],
                          stiff_direction: Callable[[dict], torch.Tensor] | None = None,
                          curvature: float = 0.0) -> dict:
        """Minimise ``objective`` within {divergence <= δ} by one natural-gradient step.

        H = F (+ curvature · u uᵀ with u = ∇ stiff_direction at θ_k: the Hessian of a barrier term
        whose value and slope vanish at θ_k). Solve (H + damping·I) x = −∇L by CG, scale x so that
        xᵀ(H + damping·I)x = 2δ, then backtrack: accept the first θ_k + f·x whose objective is
        finite and not worse and whose divergence is <= δ.
        """
        cfg = self.cfg
        old_dist, old_logp = self.old_policy(batch)
        theta_k = tr.flat_params(self.policy)
        ev = self.evaluate(batch, old_dist, old_logp)
        loss_k = objective(ev)
        g = tr.flat_grad(loss_k, self.policy, retain_graph=stiff_direction is not None)
        Hv = self.hessian_vector_product(batch, ev, stiff_direction, curvature)
        x = tr.conjugate_gradient(lambda v: Hv(v) + cfg.cg_damping * v, -g, cfg.cg_iters)
        step = tr.scale_to_trust_region(x, Hv, cfg.delta, cfg.cg_damping)
        loss_k = loss_k.item()

        def measure() -> dict:
            ev = self.evaluate(batch, old_dist, old_logp)
            return {"loss": objective(ev).item(), "divergence": non_negative(divergence(ev).item()),
                    "kl": non_negative(ev["kl"].item()), "ev": ev}

        def accept(m: dict) -> bool:
            return math.isfinite(m["loss"]) and loss_k - m["loss"] >= 0 and m["divergence"] <= cfg.delta

        return self.search(theta_k, step, measure, accept)

    def search(self, theta_k: torch.Tensor, step: torch.Tensor, measure: Callable[[], dict],
               accept: Callable[[dict], bool]) -> dict:
        """The one line search of every trust-region algorithm: θ_k + f·step for f = 1, decay, decay², ...
        (ls_tries tries); keep the first that the algorithm's rule ``accept`` takes, else stay at θ_k.
        ``measure`` reads the loaded policy and returns at least its ``kl`` and ``divergence``."""
        result = tr.backtracking_line_search(self.policy, theta_k, step, measure, accept,
                                             self.cfg.ls_tries, self.cfg.ls_decay)
        return self.step_stats(result, theta_k)

    def hessian_vector_product(self, batch: Batch, ev: dict, stiff_direction=None, curvature: float = 0.0):
        Fv = tr.kl_hessian_vector_product(self.policy, batch.obs)
        if stiff_direction is None or curvature == 0.0:
            return Fv
        u = tr.flat_grad(stiff_direction(ev), self.policy).detach()
        return lambda v: Fv(v) + curvature * u * (u @ v)

    def step_stats(self, result: tr.LineSearchResult, theta_k: torch.Tensor) -> dict:
        """Metrics of the accepted step (KL/divergence are 0 when θ_k was kept)."""
        m = result.info if result.accepted else {}
        stats = {
            "kl": m.get("kl", 0.0),
            "divergence": m.get("divergence", 0.0),
            "step_fraction": result.fraction,
            "ls_tries": result.tries,
        }
        if not torch.all(torch.isfinite(tr.flat_params(self.policy))):
            tr.set_flat_params(self.policy, theta_k)
            raise NonFiniteError(f"non-finite policy parameters after the {self.cfg.algo} policy update")
        return stats

    # ----------------------------------------------------------------- state
    def algo_state(self) -> dict:
        """Algorithm-specific state to checkpoint (multipliers, modes, optimisers)."""
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
            "algo": self.algo_state(),
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
        self.load_algo_state(state["algo"])
