"""GAE(γ, λ) against numbers worked out by hand, and the batch built from it."""

from __future__ import annotations

import numpy as np
import pytest

from ctrpo_core.engine.rollout import RolloutBuffer, gae

GAMMA, LAM = 0.9, 0.8  # γλ = 0.72


def example():
    """T = 4, 2 envs.

    env 0: terminates at t = 1 (next value 0, chain cut), then runs on past the last step
    env 1: truncated at t = 2 (bootstrap from final_values[2, 1] = 5, chain cut), then runs on
    """
    rewards = np.array([[1.0, 0.0], [2.0, 1.0], [0.0, 1.0], [1.0, 2.0]])
    values = np.array([[0.5, 0.1], [1.0, 0.2], [0.2, 0.3], [0.3, 0.4]])
    terminated = np.zeros((4, 2), dtype=bool)
    truncated = np.zeros((4, 2), dtype=bool)
    terminated[1, 0] = True
    truncated[2, 1] = True
    final_values = np.zeros((4, 2))
    final_values[2, 1] = 5.0
    final_values[0, 1] = 100.0  # garbage where nothing was truncated: must be ignored
    final_values[1, 0] = 100.0  # garbage at a termination: must be ignored (terminal value is 0)
    last_values = np.array([0.4, 1.0])
    return rewards, values, terminated, truncated, final_values, last_values


def test_gae_hand_computed():
    adv = gae(*example(), GAMMA, LAM)
    # env 0 (δ_t = r_t + γ·V_next − V_t, A_t = δ_t + γλ·A_{t+1} unless the episode ended at t)
    #   t=3: δ = 1 + 0.9·0.4 − 0.3 = 1.06                 A = 1.06
    #   t=2: δ = 0 + 0.9·0.3 − 0.2 = 0.07                 A = 0.07 + 0.72·1.06 = 0.8332
    #   t=1: terminated: δ = 2 + 0.9·0 − 1.0 = 1.0        A = 1.0 (chain cut)
    #   t=0: δ = 1 + 0.9·1.0 − 0.5 = 1.4                  A = 1.4 + 0.72·1.0 = 2.12
    # env 1
    #   t=3: δ = 2 + 0.9·1.0 − 0.4 = 2.5                  A = 2.5
    #   t=2: truncated: δ = 1 + 0.9·5.0 − 0.3 = 5.2       A = 5.2 (chain cut; V[3] = 0.4 unused)
    #   t=1: δ = 1 + 0.9·0.3 − 0.2 = 1.07                 A = 1.07 + 0.72·5.2 = 4.814
    #   t=0: δ = 0 + 0.9·0.2 − 0.1 = 0.08                 A = 0.08 + 0.72·4.814 = 3.54608
    expected = np.array([[2.12, 3.54608], [1.0, 4.814], [0.8332, 5.2], [1.06, 2.5]])
    np.testing.assert_allclose(adv, expected, rtol=1e-12, atol=1e-12)
    assert adv.dtype == np.float64 and adv.shape == (4, 2)


def test_gae_terminated_and_truncated_together_counts_as_terminated():
    rewards, values, terminated, truncated, final_values, last_values = example()
    truncated[1, 0] = True  # env 0 at t = 1: both flags; terminal value 0 wins over final_values = 100
    adv = gae(rewards, values, terminated, truncated, final_values, last_values, GAMMA, LAM)
    assert adv[1, 0] == pytest.approx(1.0)
    assert adv[0, 0] == pytest.approx(2.12)


def test_gae_end_at_last_step_ignores_last_values():
    rewards, values, terminated, truncated, final_values, last_values = example()
    terminated[3, 0] = True  # env 0 terminates at the last step: last_values[0] = 0.4 is not used
    truncated[3, 1] = True  # env 1 truncated at the last step: bootstrap from final_values, not last_values
    final_values[3, 1] = -2.0
    adv = gae(rewards, values, terminated, truncated, final_values, last_values, GAMMA, LAM)
    # env 0: t=3: δ = 1 − 0.3 = 0.7; t=2: δ = 0.07, A = 0.07 + 0.72·0.7 = 0.574
    # env 1: t=3: δ = 2 + 0.9·(−2) − 0.4 = −0.2; t=2 truncated → 5.2 as before
    assert adv[3, 0] == pytest.approx(0.7)
    assert adv[2, 0] == pytest.approx(0.574)
    assert adv[3, 1] == pytest.approx(-0.2)
    assert adv[2, 1] == pytest.approx(5.2)
    assert adv[1, 1] == pytest.approx(4.814)


def test_gae_lambda_limits():
    """λ = 0: one-step TD errors. λ = 1 without ends: discounted return (bootstrapped) − V."""
    r = np.array([[1.0], [0.0], [2.0]])
    v = np.array([[0.5], [0.25], [1.0]])
    no = np.zeros((3, 1), dtype=bool)
    last = np.array([4.0])
    td = gae(r, v, no, no, np.zeros((3, 1)), last, 0.5, 0.0)
    # δ2 = 2 + 0.5·4 − 1 = 3; δ1 = 0 + 0.5·1 − 0.25 = 0.25; δ0 = 1 + 0.5·0.25 − 0.5 = 0.625
    np.testing.assert_allclose(td[:, 0], [0.625, 0.25, 3.0])
    mc = gae(r, v, no, no, np.zeros((3, 1)), last, 0.5, 1.0)
    # G2 = 2 + 0.5·4 = 4; G1 = 0 + 0.5·4 = 2; G0 = 1 + 0.5·2 = 2 → A = G − V
    np.testing.assert_allclose(mc[:, 0], [2.0 - 0.5, 2.0 - 0.25, 4.0 - 1.0])


def test_to_batch_targets_and_normalisation():
    rewards, values, terminated, truncated, final_values, last_values = example()
    buf = RolloutBuffer(4, 2, obs_dim=3, act_shape=())
    buf.rewards[:] = rewards
    buf.values_r[:] = values
    buf.final_values_r[:] = final_values
    buf.costs[:] = rewards * 0.5  # cost GAE is linear in (c, V_c): with V_c = values/2 it is adv/2
    buf.values_c[:] = values * 0.5
    buf.final_values_c[:] = final_values * 0.5
    buf.terminated[:] = terminated
    buf.truncated[:] = truncated
    batch = buf.to_batch(last_values, last_values * 0.5, GAMMA, LAM, cost_estimate=3.0, cost_limit=5.0)
    raw = np.array([[2.12, 3.54608], [1.0, 4.814], [0.8332, 5.2], [1.06, 2.5]])
    flat = raw.reshape(-1)  # (time, env) flattened time-major
    np.testing.assert_allclose(batch.target_r.numpy(), flat + values.reshape(-1), rtol=1e-6)
    np.testing.assert_allclose(batch.target_c.numpy(), 0.5 * (flat + values.reshape(-1)), rtol=1e-6)
    np.testing.assert_allclose(batch.adv_r.numpy(), (flat - flat.mean()) / flat.std(ddof=0), rtol=1e-5)
    np.testing.assert_allclose(batch.adv_c.numpy(), 0.5 * (flat - flat.mean()), rtol=1e-5, atol=1e-6)
    assert batch.budget == pytest.approx(2.0)
    assert len(batch) == 8
