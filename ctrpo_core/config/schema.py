"""Training settings: the run's config (``TrainConfig``, built from the declarations of config/settings.py and of
the algorithms), its defaults for a task and an algorithm, and its validation."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re

from ..envs import get_spec
from ..util.paths import default_runs_dir
from .algorithms import ALGORITHM_IDS, ALL_SETTINGS, algorithm, applies, readers  # noqa: F401  (the one list of ids)
from .rules import ConfigError  # noqa: F401  (re-exported: every layer raises it from here)
from .settings import SETTINGS, Setting

CONVENTIONS = SETTINGS["conventions"].default  # the training conventions this version trains with


class _Config:
    """What every TrainConfig has besides its fields (one per declared setting)."""

    @property
    def epochs(self) -> int:
        return max(1, self.total_steps // self.steps_per_epoch)

    @property
    def steps_per_env(self) -> int:
        return self.steps_per_epoch // self.num_envs

    def to_dict(self) -> dict:
        """The run's config.json: its task and algorithm, every setting with its resolved value (the ones its
        algorithm does not read keep their defaults: the user cannot give them, and no result depends on
        them: ``result_settings``), ``extra``."""
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        d = as_trained({k: v for k, v in d.items() if k in known})
        d["hidden"] = tuple(d.get("hidden", SETTINGS["hidden"].default))
        return cls(**d)


TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [("task", str), ("algo", str)]
    + [(key, object, dataclasses.field(default=s.default)) for key, s in ALL_SETTINGS.items()]
    + [("extra", dict, dataclasses.field(default_factory=dict))],  # the Python API's free-form slot
    bases=(_Config,),
    namespace={"__module__": __name__, "__doc__": "One run's settings (config/settings.py)."},
)


def default_for(setting: Setting, task, algo: str):
    """A setting's default for a task (a TaskSpec) and an algorithm: its plain default, then the task family's
    (the task's source), the task's, the algorithm family's, and the algorithm's own (its ``reads``)."""
    value = setting.default
    for key in (task.source, task.id):
        value = setting.by_task.get(key, value)
    spec = algorithm(algo)
    value = setting.by_family.get(spec.family, value)
    own = spec.default_of(setting.key)
    return value if own is None else own


def resolve(task: str, algo: str, **overrides) -> TrainConfig:
    """A validated config: the declared defaults for this task and algorithm, then ``overrides`` (None: not given).

    Raises :class:`ConfigError` naming the setting (or UnknownTaskError) on bad input, and for a setting the
    algorithm does not read."""
    spec = get_spec(task)
    algorithm(algo)
    given = {k: v for k, v in overrides.items() if v is not None}
    extra = given.pop("extra", {})
    for key in given:
        check_known(algo, key)
    values = {key: default_for(s, spec, algo) for key, s in ALL_SETTINGS.items()}
    values.update(given)
    # one default runs folder whether the CLI, the app, papermill or a JupyterLab kernel (cwd notebooks/) asks
    if "runs_dir" not in given:
        values["runs_dir"] = str(default_runs_dir())
    if values["cost_limit"] is None:
        values["cost_limit"] = spec.cost_limit
    cfg = TrainConfig(task=task, algo=algo, extra=dict(extra), **values)
    validate(cfg)
    return cfg


def check_known(algo: str, key: str) -> None:
    """ConfigError naming ``key`` unless it is a setting a user may give and ``algo`` reads it."""
    setting = ALL_SETTINGS.get(key)
    if setting is None or not setting.settable:
        raise ConfigError(key, "unknown setting; the keys are listed in docs/CLI.md")
    if not applies(algo, key):
        raise ConfigError(key, f"{algo} does not use it (only {', '.join(readers(key)) or 'none'} read it); drop it")


def as_trained(config: dict) -> dict:
    """A config.json with the settings it was trained with where it predates their fields: runs written before
    ``policy_init`` existed (conventions < 3) had the small last layer, runs written before
    ``timeout_bootstrap`` existed bootstrapped time-outs from the normalised observation."""
    return (
        {"policy_init": "small", "timeout_bootstrap": "normalized", **config}
        if "policy_init" not in config
        else {"timeout_bootstrap": "normalized", **config}
    )


def result_settings(config: dict | TrainConfig, exclude=()) -> dict:
    """The settings that decide a run's result, as plain JSON values (from a TrainConfig or a config.json): the
    task, the algorithm, ``extra`` and every setting the algorithm reads that changes what it computes."""
    config = config.to_dict() if isinstance(config, _Config) else as_trained(config)
    algo = config.get("algo")
    keys = ["task", "algo"] + [k for k, s in ALL_SETTINGS.items() if s.result and applies(algo, k)] + ["extra"]
    settings = {k: config.get(k) for k in keys if k not in exclude}
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


_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def validate(cfg: TrainConfig) -> None:
    """Every setting the algorithm reads against its declaration (the first error, in declaration order), then
    the rules that tie two settings together, then what this machine can run."""
    for key, setting in ALL_SETTINGS.items():
        if applies(cfg.algo, key):
            setting.check(getattr(cfg, key))
    if cfg.steps_per_epoch < cfg.num_envs:
        raise ConfigError(
            "steps_per_epoch",
            f"must be >= the number of environments num_envs ({cfg.num_envs}), got {cfg.steps_per_epoch}",
        )
    if cfg.total_steps < cfg.steps_per_epoch:
        raise ConfigError(
            "total_steps",
            f"must be >= the steps of one epoch, steps_per_epoch ({cfg.steps_per_epoch}), got {cfg.total_steps}",
        )
    if cfg.name is not None:
        validate_name(cfg.name)
    if cfg.tensorboard:
        check_tensorboard()
    check_memory(cfg)


def check_tensorboard() -> None:
    """--tensorboard needs the optional tensorboard package (the project's ``tensorboard`` extra)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError(
            "tensorboard",
            "needs the tensorboard package, which is not installed: "
            "run .venv/bin/pip install -r requirements/tensorboard.txt "
            "(or pip install '.[tensorboard]'); metrics.csv is written either way",
        ) from None


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
        key = {
            "rollout buffer": "steps_per_epoch",
            "update graphs": "steps_per_epoch",
            "networks": "hidden",
            "environments": "num_envs",
        }[biggest]
        raise ConfigError(
            key,
            f"the run would need about {total / 2**30:.1f} GiB ({biggest}: "
            f"{parts[biggest] / 2**30:.1f} GiB), more than {MEMORY_SHARE:.0%} of this machine's "
            f"{physical_memory() / 2**30:.0f} GiB; lower num_envs, steps_per_epoch or hidden",
        )


def validate_name(name: str) -> None:
    if isinstance(name, str) and len(name.encode(errors="replace")) > MAX_NAME_BYTES:
        raise ConfigError("name", f"must be at most {MAX_NAME_BYTES} bytes long, got {len(name.encode())}")
    if not name or "/" in name or "\\" in name or ".." in name or not _NAME_OK.match(name):
        raise ConfigError(
            "name",
            f"must be a plain directory name (letters, digits, _ . = + -; no path separators or '..'), got {name!r}",
        )
