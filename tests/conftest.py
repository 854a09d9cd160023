import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `ctrpo` command line in a subprocess."""
    return subprocess.run([sys.executable, "-m", "ctrpo_core.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=kwargs.pop("cwd", ROOT), **kwargs)


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "runs"


def randomise(module: nn.Module, scale: float = 0.5, seed: int = 0) -> None:
    """Move the parameters away from the near-uniform init so every block of a Hessian matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def distribution_at(policy: nn.Module, theta: torch.Tensor, obs: torch.Tensor):
    """π_θ(·|obs) for a flat parameter vector θ (same order as trust_region.flat_params)."""
    params, offset = {}, 0
    for name, p in policy.named_parameters():
        params["policy." + name] = theta[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    assert offset == theta.numel()
    return torch.func.functional_call(DistOf(policy), params, (obs,))


class DistOf(nn.Module):
    """Wraps a policy so torch.func.functional_call can return its distribution."""

    def __init__(self, policy):
        super().__init__()
        self.policy = policy

    def forward(self, obs):
        return self.policy.distribution(obs)


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory):
    """A runs folder holding the classroom demo at its defaults (`ctrpo demo`: three ~30 s runs)."""
    runs = tmp_path_factory.mktemp("demo") / "runs"
    result = run_cli("demo", "--runs-dir", runs, timeout=600)
    assert result.returncode == 0, result.stderr
    return runs
