"""CPO (Achiam et al., 2017): one trust-region step solving the linearised constrained problem

    max_x gᵀx   s.t.  ½ xᵀHx <= δ,   c + bᵀx <= 0

through its dual, with the infeasible-case recovery step that only lowers the cost. The conventions
are the authors' baselines' (adapted from SafePO; docs/BASELINES.md): g and b are the gradients of the
surrogates mean(ratio·Â_r) and mean(ratio·Â_c) (no 1/(1−γ) factor), c = Ĵ_c − b in episode-cost units,
and the line search accepts a step when KL <= δ, the cost surrogate rose by at most max(−c, 0) and, in
cases 2 and 3, the reward surrogate did not fall.

With hysteresis (b_H < 1, the paper's ablation "CPO with hysteresis", the authors' cpo-hyst.py): after an
infeasible-recovery step (case 0), keep recovering while Ĵ_c >= b_H·b, as C-TRPO's recovery does. With b_H = 1
(the default) this is plain CPO.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ctrpo_core.engine import trust_region as tr
from ctrpo_core.engine.results import RegionReach, UpdateResult
from ctrpo_core.engine.trust_region_step import TrustRegionAlgorithm, non_negative

ALGORITHM = {
    "id": "cpo",
    "name": "CPO",
    "color": "#2ca02c",
    "marker": "diamond",
    "rank": 2,
    "summary": "CPO: the linearised constrained step with recovery (b_H < 1: with hysteresis)",
    "family": "trust region",
    "learner": "CPO",
    "reads": {"bh": 1.0},  # no hysteresis unless asked: the paper's ablation runs it at 0.8
    "metrics": {"cpo_case": "the step's case: 0 infeasible recovery, 1-2 constrained, 3-4 plain TRPO step"},
}

EPS = 1e-8


def recovery_direction(b, Hinv_b, delta):
    """The infeasible case's step: the largest step of the KL ball along −H⁻¹b, which only lowers the cost."""
    return -math.sqrt(2 * delta / (b @ Hinv_b + EPS)) * Hinv_b


def cpo_direction(g, b, c, Hinv_g, Hinv_b, delta):
    """The CPO step and its case (0: infeasible recovery, 1-2: constrained, 3-4: plain TRPO step)."""
    # r is −gᵀH⁻¹b: with the constraint written c + bᵀx <= 0, the dual's optimum is
    # ν = (λc − r)/s in this sign convention (Achiam et al.'s formulas), which puts an active
    # constraint exactly on c + bᵀx = 0.
    q, r, s = g @ Hinv_g, -(g @ Hinv_b), b @ Hinv_b
    if b @ b <= 1e-8 and c < 0:
        case = 4
    else:
        A = q - r**2 / (s + EPS)
        B = 2 * delta - c**2 / (s + EPS)
        if c < 0 and B < 0:
            case = 3  # the whole trust region is feasible
        elif c < 0 <= B:
            case = 2
        elif c >= 0 and B >= 0:
            case = 1
        else:
            case = 0  # infeasible: the trust region does not reach the constraint set
    if case in (3, 4):
        return math.sqrt(2 * delta / (q + EPS)) * Hinv_g, case
    if case == 0:
        return recovery_direction(b, Hinv_b, delta), case
    # cases 1, 2: the dual max over λ >= 0, ν >= 0 (Achiam et al., App. 10.2)
    lam_a, lam_b = math.sqrt(max(A, 0.0) / (B + EPS)), math.sqrt(q / (2 * delta))
    split = r / (c + EPS)
    clamp = lambda x, lo, hi: min(max(x, lo), hi)
    if c < 0:
        lam_a, lam_b = clamp(lam_a, 0.0, split), clamp(lam_b, split, math.inf)
    else:
        lam_a, lam_b = clamp(lam_a, split, math.inf), clamp(lam_b, 0.0, split)
    # split < 0 leaves one of the two λ ranges empty (the clamp then returns the negative split):
    # that branch of the dual does not exist, so it must never be chosen.
    f_a = -0.5 * (A / (lam_a + EPS) + B * lam_a) - r * c / (s + EPS) if lam_a >= 0 else -math.inf
    f_b = -0.5 * (q / (lam_b + EPS) + 2 * delta * lam_b) if lam_b >= 0 else -math.inf
    lam = lam_a if f_a >= f_b else lam_b
    nu = max(lam * c - r, 0.0) / (s + EPS)
    return (Hinv_g - nu * Hinv_b) / (lam + EPS), case


class LinearisedProblem(NamedTuple):
    """max_x gᵀx  s.t.  ½ xᵀHx <= δ,  c + bᵀx <= 0  at θ_k (H = F + damping·I), with what the line search
    needs to compare candidates against π_k."""

    g: torch.Tensor  # ∇ mean(ratio·Â_r) at θ_k
    b: torch.Tensor  # ∇ mean(ratio·Â_c) at θ_k
    c: float  # Ĵ_c − b, episode-cost units: > 0 where π_k violates the constraint
    Hinv_g: torch.Tensor  # H⁻¹g and H⁻¹b by CG
    Hinv_b: torch.Tensor
    surrogates_k: dict  # the surrogates at θ_k, {"reward", "cost"}: the acceptance rule's reference
    theta_k: torch.Tensor
    old_dist: torch.distributions.Distribution  # π_k on the batch, detached
    old_logp: torch.Tensor


class CPO(TrustRegionAlgorithm):
    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.case = None  # the last step's case: hysteresis keeps recovering after case 0

    def linearised_problem(self, batch) -> LinearisedProblem:
        """The problem at θ_k: the gradients of the reward and cost surrogates and their H⁻¹ solves."""
        cfg = self.cfg
        theta_k = tr.flat_params(self.policy)
        old_dist, old_logp = self.old_policy(batch)
        ev = self.evaluate(batch, old_dist, old_logp)
        reward_surrogate = (ev.ratio * batch.adv_r).mean()
        cost_surrogate = (ev.ratio * batch.adv_c).mean()
        g = tr.flat_grad(reward_surrogate, self.policy, retain_graph=True)
        b = tr.flat_grad(cost_surrogate, self.policy)
        Fv = tr.kl_hessian_vector_product(self.policy, batch.obs)
        A = lambda v: Fv(v) + cfg.cg_damping * v
        return LinearisedProblem(
            g=g,
            b=b,
            c=batch.cost_estimate - batch.cost_limit,
            Hinv_g=tr.conjugate_gradient(A, g, cfg.cg_iters),
            Hinv_b=tr.conjugate_gradient(A, b, cfg.cg_iters),
            surrogates_k={"reward": reward_surrogate.item(), "cost": cost_surrogate.item()},
            theta_k=theta_k,
            old_dist=old_dist,
            old_logp=old_logp,
        )

    def measure(self, batch, old_dist, old_logp):
        ev = self.evaluate(batch, old_dist, old_logp)
        kl = non_negative(ev.kl.item())
        return {
            "reward": (ev.ratio * batch.adv_r).mean().item(),
            "cost": (ev.ratio * batch.adv_c).mean().item(),
            "kl": kl,
            "divergence": kl,
            "alpha": self.cost_increase(batch, ev).item(),
        }

    def acceptance(self, c: float, surrogates_k: dict, check_reward: bool):
        """The authors' rule: KL <= δ, the cost surrogate rose by at most max(−c, 0), and (if asked) the
        reward surrogate did not fall."""

        def accept(m):
            if not all(math.isfinite(m[k]) for k in ("reward", "cost", "kl")) or m["kl"] > self.cfg.delta:
                return False
            if check_reward and m["reward"] < surrogates_k["reward"]:
                return False
            return m["cost"] - surrogates_k["cost"] <= max(-c, 0.0)

        return accept

    def update_policy(self, batch) -> UpdateResult:
        p = self.linearised_problem(batch)
        if self.cfg.bh < 1 and self.case == 0 and batch.cost_estimate >= self.cfg.bh * batch.cost_limit:
            step, case = recovery_direction(p.b, p.Hinv_b, self.cfg.delta), 0
        else:
            step, case = cpo_direction(p.g, p.b, p.c, p.Hinv_g, p.Hinv_b, self.cfg.delta)
        self.case = case
        result = self.line_search(batch, p, step, check_reward=case in (2, 3))
        return result.replace(recovery=int(case == 0)).with_own(cpo_case=case)

    def algo_state(self):
        return {"case": -1 if self.case is None else self.case}

    def load_algo_state(self, state):
        case = int(state.get("case", -1))  # checkpoints from before the hysteresis have none
        self.case = None if case < 0 else case

    def line_search(self, batch, p: LinearisedProblem, step, check_reward: bool) -> UpdateResult:
        """The engine's line search from θ_k along ``step``, with the authors' acceptance rule and the KL
        ball's reach."""
        return self.search(
            batch,
            p.theta_k,
            step,
            lambda: self.measure(batch, p.old_dist, p.old_logp),
            self.acceptance(p.c, p.surrogates_k, check_reward),
            self.kl_ball_reach(p.b, p.Hinv_b),
        )

    def kl_ball_reach(self, b, Hinv_b) -> RegionReach:
        """alpha_max = alpha_max_kl for CPO's and PCPO's KL ball, without another CG solve: b is the
        gradient of mean(ratio·Â_c), so u = ∇α = b/(1−γ) and s = uᵀ(F + damping·I)⁻¹u = bᵀH⁻¹b/(1−γ)²
        with the H⁻¹b the step already solved for (same damping and iterations as the engine's)."""
        s = max((b @ Hinv_b).item(), 0.0) / (1.0 - self.cfg.gamma) ** 2
        return self.reach_stats(s)
