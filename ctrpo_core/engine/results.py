"""What the engine's steps hand back: the policy's evaluation on a batch, the trust region's reach, and
one policy update as the trainer logs it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import torch


@dataclass(frozen=True)
class PolicyEvaluation:
    """The loaded policy π_θ on the batch, against π_k: what every objective and divergence is built from."""

    ratio: torch.Tensor  # π_θ(a|s)/π_k(a|s), one per sample
    kl: torch.Tensor  # mean KL(π_k‖π_θ), a scalar


def finite_or_none(x: float) -> float | None:
    """A diagnostic as logged: a non-finite value is left out (an empty cell), never the reason a run fails."""
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class RegionReach:
    """The largest first-order cost increase α one step may make (engine/shrinkage.py); None: not finite
    or not measured."""

    alpha_max: float | None = None  # the algorithm's own region: α_max^C with a curvature κ, else α_max^KL
    alpha_max_kl: float | None = None  # the KL ball's: √(2δ·s)
    alpha_max_exact: float | None = None  # C-TRPO's normal mode: α measured with the exact D_C


@dataclass(frozen=True, kw_only=True)
class UpdateResult:
    """One policy update: the trainer's columns, in this order. The family fills the step, the reach and the
    budget; an algorithm states ``recovery``, ``barrier`` (C-TRPO) and its own columns in ``own`` (the ones its
    declaration lists under ``metrics``). None leaves the column out of the row (the algorithm has no such
    number, or a diagnostic was not finite)."""

    # the accepted step θ_{k+1} (kl, divergence and alpha_step are 0 where θ_k was kept)
    kl: float  # KL(π_k‖π_{k+1})
    divergence: float  # the divergence the algorithm bounds by δ
    step_fraction: float | None = None  # f of θ_k + f·x (None: no line search, the first-order family)
    ls_tries: int | None = None
    alpha_step: float | None = None  # α(θ_{k+1}): the cost increase the step made, to first order
    alpha_max: float | None = None  # the region's reach, as in RegionReach
    alpha_max_kl: float | None = None
    alpha_max_exact: float | None = None
    recovery: int = 0  # 1: the step only lowered the cost
    budget: float  # Δb = b − Ĵ_c(π_k)
    barrier: float | None = None  # C-TRPO: β·φ(α) at the accepted step (a column of every run: the contract's)
    own: dict = field(default_factory=dict)  # the algorithm's own columns (its declaration's "metrics")

    def as_row(self) -> dict:
        """The trainer's row: the fields that are not None, in the order above, then the algorithm's own."""
        row = {f.name: value for f in fields(self) if f.name != "own" and (value := getattr(self, f.name)) is not None}
        row.update({k: v for k, v in self.own.items() if v is not None})
        return row

    def replace(self, **fields) -> "UpdateResult":
        """This result with some fields changed (an algorithm states ``recovery``, ``barrier``)."""
        return replace(self, **fields)

    def with_own(self, **columns) -> "UpdateResult":
        """This result with more of the algorithm's own columns."""
        return replace(self, own={**self.own, **columns})
