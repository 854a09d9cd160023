"""C-TRPO (Milosevic, Müller & Scherf, ICML 2025): TRPO whose trust region is measured with the
constrained divergence D_C = KL + β·φ(α), so the region shrinks toward the boundary V_c = b.
"""

from __future__ import annotations

from ctrpo_core.engine.divergence import constrained_divergence, cost_surrogate, phi_second_derivative_at_zero
from ctrpo_core.engine.results import UpdateResult
from ctrpo_core.engine.trust_region_step import TrustRegionAlgorithm

ALGORITHM = {
    "id": "c-trpo",
    "name": "C-TRPO",
    "color": "#1f5fa8",
    "marker": "circle",
    "rank": 0,
    "summary": "C-TRPO: TRPO in the constrained divergence D_C = KL + β·φ (the paper)",
    "family": "trust region",
    "learner": "CTRPO",
    "reads": {"bh": None},
    "settings": {
        "beta": {
            "kind": "float",
            "default": 1.0,
            "range": "[0, 1e12]",  # what a run folder's reader accepts (runs/store.config_problem)
            "flag": True,
            "symbol": "β",
            "label": "β (barrier weight)",
            "help": "barrier weight β of D_C = KL + β·φ: 0 is TRPO; a larger β stiffens the trust region along "
            "the cost gradient",
        },
        "barrier": {
            "kind": "str",
            "default": "entropy",
            "choices": ["entropy", "log"],
            "flag": True,
            "label": "Barrier form φ",
            "help": "barrier form φ: entropy (slope → ∞ at the boundary, the authors') or log (value → ∞)",
        },
    },
    "metrics": {"curvature": "κ = β·φ''(0): how much the barrier stiffens the region along ∇α (normal mode)"},
}

NORMAL, RECOVERY = "normal", "recovery"


def next_mode(mode: str, cost_estimate: float, cost_limit: float, bh: float) -> str:
    """Hysteresis on Ĵ_c (the paper's recovery rule): leave recovery only once Ĵ_c < b_H·b."""
    if (mode == NORMAL and cost_estimate < cost_limit) or (mode == RECOVERY and cost_estimate < bh * cost_limit):
        return NORMAL
    return RECOVERY


class CTRPO(TrustRegionAlgorithm):
    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.mode = RECOVERY  # as the authors start; flips to normal at once when Ĵ_c < b_H·b

    def update_policy(self, batch) -> UpdateResult:
        cfg = self.cfg
        self.mode = next_mode(self.mode, batch.cost_estimate, batch.cost_limit, cfg.bh)
        if self.mode == RECOVERY:
            # Recovery: minimise the cost surrogate mean(ratio·Â_c) inside the plain KL ball.
            step = self.trust_region_step(
                batch,
                objective=lambda ev: (ev.ratio * batch.adv_c).mean(),
                divergence=lambda ev: ev.kl,
            )
            return step.replace(recovery=1)

        budget = batch.budget  # Δb = b − Ĵ_c(π_k) > 0 in normal mode

        def alpha(ev):  # α(θ), surrogate cost increase
            return cost_surrogate(ev.ratio, batch.adv_c, cfg.gamma)

        def divergence(ev):  # D_C(θ) = KL(π_k‖π_θ) + β·φ(α(θ))
            return constrained_divergence(ev.kl, alpha(ev), cfg.beta, budget, cfg.barrier)

        # Hessian of D_C at θ_k: F + β φ''(0) ∇α ∇αᵀ (α(θ_k) = 0 and φ'(0) = 0); the engine takes ∇α from
        # its own α (= alpha above) and measures the region's reach along ∇α with this D_C too.
        curvature = cfg.beta * phi_second_derivative_at_zero(budget, cfg.barrier)
        step = self.trust_region_step(
            batch,
            objective=lambda ev: -(ev.ratio * batch.adv_r).mean(),
            divergence=divergence,
            curvature=curvature,
        )
        # β·φ(α) at the accepted step: D_C − KL
        return step.replace(barrier=step.divergence - step.kl).with_own(curvature=curvature)

    def algo_state(self):
        return {"mode": self.mode}

    def load_algo_state(self, state):
        self.mode = state["mode"]
