"""PCPO (Yang et al., 2020): a TRPO reward step, then a KL projection onto the linearised
constraint set {x : c + bᵀx <= 0}:  x = x_r − max(0, (c + bᵀx_r) / bᵀH⁻¹b) · H⁻¹b.

The linearisation is CPO's (the authors' conventions, docs/BASELINES.md), and so is the line search,
with all three checks on every step: KL <= δ, cost surrogate rise <= max(−c, 0), reward not worse.
"""

from __future__ import annotations

import math

from ..engine import trust_region as tr
from .cpo import CPO


class PCPO(CPO):

    def update_policy(self, batch):
        cfg = self.cfg
        c = batch.cost_estimate - batch.cost_limit
        theta_k = tr.flat_params(self.policy)
        g, b, Hinv_g, Hinv_b, old_dist, old_logp, surrogates_k = self.linearised_problem(batch)
        reward_step = math.sqrt(2 * cfg.delta / max((g @ Hinv_g).item(), 1e-12)) * Hinv_g
        projection = max(0.0, ((c + b @ reward_step) / max((b @ Hinv_b).item(), 1e-12)).item())
        step = reward_step - projection * Hinv_b
        stats = self.search(theta_k, step, lambda: self.measure(batch, old_dist, old_logp),
                            self.acceptance(c, surrogates_k, check_reward=True))
        return {**stats, **self.kl_ball_reach(b, Hinv_b), "recovery": 0, "budget": batch.budget,
                "projection": projection}
