"""The Lagrange multiplier of the Lagrangian baselines (TRPO-Lag, PPO-Lag, FOCOPS' and CUP's ν), as the authors'
baselines update it (SafePO's ``Lagrange``). A helper shared by those algorithms' files: it declares no algorithm."""

from __future__ import annotations

import torch


class LagrangeMultiplier:
    """λ >= 0: a torch Adam step (learning rate ``lr``) on the loss −λ·(Ĵ_c − b) once per epoch, before
    the policy step, then λ projected back to [0, ``upper``] (no upper bound by default). Adam moves λ by about
    ``lr`` per epoch whatever the size of the violation (plain ascent would move it by lr·(Ĵ_c − b))."""

    def __init__(self, init: float, lr: float, upper: float | None = None):
        self.parameter = torch.nn.Parameter(torch.tensor(float(init)))
        self.optimizer = torch.optim.Adam([self.parameter], lr=float(lr))
        self.upper = upper

    @property
    def value(self) -> float:
        return float(self.parameter.item())

    def update(self, cost_estimate: float, cost_limit: float) -> float:
        loss = -self.parameter * (cost_estimate - cost_limit)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.parameter.clamp_(min=0.0, max=self.upper)
        return self.value

    def lagrangian_advantage(self, adv_r, adv_c):
        """(Â_r − λ Â_c) / (1 + λ): the normalisation keeps the step size comparable as λ grows."""
        lam = self.value
        return (adv_r - lam * adv_c) / (1.0 + lam)

    def state_dict(self) -> dict:
        return {"value": self.parameter.detach().clone(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            self.parameter.copy_(state["value"])
        self.optimizer.load_state_dict(state["optimizer"])
