"""Strictly safe random starting policies for the C-NPG flows: a flow that starts safe must stay safe, so
the pictures and the invariance checks start from policies with V_c < b − margin."""

from __future__ import annotations

import numpy as np

from .lp import constrained_optimum_discounted
from .policy import softmax_policy, theta_from_policy, toy_theta
from .values import evaluate


def safe_starts(
    cmdp, n: int, seed: int, margin: float | None = None, scale: float = 1.0, max_tries: int = 100_000
) -> np.ndarray:
    """n random θ (n, S, A) with V_c(π_θ) < b − margin (default margin b/2: 0.1 on the toy), by rejection.

    The toy (``cmdp.name == "toy"``) samples (x, y) uniformly in [0.02, 0.98]². Other CMDPs (where a random θ is
    rarely safe)
    sample θ = log(0.7 π_min + 0.3 uniform) + N(0, scale²), π_min the least-cost policy (an LP).
    """
    margin = cmdp.b / 2 if margin is None else margin
    if cmdp.name != "toy":
        least_cost = constrained_optimum_discounted(
            cmdp.P, -cmdp.c, cmdp.c, cmdp.mu, cmdp.gamma, float(cmdp.c.max()) + 1.0
        ).policy()
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
