"""PCPO (Yang et al., 2020): a TRPO reward step, then a KL projection onto the linearised
constraint set {x : c + bᵀx <= 0}:  x = x_r − max(0, (c + bᵀx_r) / bᵀH⁻¹b) · H⁻¹b.
"""

from __future__ import annotations

import math

from ..engine import trust_region as tr
from .cpo import CPO


class PCPO(CPO):
    name = "pcpo"

    def update_policy(self, batch):
        cfg = self.cfg
        c = batch.cost_estimate - batch.cost_limit
        theta_k = tr.flat_params(self.policy)
        g, b, Hinv_g, Hinv_b, old_dist, old_logp, _ = self.linearised_problem(batch)
        reward_step = math.sqrt(2 * cfg.delta / max((g @ Hinv_g).item(), 1e-12)) * Hinv_g
        projection = max(0.0, ((c + b @ reward_step) / max((b @ Hinv_b).item(), 1e-12)).item())
        step = reward_step - projection * Hinv_b

        def accept(m):  # the projection may trade reward for cost, so only the KL bound is checked
            return all(math.isfinite(v) for v in m.values()) and m["kl"] <= cfg.delta

        result = tr.backtracking_line_search(self.policy, theta_k, step,
                                             lambda: self.measure(batch, old_dist, old_logp),
                                             accept, cfg.ls_tries, cfg.ls_decay)
        result.info["divergence"] = result.info.get("kl", 0.0)
        stats = self.step_stats(result, theta_k)
        return {**stats, "recovery": 0, "budget": batch.budget, "projection": projection}
