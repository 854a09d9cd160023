"""Conjugate gradient, Fisher-vector products, the scaled natural step and the line search.

Written once; each algorithm supplies its objective, its divergence and its acceptance rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

CG_ITERS = 15
CG_DAMPING = 0.1
LS_TRIES = 15
LS_DECAY = 0.8


def flat_params(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.data.reshape(-1) for p in module.parameters()])


def set_flat_params(module: nn.Module, flat: torch.Tensor) -> None:
    offset = 0
    for p in module.parameters():
        n = p.numel()
        p.data.copy_(flat[offset:offset + n].view_as(p))
        offset += n


def flat_grad(output: torch.Tensor, module: nn.Module, **kwargs) -> torch.Tensor:
    grads = torch.autograd.grad(output, list(module.parameters()), **kwargs)
    return torch.cat([g.reshape(-1) for g in grads])


def conjugate_gradient(Avp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       iters: int = CG_ITERS, tol: float = 1e-10) -> torch.Tensor:
    """Approximately solve A x = b for symmetric positive definite A given only A·v."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = r @ r
    for _ in range(iters):
        if rr < tol:
            break
        Ap = Avp(p)
        step = rr / (p @ Ap)
        x += step * p
        r -= step * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def kl_hessian_vector_product(policy: nn.Module, obs: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ F v, F = Hessian of mean KL(π_k ‖ π_θ) at θ_k (the Fisher matrix), by double backprop."""
    new = policy.distribution(obs)
    old = policy.detached(new)
    kl = policy.kl(old, new).mean()
    grad_kl = flat_grad(kl, policy, create_graph=True)

    def Fv(v: torch.Tensor) -> torch.Tensor:
        return flat_grad(grad_kl @ v, policy, retain_graph=True).detach()

    return Fv


def scale_to_trust_region(x: torch.Tensor, Hvp: Callable, delta: float, damping: float = CG_DAMPING) -> torch.Tensor:
    """x ← x · sqrt(2δ / xᵀ(H + damping·I)x): the quadratic model of the divergence equals δ."""
    xHx = x @ (Hvp(x) + damping * x)
    return x * torch.sqrt(2.0 * delta / xHx.clamp_min(1e-12))


@dataclass
class LineSearchResult:
    accepted: bool
    fraction: float  # accepted fraction of the full step, 0 when none was accepted
    tries: int
    info: dict  # what the acceptance rule measured at the accepted (or last) candidate


def backtracking_line_search(policy: nn.Module, theta_k: torch.Tensor, step: torch.Tensor,
                             evaluate: Callable[[], dict], accept: Callable[[dict], bool],
                             tries: int = LS_TRIES, decay: float = LS_DECAY) -> LineSearchResult:
    """Try θ_k + f·step for f = 1, decay, decay², ...; keep the first the rule accepts, else θ_k.

    ``evaluate`` measures the policy currently loaded (objective, divergence, ...) under no_grad.
    """
    fraction = 1.0
    info: dict = {}
    for i in range(tries):
        set_flat_params(policy, theta_k + fraction * step)
        with torch.no_grad():
            info = evaluate()
        if accept(info):
            return LineSearchResult(True, fraction, i + 1, info)
        fraction *= decay
    set_flat_params(policy, theta_k)
    return LineSearchResult(False, 0.0, tries, info)
