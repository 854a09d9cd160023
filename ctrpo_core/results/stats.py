"""Aggregate statistics of the paper's protocol (the rliable method, written out).

IQM = the 25% trimmed mean (mean of the middle 50% of the values); 95% confidence intervals by
the percentile bootstrap, resampling runs with replacement within each task (stratified).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _stats


def iqm(values) -> float:
    """Interquartile mean: scipy's trim_mean with 25% cut at each end (fractional cut-offs are
    rounded down, as rliable does)."""
    values = np.asarray(values, dtype=float).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan")
    return float(_stats.trim_mean(values, 0.25))


def bootstrap_ci(samples, statistic=None, reps: int = 2000, confidence: float = 0.95, seed: int = 0):
    """Percentile-bootstrap CI of ``statistic`` (default: the IQM).

    ``samples`` is a 1-D array of runs (one task), a list of 1-D arrays (one per task; lengths may
    differ) or a 2-D array laid out as rliable's score matrix, runs × tasks (one column per task).
    With several tasks each replicate resamples runs within every task (stratified bootstrap) and
    applies ``statistic`` to all resampled values together. ``statistic`` maps a (reps, n) array to
    (reps,) values along axis 1; all replicates are drawn and evaluated at once. Returns (low, high).
    """
    statistic = statistic or (lambda values: _stats.trim_mean(values, 0.25, axis=1))
    if isinstance(samples, (list, tuple)) and len(samples) and np.ndim(samples[0]) > 0:
        strata = [np.asarray(s, dtype=float).ravel() for s in samples]
    elif np.ndim(samples) == 2:  # runs × tasks: a column per task (was taken row-wise before)
        strata = list(np.asarray(samples, dtype=float).T)
    else:  # one task (also a pandas Series, whatever its index)
        strata = [np.asarray(samples, dtype=float).ravel()]
    strata = [s[~np.isnan(s)] for s in strata]
    if not strata or any(s.size == 0 for s in strata):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    resampled = np.concatenate([s[rng.integers(0, s.size, (reps, s.size))] for s in strata], axis=1)
    replicates = statistic(resampled)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def summarize(values, reps: int = 2000, seed: int = 0) -> dict:
    """IQM with its 95% CI and the number of runs, for one group of runs."""
    values = np.asarray(values, dtype=float)
    low, high = bootstrap_ci(values, reps=reps, seed=seed) if values.size else (np.nan, np.nan)
    return {"iqm": iqm(values), "ci_low": low, "ci_high": high, "n": int(np.sum(~np.isnan(values)))}
