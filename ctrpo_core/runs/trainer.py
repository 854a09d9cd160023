"""The training loop: epochs of rollout → policy update → critic update, written into a run directory.

The run directory exists already (``lifecycle.create``) and its caller owns it (``lifecycle.train``).
Resumable and interruption-safe: a checkpoint is written before the first epoch and after every
epoch (after that epoch's metrics row); it carries the metrics rows so far, so a resume rewrites
metrics.csv from it (the checkpoint is the truth, whatever happened to the file), and the settings it was
trained with, so a resume after config.json was edited is refused (lifecycle.check_resume). SIGTERM/SIGINT
end the run as ``stopped`` at the last finished epoch, and a NaN/inf ends it as ``failed`` with the
last good checkpoint kept.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..algos import make_algorithm
from ..config.schema import ConfigError, TrainConfig, result_settings
from ..engine.on_policy import NonFiniteError, StopRequested
from ..envs import make_vec_env
from ..envs.truth import TruthLog
from ..util import cores
from ..util.signals import stop_signals
from .store import RESUME_RULE, RunDir
from .tensorboard import TensorBoardLog

# 3: with the result settings it was trained with ("settings", a JSON string); 2: with the metrics rows so far
# ("metrics_rows"); 1 and 2 are still read
CHECKPOINT_FORMAT = 3


def _json_default(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(type(x))


def _shapes(state, prefix: str = "") -> dict[str, tuple]:
    """{dotted key: shape} of every tensor in a (nested) state dict."""
    out = {}
    for key, value in state.items() if isinstance(state, dict) else ():
        if isinstance(value, dict):
            out.update(_shapes(value, f"{prefix}{key}."))
        elif isinstance(value, torch.Tensor):
            out[f"{prefix}{key}"] = tuple(value.shape)
    return out


def _widths(policy: dict) -> list[int]:
    """The layer widths [inputs, hidden..., outputs] of a policy's network from its state dict (its Linear
    layers' weights, in order); [] when it has none."""
    layers = []
    for key, value in policy.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[1].isdigit() and parts[2] == "weight" and getattr(value, "ndim", 0) == 2:
            layers.append((int(parts[1]), tuple(value.shape)))
    layers.sort()
    return [layers[0][1][1], *(shape[0] for _, shape in layers)] if layers else []


class Trainer:
    """Trains the run in ``run`` (its config.json) from its checkpoint ``checkpoint`` if given, else from
    the start. ``run`` must exist and be owned by the caller: use :func:`ctrpo_core.runs.lifecycle.train`."""

    def __init__(
        self,
        run: RunDir,
        checkpoint: dict | None = None,
        progress: bool | None = None,
        stop_event: threading.Event | None = None,
        env_workers: int | None = None,
    ):
        self.run = run
        self.cfg = TrainConfig.from_dict(run.read_config())
        # what decides the run's result, saved with every checkpoint: a resume compares config.json with it
        self.settings = json.dumps(result_settings(self.cfg), sort_keys=True, default=str)
        self.checkpoint = checkpoint
        self.resume = checkpoint is not None
        self.metrics_rows: list[str] = []  # metrics.csv lines so far: saved with every checkpoint
        self.env_workers = env_workers  # Safety-Gymnasium worker processes (None: up to one per core)
        # progress: True → progress bar, None → a bar on a terminal and plain lines otherwise,
        # False → quiet (lines still go to train.log)
        self.progress = progress
        self.stop_event = stop_event or threading.Event()
        self.stop_reason = ""
        self.epoch = 0
        self.total_steps = 0
        self.cost_regret = 0.0
        self.elapsed = 0.0
        self.truth = TruthLog.for_run(self.cfg)  # the ground truth of tasks with a known model, else None

    # ------------------------------------------------------------------ state
    def checkpoint_state(self) -> dict:
        env_state = json.dumps(self.env.get_state(), default=_json_default) if self.env.supports_state else ""
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "total_steps": self.total_steps,
            "cost_regret": self.cost_regret,
            "elapsed": self.elapsed,
            "true_regret": self.truth.regret if self.truth else None,
            "algo": self.algo.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "env_state": env_state,
            "metrics_rows": list(self.metrics_rows),
            "settings": self.settings,
        }

    def _restore(self, ckpt: dict) -> None:
        self.epoch, self.total_steps = int(ckpt["epoch"]), int(ckpt["total_steps"])
        self.cost_regret, self.elapsed = float(ckpt["cost_regret"]), float(ckpt["elapsed"])
        if self.truth is not None:
            self.truth.regret = float(ckpt.get("true_regret") or 0.0)
        self._check_shapes(ckpt["algo"])
        self.algo.load_state_dict(ckpt["algo"])
        torch.set_rng_state(ckpt["torch_rng"])
        if ckpt["env_state"] and self.env.supports_state:
            self.env.reset(self.cfg.seed)
            self.env.set_state(json.loads(ckpt["env_state"]))
        else:  # MuJoCo tasks: the episodes in flight restart (fresh seed so they differ)
            self.algo.obs = self.algo.normalizer(self.env.reset(self.cfg.seed + 7919 * (self.epoch + 1)))
        rows = ckpt.get("metrics_rows")
        if rows is None:  # a format-1 checkpoint: keep the file's complete rows up to its epoch
            self.metrics_rows = self.run.complete_metrics_rows(self.epoch)
        else:
            self.metrics_rows = [str(r) for r in rows]
        self.run.rewrite_metrics(self.metrics_rows)

    def _check_shapes(self, saved: dict) -> None:
        """ConfigError('resume') naming what config.json changed when the checkpoint's networks or observations
        have other shapes than config.json's settings give (hidden sizes, the task's observation and action sizes,
        num_envs): checkpoints older than their ``settings`` are only checked here (their other settings cannot
        be), and no size mismatch of torch or numpy ever reaches the user."""
        algo = self.algo  # not started: no observation yet, whose shape is (num_envs, observation size)
        now = {
            "policy": algo.policy.state_dict(),
            "critics": algo.critics.state_dict(),
            "obs": torch.empty(self.cfg.num_envs, algo.spec.obs_dim),
        }
        sized = ("policy", "critics", "obs")  # the parts whose shapes the settings decide
        old_shapes = _shapes({k: saved[k] for k in sized if k in saved})
        new_shapes = _shapes(now)
        if old_shapes == new_shapes:
            return
        changes = []
        old_widths, new_widths = _widths(saved.get("policy", {})), _widths(now["policy"])
        if old_widths and new_widths:
            if old_widths[1:-1] != new_widths[1:-1]:
                changes.append(f"hidden {list(old_widths[1:-1])} → {list(new_widths[1:-1])}")
            sizes = [
                f"{what} size {a} → {b}"
                for what, a, b in (
                    ("observation", old_widths[0], new_widths[0]),
                    ("action", old_widths[-1], new_widths[-1]),
                )
                if a != b
            ]
            if sizes:
                changes.append(f"task {self.cfg.task} is not the task trained ({' and '.join(sizes)})")
        old_obs, new_obs = old_shapes.get("obs"), new_shapes.get("obs")
        if old_obs and new_obs and old_obs[0] != new_obs[0]:
            changes.append(f"num_envs {old_obs[0]} → {new_obs[0]}")
        if not changes:  # another difference: name the first tensor
            key = next(k for k in sorted({*old_shapes, *new_shapes}) if old_shapes.get(k) != new_shapes.get(k))
            changes.append(f"{key} of shape {old_shapes.get(key)} → {new_shapes.get(key)}")
        raise ConfigError(
            "resume",
            f"{self.run.name}: config.json differs from what its checkpoint (epoch {self.epoch}) was trained with: "
            f"{', '.join(changes)}; {RESUME_RULE}",
        )

    # ------------------------------------------------------------------ loop
    def execute(self, callback: Callable[[dict], None] | None = None) -> str:
        """Train to the end (or until stopped/failed). Returns the final state."""
        cfg = self.cfg
        cores.limit_threads(cfg.torch_threads)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        self.env = make_vec_env(
            cfg.task, cfg.num_envs, cfg.seed, max_episode_steps=cfg.max_episode_steps, num_workers=self.env_workers
        )
        try:
            self.algo = make_algorithm(cfg, self.env)
            self.algo.should_stop = self.stop_event.is_set
            if self.resume:
                self._restore(self.checkpoint)
                self.checkpoint = None  # its tensors are loaded: free them
            else:  # from the start (also a run killed before its first checkpoint)
                self.algo.start()
                self.run.rewrite_metrics([])
                self.run.save_checkpoint(self.checkpoint_state())
            with stop_signals(self._stop):
                return self._loop(callback)
        finally:
            self.env.close()

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.stop_event.set()

    def _status(self, state: str, message: str = "") -> None:
        env = getattr(self, "env", None)
        self.run.write_status(
            state,
            message,
            epoch=self.epoch,
            epochs=self.cfg.epochs,
            total_steps=self.total_steps,
            elapsed=self.elapsed,
            env_processes=getattr(env, "processes", None),
            cores=cores.allowed(),
        )

    def _loop(self, callback) -> str:
        cfg = self.cfg
        bar, quiet = None, self.progress is False
        if self.progress or (self.progress is None and sys.stderr.isatty()):
            bar = tqdm(total=cfg.epochs, initial=self.epoch, desc=self.run.name, unit="epoch", file=sys.stderr)
        self._status("running", "resumed" if self.resume else "")
        tensorboard = None
        if cfg.tensorboard:
            tensorboard = TensorBoardLog(self.run.path, resume_after_step=self.total_steps if self.resume else None)
        try:
            while self.epoch < cfg.epochs:
                if self.stop_event.is_set():
                    raise StopRequested()
                row = self._one_epoch()
                self.metrics_rows.append(self.run.append_metrics(row))
                self.run.save_checkpoint(self.checkpoint_state())
                if cfg.checkpoint_every and self.epoch % cfg.checkpoint_every == 0:
                    self.run.keep_checkpoint_copy(self.epoch)
                if tensorboard is not None:
                    tensorboard.write(row)
                self._status("running")
                line = self._progress_line(row)
                self.run.log(line)
                if bar is not None:
                    bar.set_postfix_str(line.split(": ", 1)[1], refresh=False)
                    bar.update(1)
                elif not quiet:
                    print(line, flush=True)
                if callback is not None:
                    callback(row)
        except StopRequested:
            message = f"stopped by {self.stop_reason or 'request'}; checkpoint at epoch {self.epoch}"
            self._status("stopped", message)
            return "stopped"
        except NonFiniteError as exc:
            self._status("failed", f"{exc} (epoch {self.epoch + 1}); last good checkpoint: epoch {self.epoch}")
            return "failed"
        except Exception as exc:
            self._status("failed", f"{type(exc).__name__}: {exc} (epoch {self.epoch + 1})")
            raise
        finally:
            if bar is not None:
                bar.close()
            if tensorboard is not None:
                tensorboard.close()
        self._status("finished", f"{self.epoch} epochs, {self.total_steps} steps")
        return "finished"

    def _one_epoch(self) -> dict:
        cfg, algo = self.cfg, self.algo
        start = time.perf_counter()
        finished_before = algo.episodes_finished
        batch = algo.collect()
        if self.truth is not None:
            self.truth.before_update(algo)
        result, critic_losses = algo.update(batch)  # the family's step: the policy moves, the critics are fitted
        stats = result.as_row()
        # the truth may be NaN or inf where the training numbers may not (an exact D_C from an unsafe π_k)
        truth = self.truth.after_update(algo, stats) if self.truth is not None else {}
        stats.update(critic_losses)
        for key, value in stats.items():
            if isinstance(value, float) and not math.isfinite(value) and key != "budget":
                raise NonFiniteError(f"non-finite {key} in the {cfg.algo} update")
        duration = time.perf_counter() - start
        self.epoch += 1
        self.total_steps += len(batch)
        self.elapsed += duration
        ep_cost = batch.cost_estimate  # Ĵ_c of the epoch, as the authors define it (engine/on_policy.py)
        self.cost_regret += max(0.0, ep_cost - cfg.cost_limit)  # Reg+ (paper): Σ_k max(0, Ĵ_c,k − b)
        mean = lambda d: float(np.mean(d)) if d else math.nan
        return {
            "epoch": self.epoch,
            "total_steps": self.total_steps,
            "ep_return": mean(algo.episode_returns),
            "ep_cost": ep_cost,
            "ep_len": mean(algo.episode_lengths),
            "ep_cost_window": algo.window_cost(),
            "cost_regret": self.cost_regret,
            "trust_radius": cfg.delta,
            "episodes": algo.episodes_finished - finished_before,
            "time_s": round(self.elapsed, 4),
            "steps_per_s": round(len(batch) / duration, 1),
            **stats,
            **truth,
        }

    def _progress_line(self, row: dict) -> str:
        def f(key, fmt="{:.3g}"):
            v = row.get(key)
            return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)

        return (
            f"{self.run.name} epoch {row['epoch']}/{self.cfg.epochs}: return {f('ep_return')} "
            f"cost {f('ep_cost')} (b={self.cfg.cost_limit:g}) Reg+ {f('cost_regret')} "
            f"kl {f('kl')} frac {f('step_fraction')} rec {f('recovery')} {f('steps_per_s', '{:.0f}')} steps/s"
        )
