"""Exact tabular policy flows and two integrators.

Flows (fisher.py has the formulas):
    NPG         θ̇ = G_K⁺ ∇V_r                                    (β = 0)
    C-NPG       θ̇ = G_C⁺ ∇V_r,  G_C = G_K + β φ''(b − V_c) ∇V_c∇V_cᵀ,  φ(x) = x log x
    Lagrangian  θ̇ = G_K⁺(∇V_r − λ∇V_c),  λ̇ = η_λ (V_c − b), λ >= 0   (primal-dual NPG, for contrast)

Integrators:
    normalised_flow  the paper's fixed steps θ += Δt·θ̇/‖θ̇‖, vectorised over all starts × β at once;
                     any step that ends with V_c > b is recorded (max_V_c, overshoot), never hidden.
    ode_flow         the exact continuous flow by an adaptive solver (scipy solve_ivp, tight tolerances):
                     invariance of the safe set is a property of this flow, so check it here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from .cmdp import CMDP
from .fisher import cnpg_direction, lagrangian_direction
from .values import evaluate_theta


@dataclass
class Trajectories:
    """Recorded trajectories for B flow parameters × N starts.

    ``params`` are the β values (kind "cnpg"; β = 0 is NPG) or the dual step sizes η_λ (kind "lagrangian").
    After a trajectory stops, its recorded points repeat the stopping state; ``n_valid`` counts the
    recorded points up to and including it. ``max_V_c`` is over every integration step, not only
    the recorded ones.
    """

    kind: str
    params: np.ndarray  # (B,)
    b: float
    t: np.ndarray  # (T,) time (normalised steps: step · Δt, the Euclidean arc length in θ)
    theta: np.ndarray  # (B, N, T, S, A)
    V_r: np.ndarray  # (B, N, T)
    V_c: np.ndarray  # (B, N, T)
    lam: np.ndarray | None  # (B, N, T) for the Lagrangian flow
    n_valid: np.ndarray  # (B, N)
    max_V_c: np.ndarray  # (B, N)
    stopped: np.ndarray  # (B, N) bool: stopped early (left the safe set with stopping on)

    @property
    def overshoot(self) -> np.ndarray:
        """max(0, max_t V_c − b) per trajectory (B, N)."""
        return np.maximum(self.max_V_c - self.b, 0.0)

    @property
    def crossed(self) -> np.ndarray:
        """V_c > b at some integration step (B, N)."""
        return self.max_V_c > self.b

    def final(self) -> tuple[np.ndarray, np.ndarray]:
        """(V_r, V_c) at the last valid point (B, N)."""
        i = (self.n_valid - 1)[..., None]
        return np.take_along_axis(self.V_r, i, -1)[..., 0], np.take_along_axis(self.V_c, i, -1)[..., 0]


def _field(cmdp: CMDP, kind: str, theta: np.ndarray, params: np.ndarray, lam: np.ndarray | None):
    """(θ̇ (M, S, A), V_r, V_c, λ̇) for a batch of M θ's."""
    ev = evaluate_theta(cmdp, theta)
    if kind == "cnpg":
        return cnpg_direction(ev, params, cmdp.b), ev.V_r, ev.V_c, None
    if kind == "lagrangian":
        dlam = params * (ev.V_c - cmdp.b)
        dlam = np.where((lam <= 0) & (dlam < 0), 0.0, dlam)  # projection onto λ >= 0
        return lagrangian_direction(ev, lam), ev.V_r, ev.V_c, dlam
    raise ValueError(f"kind: 'cnpg' or 'lagrangian', not {kind!r}")


def _check(kind: str, theta0, params):
    theta0 = np.asarray(theta0, dtype=np.float64)
    if theta0.ndim == 2:
        theta0 = theta0[None]
    params = np.atleast_1d(np.asarray(params, dtype=np.float64))
    if params.ndim != 1 or np.any(params < 0) or not np.all(np.isfinite(params)):
        raise ValueError(f"{'betas' if kind == 'cnpg' else 'lam_lrs'}: finite values >= 0 expected, got {params}")
    return theta0, params


def normalised_flow(
    cmdp: CMDP,
    theta0,
    params,
    *,
    kind: str = "cnpg",
    dt: float = 0.01,
    n_steps: int = 10_000,
    record_every: int = 20,
    stop_outside: bool = False,
    lam0: float = 0.0,
) -> Trajectories:
    """The paper's integrator: θ ← θ + Δt·θ̇/‖θ̇‖ for all params × starts at once (one numpy batch).

    ``stop_outside`` is the authors' option: freeze a trajectory at the first step with V_c > b.
    C-NPG with β > 0 is always frozen there (φ''(b − V_c) is undefined beyond the boundary), so a
    fixed-step overshoot shows up as the stopping point and in ``max_V_c``; NPG (β = 0) and the
    Lagrangian flow go on unless ``stop_outside``. The Lagrangian's λ takes plain steps
    λ ← max(0, λ + Δt·η_λ(V_c − b)).
    """
    theta0, params = _check(kind, theta0, params)
    B, N = len(params), len(theta0)
    S, A = theta0.shape[1:]
    theta = np.broadcast_to(theta0, (B, N, S, A)).reshape(B * N, S, A).copy()
    p = np.repeat(params, N)
    lam = np.full(B * N, float(lam0)) if kind == "lagrangian" else None
    always_stop = (p > 0) if kind == "cnpg" else np.zeros(B * N, bool)
    stop_rule = always_stop | bool(stop_outside)
    active = np.ones(B * N, bool)
    max_V_c = np.full(B * N, -np.inf)
    stopped_step = np.full(B * N, -1)

    rec_steps = np.unique(np.append(np.arange(0, n_steps + 1, record_every), n_steps))  # always the last step
    n_rec = len(rec_steps)
    rec_theta = np.empty((n_rec, B * N, S, A))
    rec_V = np.empty((n_rec, 2, B * N))
    rec_lam = np.empty((n_rec, B * N))
    i = 0
    for step in range(n_steps + 1):
        direction, V_r, V_c, dlam = _field(cmdp, kind, theta, p, lam)
        max_V_c = np.where(active, np.maximum(max_V_c, V_c), max_V_c)
        newly = active & stop_rule & (V_c > cmdp.b)
        stopped_step[newly] = step
        active &= ~newly
        done = step == n_steps or not active.any()
        if step == rec_steps[i] or done:  # when all have stopped, the rest of the records repeat this one
            for j in range(i, n_rec if done else i + 1):
                rec_theta[j], rec_V[j, 0], rec_V[j, 1] = theta, V_r, V_c
                rec_lam[j] = lam if lam is not None else np.nan
            i += 1
        if done:
            break
        norm = np.sqrt(np.einsum("msa,msa->m", direction, direction))
        scale = np.where(active & (norm > 0), dt / np.where(norm > 0, norm, 1.0), 0.0)
        theta += scale[:, None, None] * direction
        if lam is not None:
            lam = np.where(active, np.maximum(lam + dt * dlam, 0.0), lam)

    # a trajectory stopped at step k is frozen from k on: valid up to the first record at or after k
    stop_rec = np.where(stopped_step >= 0, np.searchsorted(rec_steps, stopped_step), n_rec - 1)
    per_traj = lambda a: np.moveaxis(a, 0, -1).reshape(B, N, n_rec)  # (T, B·N) -> (B, N, T)
    return Trajectories(
        kind=kind,
        params=params,
        b=cmdp.b,
        t=rec_steps * dt,
        theta=np.moveaxis(rec_theta, 0, 1).reshape(B, N, n_rec, S, A),
        V_r=per_traj(rec_V[:, 0]),
        V_c=per_traj(rec_V[:, 1]),
        lam=per_traj(rec_lam) if kind == "lagrangian" else None,
        n_valid=(stop_rec + 1).reshape(B, N),
        max_V_c=max_V_c.reshape(B, N),
        stopped=(stopped_step >= 0).reshape(B, N),
    )


def ode_flow(
    cmdp: CMDP,
    theta0,
    params,
    *,
    kind: str = "cnpg",
    t_end: float = 30.0,
    n_record: int = 201,
    method: str | None = None,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    lam0: float = 0.0,
    max_evals: int = 500_000,
) -> Trajectories:
    """The exact flow θ̇ = G_C⁺∇V_r (or the Lagrangian one) by scipy's solve_ivp, one start at a time.

    Recorded on an even time grid through the solver's dense output; ``max_V_c`` is taken over every
    accepted solver step as well as the grid. Nothing is stopped or clipped: a crossing would show.
    Default method: LSODA for C-NPG (stiff near the boundary when β is small: the distance to it decays
    at a rate ∝ 1/β), RK45 for the Lagrangian flow (LSODA stalls on the kink of the projection λ >= 0).
    ``max_evals`` bounds the vector-field evaluations per trajectory (RuntimeError beyond).
    """
    method = method or ("LSODA" if kind == "cnpg" else "RK45")
    theta0, params = _check(kind, theta0, params)
    B, N = len(params), len(theta0)
    S, A = theta0.shape[1:]
    t_grid = np.linspace(0.0, t_end, n_record)
    theta_out = np.empty((B, N, n_record, S, A))
    lam_out = np.empty((B, N, n_record)) if kind == "lagrangian" else None
    max_V_c = np.empty((B, N))
    n_th = S * A

    for bi, param in enumerate(params):
        p = np.array([param])
        for ni in range(N):
            n_evals = [0]

            def rhs(_t, y):
                n_evals[0] += 1
                if n_evals[0] > max_evals:
                    raise RuntimeError(
                        f"solve_ivp ({method}) needed more than {max_evals} evaluations "
                        f"({kind}, param={param}, start {ni}); loosen rtol/atol or shorten t_end"
                    )
                th = y[:n_th].reshape(1, S, A)
                lam = y[n_th:] if kind == "lagrangian" else None
                direction, _, _, dlam = _field(cmdp, kind, th, p, lam)
                out = direction.reshape(-1)
                return out if dlam is None else np.concatenate([out, dlam])

            y0 = theta0[ni].reshape(-1)
            if kind == "lagrangian":
                y0 = np.concatenate([y0, [lam0]])
            sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, rtol=rtol, atol=atol, dense_output=True)
            if sol.status != 0:
                raise RuntimeError(f"solve_ivp failed ({kind}, param={param}, start {ni}): {sol.message}")
            ys = sol.sol(t_grid).T  # (n_record, n_th [+1])
            theta_out[bi, ni] = ys[:, :n_th].reshape(n_record, S, A)
            if lam_out is not None:
                lam_out[bi, ni] = np.maximum(ys[:, n_th], 0.0)
            steps_V_c = evaluate_theta(cmdp, sol.y[:n_th].T.reshape(-1, S, A)).V_c
            max_V_c[bi, ni] = steps_V_c.max()

    ev = evaluate_theta(cmdp, theta_out.reshape(-1, S, A))
    V_r, V_c = ev.V_r.reshape(B, N, n_record), ev.V_c.reshape(B, N, n_record)
    return Trajectories(
        kind=kind,
        params=params,
        b=cmdp.b,
        t=t_grid,
        theta=theta_out,
        V_r=V_r,
        V_c=V_c,
        lam=lam_out,
        n_valid=np.full((B, N), n_record),
        max_V_c=np.maximum(max_V_c, V_c.max(-1)),
        stopped=np.zeros((B, N), bool),
    )
