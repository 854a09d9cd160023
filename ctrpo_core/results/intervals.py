"""IQM and 95% confidence intervals of groups of runs, computed with rliable (Agarwal et al., NeurIPS 2021): the
interquartile mean (the mean of the middle 50% of all values: ``trim_mean(·, 0.25)``) and percentile CIs from the
stratified bootstrap (runs resampled within each task of a runs × tasks matrix).

rliable is imported when a statistic is first computed (about 1.5 s), so nothing that only lists runs pays for it.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

REPS = 2000  # bootstrap replicates (rliable's papers use 2,000 for CIs of aggregates)
GROUP_MEMO_KEPT = 64  # group_intervals' answers kept (a Compare or Sensitivity view each)
_GROUP_MEMO: dict = {}


def rliable():
    """rliable's (library, metrics) modules."""
    from rliable import library, metrics  # noqa: PLC0415 (about 1.5 s: only when a statistic is computed)

    return library, metrics


@contextlib.contextmanager
def quiet():
    """rliable 1.2 passes arch the ``random_state`` that arch 7 deprecates (a FutureWarning on every bootstrap)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
        yield


def iqm(values) -> float:
    """rliable's IQM of the finite values (the mean of the middle 50%: ``trim_mean(·, 0.25)`` over all of them)."""
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan
    return float(rliable()[1].aggregate_iqm(values))


def intervals(groups: dict, statistic=None, reps: int = REPS, seed: int = 0, confidence: float = 0.95) -> dict:
    """{name: (point, CI low, CI high)} for each runs × tasks matrix of ``groups`` (a 1-D array is one task) by
    rliable's stratified percentile bootstrap; ``statistic`` maps a matrix to a number (default: the IQM). A group
    of one run has no interval (NaN ends); an empty one is all NaN."""
    library, metrics = rliable()
    statistic = statistic or metrics.aggregate_iqm
    out, usable = {}, {}
    for name, matrix in groups.items():
        matrix = np.asarray(matrix, dtype=float)
        matrix = matrix.reshape(-1, 1) if matrix.ndim == 1 else matrix
        if matrix.size == 0:
            out[name] = (math.nan, math.nan, math.nan)
        elif matrix.shape[0] < 2:
            out[name] = (float(statistic(matrix)), math.nan, math.nan)
        else:
            usable[name] = matrix
    if usable:
        with quiet():
            points, cis = library.get_interval_estimates(
                usable,
                lambda m: np.array([statistic(m)]),
                reps=reps,
                confidence_interval_size=confidence,
                random_state=np.random.RandomState(seed),
            )
        for name in usable:
            out[name] = (float(points[name][0]), float(cis[name][0, 0]), float(cis[name][1, 0]))
    return {name: out[name] for name in groups}


def group_intervals(groups: dict, reps: int = REPS, seed: int = 0) -> dict:
    """{key: (IQM, CI low, CI high)} of each group of runs of one task (``groups``: key -> values; non-finite
    values are left out). Groups of the same size share one rliable bootstrap: each group is one stratum (a
    column of the runs × groups matrix), resampled on its own, and the statistic is each column's IQM, so each
    group's replicates are those of a bootstrap of that group alone, at the cost of one bootstrap for all (a
    table of 27 settings × 3 values: one call instead of 81). A group of one run has no interval (NaN ends)."""
    values = {key: np.asarray(v, dtype=float).ravel() for key, v in groups.items()}
    values = {key: v[np.isfinite(v)] for key, v in values.items()}
    # a page redraws the same finished runs every few seconds: the same values give the same answer
    memo = (reps, seed, tuple((repr(key), v.tobytes()) for key, v in values.items()))
    if memo in _GROUP_MEMO:
        return dict(_GROUP_MEMO[memo])
    out = {key: (iqm(v), math.nan, math.nan) for key, v in values.items() if v.size < 2}
    by_size: dict[int, list] = {}
    for key, v in values.items():
        if v.size >= 2:
            by_size.setdefault(v.size, []).append(key)
    if by_size:
        from scipy.stats import trim_mean  # noqa: PLC0415 (scipy loads with rliable, on first use)

        library, _ = rliable()
        matrices = {size: np.stack([values[k] for k in keys], axis=1) for size, keys in by_size.items()}
        with quiet():
            points, cis = library.get_interval_estimates(
                matrices,
                lambda m: np.atleast_1d(trim_mean(m, 0.25, axis=0)),  # each column's IQM, rliable's definition
                reps=reps,
                random_state=np.random.RandomState(seed),
            )
        for size, keys in by_size.items():
            for j, key in enumerate(keys):
                out[key] = (float(points[size][j]), float(cis[size][0, j]), float(cis[size][1, j]))
    out = {key: out[key] for key in groups}
    if len(_GROUP_MEMO) >= GROUP_MEMO_KEPT:
        _GROUP_MEMO.pop(next(iter(_GROUP_MEMO)))  # the oldest
    _GROUP_MEMO[memo] = out
    return dict(out)
