"""Tabular softmax policies π_θ(a|s) = exp θ[s,a] / Σ_b exp θ[s,b], batched over θ of shape (..., S, A).

Also the toy's coordinates (x, y) = (π(a1|s1), π(a1|s2)) and random strictly safe starts.
"""

from __future__ import annotations

import numpy as np


def softmax_policy(theta: np.ndarray) -> np.ndarray:
    """π_θ(a|s) for θ of shape (..., S, A)."""
    z = theta - theta.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def theta_from_policy(pi: np.ndarray) -> np.ndarray:
    """A θ with softmax(θ) = π: θ = log π, centred per state (the minimum-norm representative)."""
    logp = np.log(pi)
    return logp - logp.mean(axis=-1, keepdims=True)


def toy_policy(x, y) -> np.ndarray:
    """π of the toy at (x, y) = (π(a1|s1), π(a1|s2)); x, y broadcast to shape (...) -> π (..., 2, 2)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.stack([np.stack([x, 1 - x], -1), np.stack([y, 1 - y], -1)], -2)


def toy_xy(pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) = (π(a1|s1), π(a1|s2)) of toy policies (..., 2, 2)."""
    return pi[..., 0, 0], pi[..., 1, 0]


def toy_theta(x, y) -> np.ndarray:
    """θ (..., 2, 2) with π_θ at (x, y): θ[s] = (½ logit, −½ logit)."""
    return theta_from_policy(toy_policy(x, y))
