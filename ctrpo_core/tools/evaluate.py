"""A run's trained policy outside training: evaluate it (`ctrpo eval`), export it (`ctrpo export`).

Evaluation runs the latest checkpoint's policy on the run's task with the env stack of training
(``envs.make_vec_env``), its observations normalised by the checkpoint's normaliser, frozen. Episodes
are assigned to the parallel envs up front (episode j runs as the (j // n)-th episode of env j % n),
so short episodes are not over-represented: each env reports exactly its share and its further
episodes are discarded. The statistics are running sums (memory does not grow with the number of
episodes, at most ``MAX_EPISODES``); per-episode values are kept only up to ``MAX_LISTED``. One seed
gives the same numbers every time (the envs from ``seed``, sampled actions from torch's RNG seeded with
``seed``, forked so the caller's stream is untouched).

Export never replaces what the tool did not create (``check_out``: a new file, or with ``force`` an
existing regular file outside every run directory; never a link, device or FIFO) and writes a temporary
file in the target folder, then renames it. It writes a TorchScript module that needs torch only: raw
observation (obs_dim,) or (batch, obs_dim), any float dtype → deterministic action, with the
normaliser's arithmetic done exactly as ``RunningNormalizer.normalize`` (float64, then float32) and the
policy of ``rollout.act(deterministic=True)`` (Gaussian: the mean; Categorical: the most probable action).
"""

import json
import math
import os
import stat
from pathlib import Path
from typing import Callable, List

import numpy as np
import torch
from torch import nn

from ..config.schema import ConfigError
from ..config import rules
from ..runs.store import MAX_LISTED, DamagedRunError, RunDir, inside_run

MAX_PARALLEL = 16  # envs stepped together by `evaluate`
FORMAT = "ctrpo-policy/1"  # the "format" of an exported module's metadata


# ---------------------------------------------------------------------------------- the run
def find_run(run: str, runs_dir="runs") -> Path:
    """The run directory ``run`` names (a path, or a name inside ``runs_dir``) that has a checkpoint.

    Raises ConfigError("RUN", ...) when there is no such run or it has no checkpoint yet."""
    from ..results.catalog import find_run as find_run_dir

    if not str(run):
        raise ConfigError("RUN", "a run directory or the name of a run is required")
    try:
        path = find_run_dir(run, runs_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError("RUN", str(exc)) from None
    if not RunDir(path).has_checkpoint():
        raise ConfigError("RUN", f"{path} has no checkpoint yet (nothing trained)")
    return path


def load(run_dir):
    """(policy, normalizer, cfg, spec) of a run's latest checkpoint; ConfigError("RUN", ...) when
    its files cannot be read."""
    from ..envs import UnknownTaskError, get_spec
    from .render import load_policy

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
def check_eval_args(episodes, seed) -> None:
    rules.check("episodes", episodes)
    rules.check("eval_seed", seed)


def episode_quota(episodes: int, num_envs: int) -> list[int]:
    """How many episodes each env runs: episode j is env j % num_envs's (j // num_envs)-th."""
    return [episodes // num_envs + (1 if i < episodes % num_envs else 0) for i in range(num_envs)]


class RunningStats:
    """Mean and (population) standard deviation of a stream of numbers (Welford): memory does not grow
    with the number of episodes."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else math.nan


def evaluate(run_dir, episodes: int = 10, deterministic: bool = False, seed: int = 0,
             progress: Callable[[int, int], None] | None = None, max_parallel: int = MAX_PARALLEL) -> dict:
    """Run ``episodes`` episodes of the run's latest policy; the dict `ctrpo eval --json` prints."""
    from ..envs import make_vec_env
    from .render import act

    check_eval_args(episodes, seed)
    policy, normalizer, cfg, spec = load(run_dir)
    b = cost_limit_of(cfg, spec)
    n = max(1, min(episodes, int(max_parallel)))
    quota = episode_quota(episodes, n)
    listed = episodes <= MAX_LISTED  # the per-episode values only for a bounded count; the rest streams
    returns = np.full(episodes, np.nan) if listed else None
    costs = np.full(episodes, np.nan) if listed else None
    return_stats, cost_stats, safe = RunningStats(), RunningStats(), 0
    finished = [0] * n
    done_total = 0
    env = make_vec_env(cfg.task, n, seed, max_episode_steps=cfg.max_episode_steps)
    threads = torch.get_num_threads()
    # sampled actions come from `seed` (torch's RNG, forked: the caller's stream is left as it was);
    # one thread: the float sums of the policy's layers, hence the episodes, do not depend on the cores
    try:
        with env, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            torch.set_num_threads(1)
            obs = env.reset(seed)
            if progress:
                progress(0, episodes)
            while done_total < episodes:
                action = act(policy, normalizer, obs, deterministic)  # normalize(): the frozen normaliser
                obs, _, _, terminated, truncated, info = env.step(action)
                for i in np.flatnonzero(np.asarray(terminated) | np.asarray(truncated)):
                    if finished[i] >= quota[i]:
                        continue  # past this env's share: discarded
                    episode_return, episode_cost = float(info["episode_return"][i]), float(info["episode_cost"][i])
                    return_stats.add(episode_return)
                    cost_stats.add(episode_cost)
                    safe += episode_cost <= b
                    if listed:
                        j = i + n * finished[i]
                        returns[j], costs[j] = episode_return, episode_cost
                    finished[i] += 1
                    done_total += 1
                    if progress:
                        progress(done_total, episodes)
    finally:
        torch.set_num_threads(threads)
    return {
        "run": str(run_dir),
        "task": cfg.task,
        "episodes": episodes,
        "deterministic": bool(deterministic),
        "seed": seed,
        "cost_limit": b,
        "return_mean": return_stats.mean,
        "return_std": return_stats.std,
        "cost_mean": cost_stats.mean,
        "cost_std": cost_stats.std,
        "safe_fraction": safe / episodes,
        "returns": returns.tolist() if listed else None,  # null beyond MAX_LISTED episodes
        "costs": costs.tolist() if listed else None,
    }


def eval_text(result: dict) -> str:
    """The human-readable summary of :func:`evaluate`'s result."""
    mode = "deterministic" if result["deterministic"] else "stochastic"
    n = result["episodes"]
    safe = round(result["safe_fraction"] * n)
    return "\n".join([
        f"{result['run']}: {n} episode{'s' if n != 1 else ''} of {result['task']} ({mode} actions, seed {result['seed']})",
        f"  return  {result['return_mean']:.4g} ± {result['return_std']:.3g}",
        f"  cost    {result['cost_mean']:.4g} ± {result['cost_std']:.3g}",
        f"  safe    {result['safe_fraction']:.0%} of episodes with cost <= b = {result['cost_limit']:g} ({safe}/{n})",
    ])


class ProgressLine:
    """Episodes done / N on a stream: one line rewritten in place on a TTY, plain lines otherwise
    (at most ~20 of them, and the last)."""

    def __init__(self, stream, label: str = "eval"):
        self.stream, self.label = stream, label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_step = -1

    def __call__(self, done: int, total: int) -> None:
        text = f"{self.label}: {done}/{total} episodes"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if done >= total else ""))
        else:
            step = done * 20 // total
            if step == self.last_step and done < total:
                return
            self.last_step = step
            self.stream.write(text + "\n")
        self.stream.flush()


# ---------------------------------------------------------------------------------- export
def action_bounds(spec) -> tuple[list[float] | None, list[float] | None, str]:
    """Bounds of the policy's continuous action beyond which the task saturates it, and a note."""
    from ..envs.builtin import hazard_edge

    if spec.discrete:
        return None, None, f"action is the index of one of {spec.act_dim} discrete actions"
    if spec.id == hazard_edge.SPEC.id:  # target = clip(centre + range·a, 0, 1)
        low = (0.0 - hazard_edge.TARGET_CENTRE) / hazard_edge.TARGET_RANGE
        high = (1.0 - hazard_edge.TARGET_CENTRE) / hazard_edge.TARGET_RANGE
        return [low], [high], "the env clips the target centre + range·a to [0, 1]: actions outside the bounds saturate"
    if spec.source == "built-in":
        return [-1.0] * spec.act_dim, [1.0] * spec.act_dim, "the env clips each action to [-1, 1]"
    return ([-1.0] * spec.act_dim, [1.0] * spec.act_dim,
            "the env maps [-1, 1] linearly (not clipped) onto the task's own action bounds")


class ExportedPolicy(nn.Module):
    """Raw observation → deterministic action, normaliser included (see the module's docstring)."""

    task: torch.jit.Final[str]
    algo: torch.jit.Final[str]
    obs_dim: torch.jit.Final[int]
    act_dim: torch.jit.Final[int]
    discrete: torch.jit.Final[bool]
    metadata: torch.jit.Final[str]
    action_low: List[float]  # empty for a discrete task
    action_high: List[float]

    def __init__(self, net: nn.Module, normalizer, task: str, algo: str, obs_dim: int, act_dim: int,
                 discrete: bool, action_low: List[float], action_high: List[float], metadata: str):
        super().__init__()
        self.net = net
        self.task, self.algo, self.metadata = task, algo, metadata
        self.obs_dim, self.act_dim, self.discrete = int(obs_dim), int(act_dim), bool(discrete)
        self.action_low = [float(v) for v in action_low]
        self.action_high = [float(v) for v in action_high]
        # sqrt(var + eps) computed once here by numpy: the very float64 values `normalize` divides by
        self.register_buffer("obs_mean", torch.as_tensor(np.array(normalizer.mean, dtype=np.float64)))
        self.register_buffer("obs_scale", torch.as_tensor(np.sqrt(np.array(normalizer.var, dtype=np.float64)
                                                                  + normalizer.eps)))
        self.register_buffer("obs_clip", torch.tensor(float(normalizer.clip), dtype=torch.float64))

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        x = (obs.to(torch.float64) - self.obs_mean) / self.obs_scale
        return torch.clamp(x, -self.obs_clip, self.obs_clip).to(torch.float32)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if obs.dim() < 1 or obs.dim() > 2 or obs.size(-1) != self.obs_dim:
            raise ValueError("observation: expected shape (obs_dim,) or (batch, obs_dim); see the module's obs_dim")
        single = obs.dim() == 1
        x = self.normalize(obs.unsqueeze(0) if single else obs)
        out = self.net(x)
        if self.discrete:
            # as torch.distributions.Categorical(logits=out).probs.argmax(-1)
            out = torch.softmax(out - out.logsumexp(-1, keepdim=True), -1).argmax(-1)
        return out.squeeze(0) if single else out


def build_exported(run_dir) -> tuple[torch.jit.ScriptModule, dict]:
    """The scripted module of a run's latest checkpoint, and its metadata."""
    import copy

    policy, normalizer, cfg, spec = load(run_dir)
    net = copy.deepcopy(policy.logits if policy.discrete else policy.mean)
    low, high, note = action_bounds(spec)
    status = {}
    try:
        status = RunDir(run_dir).read_status()
    except DamagedRunError:
        pass
    meta = {
        "format": FORMAT,
        "task": cfg.task, "algo": cfg.algo, "seed": cfg.seed,
        "obs_dim": spec.obs_dim, "act_dim": spec.act_dim, "discrete": spec.discrete,
        "output": ("int64 action index, shape () or (batch,)" if spec.discrete
                   else f"float32 action, shape ({spec.act_dim},) or (batch, {spec.act_dim})"),
        "action_low": low, "action_high": high, "action_note": note,
        "cost_limit": cost_limit_of(cfg, spec),
        "normalizer": {"mean": normalizer.mean.tolist(), "var": normalizer.var.tolist(), "eps": normalizer.eps,
                       "clip": normalizer.clip if math.isfinite(normalizer.clip) else None,
                       "count": normalizer.count, "updated_in_training": bool(cfg.normalize_obs)},
        "hidden": list(cfg.hidden),
        "run": Path(run_dir).name, "run_state": status.get("state"),
        "torch": torch.__version__,
    }
    module = ExportedPolicy(net, normalizer, cfg.task, cfg.algo, spec.obs_dim, spec.act_dim, spec.discrete,
                            low or [], high or [], json.dumps(meta, sort_keys=True))
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return torch.jit.script(module), meta


def check_out(out, force: bool = False) -> Path:
    """``--out`` as a path export may write: a new file in an existing folder outside every run directory,
    or with ``force`` an existing regular file there (never a symlink, a device, a FIFO or a run's file).
    ConfigError("--out", ...) otherwise, before anything is read or written."""
    out = Path(out)
    if str(out) in ("", ".") or out.name in ("", ".", "..") or "\0" in str(out):
        raise ConfigError("--out", f"a file name is required, got {str(out)!r}")
    try:
        if not out.parent.is_dir():
            raise ConfigError("--out", f"the folder {out.parent} does not exist")
        folder = out.parent.resolve()
        run = inside_run(folder)
        if run is not None:
            raise ConfigError("--out", f"{out} is inside the run directory {run}; export outside run directories")
        info = os.lstat(out)
    except FileNotFoundError:
        return out  # a new file
    except OSError as exc:  # a name too long, a folder we may not search
        raise ConfigError("--out", f"cannot use {out}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError("--out", f"{out} is a symbolic link; export replaces no link or its target, "
                                   f"give a plain file name")
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError("--out", f"{out} is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError("--out", f"{out} is not a regular file (a device, FIFO or socket); it is never replaced")
    if not force:
        raise ConfigError("--out", f"{out} exists; add --force to replace it")
    return out


def export(run_dir, out, force: bool = False) -> dict:
    """Write the run's policy as TorchScript to ``out`` (temporary file in its folder, then rename); its
    metadata. ``out`` is checked by :func:`check_out` (an existing file only with ``force``).

    The metadata is also in the file: as the module's ``metadata`` attribute (JSON) and as the extra
    file ``metadata.json`` (``torch.jit.load(path, _extra_files={"metadata.json": ""})``)."""
    import io

    from ..runs.store import atomic_write_bytes

    out = check_out(out, force)
    module, meta = build_exported(run_dir)
    buffer = io.BytesIO()
    torch.jit.save(module, buffer, _extra_files={"metadata.json": json.dumps(meta, sort_keys=True)})
    try:
        atomic_write_bytes(out, buffer.getvalue())
    except OSError as exc:  # a full disk, a read-only or immutable folder, /proc, /sys: one line, exit 2
        raise ConfigError("--out", str(exc)) from None
    return meta
