"""A run's trained policy evaluated over N episodes (`ctrpo eval`).

Evaluation runs the latest checkpoint's policy on the run's task with the env stack of training
(``envs.make_vec_env``), its observations normalised by the checkpoint's normaliser, frozen. Episodes
are assigned to the parallel envs up front (episode j runs as the (j // n)-th episode of env j % n),
so short episodes are not over-represented: each env reports exactly its share and its further
episodes are discarded. The statistics are running sums (memory does not grow with the number of
episodes, at most ``MAX_EPISODES``); per-episode values are kept only up to ``MAX_LISTED``. One seed
gives the same numbers every time (the envs from ``seed``, sampled actions from torch's RNG seeded with
``seed``, forked so the caller's stream is untouched).
"""

import math
from typing import Callable

import numpy as np
import torch

from ..config import rules
from ..config.rules import MAX_LISTED
from ..envs import make_vec_env
from ..runs.policy import cost_limit_of, load
from .render import act

MAX_PARALLEL = 16  # envs stepped together by `evaluate`


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


def evaluate(
    run_dir,
    episodes: int = 10,
    deterministic: bool = False,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    max_parallel: int = MAX_PARALLEL,
) -> dict:
    """Run ``episodes`` episodes of the run's latest policy; the dict `ctrpo eval --json` prints."""
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
    return "\n".join(
        [
            f"{result['run']}: {n} episode{'s' if n != 1 else ''} of {result['task']} "
            f"({mode} actions, seed {result['seed']})",
            f"  return  {result['return_mean']:.4g} ± {result['return_std']:.3g}",
            f"  cost    {result['cost_mean']:.4g} ± {result['cost_std']:.3g}",
            f"  safe    {result['safe_fraction']:.0%} of episodes with cost <= b = {result['cost_limit']:g} "
            f"({safe}/{n})",
        ]
    )


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
