"""A run's trained policy outside training: the run a command line names, its latest checkpoint's policy and
frozen observation normaliser, and the action it takes. ``ctrpo eval``, ``ctrpo export`` and the Rollout
page all load a policy through here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config.schema import ConfigError, TrainConfig
from ..engine.policies import make_policy
from ..envs import RunningNormalizer, UnknownTaskError, get_spec
from .store import DamagedRunError, RunDir, find_run


def load_policy(run_dir):
    """The policy and observation normaliser of a run's latest checkpoint, and its config."""
    run = RunDir(run_dir)
    cfg = TrainConfig.from_dict(run.read_config())
    spec = get_spec(cfg.task)
    state = run.load_checkpoint()["algo"]
    policy = make_policy(spec, cfg.hidden, cfg.policy_init)
    policy.load_state_dict(state["policy"])
    normalizer = RunningNormalizer(spec.obs_dim)
    normalizer.load_state_dict({k: v.numpy() for k, v in state["normalizer"].items()})
    return policy, normalizer, cfg


def act(policy, normalizer, obs: np.ndarray, deterministic: bool) -> np.ndarray:
    with torch.no_grad():
        dist = policy.distribution(torch.as_tensor(normalizer.normalize(obs)))
        if not deterministic:
            return dist.sample().numpy()
        return (dist.probs.argmax(-1) if policy.discrete else dist.mean).numpy()


def find_trained_run(run: str, runs_dir="runs") -> Path:
    """The run directory ``run`` names (a path, or a name inside ``runs_dir``) that has a checkpoint.

    Raises ConfigError("RUN", ...) when there is no such run or it has no checkpoint yet."""
    if not str(run):
        raise ConfigError("RUN", "a run directory or the name of a run is required")
    try:
        path = find_run(run, runs_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError("RUN", str(exc)) from None
    if not RunDir(path).has_checkpoint():
        raise ConfigError("RUN", f"{path} has no checkpoint yet (nothing trained)")
    return path


def load(run_dir):
    """(policy, normalizer, cfg, spec) of a run's latest checkpoint; ConfigError("RUN", ...) when
    its files cannot be read."""
    try:
        policy, normalizer, cfg = load_policy(run_dir)
        spec = get_spec(cfg.task)
    except DamagedRunError as exc:
        raise ConfigError("RUN", f"{run_dir}: {exc.reason}") from None
    except UnknownTaskError as exc:
        raise ConfigError("RUN", f"{run_dir}: {exc}") from None
    except Exception as exc:  # an unreadable or foreign checkpoint.pt
        raise ConfigError("RUN", f"{run_dir}: cannot load its checkpoint ({type(exc).__name__}: {exc})") from None
    policy.eval()
    normalizer.frozen = True
    return policy, normalizer, cfg, spec


def cost_limit_of(cfg, spec) -> float:
    return float(cfg.cost_limit if cfg.cost_limit is not None else spec.cost_limit)


# ---------------------------------------------------------------------------------- eval
