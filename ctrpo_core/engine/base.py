"""The on-policy trust-region engine: rollout, GAE, critics, and the natural-gradient step.

Algorithms subclass :class:`OnPolicyAlgorithm` and implement only ``update_policy(batch)``,
stating their objective, their divergence and their acceptance rule.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import torch

from ..config.schema import TrainConfig
from ..util import cores
from ..envs import RunningNormalizer, VecEnv
from . import shrinkage
from . import trust_region as tr
from .divergence import cost_surrogate
from .critic_fit import CriticFit
from .policies import Critics, make_policy
from .results import PolicyEvaluation, RegionReach, UpdateResult, finite_or_none
from .rollout import Batch, RolloutBuffer


_critic_thread: ThreadPoolExecutor | None = None


def critic_thread() -> ThreadPoolExecutor:
    """The one thread that trains critics beside the policy update (engine-wide, started on first use)."""
    global _critic_thread
    if _critic_thread is None:
        _critic_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="critics")
    return _critic_thread


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
        self.policy = make_policy(self.spec, cfg.hidden, cfg.policy_init)
        self.critics = Critics(self.spec.obs_dim, cfg.hidden)  # V_r and V_c
        self.critic_opt = CriticFit(self.critics, cfg.critic_lr, cfg.critic_l2, cfg.grad_clip)
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
            if truncated.any():  # bootstrap time-limited episodes from their final observation, normalised now
                envs = np.flatnonzero(truncated)
                truncations.append((t, envs, self.normalizer.normalize(info["final_obs"][envs])))
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

    def values(self, buf: RolloutBuffer, truncations: list) -> tuple[np.ndarray, np.ndarray]:
        """V_r and V_c of the rollout's observations into ``buf`` (and of the truncated episodes' final
        observations), in one pass of the critics; returns the values of the observations after the
        last step, which bootstrap the episodes still running."""
        T, n, dim = buf.obs.shape
        rows = [buf.obs.reshape(T * n, dim), self.obs.reshape(n, dim)] + [final for _, _, final in truncations]
        with torch.no_grad():
            values = self.critics(torch.from_numpy(np.concatenate(rows))).numpy().astype(np.float64)
        buf.values_r[:], buf.values_c[:] = values[:, :T * n].reshape(2, T, n)
        last_r, last_c = values[:, T * n:T * n + n]
        offset = T * n + n
        for t, envs, _ in truncations:
            buf.final_values_r[t, envs], buf.final_values_c[t, envs] = values[:, offset:offset + len(envs)]
            offset += len(envs)
        return last_r, last_c

    # ----------------------------------------------------------------- critics
    def update_critics(self, batch: Batch) -> dict:
        """10 passes of minibatch Adam on MSE + critic_l2·Σ‖w‖², the gradient norm of both critics clipped
        jointly, as the authors (written out in numpy: engine/critic_fit.py)."""
        return self.begin_critic_update(batch, concurrent=False)()

    def begin_critic_update(self, batch: Batch, concurrent: bool = True) -> Callable[[], dict]:
        """Start the critics' update; returns the function that waits for it and gives its losses.

        The critics and the policy update read the same batch and nothing of each other, so the critics
        may train on a second core while the policy updates: a thread (numpy's and torch's kernels let
        go of the GIL), when ``concurrent`` and this process may use two cores or more. The minibatches
        are drawn now, on this thread, so the generator's order and the numbers are the same either way.
        """
        cfg = self.cfg
        minibatches = CriticFit.draw_minibatches(len(batch), cfg.critic_passes, cfg.critic_minibatch)
        targets = torch.stack([batch.target_r, batch.target_c])  # (2, N)

        def fit() -> dict:
            loss_r, loss_c = self.critic_opt.fit(batch.obs, targets, minibatches)
            if not (math.isfinite(loss_r) and math.isfinite(loss_c)):
                raise NonFiniteError("non-finite critic loss in the critic update")
            return {"value_loss_r": loss_r, "value_loss_c": loss_c}

        if not (concurrent and cores.available() >= 2):
            return fit
        return critic_thread().submit(fit).result

    # ----------------------------------------------------------------- policy
    def update_policy(self, batch: Batch) -> UpdateResult:
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

    def trust_region_step(self, batch: Batch, objective: Callable[[PolicyEvaluation], torch.Tensor],
                          divergence: Callable[[PolicyEvaluation], torch.Tensor],
                          curvature: float | None = None) -> UpdateResult:
        """Minimise ``objective`` within {divergence <= δ} by one natural-gradient step.

        ``curvature`` None: the region is the KL ball, H = F. A number κ >= 0 (C-TRPO's β·φ''(0)): H = F +
        κ·u uᵀ with u = ∇α at θ_k, the Hessian of D_C whose barrier's value and slope vanish at θ_k, and
        the region's reach along ∇α is also measured with the exact ``divergence``. Solve (H + damping·I)
        x = −∇L by CG, scale x so that xᵀ(H + damping·I)x = 2δ, then backtrack: accept the first θ_k + f·x
        whose objective is finite and not worse and whose divergence is <= δ. The result is a plain step
        (recovery 0): the algorithm states what else it is.
        """
        cfg = self.cfg
        old_dist, old_logp = self.old_policy(batch)
        theta_k = tr.flat_params(self.policy)
        ev = self.evaluate(batch, old_dist, old_logp)
        loss_k = objective(ev)
        g = tr.flat_grad(loss_k, self.policy, retain_graph=True)  # the same graph gives u = ∇α next
        u = tr.flat_grad(self.cost_increase(batch, ev), self.policy).detach()
        Fv = tr.kl_hessian_vector_product(self.policy, batch.obs)
        Hv = self.hessian_vector_product(batch, ev, curvature=curvature or 0.0, Fv=Fv, u=u)
        x = tr.conjugate_gradient(lambda v: Hv(v) + cfg.cg_damping * v, -g, cfg.cg_iters)
        step = tr.scale_to_trust_region(x, Hv, cfg.delta, cfg.cg_damping)
        loss_k = loss_k.item()
        reach = self.region_reach(batch, old_dist, old_logp, theta_k, u, Fv, curvature,
                                  divergence if curvature is not None else None)

        def measure() -> dict:
            ev = self.evaluate(batch, old_dist, old_logp)
            return {"loss": objective(ev).item(), "divergence": non_negative(divergence(ev).item()),
                    "kl": non_negative(ev.kl.item()), "alpha": self.cost_increase(batch, ev).item(),
                    "ev": ev}

        def accept(m: dict) -> bool:
            return math.isfinite(m["loss"]) and loss_k - m["loss"] >= 0 and m["divergence"] <= cfg.delta

        return self.search(batch, theta_k, step, measure, accept, reach)

    def region_reach(self, batch: Batch, old_dist, old_logp: torch.Tensor, theta_k: torch.Tensor,
                     u: torch.Tensor, Fv: Callable, curvature: float | None = None,
                     divergence: Callable[[PolicyEvaluation], torch.Tensor] | None = None) -> RegionReach:
        """The largest first-order cost increase α one step may make (engine/shrinkage.py), from
        s = uᵀ(F + damping·I)⁻¹u: one more CG solve with the step's Fisher product and damping, so the
        numbers share the step's geometry (at most REACH_CG_ITERS iterations: s converges long before
        the step's direction does). ``curvature`` κ (C-TRPO's normal mode): α_max is α_max^C, and α is
        also measured along (F + damping·I)⁻¹u with the exact ``divergence`` on the batch; θ_k is
        restored bit for bit. Nothing here feeds back into the step."""
        cfg = self.cfg
        iters = min(cfg.cg_iters, shrinkage.REACH_CG_ITERS)
        x_u, s = shrinkage.natural_cost_direction(lambda v: Fv(v) + cfg.cg_damping * v, u, iters)
        reach = self.reach_stats(s, curvature)
        if divergence is not None and s > 0.0 and math.isfinite(s):
            def evaluate(t: float) -> tuple[float, float]:
                tr.set_flat_params(self.policy, theta_k + t * x_u)
                with torch.no_grad():
                    ev = self.evaluate(batch, old_dist, old_logp)
                    return divergence(ev).item(), self.cost_increase(batch, ev).item()

            try:
                t0 = shrinkage.model_length(s, curvature, cfg.delta)
                exact = finite_or_none(shrinkage.exact_alpha_max(evaluate, t0, cfg.delta))
                reach = dataclasses.replace(reach, alpha_max_exact=exact)
            finally:
                tr.set_flat_params(self.policy, theta_k)
        return reach

    def reach_stats(self, s: float, curvature: float | None = None) -> RegionReach:
        """alpha_max (the algorithm's own region: α_max^C with a curvature κ, else the KL ball's) and
        alpha_max_kl, from s = uᵀ(F + damping·I)⁻¹u. A non-finite value is left out (an empty cell): a
        diagnostic must never fail a run."""
        kl = shrinkage.alpha_max_kl(s, self.cfg.delta)
        own = kl if curvature is None else shrinkage.alpha_max_constrained(s, curvature, self.cfg.delta)
        return RegionReach(alpha_max=finite_or_none(own), alpha_max_kl=finite_or_none(kl))

    def search(self, batch: Batch, theta_k: torch.Tensor, step: torch.Tensor, measure: Callable[[], dict],
               accept: Callable[[dict], bool], reach: RegionReach) -> UpdateResult:
        """The one line search of every trust-region algorithm: θ_k + f·step for f = 1, decay, decay², ...
        (ls_tries tries); keep the first that the algorithm's rule ``accept`` takes, else stay at θ_k.
        ``measure`` reads the loaded policy and returns at least its ``kl``, ``divergence`` and ``alpha``.
        The result carries the step, the region's ``reach`` and the batch's budget, as a plain step
        (recovery 0)."""
        result = tr.backtracking_line_search(self.policy, theta_k, step, measure, accept,
                                             self.cfg.ls_tries, self.cfg.ls_decay)
        if not torch.all(torch.isfinite(tr.flat_params(self.policy))):
            tr.set_flat_params(self.policy, theta_k)
            raise NonFiniteError(f"non-finite policy parameters after the {self.cfg.algo} policy update")
        m = result.info if result.accepted else {}  # KL/divergence/α are 0 when θ_k was kept
        return UpdateResult(
            kl=m.get("kl", 0.0), divergence=m.get("divergence", 0.0),
            step_fraction=result.fraction, ls_tries=result.tries,
            alpha_step=finite_or_none(m.get("alpha", 0.0)),  # α(θ_{k+1}), a diagnostic
            alpha_max=reach.alpha_max, alpha_max_kl=reach.alpha_max_kl, alpha_max_exact=reach.alpha_max_exact,
            budget=batch.budget,
        )

    def hessian_vector_product(self, batch: Batch, ev: PolicyEvaluation, stiff_direction=None,
                               curvature: float = 0.0, Fv: Callable | None = None, u: torch.Tensor | None = None):
        """v ↦ (F + curvature·u uᵀ) v, u = ∇ stiff_direction at θ_k (or ``u`` given); F's product ``Fv``
        is built here unless given."""
        Fv = Fv or tr.kl_hessian_vector_product(self.policy, batch.obs)
        if curvature == 0.0 or (u is None and stiff_direction is None):
            return Fv
        if u is None:
            u = tr.flat_grad(stiff_direction(ev), self.policy).detach()
        return lambda v: Fv(v) + curvature * u * (u @ v)

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
