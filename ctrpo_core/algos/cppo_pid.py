"""CPPO-PID (Stooke, Achiam & Abbeel, 2020): PPO-Lag whose multiplier is set by a PID controller on the cost
error instead of gradient ascent, as the authors ran it (SafePO's PIDLagrangian with its defaults). Once per
epoch, before the passes, with Δ = Ĵ_c − b:

    I ← max(0, I + K_i·Δ)                       (starts at lagrange_init; clamped at 0 only)
    P̄ ← a·P̄ + (1 − a)·Δ,   D̄ ← a·D̄ + (1 − a)·Ĵ_c      (a = pid_ema: moving averages of the error and the cost)
    ∂ = max(0, D̄ − D̄ of pid_d_delay updates ago)
    λ = max(0, K_p·P̄ + I + K_d·∂)

then the clipped surrogate on (Â_r − λÂ_c)/(1 + λ)."""

from __future__ import annotations

from collections import deque

from ctrpo_core.engine.first_order_step import FirstOrderAlgorithm, clipped

ALGORITHM = {
    "id": "cppo-pid",
    "name": "CPPO-PID",
    "color": "#009988",
    "marker": "star",
    "rank": 5,
    "summary": "CPPO-PID: PPO on the Lagrangian, λ by a PID controller on the cost",
    "family": "first order",
    "learner": "CPPOPID",
    "reads": {"lagrange_init": None},
    "settings": {
        "pid_kp": {"kind": "float", "default": 0.1, "range": "[0, inf)", "help": "CPPO-PID's proportional gain K_p"},
        "pid_ki": {"kind": "float", "default": 0.01, "range": "[0, inf)", "help": "CPPO-PID's integral gain K_i"},
        "pid_kd": {"kind": "float", "default": 0.01, "range": "[0, inf)", "help": "CPPO-PID's derivative gain K_d"},
        "pid_d_delay": {
            "kind": "int",
            "default": 10,
            "range": "[1, 10000]",
            "help": "CPPO-PID's derivative: the smoothed cost now against this many updates ago",
        },
        "pid_ema": {
            "kind": "float",
            "default": 0.95,
            "range": "[0, 1)",
            "help": "CPPO-PID's smoothing a of the error (P) and of the cost (D): x ← a·x + (1 − a)·new",
        },
    },
    "metrics": {"lagrange_multiplier": "λ after this epoch's update", "pid_i": "the integral term I"},
}


class PIDMultiplier:
    """λ by a PID controller on Ĵ_c − b (the formulas of this module's docstring)."""

    def __init__(self, cfg):
        self.kp, self.ki, self.kd, self.a = cfg.pid_kp, cfg.pid_ki, cfg.pid_kd, cfg.pid_ema
        self.integral, self.p_mean, self.cost_mean, self.value = float(cfg.lagrange_init), 0.0, 0.0, 0.0
        self.history = deque([0.0], maxlen=cfg.pid_d_delay)  # D̄ of the last pid_d_delay updates

    def update(self, cost_estimate: float, cost_limit: float) -> float:
        error = cost_estimate - cost_limit
        self.integral = max(0.0, self.integral + self.ki * error)
        self.p_mean = self.a * self.p_mean + (1 - self.a) * error
        self.cost_mean = self.a * self.cost_mean + (1 - self.a) * cost_estimate
        derivative = max(0.0, self.cost_mean - self.history[0])
        self.value = max(0.0, self.kp * self.p_mean + self.integral + self.kd * derivative)
        self.history.append(self.cost_mean)
        return self.value

    def state_dict(self) -> dict:
        return {
            "integral": self.integral,
            "p_mean": self.p_mean,
            "cost_mean": self.cost_mean,
            "value": self.value,
            "history": list(self.history),
        }

    def load_state_dict(self, state: dict) -> None:
        self.integral, self.p_mean = float(state["integral"]), float(state["p_mean"])
        self.cost_mean, self.value = float(state["cost_mean"]), float(state["value"])
        self.history = deque((float(v) for v in state["history"]), maxlen=self.history.maxlen)


class CPPOPID(FirstOrderAlgorithm):
    def __init__(self, cfg, env):
        super().__init__(cfg, env)
        self.multiplier = PIDMultiplier(cfg)
        self.advantage = None

    def before_passes(self, batch):
        lam = self.multiplier.update(batch.cost_estimate, batch.cost_limit)
        self.advantage = (batch.adv_r - lam * batch.adv_c) / (1.0 + lam)

    def policy_loss(self, mb):
        return -clipped(mb.ratio, self.advantage[mb.idx], self.cfg.ppo_clip).mean()

    def own_metrics(self):
        return {"lagrange_multiplier": self.multiplier.value, "pid_i": self.multiplier.integral}

    def algo_state(self):
        return {"pid": self.multiplier.state_dict()}

    def load_algo_state(self, state):
        self.multiplier.load_state_dict(state["pid"])
