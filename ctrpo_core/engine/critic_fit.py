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

from .flat_adam import FlatAdam
from .policies import Critics


class CriticFit(FlatAdam):
    """Minibatch Adam for a :class:`Critics` (two MLPs, tanh hidden layers, one output each)."""

    def __init__(self, critics: Critics, lr: float, l2: float, grad_clip: float):
        super().__init__(critics.parameters(), lr)  # W_1..W_L then b_1..b_L, torch's order
        self.l2, self.grad_clip = float(l2), float(grad_clip)
        depth = len(self.params) // 2
        self.weights, self.biases = self.views(self.theta)[:depth], self.views(self.theta)[depth:]
        self.grad_weights, self.grad_biases = self.views(self.grad)[:depth], self.views(self.grad)[depth:]

    # ------------------------------------------------------------------ the fit
    @staticmethod
    def draw_minibatches(n: int, passes: int, minibatch: int) -> list[np.ndarray]:
        """The minibatches' indices of ``passes`` shuffled passes over n samples, from ``torch.randperm``
        (the global generator, as always): drawn apart from the fit, so that the fit may run on another
        thread while the generator's order stays rollout → critics."""
        return [idx.numpy() for _ in range(passes) for idx in torch.randperm(n).split(minibatch)]

    def fit(self, obs: torch.Tensor, targets: torch.Tensor, minibatches: list[np.ndarray]) -> tuple[float, float]:
        """One Adam step per minibatch of (obs, targets (2, N)). Returns the mean MSE of V_r and V_c."""
        self.pull()
        obs_np = obs.numpy()
        targets_np = targets.numpy()
        losses = np.zeros(2, dtype=np.float64)
        for idx in minibatches:
            losses += self.fit_step(obs_np[idx], targets_np[:, idx])
        self.push()
        mean = losses / max(len(minibatches), 1)
        return float(mean[0]), float(mean[1])

    def fit_step(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """One minibatch: loss, gradient, joint clip, Adam. Returns the two MSEs (float32)."""
        mse = self.gradient(x, targets)
        norm = math.sqrt(float(np.dot(self.grad, self.grad)))
        clip = min(1.0, self.grad_clip / (norm + 1e-6))  # torch.nn.utils.clip_grad_norm_
        if clip < 1.0:
            self.grad *= np.float32(clip)
        self.step()
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
