"""The critics' regression, written out: forward, backward, gradient clip and Adam in numpy.

The loss is the paper's (the authors' code): for each minibatch, MSE of V_r plus MSE of V_c plus
critic_l2·Σ‖w‖² over both critics' parameters, the gradient norm of both critics clipped jointly, one
Adam step. Written with autograd and ``torch.optim.Adam`` it costs about 1 ms per minibatch, almost all
of it per-operation overhead on tensors of 128 rows (1,570 minibatches an epoch at the paper's
settings); here the same step is about 25 numpy operations on preallocated buffers.

Why not torch: a torch operation costs ~5–10 µs before it computes anything and tanh is several times
slower than numpy's on this machine kind; ``torch.optim`` also imports ``torch._dynamo`` (about 1.5 s
in every training process). The float32 arithmetic is the same, the rounding of a few sums differs in
the last bits (tests/unit/test_critic_fit.py compares one step with autograd and torch's Adam).

The Adam state reads and writes ``torch.optim.Adam``'s ``state_dict`` format, so checkpoints written
before this module existed resume, and these checkpoints load into torch's Adam.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .policies import Critics

BETAS = (0.9, 0.999)
EPS = 1e-8


class CriticFit:
    """Minibatch Adam for a :class:`Critics` (two MLPs, tanh hidden layers, one output each)."""

    def __init__(self, critics: Critics, lr: float, l2: float, grad_clip: float):
        self.lr, self.l2, self.grad_clip = float(lr), float(l2), float(grad_clip)
        self.params = list(critics.parameters())  # W_1..W_L then b_1..b_L, torch's order
        sizes = [p.numel() for p in self.params]
        self.offsets = np.cumsum([0, *sizes])
        self.theta = np.zeros(self.offsets[-1], dtype=np.float32)
        self.grad = np.zeros_like(self.theta)
        self.exp_avg = np.zeros_like(self.theta)
        self.exp_avg_sq = np.zeros_like(self.theta)
        self.scratch = np.zeros_like(self.theta)
        self.steps = 0
        depth = len(self.params) // 2
        views = lambda flat: [flat[a:b].reshape(p.shape) for a, b, p in zip(self.offsets, self.offsets[1:], self.params)]
        self.weights, self.biases = views(self.theta)[:depth], views(self.theta)[depth:]
        self.grad_weights, self.grad_biases = views(self.grad)[:depth], views(self.grad)[depth:]

    # ------------------------------------------------------------------ the fit
    @staticmethod
    def draw_minibatches(n: int, passes: int, minibatch: int) -> list[np.ndarray]:
        """The minibatches' indices of ``passes`` shuffled passes over n samples, from ``torch.randperm``
        (the global generator, as always): drawn apart from the fit, so that the fit may run on another
        thread while the generator's order stays rollout → critics."""
        return [idx.numpy() for _ in range(passes) for idx in torch.randperm(n).split(minibatch)]

    def fit(self, obs: torch.Tensor, targets: torch.Tensor, minibatches: list[np.ndarray]) -> tuple[float, float]:
        """One Adam step per minibatch of (obs, targets (2, N)). Returns the mean MSE of V_r and V_c."""
        self._pull()
        obs_np = obs.numpy()
        targets_np = targets.numpy()
        losses = np.zeros(2, dtype=np.float64)
        for idx in minibatches:
            losses += self.step(obs_np[idx], targets_np[:, idx])
        self._push()
        mean = losses / max(len(minibatches), 1)
        return float(mean[0]), float(mean[1])

    def step(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """One minibatch: loss, gradient, joint clip, Adam. Returns the two MSEs (float32)."""
        mse = self.gradient(x, targets)
        norm = math.sqrt(float(np.dot(self.grad, self.grad)))
        clip = min(1.0, self.grad_clip / (norm + 1e-6))  # torch.nn.utils.clip_grad_norm_
        if clip < 1.0:
            self.grad *= np.float32(clip)
        self._adam()
        return mse

    def gradient(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The loss's gradient at the current parameters into ``self.grad``: backpropagation through the
        tanh layers of both critics at once. Returns the two MSEs."""
        W, b, gW, gb = self.weights, self.biases, self.grad_weights, self.grad_biases
        hidden = [x]  # activations: x, h_1, ..., h_{L-1}
        for i in range(len(W) - 1):
            hidden.append(np.tanh(np.matmul(hidden[-1], W[i]) + b[i]))
        values = (np.matmul(hidden[-1], W[-1]) + b[-1])[..., 0]  # (2, B)
        error = values - targets
        mse = np.mean(error * error, axis=1)
        delta = (error * np.float32(2.0 / error.shape[1]))[..., None]  # ∂(MSE_r + MSE_c)/∂values
        for i in range(len(W) - 1, -1, -1):
            inputs = hidden[i]
            if inputs.ndim == 2:  # the observations, shared by both critics
                np.matmul(inputs.T, delta, out=gW[i])
            else:
                np.matmul(inputs.transpose(0, 2, 1), delta, out=gW[i])
            np.sum(delta, axis=1, keepdims=True, out=gb[i])
            if i:
                delta = np.matmul(delta, W[i].transpose(0, 2, 1)) * (1.0 - inputs * inputs)  # tanh' = 1 − h²
        self.grad += (2.0 * self.l2) * self.theta  # ∂ l2·Σ‖w‖²
        return mse

    def _adam(self) -> None:
        """torch.optim.Adam's update (no weight decay, no amsgrad) on the flat parameters."""
        beta1, beta2 = BETAS
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
        tmp *= np.float32(self.lr / bias1)
        self.theta -= tmp

    # ------------------------------------------------------------------ parameters and state
    def _pull(self) -> None:
        for p, a, b in zip(self.params, self.offsets, self.offsets[1:]):
            self.theta[a:b] = p.detach().numpy().reshape(-1)

    def _push(self) -> None:
        with torch.no_grad():
            for p, a, b in zip(self.params, self.offsets, self.offsets[1:]):
                p.copy_(torch.from_numpy(self.theta[a:b].reshape(p.shape)))

    def state_dict(self) -> dict:
        """The state in ``torch.optim.Adam.state_dict()``'s format (empty before the first step)."""
        state = {}
        if self.steps:
            for i, (p, a, b) in enumerate(zip(self.params, self.offsets, self.offsets[1:])):
                state[i] = {"step": torch.tensor(float(self.steps)),
                            "exp_avg": torch.from_numpy(self.exp_avg[a:b].reshape(p.shape).copy()),
                            "exp_avg_sq": torch.from_numpy(self.exp_avg_sq[a:b].reshape(p.shape).copy())}
        group = {"lr": self.lr, "betas": BETAS, "eps": EPS, "weight_decay": 0, "amsgrad": False,
                 "maximize": False, "foreach": True, "capturable": False, "differentiable": False,
                 "fused": None, "decoupled_weight_decay": False, "params": list(range(len(self.params)))}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state: dict) -> None:
        moments = state["state"]
        if not moments:
            self.steps = 0
            self.exp_avg[:] = 0.0
            self.exp_avg_sq[:] = 0.0
            return
        if len(moments) != len(self.params):
            raise ValueError(f"critic optimiser state has {len(moments)} parameters, expected {len(self.params)}")
        steps = {float(moments[i]["step"]) for i in range(len(self.params))}
        if len(steps) != 1:
            raise ValueError(f"critic optimiser state has parameters at different steps: {sorted(steps)}")
        self.steps = int(steps.pop())
        for i, (p, a, b) in enumerate(zip(self.params, self.offsets, self.offsets[1:])):
            for name, flat in (("exp_avg", self.exp_avg), ("exp_avg_sq", self.exp_avg_sq)):
                value = moments[i][name]
                if tuple(value.shape) != tuple(p.shape):
                    raise ValueError(f"critic optimiser state {name}[{i}] has shape {tuple(value.shape)}, "
                                     f"expected {tuple(p.shape)}")
                flat[a:b] = value.detach().numpy().reshape(-1)
