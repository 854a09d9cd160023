"""A run's trained policy as a TorchScript file (`ctrpo export`).

Export never replaces what the tool did not create (``check_out``: a new file, or with ``force`` an
existing regular file outside every run directory; never a link, device or FIFO) and writes a temporary
file in the target folder, then renames it. It writes a TorchScript module that needs torch only: raw
observation (obs_dim,) or (batch, obs_dim), any float dtype → deterministic action, with the
normaliser's arithmetic done exactly as ``RunningNormalizer.normalize`` (float64, then float32) and the
policy of ``rollout.act(deterministic=True)`` (Gaussian: the mean; Categorical: the most probable action).
"""

import copy
import io
import json
import math
from pathlib import Path
from typing import List

import numpy as np
import torch
from torch import nn

from ..config.schema import ConfigError
from ..envs.builtin import hazard_edge
from ..runs.policy import cost_limit_of, load
from ..runs.store import DamagedRunError, RunDir, atomic_write_bytes
from .outfiles import check_file

FORMAT = "ctrpo-policy/1"  # the "format" of an exported module's metadata


def action_bounds(spec) -> tuple[list[float] | None, list[float] | None, str]:
    """Bounds of the policy's continuous action beyond which the task saturates it, and a note."""
    if spec.discrete:
        return None, None, f"action is the index of one of {spec.act_dim} discrete actions"
    if spec.id == hazard_edge.SPEC.id:  # target = clip(centre + range·a, 0, 1)
        low = (0.0 - hazard_edge.TARGET_CENTRE) / hazard_edge.TARGET_RANGE
        high = (1.0 - hazard_edge.TARGET_CENTRE) / hazard_edge.TARGET_RANGE
        return [low], [high], "the env clips the target centre + range·a to [0, 1]: actions outside the bounds saturate"
    if spec.source == "built-in":
        return [-1.0] * spec.act_dim, [1.0] * spec.act_dim, "the env clips each action to [-1, 1]"
    return (
        [-1.0] * spec.act_dim,
        [1.0] * spec.act_dim,
        "the env maps [-1, 1] linearly (not clipped) onto the task's own action bounds",
    )


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

    def __init__(
        self,
        net: nn.Module,
        normalizer,
        task: str,
        algo: str,
        obs_dim: int,
        act_dim: int,
        discrete: bool,
        action_low: List[float],
        action_high: List[float],
        metadata: str,
    ):
        super().__init__()
        self.net = net
        self.task, self.algo, self.metadata = task, algo, metadata
        self.obs_dim, self.act_dim, self.discrete = int(obs_dim), int(act_dim), bool(discrete)
        self.action_low = [float(v) for v in action_low]
        self.action_high = [float(v) for v in action_high]
        # sqrt(var + eps) computed once here by numpy: the very float64 values `normalize` divides by
        self.register_buffer("obs_mean", torch.as_tensor(np.array(normalizer.mean, dtype=np.float64)))
        self.register_buffer(
            "obs_scale", torch.as_tensor(np.sqrt(np.array(normalizer.var, dtype=np.float64) + normalizer.eps))
        )
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
        "task": cfg.task,
        "algo": cfg.algo,
        "seed": cfg.seed,
        "obs_dim": spec.obs_dim,
        "act_dim": spec.act_dim,
        "discrete": spec.discrete,
        "output": (
            "int64 action index, shape () or (batch,)"
            if spec.discrete
            else f"float32 action, shape ({spec.act_dim},) or (batch, {spec.act_dim})"
        ),
        "action_low": low,
        "action_high": high,
        "action_note": note,
        "cost_limit": cost_limit_of(cfg, spec),
        "normalizer": {
            "mean": normalizer.mean.tolist(),
            "var": normalizer.var.tolist(),
            "eps": normalizer.eps,
            "clip": normalizer.clip if math.isfinite(normalizer.clip) else None,
            "count": normalizer.count,
            "updated_in_training": bool(cfg.normalize_obs),
        },
        "hidden": list(cfg.hidden),
        "run": Path(run_dir).name,
        "run_state": status.get("state"),
        "torch": torch.__version__,
    }
    module = ExportedPolicy(
        net,
        normalizer,
        cfg.task,
        cfg.algo,
        spec.obs_dim,
        spec.act_dim,
        spec.discrete,
        low or [],
        high or [],
        json.dumps(meta, sort_keys=True),
    )
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return torch.jit.script(module), meta


def check_out(out, force: bool = False) -> Path:
    """``--out`` as a path export may write: a new file in an existing folder outside every run directory,
    or with ``force`` an existing regular file there (never a symlink, a device, a FIFO or a run's file).
    ConfigError("--out", ...) otherwise, before anything is read or written. The rule is
    :func:`ctrpo_core.tools.outfiles.check_file`, shared with `ctrpo cnpg`."""
    return check_file(out, force, param="--out", tool="export")


def export(run_dir, out, force: bool = False) -> dict:
    """Write the run's policy as TorchScript to ``out`` (temporary file in its folder, then rename); its
    metadata. ``out`` is checked by :func:`check_out` (an existing file only with ``force``).

    The metadata is also in the file: as the module's ``metadata`` attribute (JSON) and as the extra
    file ``metadata.json`` (``torch.jit.load(path, _extra_files={"metadata.json": ""})``)."""
    out = check_out(out, force)
    module, meta = build_exported(run_dir)
    buffer = io.BytesIO()
    torch.jit.save(module, buffer, _extra_files={"metadata.json": json.dumps(meta, sort_keys=True)})
    try:
        atomic_write_bytes(out, buffer.getvalue())
    except OSError as exc:  # a full disk, a read-only or immutable folder, /proc, /sys: one line, exit 2
        raise ConfigError("--out", str(exc)) from None
    return meta
