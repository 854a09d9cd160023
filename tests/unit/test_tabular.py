"""Exact tabular CMDP machinery (ctrpo_core.tabular): values, occupancies, Fisher matrices, gradients, LP, D_C."""

from __future__ import annotations

import numpy as np
import pytest

from ctrpo_core.tabular.cmdp import constrained_optimum, grid_hazard_cmdp, toy_cmdp
from ctrpo_core.tabular.divergence import barrier_bregman, conditional_kl, constrained_divergence
from ctrpo_core.tabular.fisher import cnpg_direction, cnpg_metric, fisher_pinv, kakade_fisher, lagrangian_direction
from ctrpo_core.tabular.flows import normalised_flow
from ctrpo_core.tabular.policy import softmax_policy, toy_policy, toy_theta, toy_xy
from ctrpo_core.tabular.starts import safe_starts
from ctrpo_core.tabular.values import evaluate, evaluate_theta

TOY = toy_cmdp()
GRID = grid_hazard_cmdp()

# Hand computation, normalised values v = (1 − γ) Σ_t γ^t (per-step) with γ = 0.9, μ = (0.8, 0.2):
# (x, y) = (1, 1): s1 stays (r 1, c 0.1), s2 stays (r 2, c 1):
#     V_r = 0.8·1 + 0.2·2 = 1.2,   V_c = 0.8·0.1 + 0.2·1 = 0.28
# (0, 1): s1 → s2 (r 0, c 0) then s2 forever: v(s2) = 2 | 1, v(s1) = 0.9·v(s2) = 1.8 | 0.9:
#     V_r = 0.8·1.8 + 0.2·2 = 1.84,   V_c = 0.8·0.9 + 0.2·1 = 0.92
# (1, 0): s1 stays (1 | 0.1); s2 → s1 (r 0, c 0.01): v(s2) = 0.1·0 + 0.9·1 = 0.9 | 0.1·0.01 + 0.9·0.1 = 0.091:
#     V_r = 0.8 + 0.2·0.9 = 0.98,   V_c = 0.08 + 0.2·0.091 = 0.0982
# (0, 0): s1 → s2 (0, 0), s2 → s1 (0, 0.01): v_c(s1) = 0.9 v_c(s2), v_c(s2) = 0.001 + 0.9 v_c(s1)
#     ⇒ v_c(s1) = 0.0009/0.19, v_c(s2) = 0.001/0.19:  V_r = 0,   V_c = (0.8·0.0009 + 0.2·0.001)/0.19 = 0.00092/0.19
HAND = {(1, 1): (1.2, 0.28), (0, 1): (1.84, 0.92), (1, 0): (0.98, 0.0982), (0, 0): (0.0, 0.00092 / 0.19)}


def test_toy_deterministic_policies_match_hand_computation():
    corners = list(HAND)
    ev = evaluate(TOY, toy_policy([c[0] for c in corners], [c[1] for c in corners]))
    for i, corner in enumerate(corners):
        assert ev.V_r[i] == pytest.approx(HAND[corner][0], abs=1e-12), corner
        assert ev.V_c[i] == pytest.approx(HAND[corner][1], abs=1e-12), corner


def test_toy_value_range_and_stochastic_policy():
    x = np.linspace(0, 1, 101)
    X, Y = np.meshgrid(x, x)
    ev = evaluate(TOY, toy_policy(X, Y).reshape(-1, 2, 2))
    assert ev.V_r.min() == pytest.approx(0.0, abs=1e-12) and ev.V_r.max() == pytest.approx(1.84, abs=1e-12)
    assert ev.V_c.min() == pytest.approx(0.0048421, abs=1e-6) and ev.V_c.max() == pytest.approx(0.92, abs=1e-12)
    # a stochastic policy against the direct series Σ_t γ^t μᵀ P_π^t r_π
    pi = toy_policy(0.3, 0.6)
    P_pi = np.einsum("sa,sat->st", pi, TOY.P)
    r_pi = (pi * TOY.r).sum(1)
    dist, total = TOY.mu.copy(), 0.0
    for _ in range(2000):
        total += dist @ r_pi
        dist = TOY.gamma * dist @ P_pi
    assert evaluate(TOY, pi).V_r[0] == pytest.approx((1 - TOY.gamma) * total, abs=1e-12)


@pytest.mark.parametrize("cmdp", [TOY, GRID], ids=["toy", "GridHazard"])
def test_occupancies_sum_to_one_and_give_the_values(cmdp):
    theta = np.random.default_rng(1).normal(size=(7, cmdp.n_states, cmdp.n_actions))
    ev = evaluate_theta(cmdp, theta)
    np.testing.assert_allclose(ev.d.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(ev.eta.sum((1, 2)), 1.0, atol=1e-12)
    assert np.all(ev.eta >= 0)
    np.testing.assert_allclose((ev.eta * cmdp.r).sum((1, 2)), ev.V_r, atol=1e-12)  # V = Σ η r
    np.testing.assert_allclose((ev.eta * cmdp.c).sum((1, 2)), ev.V_c, atol=1e-12)
    # flow constraint of the LP: Σ_a η(s', a) = (1 − γ) μ(s') + γ Σ_{s,a} P(s'|s,a) η(s, a)
    np.testing.assert_allclose(
        ev.d, (1 - cmdp.gamma) * cmdp.mu + cmdp.gamma * np.einsum("nsa,sat->nt", ev.eta, cmdp.P), atol=1e-12
    )


def test_batch_evaluation_matches_one_at_a_time():
    theta = np.random.default_rng(2).normal(size=(5, GRID.n_states, GRID.n_actions))
    ev = evaluate_theta(GRID, theta)
    for n in range(5):
        one = evaluate_theta(GRID, theta[n])
        assert one.V_r[0] == pytest.approx(ev.V_r[n], abs=1e-14) and one.V_c[0] == pytest.approx(ev.V_c[n], abs=1e-14)


@pytest.mark.parametrize("cmdp", [TOY, GRID], ids=["toy", "GridHazard"])
def test_policy_gradients_match_central_finite_differences(cmdp):
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(2, cmdp.n_states, cmdp.n_actions))
    ev = evaluate_theta(cmdp, theta)
    eps = 1e-6
    num_r, num_c = np.zeros_like(theta), np.zeros_like(theta)
    for s in range(cmdp.n_states):
        for a in range(cmdp.n_actions):
            e = np.zeros_like(theta)
            e[:, s, a] = eps
            up, down = evaluate_theta(cmdp, theta + e), evaluate_theta(cmdp, theta - e)
            num_r[:, s, a] = (up.V_r - down.V_r) / (2 * eps)
            num_c[:, s, a] = (up.V_c - down.V_c) / (2 * eps)
    for analytic, numeric in [(ev.grad_r, num_r), (ev.grad_c, num_c)]:
        scale = np.abs(numeric).max()
        assert scale > 0
        np.testing.assert_allclose(analytic, numeric, atol=1e-7 * max(scale, 1.0))


@pytest.mark.parametrize("cmdp", [TOY, GRID], ids=["toy", "GridHazard"])
def test_kakade_fisher_is_the_literal_sum_symmetric_psd_with_the_softmax_null_space(cmdp):
    rng = np.random.default_rng(4)
    theta = rng.normal(size=(2, cmdp.n_states, cmdp.n_actions))
    ev = evaluate_theta(cmdp, theta)
    G = kakade_fisher(ev)
    S, A = cmdp.n_states, cmdp.n_actions
    for n in range(2):
        literal = np.zeros((S * A, S * A))
        for s in range(S):
            for a in range(A):
                score = np.zeros((S, A))
                score[s] = -ev.pi[n, s]
                score[s, a] += 1.0  # ∇_θ log π(a|s) = e_(s,a) − Σ_b π(b|s) e_(s,b)
                literal += ev.eta[n, s, a] * np.outer(score.ravel(), score.ravel())
        np.testing.assert_allclose(G[n], literal, atol=1e-14)
        np.testing.assert_allclose(G[n], G[n].T, atol=0)
        eig = np.linalg.eigvalsh(G[n])
        assert eig.min() > -1e-14
        assert np.sum(eig < 1e-13 * eig.max()) == S  # one null direction per state: θ[s] + const
    ones = np.kron(np.eye(S), np.ones(A))  # (S, S·A)
    assert np.abs(G @ ones.T).max() < 1e-14


def test_closed_form_pseudo_inverses_match_numpy_pinv():
    rng = np.random.default_rng(5)
    for cmdp in (TOY, GRID):
        theta = rng.normal(size=(3, cmdp.n_states, cmdp.n_actions))
        ev = evaluate_theta(cmdp, theta)
        G = kakade_fisher(ev)
        x = rng.normal(size=theta.shape)
        mask_cost = ev.V_c + 0.05  # a b above V_c, so that the barrier is defined
        for n in range(3):
            G_pinv = np.linalg.pinv(G[n], rcond=1e-12, hermitian=True)
            np.testing.assert_allclose(fisher_pinv(ev, x)[n].ravel(), G_pinv @ x[n].ravel(), rtol=1e-7, atol=1e-9)
            np.testing.assert_allclose(
                cnpg_direction(ev, 0.0, 1.0)[n].ravel(), G_pinv @ ev.grad_r[n].ravel(), rtol=1e-7, atol=1e-9
            )
            np.testing.assert_allclose(
                lagrangian_direction(ev, 0.7)[n].ravel(),
                G_pinv @ (ev.grad_r[n] - 0.7 * ev.grad_c[n]).ravel(),
                rtol=1e-7,
                atol=1e-9,
            )
            for beta in (1e-2, 1.0):
                b = mask_cost[n]
                G_C = cnpg_metric(ev, beta, b)[n]
                sub = evaluate_theta(cmdp, theta[n])
                np.testing.assert_allclose(
                    cnpg_direction(sub, beta, b)[0].ravel(),
                    np.linalg.pinv(G_C, rcond=1e-12, hermitian=True) @ ev.grad_r[n].ravel(),
                    rtol=1e-6,
                    atol=1e-9,
                )


def test_lp_optimum_of_the_toy():
    sol = constrained_optimum(TOY)
    assert sol.reward == pytest.approx(1.103, abs=5e-4)
    assert sol.cost == pytest.approx(TOY.b, abs=1e-9)  # the constraint binds
    x, y = toy_xy(sol.policy())
    assert x == pytest.approx(1.0, abs=1e-9) and y == pytest.approx(0.927, abs=1e-3)
    ev = evaluate(TOY, sol.policy())  # the LP's policy, evaluated exactly, gives the LP's values
    assert ev.V_r[0] == pytest.approx(sol.reward, abs=1e-9) and ev.V_c[0] == pytest.approx(sol.cost, abs=1e-9)
    unconstrained = constrained_optimum(toy_cmdp(b=1.0))
    assert unconstrained.reward == pytest.approx(1.84, abs=1e-9) and unconstrained.cost == pytest.approx(0.92, abs=1e-9)


def test_lp_optimum_of_grid_hazard_binds_between_least_cost_and_unconstrained():
    sol = constrained_optimum(GRID)
    free = constrained_optimum(grid_hazard_cmdp(b=1.0))
    assert sol.cost == pytest.approx(GRID.b, rel=1e-6) and free.cost > GRID.b
    assert sol.reward < free.reward
    ev = evaluate(GRID, sol.policy())
    assert ev.V_r[0] == pytest.approx(sol.reward, rel=1e-6) and ev.V_c[0] == pytest.approx(sol.cost, rel=1e-6)


def test_safe_starts_are_strictly_safe():
    for cmdp, n in ((TOY, 10), (GRID, 4)):
        theta = safe_starts(cmdp, n, seed=7)
        assert theta.shape == (n, cmdp.n_states, cmdp.n_actions)
        assert np.all(evaluate_theta(cmdp, theta).V_c < cmdp.b / 2)
    x, y = toy_xy(softmax_policy(toy_theta(0.3, 0.8)))
    assert (x, y) == (pytest.approx(0.3), pytest.approx(0.8))


def test_constrained_divergence_zero_at_base_infinite_beyond_and_bregman_formula():
    pi_k = toy_policy(0.5, 0.3)
    assert constrained_divergence(TOY, pi_k[None], pi_k, 1.0)[0] == pytest.approx(0.0, abs=1e-15)
    assert np.isinf(constrained_divergence(TOY, toy_policy(0.0, 1.0)[None], pi_k, 1.0)[0])  # V_c = 0.92 > b
    assert np.isinf(constrained_divergence(TOY, toy_policy(0.0, 1.0)[None], pi_k, 0.0)[0])
    # the barrier term is the Bregman divergence of φ(x) = x log x: x log(x/x_k) − x + x_k
    assert barrier_bregman(0.15, 0.1, 0.2) == pytest.approx(0.05 * np.log(0.05 / 0.1) - 0.05 + 0.1)
    assert barrier_bregman(0.2, 0.1, 0.2) == np.inf
    pi = toy_policy(0.4, 0.2)
    ev = evaluate(TOY, pi)
    kl = (ev.d[0] * (pi * np.log(pi / pi_k)).sum(1)).sum()
    assert conditional_kl(TOY, pi[None], pi_k)[0] == pytest.approx(kl, rel=1e-12)


def test_cnpg_metric_is_the_hessian_of_the_constrained_divergence():
    """G_C(θ_k) = ∇²_θ D_C(π_θ‖π_k) at θ = θ_k (finite differences): the metric is the divergence's own Hessian."""
    theta_k = toy_theta(0.6, 0.25)
    pi_k = softmax_policy(theta_k)
    beta = 1.5
    D = lambda th: constrained_divergence(TOY, softmax_policy(th.reshape(1, 2, 2)), pi_k, beta)[0]
    h = 1e-4
    flat = theta_k.ravel()
    H = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            ei, ej = np.eye(4)[i] * h, np.eye(4)[j] * h
            H[i, j] = (D(flat + ei + ej) - D(flat + ei - ej) - D(flat - ei + ej) + D(flat - ei - ej)) / (4 * h * h)
    G_C = cnpg_metric(evaluate_theta(TOY, theta_k), beta, TOY.b)[0]
    np.testing.assert_allclose(H, G_C, atol=2e-6)


def test_normalised_flow_records_overshoot_and_stops_where_asked():
    theta0 = safe_starts(TOY, 4, seed=0)
    traj = normalised_flow(TOY, theta0, [0.0, 1e-4], n_steps=3000, record_every=100)
    assert traj.theta.shape == (2, 4, 31, 2, 2) and traj.t[-1] == pytest.approx(30.0)
    # NPG goes on across the boundary; C-NPG with tiny β overshoots by a fixed step and is stopped there
    assert np.all(traj.crossed[0]) and not np.any(traj.stopped[0]) and np.all(traj.n_valid[0] == 31)
    assert np.all(traj.stopped[1]) and np.all(traj.n_valid[1] < 31)
    assert 0 < traj.overshoot[1].max() < 0.01
    last = traj.n_valid[1] - 1
    V_c_stop = np.take_along_axis(traj.V_c[1], last[:, None], 1)[:, 0]
    np.testing.assert_allclose(V_c_stop, traj.max_V_c[1])  # the stopping point is the first point beyond b
    stopping = normalised_flow(TOY, theta0, [0.0], n_steps=3000, record_every=100, stop_outside=True)
    assert np.all(stopping.stopped) and stopping.overshoot.max() < 0.01
    with pytest.raises(ValueError, match="betas"):
        normalised_flow(TOY, theta0, [-1.0])


def test_geometry_titles_say_what_crossed_b_counts_and_every_text_is_14_px_or_more():
    from ctrpo_core.tabular import figures

    space = figures.policy_space_figure(betas=[1.0], n_starts=4, seed=0, n_steps=3000)
    meta = space.layout.meta
    titles = [a.text for a in space.layout.annotations]
    assert [f"crossed b: {c} of 4" in t for t, c in zip(titles, meta["crossed"])] == [True, True]
    note = figures.crossing_note(meta)
    for beta, crossed in zip(meta["betas"], meta["crossed"]):  # every flow, in words, next to its count
        label = figures._beta_label(beta)
        assert (
            f"{label}: {crossed} of 4 paths from safe starts crossed the limit b" in note
            if crossed
            else f"{label}: none of the 4 paths from safe starts crossed the limit b" in note
        )
    if meta["crossed"][1]:  # C-NPG's crossing is a fixed step's, said as such
        assert "fixed step" in note
    values = figures.value_curves_figure(betas=[1.0], n_starts=2, seed=0, t_end=3.0, lagrangian_lr=None)
    for fig in (space, figures.trust_region_figure(grid=40, area_grid=40), values):
        layout = fig.layout
        assert layout.font.size >= 14 and layout.legend.font.size >= 14
        axes = [layout[k] for k in layout if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(a.tickfont.size >= 14 and a.title.font.size >= 14 for a in axes)
        assert all((a.font.size or 16) >= 14 for a in layout.annotations)
        assert not layout.title.subtitle.text or layout.title.subtitle.font.size >= 14
    assert space.layout.coloraxis.colorbar.tickfont.size >= 14
