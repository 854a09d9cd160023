"""Training settings: defaults (per task and algorithm) and validation of user input."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field

from ..util.paths import default_runs_dir
from . import rules
from .algorithms import ALGORITHM_IDS  # noqa: F401  (the registry is the one list of algorithm ids)
from .rules import ConfigError  # noqa: F401  (re-exported: every layer raises it from here)


@dataclass
class TrainConfig:
    task: str
    algo: str
    seed: int = 0
    # C-TRPO (the paper): barrier weight β, hysteresis fraction b_H, barrier form
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
    # how the policy's last layer starts: "default" = PyTorch's nn.Linear init, bias kept (the authors' code);
    # "small" = weights x 0.01 and a zero bias, what runs of conventions < 3 used (docs/BASELINES.md)
    policy_init: str = "default"
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
    normalize_obs: bool = True  # running mean/std of observations (the authors'); off: they pass as they are
    lagrange_init: float = 1e-3
    lagrange_lr: float = 0.035
    ppo_clip: float = 0.2
    ppo_lr: float = 3e-4  # the actor's Adam learning rate, decayed linearly to 0 over training
    ppo_critic_lr: float = 3e-4  # PPO-Lag trains its critics in the same passes, with this Adam rate
    ppo_epochs: int = 40  # passes over the batch (stopped early once the summed KL exceeds δ)
    ppo_minibatch: int = 64
    torch_threads: int = 1
    # the training conventions a run was made with (docs/BASELINES.md): 2 = the authors' baselines and Ĵ_c,
    # 3 = also the authors' policy initialisation; runs written before this field existed were trained
    # with 1. A run is never resumed or reused under other conventions than its own.
    conventions: int = 3
    max_episode_steps: int | None = None  # None: the task's own limit
    # what a run writes besides its metrics; neither changes its results
    checkpoint_every: int = 0  # also keep checkpoints/epoch_<k>.pt every K epochs (0: only the latest)
    tensorboard: bool = False  # also write the metrics as TensorBoard scalars (the tensorboard extra)
    name: str | None = None
    runs_dir: str = "runs"  # resolve() without one: the repository's runs/ (or $CTRPO_RUNS_DIR), from any cwd
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
        d = as_trained(d)
        d["hidden"] = tuple(d.get("hidden", (64, 64)))
        return cls(**d)


# Fast defaults for the built-in tasks (each trains to a safe, good policy in well under a
# minute on one core); the Safety-Gymnasium tasks use the paper's settings (the dataclass defaults).
TASK_DEFAULTS: dict[str, dict] = {
    "GridHazard-v0": dict(total_steps=60_000, steps_per_epoch=2_000, num_envs=16, delta=0.02,
                          episode_window=100),
    # Ĵ_c averages the running cost mean over the epoch, so the window adds to its lag: 20 episodes (one
    # epoch's worth) keep C-TRPO under b after its first epochs; 40 let it overshoot in 28% of them
    "PointHazard-v0": dict(total_steps=200_000, steps_per_epoch=4_000, num_envs=16, delta=0.02,
                           episode_window=20),
    # the demo (ctrpo demo): the paper's δ; 80 epochs of 2,000 steps (62 per env, about 40 episode ends),
    # so that "final" (the last 10% of epochs, 8 here) spans at least one violate-recover cycle of the
    # hysteresis and the final cost is ordered by b_H (with 40 epochs of 4,000 steps it fell on a random
    # phase of that cycle); Ĵ_c's records cover the last 32 episodes, less than one epoch's, so they lag
    # little. γ = 0.95 puts the surrogate α in the units of b on 50-step episodes (0.99 would overstate
    # cost changes ~2.5×, making every β act ~6× stronger); observations are in [0, 1] already, and a
    # running normaliser would move the policy between updates, outside its trust region. Adam moves λ by
    # about its learning rate per epoch, so the authors' 0.035 could take it to ~3 in 80 epochs, too slow
    # to bind; 0.3 lets TRPO-Lag learn the limit within the run.
    "HazardEdge-v0": dict(total_steps=160_000, steps_per_epoch=2_000, num_envs=32, delta=0.01,
                          episode_window=32, critic_minibatch=1024, gamma=0.95, normalize_obs=False,
                          lagrange_lr=0.3),
}
# the authors' task table has no row for PointPush, so their default critic minibatch applies there
TASK_DEFAULTS["SafetyPointPush1-v0"] = dict(critic_minibatch=256)
ALGO_DEFAULTS: dict[str, dict] = {"ppo-lag": dict(delta=0.02)}  # PPO-Lag's δ is its KL early-stop bound
CONVENTIONS = 3  # the value of ``TrainConfig.conventions`` this version trains with


def resolve(task: str, algo: str, **overrides) -> TrainConfig:
    """A validated config: dataclass defaults < task defaults < algorithm defaults < overrides.

    Raises :class:`ConfigError` (or UnknownTaskError) naming the parameter on bad input.
    """
    from ..envs import get_spec

    spec = get_spec(task)
    if algo not in ALGORITHM_IDS:
        raise ConfigError("--algo", f"unknown algorithm {algo!r}; choose from {', '.join(ALGORITHM_IDS)}")
    settings = {**TASK_DEFAULTS.get(task, {}), **ALGO_DEFAULTS.get(algo, {})}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    # one default runs folder whether the CLI, the app, papermill or a JupyterLab kernel (cwd notebooks/) asks
    settings.setdefault("runs_dir", str(default_runs_dir()))
    cfg = TrainConfig(task=task, algo=algo, **settings)
    if cfg.cost_limit is None:
        cfg.cost_limit = spec.cost_limit
    validate(cfg)
    return cfg


def as_trained(config: dict) -> dict:
    """A config.json with the settings it was trained with where it predates their fields: runs written
    before ``policy_init`` existed (conventions < 3) had the small last layer."""
    return config if "policy_init" in config else {**config, "policy_init": "small"}


# Fields that name or place a run, or add outputs, but never change what it computes; every other field does.
POLICY_INITS = ("default", "small")  # TrainConfig.policy_init (engine/policies.py)
IDENTITY_FIELDS = ("name", "runs_dir", "checkpoint_every", "tensorboard")


def result_settings(config: dict | TrainConfig, exclude=()) -> dict:
    """The settings that decide a run's result, as plain JSON values (from a TrainConfig or a config.json)."""
    config = config.to_dict() if isinstance(config, TrainConfig) else as_trained(config)
    known = [f.name for f in dataclasses.fields(TrainConfig)]
    settings = {k: config.get(k) for k in known if k not in IDENTITY_FIELDS and k not in exclude}
    if isinstance(settings.get("hidden"), tuple):
        settings["hidden"] = list(settings["hidden"])
    return settings


def settings_key(config: dict | TrainConfig, exclude=("seed",)) -> str:
    """8 hex digits that change whenever a result-changing setting (other than ``exclude``) changes."""
    text = json.dumps(result_settings(config, exclude), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def format_value(value) -> str:
    """A number as short as it can be without merging distinct values (1.0 → '1', 1.0000001 stays)."""
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


# the ranged settings other than the flag-named ones, in the table's order (the first error is reported)
LEARNER_RANGES = tuple(k for k in rules.RANGES
                       if k in {f.name for f in dataclasses.fields(TrainConfig)} and k not in rules.FLAG_NAMED)
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def validate(cfg: TrainConfig) -> None:
    for key in rules.FLAG_NAMED:  # β, b_H, δ, b and the run's size and seed, named by their flags
        rules.check(key, getattr(cfg, key))
    if cfg.steps_per_epoch < cfg.num_envs:
        raise ConfigError("--steps-per-epoch", f"must be >= --num-envs ({cfg.num_envs}), got {cfg.steps_per_epoch}")
    if cfg.total_steps < cfg.steps_per_epoch:
        raise ConfigError("--total-steps", f"must be >= --steps-per-epoch ({cfg.steps_per_epoch}), got {cfg.total_steps}")
    if cfg.barrier not in ("entropy", "log"):
        raise ConfigError("--barrier", f"must be 'entropy' or 'log', got {cfg.barrier!r}")
    if cfg.policy_init not in POLICY_INITS:
        raise ConfigError("policy_init", f"must be one of {', '.join(map(repr, POLICY_INITS))}, got {cfg.policy_init!r}")
    hidden = tuple(cfg.hidden)
    if not hidden or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
        raise ConfigError("hidden", f"must be a list of positive layer widths, e.g. 64,64; got {list(hidden)}")
    if cfg.name is not None:
        validate_name(cfg.name)
    for key in LEARNER_RANGES:
        rules.check(key, getattr(cfg, key))  # the learner's settings, named by their --set keys
    if cfg.tensorboard:
        check_tensorboard()
    check_memory(cfg)


def check_tensorboard() -> None:
    """--tensorboard needs the optional tensorboard package (the project's ``tensorboard`` extra)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError("--tensorboard", "needs the tensorboard package, which is not installed: "
                                           "run .venv/bin/pip install -r requirements/tensorboard.txt "
                                           "(or pip install '.[tensorboard]'); metrics.csv is written either way") from None


MAX_NAME_BYTES = 200  # file systems allow 255; run files such as .launch/<name>.resume.log add a suffix
MEMORY_SHARE = 0.5  # refuse a run whose estimated memory exceeds this share of the machine's RAM
SAFETY_GYM_ENV_BYTES = 40 * 2**20  # one Safety-Gymnasium env (MuJoCo model, data, the task's Python objects)


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def estimated_memory(cfg: TrainConfig) -> dict[str, int]:
    """A rough upper estimate of what one run holds in memory, in bytes, by part."""
    from ..envs import get_spec

    spec = get_spec(cfg.task)
    act = 1 if spec.discrete else spec.act_dim
    n = cfg.steps_per_epoch
    widths = [spec.obs_dim, *cfg.hidden]
    params = sum((a + 1) * b for a, b in zip(widths, widths[1:])) + cfg.hidden[-1] * (spec.act_dim + 2) * 3
    return {
        # observations, actions, rewards, costs, values, advantages, targets: float32/64 copies
        "rollout buffer": n * (spec.obs_dim * 4 * 2 + act * 4 * 2 + 8 * 14),
        # forward and double-backward graphs over the whole batch (Fisher-vector products)
        "update graphs": n * sum(cfg.hidden) * 4 * 12,
        # policy and two critics with gradients, Adam moments and conjugate-gradient vectors
        "networks": 3 * params * 4 * 8,
        "environments": cfg.num_envs * (SAFETY_GYM_ENV_BYTES if spec.source != "built-in" else 4096),
    }


def check_memory(cfg: TrainConfig) -> None:
    parts = estimated_memory(cfg)
    total, limit = sum(parts.values()), MEMORY_SHARE * physical_memory()
    if total > limit:
        biggest = max(parts, key=parts.get)
        param = {"rollout buffer": "--steps-per-epoch", "update graphs": "--steps-per-epoch", "networks": "hidden",
                 "environments": "--num-envs"}[biggest]
        raise ConfigError(param, f"the run would need about {total / 2**30:.1f} GiB ({biggest}: "
                                 f"{parts[biggest] / 2**30:.1f} GiB), more than {MEMORY_SHARE:.0%} of this machine's "
                                 f"{physical_memory() / 2**30:.0f} GiB; lower --num-envs, --steps-per-epoch or hidden")


def validate_name(name: str) -> None:
    if isinstance(name, str) and len(name.encode(errors="replace")) > MAX_NAME_BYTES:
        raise ConfigError("--name", f"must be at most {MAX_NAME_BYTES} bytes long, got {len(name.encode())}")
    if not name or "/" in name or "\\" in name or ".." in name or not _NAME_OK.match(name):
        raise ConfigError("--name", f"must be a plain directory name (letters, digits, _ . = + -; "
                                    f"no path separators or '..'), got {name!r}")
