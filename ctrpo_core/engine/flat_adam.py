"""torch.optim.Adam, written out in numpy over a module's parameters laid end to end in one flat float32 vector.

The learners' minibatch steps (the critics' fit, the first-order family's passes) run hundreds to thousands of
tiny updates per epoch; a torch operation costs ~5–10 µs before it computes anything, so here the whole step is
a few numpy operations on preallocated buffers. The arithmetic is torch's Adam (no weight decay, no amsgrad),
in float32; its state reads and writes ``torch.optim.Adam``'s ``state_dict`` format, so checkpoints move freely
between the two.
"""

from __future__ import annotations

import math

import numpy as np
import torch

BETAS = (0.9, 0.999)
EPS = 1e-8


class FlatAdam:
    """Adam over ``params`` (torch tensors, in their module's order): ``theta`` holds their values, ``grad`` the
    gradient to apply; ``pull`` copies the module's values in, ``push`` writes them back."""

    def __init__(self, params, lr: float):
        self.lr = float(lr)
        self.params = list(params)
        self.offsets = np.cumsum([0, *(p.numel() for p in self.params)])
        self.theta = np.zeros(self.offsets[-1], dtype=np.float32)
        self.grad = np.zeros_like(self.theta)
        self.exp_avg = np.zeros_like(self.theta)
        self.exp_avg_sq = np.zeros_like(self.theta)
        self.scratch = np.zeros_like(self.theta)
        self.steps = 0

    def views(self, flat: np.ndarray) -> list[np.ndarray]:
        """``flat`` cut into the parameters' shapes (views: writing them writes ``flat``)."""
        return [flat[a:b].reshape(p.shape) for a, b, p in zip(self.offsets, self.offsets[1:], self.params)]

    def step(self, lr: float | None = None) -> None:
        """torch.optim.Adam's update of ``theta`` by ``grad`` (``lr``: this step's rate, default the set one)."""
        beta1, beta2 = BETAS
        lr = self.lr if lr is None else float(lr)
        self.steps += 1
        g, m, v, tmp = self.grad, self.exp_avg, self.exp_avg_sq, self.scratch
        m *= np.float32(beta1)
        m += np.float32(1.0 - beta1) * g
        v *= np.float32(beta2)
        np.multiply(g, g, out=tmp)
        tmp *= np.float32(1.0 - beta2)
        v += tmp
        bias1 = 1.0 - beta1**self.steps
        bias2_sqrt = math.sqrt(1.0 - beta2**self.steps)
        np.sqrt(v, out=tmp)
        tmp *= np.float32(1.0 / bias2_sqrt)
        tmp += np.float32(EPS)
        np.divide(m, tmp, out=tmp)
        tmp *= np.float32(lr / bias1)
        self.theta -= tmp

    def pull(self) -> None:
        for p, a, b in zip(self.params, self.offsets, self.offsets[1:]):
            self.theta[a:b] = p.detach().numpy().reshape(-1)

    def push(self) -> None:
        with torch.no_grad():
            for p, a, b in zip(self.params, self.offsets, self.offsets[1:]):
                p.copy_(torch.from_numpy(self.theta[a:b].reshape(p.shape)))

    def state_dict(self) -> dict:
        """The state in ``torch.optim.Adam.state_dict()``'s format (empty before the first step)."""
        state = {}
        if self.steps:
            for i, (p, a, b) in enumerate(zip(self.params, self.offsets, self.offsets[1:])):
                state[i] = {
                    "step": torch.tensor(float(self.steps)),
                    "exp_avg": torch.from_numpy(self.exp_avg[a:b].reshape(p.shape).copy()),
                    "exp_avg_sq": torch.from_numpy(self.exp_avg_sq[a:b].reshape(p.shape).copy()),
                }
        group = {
            "lr": self.lr,
            "betas": BETAS,
            "eps": EPS,
            "weight_decay": 0,
            "amsgrad": False,
            "maximize": False,
            "foreach": True,
            "capturable": False,
            "differentiable": False,
            "fused": None,
            "decoupled_weight_decay": False,
            "params": list(range(len(self.params))),
        }
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state: dict) -> None:
        moments = state["state"]
        if not moments:
            self.steps = 0
            self.exp_avg[:] = 0.0
            self.exp_avg_sq[:] = 0.0
            return
        if len(moments) != len(self.params):
            raise ValueError(f"optimiser state has {len(moments)} parameters, expected {len(self.params)}")
        steps = {float(moments[i]["step"]) for i in range(len(self.params))}
        if len(steps) != 1:
            raise ValueError(f"optimiser state has parameters at different steps: {sorted(steps)}")
        self.steps = int(steps.pop())
        for i, (p, a, b) in enumerate(zip(self.params, self.offsets, self.offsets[1:])):
            for name, flat in (("exp_avg", self.exp_avg), ("exp_avg_sq", self.exp_avg_sq)):
                value = moments[i][name]
                if tuple(value.shape) != tuple(p.shape):
                    raise ValueError(
                        f"optimiser state {name}[{i}] has shape {tuple(value.shape)}, expected {tuple(p.shape)}"
                    )
                flat[a:b] = value.detach().numpy().reshape(-1)
