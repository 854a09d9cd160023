"""Actor and critic networks: MLP 64-64 tanh, as in the paper."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Normal

# Argument validation costs time on every call and turns a NaN into a ValueError deep inside
# torch; the engine checks actions and parameters for NaN/inf itself and says where.
Distribution.set_default_validate_args(False)


def mlp(sizes: list[int], init: str = "default") -> nn.Sequential:
    """Linear layers with tanh between them, every layer with PyTorch's default init (weights and bias
    uniform within ±1/√fan_in), as the paper's authors build their actor.

    ``init="small"`` scales the last layer's weights by 0.01 and zeroes its bias, so the policy starts
    near uniform / zero mean: what this project did before (conventions < 3). The choice matters to the
    baselines: with the small layer TRPO-Lag's cost on SafetyHalfCheetahVelocity-v1 plateaus far above b
    while λ grows, where the authors' run comes back under b within a few epochs (docs/BASELINES.md).
    Both draw the same random numbers, so the critics, built next, start identical either way.
    """
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    if init == "small":
        with torch.no_grad():
            layers[-1].weight.mul_(0.01)
            layers[-1].bias.zero_()
    elif init != "default":
        raise ValueError(f"init must be 'default' or 'small', got {init!r}")
    return nn.Sequential(*layers)


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian with a state-independent log std (initialised 0)."""

    discrete = False

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...] = (64, 64), init: str = "default"):
        super().__init__()
        self.mean = mlp([obs_dim, *hidden, act_dim], init)
        self.log_std = nn.Parameter(torch.zeros(act_dim))
        self.act_dim = act_dim

    def distribution(self, obs: torch.Tensor) -> Normal:
        return self.distribution_from(self.mean(obs), self.log_std)

    @property
    def network(self) -> nn.Sequential:
        """The MLP from observations to the distribution's inputs (the mean)."""
        return self.mean

    @staticmethod
    def distribution_from(mean: torch.Tensor, log_std: torch.Tensor) -> Normal:
        """The distribution of the network's outputs ``mean`` (rows) with this ``log_std``."""
        return Normal(mean, log_std.exp().expand(mean.shape[0], -1))

    def sampler(self):
        """obs (n, obs_dim) float32 array ↦ actions, for a rollout, where the parameters stay fixed: the mean
        network runs in numpy on copies of the weights taken now (a torch call costs more than these
        10-row products), the noise comes from torch's generator as ``distribution(obs).sample()`` draws
        it (the same draws), without building a distribution object on every step."""
        layers = [
            (m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
            for m in self.mean
            if isinstance(m, nn.Linear)
        ]
        std = self.log_std.detach().exp().numpy()
        last = len(layers) - 1

        def sample(obs: np.ndarray) -> np.ndarray:
            x = obs
            for i, (weight, bias) in enumerate(layers):
                x = x @ weight + bias
                if i < last:
                    x = np.tanh(x)
            # torch.normal(mean, std) fills standard normals, then scales and shifts them in float32:
            # the same draws and the same two roundings, without its slow path for expanded tensors
            return torch.randn(x.shape).numpy() * std + x

        return sample

    def log_prob(self, dist: Normal, actions: torch.Tensor) -> torch.Tensor:
        return dist.log_prob(actions).sum(-1)

    def kl(self, old: Normal, new: Normal) -> torch.Tensor:
        """Per-sample KL(old‖new) averaged over action dimensions (the authors' convention:
        the mean runs over batch and action dims, so divide the summed KL by act_dim)."""
        return torch.distributions.kl_divergence(old, new).mean(-1)

    def detached(self, dist: Normal) -> Normal:
        return Normal(dist.loc.detach(), dist.scale.detach())

    def summed_kl(self, old: Normal, new: Normal) -> torch.Tensor:
        """Per-sample KL(old‖new) summed over action dimensions (the first-order baselines' convention)."""
        return torch.distributions.kl_divergence(old, new).sum(-1)

    def select(self, dist: Normal, idx) -> Normal:
        """The distribution of the samples ``idx`` (a minibatch)."""
        return Normal(dist.loc[idx], dist.scale[idx])


class CategoricalPolicy(nn.Module):
    discrete = True

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64), init: str = "default"):
        super().__init__()
        self.logits = mlp([obs_dim, *hidden, n_actions], init)

    def distribution(self, obs: torch.Tensor) -> Categorical:
        return Categorical(logits=self.logits(obs))

    @property
    def network(self) -> nn.Sequential:
        return self.logits

    @staticmethod
    def distribution_from(logits: torch.Tensor, log_std=None) -> Categorical:
        return Categorical(logits=logits)

    def sampler(self):
        """obs (n, obs_dim) float32 array ↦ sampled actions, for a rollout."""

        def sample(obs: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return self.distribution(torch.from_numpy(obs)).sample().numpy()

        return sample

    def log_prob(self, dist: Categorical, actions: torch.Tensor) -> torch.Tensor:
        return dist.log_prob(actions.long())

    def kl(self, old: Categorical, new: Categorical) -> torch.Tensor:
        return torch.distributions.kl_divergence(old, new)

    def detached(self, dist: Categorical) -> Categorical:
        return Categorical(logits=dist.logits.detach())

    def summed_kl(self, old: Categorical, new: Categorical) -> torch.Tensor:
        return torch.distributions.kl_divergence(old, new)

    def select(self, dist: Categorical, idx) -> Categorical:
        return Categorical(logits=dist.logits[idx])


def make_policy(spec, hidden=(64, 64), init: str = "default") -> nn.Module:
    if spec.discrete:
        return CategoricalPolicy(spec.obs_dim, spec.act_dim, hidden, init)
    return GaussianPolicy(spec.obs_dim, spec.act_dim, hidden, init)


class Critics(nn.Module):
    """The reward and the cost critic (two independent MLPs 64-64 tanh), evaluated as one batch.

    Layer i of both critics is stored stacked, shape (2, in, out), and applied with one batched
    matmul: the same functions as two separate MLPs, at half the per-op overhead, which dominates
    the critic training of small tasks. ``forward`` returns values of shape (2, N): [V_r, V_c].
    """

    def __init__(self, obs_dim: int, hidden: tuple[int, ...] = (64, 64), count: int = 2):
        super().__init__()
        sizes = [obs_dim, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers = [nn.Linear(fan_in, fan_out) for _ in range(count)]  # PyTorch's default init
            self.weights.append(nn.Parameter(torch.stack([layer.weight.data.T for layer in layers])))
            self.biases.append(nn.Parameter(torch.stack([layer.bias.data[None, :] for layer in layers])))
        self.count = count

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.unsqueeze(0).expand(self.count, *obs.shape)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.tanh(x)
        return x.squeeze(-1)
