"""Running observation normalisation (mean/std over everything seen so far)."""

from __future__ import annotations

import math

import numpy as np


class RunningNormalizer:
    """Normalises observations with a running mean and variance (parallel Welford update).

    The state is three float64 values/arrays, so ``state_dict``/``load_state_dict`` round-trip
    exactly; a resumed run normalises bit-for-bit like an uninterrupted one.
    """

    def __init__(self, shape: tuple[int, ...] | int, clip: float = math.inf, eps: float = 1e-8, frozen: bool = False):
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.frozen = frozen  # never updated: observations pass as they are, for tasks that are scaled
        # the authors' normaliser does not clip (clip = inf); a finite clip bounds the normalised values
        self.clip = float(clip)
        self.eps = float(eps)
        self.mean = np.zeros(self.shape, dtype=np.float64)
        self.var = np.ones(self.shape, dtype=np.float64)
        self.count = 0.0

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, dtype=np.float64).reshape(-1, *self.shape)
        n = batch.shape[0]
        if n == 0:
            return
        # batch.mean(axis=0) and batch.var(axis=0), the same float operations without numpy's Python
        # wrappers (they cost more than the sums for the 10 rows of a rollout step)
        batch_mean = np.add.reduce(batch, axis=0) / n
        centred = batch - np.add.reduce(batch, axis=0, keepdims=True) / n
        batch_var = np.add.reduce(np.multiply(centred, centred, out=centred), axis=0) / n
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        m2 = self.var * self.count + batch_var * n + delta**2 * (self.count * n / total)
        self.var = m2 / total
        self.count = total

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        out = (np.asarray(obs, dtype=np.float64) - self.mean) / np.sqrt(self.var + self.eps)
        return np.clip(out, -self.clip, self.clip).astype(np.float32)

    def __call__(self, obs: np.ndarray, update: bool = True) -> np.ndarray:
        if update and not self.frozen:
            self.update(obs)
        return self.normalize(obs)

    def state_dict(self) -> dict:
        return {
            "mean": self.mean.copy(),
            "var": self.var.copy(),
            "count": np.array(self.count, dtype=np.float64),
            "clip": np.array(self.clip),
            "eps": np.array(self.eps),
        }

    def load_state_dict(self, state: dict) -> None:
        mean = np.asarray(state["mean"], dtype=np.float64)
        if mean.shape != self.shape:
            raise ValueError(f"normaliser state has shape {mean.shape}, expected {self.shape}")
        self.mean = mean.copy()
        self.var = np.asarray(state["var"], dtype=np.float64).copy()
        self.count = float(state["count"])
        self.clip = float(state["clip"])
        self.eps = float(state["eps"])
