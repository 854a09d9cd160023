"""Which runs a result counts, and how the runs of one setting are pooled into its values.

A run is a seed of its setting's final values only when it finished its planned steps
(``catalog.is_complete``): running, stopped, queued, failed and damaged runs never enter a median, IQM,
CI, heatmap cell, conclusion or CSV row. Every per-setting table says how many runs finished and what else
exists ("2 finished; seed 2 stopped at epoch 15/80"), so a setting is never silently thinner than planned.

Comparing runs that have not finished is possible, explicitly: :func:`at_equal_steps` cuts every run of a
selection at the fewest steps any of them trained, and everything computed from the cut says so.
"""

from __future__ import annotations

import math

import pandas as pd

from ..config.algorithms import legend_rank
from .catalog import final_values, is_complete, read_run_files
from .figure_style import short_labels
from .intervals import group_intervals

COMPARISON_VALUES = (("final_return", "return"), ("final_cost", "cost"), ("reg_plus", "Reg+"))
ONE_SEED_NOTE = "1 seed: no CI"
NONE_FINISHED_NOTE = "no finished run: nothing to compare yet"
COUNT_COLUMN = "finished seeds"  # the number of runs a setting's values pool (outside checks read "seeds")
CUT_COUNT_COLUMN = "seeds at equal steps"
NOT_COUNTED = "not counted"


def _seed(value) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "?"


def where_it_stands(row) -> str:
    """One unfinished run in words: "seed 2 stopped at epoch 15/80", "seed 3 queued (no epoch yet)"."""
    seed, state = f"seed {_seed(row.seed)}", row.state
    epoch, epochs = int(row.epoch or 0), row.epochs
    of = f"{epoch}/{int(epochs)}" if epochs == epochs and epochs is not None else str(epoch)
    if epoch == 0:
        return f"{seed} {state} (no epoch yet)"
    if state == "running":
        return f"{seed} running (epoch {of})"
    if state == "finished":  # finished with fewer epochs than planned: its config was extended since
        return f"{seed} ended at epoch {of}"
    return f"{seed} {state} at epoch {of}"


def setting_status(group: pd.DataFrame, counted: pd.Series) -> str:
    """What a setting holds: "2 finished; seed 2 stopped at epoch 15/80; seed 3 queued (no epoch yet)"."""
    others = group[~counted].sort_values("seed")
    parts = [f"{int(counted.sum())} finished"] + [where_it_stands(row) for row in others.itertuples()]
    return "; ".join(parts)


def one_run_per_seed(summaries: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Within each label keep one run per seed (a finished one first, then the one trained furthest, then the
    newest), so no seed counts twice in a pooled setting; returns the kept rows and a sentence per dropped run.
    Damaged rows (no label) are dropped: they belong to no setting."""
    if summaries.empty:
        return summaries, []
    summaries = summaries[summaries.label.notna()]
    ordered = summaries.assign(_complete=complete(summaries)).sort_values(
        ["_complete", "epoch", "updated"], ascending=False, na_position="last"
    )
    duplicated = ordered.duplicated(["label", "seed"], keep="first")
    notes = []
    for row in ordered[duplicated].itertuples():
        kept = ordered[~duplicated & (ordered.label == row.label) & (ordered.seed == row.seed)].name.iloc[0]
        notes.append(f"{row.name} left out: seed {_seed(row.seed)} of '{row.label}' is already counted by {kept}")
    return summaries.loc[~duplicated.reindex(summaries.index)], notes


def complete(summaries: pd.DataFrame) -> pd.Series:
    """Per row, whether the run counts: it finished every planned epoch (``catalog.is_complete``; rows built
    without the ``complete`` column are judged from their state and epochs)."""
    if "complete" in summaries:
        return summaries.complete.fillna(False).astype(bool)
    return pd.Series(
        [is_complete(s, e, n) for s, e, n in zip(summaries.state, summaries.epoch, summaries.epochs)],
        index=summaries.index,
        dtype=bool,
    )


def finished(summaries: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that count: finished every planned epoch."""
    return summaries[complete(summaries)] if len(summaries) else summaries


def unfinished_lines(summaries: pd.DataFrame) -> list[str]:
    """A line per run that does not count, for reports and the CLI: "<name>: seed 2 stopped at epoch 15/80"."""
    if summaries.empty:
        return []
    rest = summaries[~complete(summaries)]
    return [
        f"{row.name}: damaged ({row.message})" if row.state == "damaged" else f"{row.name}: {where_it_stands(row)}"
        for row in rest.itertuples()
    ]


def pool_seeds(curves: pd.DataFrame, y: str, x: str = "total_steps") -> pd.DataFrame:
    """Mean and a ±1 standard-deviation band over the seeds of each label, per x."""
    grouped = curves.groupby(["label", x])[y]
    pooled = grouped.agg(["mean", "std", "count"]).reset_index()
    pooled["std"] = pooled["std"].fillna(0.0)
    pooled["low"], pooled["high"] = pooled["mean"] - pooled["std"], pooled["mean"] + pooled["std"]
    return pooled


def comparison_table(summaries: pd.DataFrame, reps: int = 2000, equal_steps: int | None = None) -> pd.DataFrame:
    """Final return, final cost and Reg+ per label (one run per seed: see :func:`one_run_per_seed`): the
    median, the IQM and its 95% percentile-bootstrap CI over the seeds that count.

    Only finished runs count; ``finished seeds`` says how many did, ``seed ids`` which, ``not counted`` what
    else the setting holds. With ``equal_steps`` (rows from :func:`at_equal_steps`) every row counts, cut at
    that step count (``seeds at equal steps``, ``cut at steps``). ``setting`` is a short name (only what
    differs among the labels shown); a setting of one seed has no CI (NaN) and says so in ``note``."""
    rows, values = [], {}
    summaries = summaries[summaries.label.notna()] if len(summaries) else summaries
    short = short_labels(summaries.label.unique()) if len(summaries) else {}
    count_column = COUNT_COLUMN if equal_steps is None else CUT_COUNT_COLUMN
    for key, group in summaries.groupby("label"):
        first = group.iloc[0]
        counted = pd.Series(True, index=group.index) if equal_steps is not None else complete(group)
        pooled = group[counted]
        seeds = sorted(pooled.seed.unique())
        row = {
            "setting": short.get(key, key),
            "label": key,
            "algo": first.algo,
            "beta": first.beta,
            "bh": first.bh,
            count_column: len(seeds),
            "seed ids": ",".join(_seed(s) for s in seeds),
            NOT_COUNTED: ""
            if equal_steps is not None
            else "; ".join(where_it_stands(r) for r in group[~counted].sort_values("seed").itertuples()),
        }
        for column, name in COMPARISON_VALUES:
            values[(key, column)] = pooled[column].to_numpy(dtype=float)
            row[f"{name} median"] = float(pooled[column].median()) if len(pooled) else math.nan
        row["note"] = NONE_FINISHED_NOTE if not seeds else ONE_SEED_NOTE if len(seeds) < 2 else ""
        if equal_steps is not None:
            row["cut at steps"] = int(equal_steps)
        rows.append(row)
    cis = group_intervals(values, reps=reps)  # every setting's bootstrap at once (one run: no interval)
    for row in rows:
        for column, name in COMPARISON_VALUES:
            point, low, high = cis[(row["label"], column)]
            row.update({f"{name} IQM": point, f"{name} CI low": low, f"{name} CI high": high})
    table = pd.DataFrame(rows)
    if len(table):  # C-TRPO first, by β and b_H, as the figures' legends list them
        keys = [table.algo.map(legend_rank), table.beta.fillna(-1.0), table.bh.fillna(-1.0), table.label]
        order = sorted(range(len(table)), key=lambda i: tuple(k.iloc[i] for k in keys))
        table = table.iloc[order].reset_index(drop=True)
    return table


def count_column(table: pd.DataFrame) -> str:
    """The column of a comparison table that counts the runs pooled per setting."""
    return CUT_COUNT_COLUMN if CUT_COUNT_COLUMN in table else COUNT_COLUMN


def common_steps(summaries: pd.DataFrame) -> int | None:
    """The fewest environment steps any run of ``summaries`` with a trained epoch has reached (None: no such run)."""
    trained = (
        summaries[(summaries.state != "damaged") & (summaries.epoch.fillna(0) > 0)] if len(summaries) else summaries
    )
    return int(trained.steps.min()) if len(trained) else None


def at_equal_steps(summaries: pd.DataFrame) -> tuple[pd.DataFrame, int | None, list[str]]:
    """Every run of ``summaries`` that trained an epoch, its final values recomputed on its metrics cut at
    :func:`common_steps` (finished or not: all are compared at that point, explicitly); returns (the cut rows,
    the step count, a line per run left out because it has no epoch yet or is damaged)."""
    steps = common_steps(summaries)
    if steps is None:
        return summaries.iloc[0:0], None, unfinished_lines(summaries)
    keep = (summaries.state != "damaged") & (summaries.epoch.fillna(0) > 0)
    rows = []
    for _, row in summaries[keep].iterrows():
        try:
            _, _, metrics = read_run_files(row.path)
        except Exception:  # deleted or damaged since it was listed: it is left out like a damaged run
            continue
        cut = metrics[metrics.total_steps <= steps]
        rows.append({**row.to_dict(), **final_values(cut), "epoch": len(cut)})
    left_out = [line for line in unfinished_lines(summaries[~keep])]
    return pd.DataFrame(rows, columns=summaries.columns), steps, left_out


def equal_steps_title(steps: int) -> str:
    """What a comparison at equal steps says in its title and CSV."""
    return f"at equal steps: every run cut at {steps:,} environment steps (the fewest any run shown has trained)"


def cut_curves(curves: pd.DataFrame, steps: int | None) -> pd.DataFrame:
    """The curves up to ``steps`` environment steps (all of them when None)."""
    return curves if steps is None or curves.empty else curves[curves.total_steps <= steps]
