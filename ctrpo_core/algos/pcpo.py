"""PCPO (Yang et al., 2020): a TRPO reward step, then a KL projection onto the linearised
constraint set {x : c + bᵀx <= 0}:  x = x_r − max(0, (c + bᵀx_r) / bᵀH⁻¹b) · H⁻¹b.

The linearisation is CPO's (the authors' conventions, docs/BASELINES.md), and so is the line search,
with all three checks on every step: KL <= δ, cost surrogate rise <= max(−c, 0), reward not worse.
"""

from __future__ import annotations

import math

from ctrpo_core.algos.cpo import CPO
from ctrpo_core.engine.results import UpdateResult

ALGORITHM = {
    "id": "pcpo",
    "name": "PCPO",
    "color": "#8c564b",
    "marker": "triangle-up",
    "rank": 3,
    "summary": "PCPO: a TRPO step projected onto the linearised constraint",
    "family": "trust region",
    "learner": "PCPO",
    "metrics": {"projection": "the multiple of H⁻¹b the projection took off the reward step"},
}


class PCPO(CPO):
    def update_policy(self, batch) -> UpdateResult:
        cfg = self.cfg
        p = self.linearised_problem(batch)
        reward_step = math.sqrt(2 * cfg.delta / max((p.g @ p.Hinv_g).item(), 1e-12)) * p.Hinv_g
        projection = max(0.0, ((p.c + p.b @ reward_step) / max((p.b @ p.Hinv_b).item(), 1e-12)).item())
        step = reward_step - projection * p.Hinv_b
        return self.line_search(batch, p, step, check_reward=True).with_own(projection=projection)
