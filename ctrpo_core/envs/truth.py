"""Ground truth: the true expected episode return and cost of a policy, on the built-in tasks whose
model is known, in the units of Ĵ_c (undiscounted sums over one episode).

Every safety number of a run is otherwise an estimate (Ĵ_c is a running mean of sampled episodes), so
"this update made the policy unsafe" is seen through estimation noise. Here it is not:

- GridHazard-v0: exact. The policy's action probabilities in every cell (the one-hot observation of the
  cell, normalised as the policy sees it) give P_π, r_π, c_π on the exact model, and the expected sums
  over the horizon follow by propagating the state distribution: V = Σ_{t<H} μᵀ P_π^t r_π.
  Half-width 0.
- HazardEdge-v0: Monte Carlo, ``episodes`` whole episodes simulated at once in numpy from the task's own
  dynamics, with actions drawn from the policy by a generator of its own. Half-width = 1.96 · sample
  std / √n (a 95% normal interval). The seed fixes every random number, so two policies evaluated with
  one seed see the same gusts and action noise (common random numbers): the difference of their costs
  has a much smaller half-width than either cost, computed from the paired episodes.

Nothing here draws from the training's random number generators, so training with the ground truth
logged gives bit-identical results to training without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .builtin import grid_hazard as gh
from .builtin import hazard_edge as he

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal
MC_EPISODES = 1_000  # HazardEdge-v0: half-width of a cost ≈ 0.15 at b = 5, of a change far less (paired)


@dataclass
class TrueValues:
    """Expected episode return and cost of one policy, with 95% half-widths (0 when exact)."""

    ret: float
    cost: float
    ret_hw: float = 0.0
    cost_hw: float = 0.0
    episode_costs: np.ndarray | None = None  # Monte Carlo: per-episode costs, paired across one seed
    pi: np.ndarray | None = None  # exact tabular: π(a|s), (S, A)
    visitation: np.ndarray | None = None  # exact tabular: the share of an episode's steps spent in each state


def difference_half_width(after: TrueValues, before: TrueValues) -> float:
    """95% half-width of V_c(after) − V_c(before): 0 when exact; from the paired episodes otherwise."""
    if after.episode_costs is None or before.episode_costs is None:
        return 0.0
    diff = after.episode_costs - before.episode_costs
    return float(Z95 * diff.std(ddof=1) / math.sqrt(len(diff)))


class Truth:
    """The ground truth of one task: ``values(policy, normalize, seed)`` → :class:`TrueValues`, for a
    policy of ``engine/policies.py`` and ``normalize(raw)``, which maps raw observations as the policy
    sees them (the run's normaliser, not updated)."""

    exact = True

    def values(self, policy, normalize, seed: int) -> TrueValues:
        raise NotImplementedError


class GridHazardTruth(Truth):
    def __init__(self, horizon: int):
        self.model = gh.exact_model()
        self.horizon = horizon
        self.cells = gh.ONE_HOT  # the observation of each cell

    def policy_table(self, policy, normalize) -> np.ndarray:
        """π(a|s) for every cell s, shape (S, A), float64."""
        with torch.no_grad():
            probs = policy.distribution(torch.as_tensor(normalize(self.cells))).probs
        return probs.double().numpy()

    def values(self, policy, normalize, seed: int = 0) -> TrueValues:
        pi = self.policy_table(policy, normalize)
        ret, cost, visits = episode_values(self.model, pi, self.horizon)
        return TrueValues(ret, cost, pi=pi, visitation=visits / visits.sum())


def episode_values(model, pi: np.ndarray, horizon: int) -> tuple[float, float, np.ndarray]:
    """Exact expected undiscounted episode return and cost of the stationary policy ``pi`` (S, A) over
    ``horizon`` steps (absorbing terminal states give nothing), and the expected number of steps taken
    from each state (terminal states excluded: no step is taken there)."""
    P_pi = np.einsum("sa,sat->st", pi, model.P)
    r_pi, c_pi = (pi * model.r).sum(1), (pi * model.c).sum(1)
    d, ret, cost = model.mu.astype(np.float64), 0.0, 0.0
    visits = np.zeros_like(d)
    for _ in range(horizon):
        ret += d @ r_pi
        cost += d @ c_pi
        visits += d
        d = d @ P_pi
    return float(ret), float(cost), np.where(model.terminal, 0.0, visits)


def exact_divergence(after: TrueValues, before: TrueValues, beta: float, b: float) -> float:
    """The exact D_C(π_{k+1}‖π_k) in a run's units: Σ_s ρ_{k+1}(s) KL(π_{k+1}(·|s) ‖ π_k(·|s)), ρ the share of
    an episode's steps in s (as a batch averages), plus β times the barrier's Bregman divergence
    φ(x) − φ(x_k) − φ'(x_k)(x − x_k), φ(x) = x log x, on x = b − V_c (episode units, as b). β = 0: the
    KL alone. NaN where π_k is not truly safe (x_k <= 0: no barrier there); inf where π_{k+1} is not."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(after.pi > 0, after.pi * (np.log(after.pi) - np.log(before.pi)), 0.0)
    kl = float(after.visitation @ terms.sum(1))
    if beta == 0:
        return kl
    x, x_k = b - after.cost, b - before.cost
    if x_k <= 0:
        return math.nan
    if x <= 0:
        return math.inf
    return kl + beta * (x * math.log(x / x_k) - x + x_k)


class HazardEdgeTruth(Truth):
    exact = False

    def __init__(self, horizon: int, episodes: int = MC_EPISODES):
        self.horizon, self.episodes = horizon, episodes

    def values(self, policy, normalize, seed: int) -> TrueValues:
        n = self.episodes
        rng = np.random.default_rng(seed)
        mean, std = gaussian_in_numpy(policy)
        x = np.full(n, he.START)
        returns, costs = np.zeros(n), np.zeros(n)
        obs = np.empty((n, 2), dtype=np.float32)
        for t in range(self.horizon):
            obs[:, 0], obs[:, 1] = x, t / he.HORIZON  # as HazardEdgeEnv._observe
            actions = mean(normalize(obs)) + std * rng.standard_normal((n, 1), dtype=np.float32)
            x = he.move(x, he.target(actions.astype(np.float64).reshape(n)), rng.standard_normal(n))
            returns += he.reward_of(x)
            costs += he.cost_of(x)
        half = lambda v: float(Z95 * v.std(ddof=1) / math.sqrt(n))
        return TrueValues(float(returns.mean()), float(costs.mean()), half(returns), half(costs), costs)


def gaussian_in_numpy(policy):
    """The Gaussian policy's mean as a function of numpy observations, and its std: the same MLP, with
    torch's matrix products (one thread, as training) and numpy's tanh, which is 5x faster than torch's on
    this project's CPUs: with torch's, 50 simulated steps of 1,000 episodes cost a fifth of an epoch."""
    layers = []
    for module in policy.mean:
        if isinstance(module, torch.nn.Linear):
            layers.append((module.weight.detach().T, module.bias.detach()))
        elif not isinstance(module, torch.nn.Tanh):
            raise TypeError(f"the ground truth knows Linear and Tanh layers, not {type(module).__name__}")

    def mean(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            h = torch.as_tensor(obs)
            for i, (w, b) in enumerate(layers):
                h = torch.addmm(b, h, w)
                if i < len(layers) - 1:
                    np.tanh(h.numpy(), out=h.numpy())  # in place, on the tensor's memory
        return h.numpy()

    return mean, policy.log_std.detach().exp().numpy().copy()


def for_task(task: str, max_episode_steps: int | None = None) -> Truth | None:
    """The ground truth of ``task`` at the episode length it is trained with, or None (no known model)."""
    if task == "GridHazard-v0":  # episodes end at the goal or at the time limit
        return GridHazardTruth(max_episode_steps or gh.HORIZON)
    if task == "HazardEdge-v0":  # it ends itself after 50 steps
        return HazardEdgeTruth(min(he.HORIZON, max_episode_steps or he.HORIZON))
    return None


class TruthLog:
    """The ground-truth columns of a run's metrics, epoch by epoch.

    Row k describes π_k, the policy that collected epoch k's batch, evaluated with the normaliser as the
    update sees it, and the update's step to π_{k+1} (evaluated with the same normaliser and the same
    random numbers, so the change is paired):

        true_return, true_cost (± true_return_hw, true_cost_hw)   V_r(π_k), V_c(π_k)
        true_regret                                                Σ_{j≤k} max(0, V_c(π_j) − b)
        true_cost_change (± true_cost_change_hw)                  V_c(π_{k+1}) − V_c(π_k)
        true_divergence (exact models only)                        the exact counterpart of ``divergence``:
                                                                   D_C(π_{k+1}‖π_k) where the update bounded
                                                                   D_C (C-TRPO's normal mode), else the KL

    One seed (the run's) for every evaluation of the run: every iterate meets the same gusts and action
    noise. Where the normaliser is frozen, π_{k+1} after its update is π_{k+1} at the next epoch, so its
    evaluation is reused: one evaluation per epoch.
    """

    def __init__(self, truth: Truth, cost_limit: float, seed: int, regret: float = 0.0, beta: float = 0.0):
        self.truth, self.cost_limit, self.seed, self.beta = truth, cost_limit, seed, beta
        self.regret = regret
        self.current: TrueValues | None = None  # V(π_k), when still valid

    @classmethod
    def for_run(cls, cfg) -> "TruthLog | None":
        truth = for_task(cfg.task, cfg.max_episode_steps)
        beta = cfg.beta if cfg.algo == "c-trpo" else 0.0  # only C-TRPO's divergence carries the barrier
        return None if truth is None else cls(truth, cfg.cost_limit, cfg.seed, beta=beta)

    def _values(self, algo) -> TrueValues:
        return self.truth.values(algo.policy, algo.normalizer.normalize, self.seed)

    def before_update(self, algo) -> None:
        if self.current is None or not algo.normalizer.frozen:
            self.current = self._values(algo)

    def after_update(self, algo, stats: dict) -> dict:
        """The row's columns; ``stats`` is the update's own (its ``recovery`` says which divergence it bounded)."""
        before, after = self.current, self._values(algo)
        self.regret += max(0.0, before.cost - self.cost_limit)  # the paper's Reg+, with V_c for Ĵ_c
        self.current = after
        row = {
            "true_return": before.ret,
            "true_cost": before.cost,
            "true_return_hw": before.ret_hw,
            "true_cost_hw": before.cost_hw,
            "true_regret": self.regret,
            "true_cost_change": after.cost - before.cost,
            "true_cost_change_hw": difference_half_width(after, before),
        }
        if after.pi is not None and before.pi is not None:
            beta = self.beta if not stats.get("recovery") else 0.0
            row["true_divergence"] = exact_divergence(after, before, beta, self.cost_limit)
        return row
