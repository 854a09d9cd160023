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


def safe_starts(cmdp, n: int, seed: int, margin: float | None = None, scale: float = 1.0,
                max_tries: int = 100_000) -> np.ndarray:
    """n random θ (n, S, A) with V_c(π_θ) < b − margin (default margin b/2: 0.1 on the toy), by rejection.

    The toy (``cmdp.name == "toy"``) samples (x, y) uniformly in [0.02, 0.98]². Other CMDPs (where a random θ is rarely safe)
    sample θ = log(0.7 π_min + 0.3 uniform) + N(0, scale²), π_min the least-cost policy (an LP).
    """
    from .lp import constrained_optimum_discounted
    from .values import evaluate

    margin = cmdp.b / 2 if margin is None else margin
    if cmdp.name != "toy":
        least_cost = constrained_optimum_discounted(cmdp.P, -cmdp.c, cmdp.c, cmdp.mu, cmdp.gamma,
                                                     float(cmdp.c.max()) + 1.0).policy()
        centre = theta_from_policy(0.7 * least_cost + 0.3 / cmdp.n_actions)

    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    tries = 0
    while len(found) < n:
        if tries >= max_tries:
            raise RuntimeError(f"no {n} policies with V_c < b - {margin} found in {max_tries} draws")
        batch = 256
        if cmdp.name == "toy":
            xy = rng.uniform(0.02, 0.98, size=(batch, 2))
            theta = toy_theta(xy[:, 0], xy[:, 1])
        else:
            theta = centre + rng.normal(0.0, scale, size=(batch, cmdp.n_states, cmdp.n_actions))
        tries += batch
        ok = evaluate(cmdp, softmax_policy(theta)).V_c < cmdp.b - margin
        found.extend(theta[ok])
    return np.stack(found[:n])
