"""The Lagrange multiplier of TRPO-Lag and PPO-Lag."""

from __future__ import annotations


class LagrangeMultiplier:
    """λ >= 0, moved by gradient ascent on the constraint violation Ĵ_c − b."""

    def __init__(self, init: float, lr: float):
        self.value = float(init)
        self.lr = float(lr)

    def update(self, cost_estimate: float, cost_limit: float) -> float:
        self.value = max(0.0, self.value + self.lr * (cost_estimate - cost_limit))
        return self.value

    def lagrangian_advantage(self, adv_r, adv_c):
        """(Â_r − λ Â_c) / (1 + λ): the normalisation keeps the step size comparable as λ grows."""
        return (adv_r - self.value * adv_c) / (1.0 + self.value)
