"""Training settings: defaults (per task and algorithm) and validation of user input."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

ALGORITHM_IDS = ("c-trpo", "trpo", "trpo-lag", "cpo", "pcpo", "ppo-lag")


class ConfigError(ValueError):
    """Invalid setting. ``param`` names the offending option (the CLI's spelling)."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param


@dataclass
class TrainConfig:
    task: str
    algo: str
    seed: int = 0
    # C-TRPO (ALGORITHM.md): barrier weight β, hysteresis fraction b_H, barrier form
    beta: float = 1.0
    bh: float = 0.8
    barrier: str = "entropy"
    # trust radius δ (TRPO-family: the divergence bound; PPO-Lag: the KL early-stopping target)
    delta: float = 0.01
    cost_limit: float | None = None  # None: the task's default b
    total_steps: int = 10_000_000
    steps_per_epoch: int = 20_000
    num_envs: int = 10
    gamma: float = 0.99
    lam: float = 0.95
    hidden: tuple[int, ...] = (64, 64)
    critic_lr: float = 1e-3
    critic_passes: int = 10
    critic_minibatch: int = 128
    critic_l2: float = 1e-3
    grad_clip: float = 40.0
    cg_iters: int = 15
    cg_damping: float = 0.1
    ls_tries: int = 15
    ls_decay: float = 0.8
    episode_window: int = 50  # ep_* columns and Ĵ_c: mean over the last N finished episodes
    lagrange_init: float = 1e-3
    lagrange_lr: float = 0.035
    ppo_clip: float = 0.2
    ppo_lr: float = 3e-4
    ppo_epochs: int = 10
    ppo_minibatch: int = 256
    torch_threads: int = 1
    max_episode_steps: int | None = None  # None: the task's own limit
    name: str | None = None
    runs_dir: str = "runs"
    extra: dict = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return max(1, self.total_steps // self.steps_per_epoch)

    @property
    def steps_per_env(self) -> int:
        return self.steps_per_epoch // self.num_envs

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["hidden"] = tuple(d.get("hidden", (64, 64)))
        return cls(**d)


# Fast defaults for the built-in tasks (each trains to a safe, good policy in well under a
# minute on one core); the Safety-Gymnasium tasks use the paper's settings (the dataclass defaults).
TASK_DEFAULTS: dict[str, dict] = {
    "GridHazard-v0": dict(total_steps=60_000, steps_per_epoch=2_000, num_envs=16, delta=0.02,
                          episode_window=100),
    "PointHazard-v0": dict(total_steps=200_000, steps_per_epoch=4_000, num_envs=16, delta=0.02,
                           episode_window=40),
}
ALGO_DEFAULTS: dict[str, dict] = {"ppo-lag": dict(delta=0.02)}


def resolve(task: str, algo: str, **overrides) -> TrainConfig:
    """A validated config: dataclass defaults < task defaults < algorithm defaults < overrides.

    Raises :class:`ConfigError` (or UnknownTaskError) naming the parameter on bad input.
    """
    from .envs import get_spec

    spec = get_spec(task)
    if algo not in ALGORITHM_IDS:
        raise ConfigError("--algo", f"unknown algorithm {algo!r}; choose from {', '.join(ALGORITHM_IDS)}")
    settings = {**TASK_DEFAULTS.get(task, {}), **ALGO_DEFAULTS.get(algo, {})}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    cfg = TrainConfig(task=task, algo=algo, **settings)
    if cfg.cost_limit is None:
        cfg.cost_limit = spec.cost_limit
    validate(cfg)
    return cfg


_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate(cfg: TrainConfig) -> None:
    if not _finite(cfg.beta) or cfg.beta < 0:
        raise ConfigError("--beta", f"must be a finite number >= 0, got {cfg.beta}")
    if not _finite(cfg.bh) or not 0 < cfg.bh <= 1:
        raise ConfigError("--bh", f"must be in (0, 1], got {cfg.bh}")
    if not _finite(cfg.delta) or cfg.delta <= 0:
        raise ConfigError("--delta", f"must be a finite number > 0, got {cfg.delta}")
    if not _finite(cfg.cost_limit) or cfg.cost_limit <= 0:
        raise ConfigError("--cost-limit", f"must be a finite number > 0, got {cfg.cost_limit}")
    for param, value in (("--total-steps", cfg.total_steps), ("--steps-per-epoch", cfg.steps_per_epoch),
                         ("--num-envs", cfg.num_envs)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(param, f"must be a positive integer, got {value}")
    if cfg.steps_per_epoch < cfg.num_envs:
        raise ConfigError("--steps-per-epoch", f"must be >= --num-envs ({cfg.num_envs}), got {cfg.steps_per_epoch}")
    if cfg.total_steps < cfg.steps_per_epoch:
        raise ConfigError("--total-steps", f"must be >= --steps-per-epoch ({cfg.steps_per_epoch}), got {cfg.total_steps}")
    if not isinstance(cfg.seed, int) or isinstance(cfg.seed, bool) or cfg.seed < 0:
        raise ConfigError("--seed", f"must be an integer >= 0, got {cfg.seed}")
    if cfg.barrier not in ("entropy", "log"):
        raise ConfigError("--barrier", f"must be 'entropy' or 'log', got {cfg.barrier!r}")
    if cfg.name is not None:
        validate_name(cfg.name)


def validate_name(name: str) -> None:
    if not name or "/" in name or "\\" in name or ".." in name or not _NAME_OK.match(name):
        raise ConfigError("--name", f"must be a plain directory name (letters, digits, _ . = + -; "
                                    f"no path separators or '..'), got {name!r}")
