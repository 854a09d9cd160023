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
import pandas as pd

REPS = 2000  # bootstrap replicates (rliable's papers use 2,000 for CIs of aggregates)


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


def column_intervals(values: pd.DataFrame, reps: int = REPS, seed: int = 0) -> dict:
    """{column: (IQM, CI low, CI high)} of each column of one group of runs. One bootstrap serves every column
    (the columns are its strata, so each column's replicates are those of a bootstrap of that column alone);
    a column with non-finite values gets its own, of its finite values."""
    columns = list(values.columns)
    matrix = values.to_numpy(dtype=float).reshape(len(values), len(columns))
    whole = [c for j, c in enumerate(columns) if np.isfinite(matrix[:, j]).all()]
    out = {}
    if whole and len(values) >= 2:
        library, metrics = rliable()
        block = values[whole].to_numpy(dtype=float)
        with quiet():
            points, cis = library.get_interval_estimates(
                {"g": block},
                lambda m: np.array([metrics.aggregate_iqm(m[:, j]) for j in range(m.shape[1])]),
                reps=reps,
                random_state=np.random.RandomState(seed),
            )
        for j, column in enumerate(whole):
            out[column] = (float(points["g"][j]), float(cis["g"][0, j]), float(cis["g"][1, j]))
    rest = {c: values[c].to_numpy(dtype=float) for c in columns if c not in out}
    out.update(intervals({c: v[np.isfinite(v)] for c, v in rest.items()}, reps=reps, seed=seed))
    return {c: out[c] for c in columns}
