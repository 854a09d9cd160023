"""The trust-region family: the policy moves by one natural-gradient step inside a divergence ball (conjugate
gradient on Fisher-vector products, then a backtracking line search), while the critics are fitted apart from
it, on a second core when there is one.

An algorithm of this family implements ``update_policy(batch)`` and states only its objective, its divergence
and its acceptance rule, mostly through :meth:`TrustRegionAlgorithm.trust_region_step`.
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch

from ..config.schema import TrainConfig
from ..envs import VecEnv
from ..util import cores
from . import shrinkage
from . import trust_region as tr
from .critic_fit import CriticFit
from .on_policy import NonFiniteError, OnPolicyAlgorithm
from .results import PolicyEvaluation, RegionReach, UpdateResult, finite_or_none
from .rollout import Batch

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


class TrustRegionAlgorithm(OnPolicyAlgorithm):
    """One natural-gradient step per epoch; critics by minibatch Adam (engine/critic_fit.py)."""

    def __init__(self, cfg: TrainConfig, env: VecEnv):
        super().__init__(cfg, env)
        self.critic_opt = CriticFit(self.critics, cfg.critic_lr, cfg.critic_l2, cfg.grad_clip)

    def update(self, batch: Batch) -> tuple[UpdateResult, dict]:
        critic_losses = self.begin_critic_update(batch)  # on a second core while the policy moves
        result = self.update_policy(batch)
        return result, critic_losses()

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
        """The algorithm's step: its objective, its divergence and its acceptance rule (``trust_region_step``
        or its own use of the pieces below)."""
        raise NotImplementedError

    def trust_region_step(
        self,
        batch: Batch,
        objective: Callable[[PolicyEvaluation], torch.Tensor],
        divergence: Callable[[PolicyEvaluation], torch.Tensor],
        curvature: float | None = None,
    ) -> UpdateResult:
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
        reach = self.region_reach(
            batch, old_dist, old_logp, theta_k, u, Fv, curvature, divergence if curvature is not None else None
        )

        def measure() -> dict:
            ev = self.evaluate(batch, old_dist, old_logp)
            return {
                "loss": objective(ev).item(),
                "divergence": non_negative(divergence(ev).item()),
                "kl": non_negative(ev.kl.item()),
                "alpha": self.cost_increase(batch, ev).item(),
                "ev": ev,
            }

        def accept(m: dict) -> bool:
            return math.isfinite(m["loss"]) and loss_k - m["loss"] >= 0 and m["divergence"] <= cfg.delta

        return self.search(batch, theta_k, step, measure, accept, reach)

    def region_reach(
        self,
        batch: Batch,
        old_dist,
        old_logp: torch.Tensor,
        theta_k: torch.Tensor,
        u: torch.Tensor,
        Fv: Callable,
        curvature: float | None = None,
        divergence: Callable[[PolicyEvaluation], torch.Tensor] | None = None,
    ) -> RegionReach:
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

    def search(
        self,
        batch: Batch,
        theta_k: torch.Tensor,
        step: torch.Tensor,
        measure: Callable[[], dict],
        accept: Callable[[dict], bool],
        reach: RegionReach,
    ) -> UpdateResult:
        """The one line search of every trust-region algorithm: θ_k + f·step for f = 1, decay, decay², ...
        (ls_tries tries); keep the first that the algorithm's rule ``accept`` takes, else stay at θ_k.
        ``measure`` reads the loaded policy and returns at least its ``kl``, ``divergence`` and ``alpha``.
        The result carries the step, the region's ``reach`` and the batch's budget, as a plain step
        (recovery 0)."""
        result = tr.backtracking_line_search(
            self.policy, theta_k, step, measure, accept, self.cfg.ls_tries, self.cfg.ls_decay
        )
        if not torch.all(torch.isfinite(tr.flat_params(self.policy))):
            tr.set_flat_params(self.policy, theta_k)
            raise NonFiniteError(f"non-finite policy parameters after the {self.cfg.algo} policy update")
        m = result.info if result.accepted else {}  # KL/divergence/α are 0 when θ_k was kept
        return UpdateResult(
            kl=m.get("kl", 0.0),
            divergence=m.get("divergence", 0.0),
            step_fraction=result.fraction,
            ls_tries=result.tries,
            alpha_step=finite_or_none(m.get("alpha", 0.0)),  # α(θ_{k+1}), a diagnostic
            alpha_max=reach.alpha_max,
            alpha_max_kl=reach.alpha_max_kl,
            alpha_max_exact=reach.alpha_max_exact,
            budget=batch.budget,
        )

    def hessian_vector_product(
        self,
        batch: Batch,
        ev: PolicyEvaluation,
        stiff_direction=None,
        curvature: float = 0.0,
        Fv: Callable | None = None,
        u: torch.Tensor | None = None,
    ):
        """v ↦ (F + curvature·u uᵀ) v, u = ∇ stiff_direction at θ_k (or ``u`` given); F's product ``Fv``
        is built here unless given."""
        Fv = Fv or tr.kl_hessian_vector_product(self.policy, batch.obs)
        if curvature == 0.0 or (u is None and stiff_direction is None):
            return Fv
        if u is None:
            u = tr.flat_grad(stiff_direction(ev), self.policy).detach()
        return lambda v: Fv(v) + curvature * u * (u @ v)
