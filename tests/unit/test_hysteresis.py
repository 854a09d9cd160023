"""The C-TRPO mode switch with hysteresis (the paper's recovery rule):
normal if (was normal and Ĵ_c < b) or (was recovery and Ĵ_c < b_H·b), else recovery."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ctrpo_core.algos import make_algorithm
from ctrpo_core.algos.c_trpo import NORMAL, RECOVERY, next_mode
from ctrpo_core.config import resolve
from ctrpo_core.engine import trust_region as tr
from ctrpo_core.engine.rollout import Batch
from ctrpo_core.envs import make_vec_env

N, R = NORMAL, RECOVERY

CASES = [
    # (mode, Ĵ_c, b, b_H, expected)
    (N, 0.0, 25.0, 0.8, N),
    (N, 19.9, 25.0, 0.8, N),
    (N, 20.0, 25.0, 0.8, N),  # in the band [b_H·b, b): normal stays normal
    (N, 24.999, 25.0, 0.8, N),
    (N, 25.0, 25.0, 0.8, R),  # Ĵ_c == b is not safe (strict <)
    (N, 25.001, 25.0, 0.8, R),
    (N, 100.0, 25.0, 0.8, R),
    (R, 100.0, 25.0, 0.8, R),
    (R, 25.0, 25.0, 0.8, R),
    (R, 24.999, 25.0, 0.8, R),  # below b but above b_H·b: recovery stays recovery
    (R, 22.0, 25.0, 0.8, R),
    (R, 20.0, 25.0, 0.8, R),  # Ĵ_c == b_H·b exactly (0.8·25 == 20.0 in floats): still recovery
    (R, 19.999, 25.0, 0.8, N),
    (R, 0.0, 25.0, 0.8, N),
    (R, 10.0, 20.0, 0.5, R),  # Ĵ_c == b_H·b with exact b_H·b = 10
    (R, 9.99, 20.0, 0.5, N),
    (N, 19.99, 20.0, 0.5, N),
    # b_H = 1: no hysteresis, both modes switch at b
    (R, 24.999, 25.0, 1.0, N),
    (R, 25.0, 25.0, 1.0, R),
    (N, 24.999, 25.0, 1.0, N),
    (N, 25.0, 25.0, 1.0, R),
    # small limits (the built-in GridHazard uses b = 1)
    (R, 0.79, 1.0, 0.8, N),
    (R, 0.81, 1.0, 0.8, R),
    (N, 0.99, 1.0, 0.8, N),
    (N, 1.0, 1.0, 0.8, R),
]


@pytest.mark.parametrize("mode,cost,limit,bh,expected", CASES)
def test_next_mode_table(mode, cost, limit, bh, expected):
    assert 0.8 * 25.0 == 20.0  # the boundary rows above rely on this being exact
    assert next_mode(mode, cost, limit, bh) == expected


def test_next_mode_trajectory():
    """A sequence of Ĵ_c values with b = 10, b_H = 0.8: rises past b, then must fall below 8."""
    costs = [0.0, 5.0, 9.9, 10.0, 9.5, 8.5, 8.0, 7.9, 9.0, 9.99, 10.5, 3.0]
    want = [N, N, N, R, R, R, R, N, N, N, R, N]
    mode, got = R, []  # C-TRPO starts in recovery
    for c in costs:
        mode = next_mode(mode, c, 10.0, 0.8)
        got.append(mode)
    assert got == want


def test_ctrpo_update_policy_follows_next_mode():
    """The algorithm switches with the same rule, starting in recovery, and reports it."""
    cfg = resolve("GridHazard-v0", "c-trpo", hidden=(4,), bh=0.8)
    algo = make_algorithm(cfg, make_vec_env("GridHazard-v0", 1, 0))
    assert algo.mode == RECOVERY
    gen = torch.Generator().manual_seed(0)
    n = 64
    obs = torch.zeros(n, algo.spec.obs_dim)
    obs[torch.arange(n), torch.randint(0, algo.spec.obs_dim, (n,), generator=gen)] = 1.0
    adv_c = torch.randn(n, generator=gen)
    batch = Batch(
        obs=obs,
        actions=torch.randint(0, 4, (n,), generator=gen).float(),
        adv_r=torch.randn(n, generator=gen),
        adv_c=adv_c - adv_c.mean(),
        target_r=torch.zeros(n),
        target_c=torch.zeros(n),
        cost_estimate=0.0,
        cost_limit=1.0,
    )
    theta0 = tr.flat_params(algo.policy).clone()
    mode = RECOVERY
    for cost in (0.9, 0.5, 0.95, 1.0, 0.85, 0.79):
        tr.set_flat_params(algo.policy, theta0)
        stats = algo.update_policy(dataclasses.replace(batch, cost_estimate=cost))
        mode = next_mode(mode, cost, 1.0, 0.8)
        assert algo.mode == mode
        assert stats.recovery == int(mode == RECOVERY)
        assert stats.budget == pytest.approx(1.0 - cost)
    assert algo.algo_state() == {"mode": mode}
