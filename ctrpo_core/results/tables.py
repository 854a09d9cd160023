"""The tables the app's pages show: the research tables of Compare and Sensitivity (``pooling.comparison_table``:
the columns in reading order, a help text per column, sentences for the settings that have no CI or hold
unfinished runs) and Live's run table, with numbers as people read them."""

from __future__ import annotations

import math

import pandas as pd

from .catalog import format_duration
from .pooling import COMPARISON_VALUES, COUNT_COLUMN, CUT_COUNT_COLUMN, NONE_FINISHED_NOTE, NOT_COUNTED, ONE_SEED_NOTE

STATS = ("median", "IQM", "CI low", "CI high")
COLUMN_HELP = {
    "setting": "The settings that differ among the ones shown (hover a curve for all of them; 'label' has all).",
    COUNT_COLUMN: "How many seeds (one run each) finished their planned steps: only these enter the values; "
    "which ones: 'seed ids'.",
    CUT_COUNT_COLUMN: "How many runs (one per seed) the values pool, each cut at the same step count.",
    "seed ids": "The seeds of the runs pooled in this setting.",
    NOT_COUNTED: "Runs of this setting that have not finished (running, stopped, queued, failed): never in the "
    "values. Switch on 'at equal steps' to compare them cut at a common step count.",
    "cut at steps": "Every run's values are taken at this many environment steps.",
    "note": f"'{ONE_SEED_NOTE}': a single run has no spread to resample; '{NONE_FINISHED_NOTE}': no run of this "
    "setting has finished.",
    "label": "Every result-changing setting but the seed: runs pool only within one label.",
    **{
        f"{name} {stat}": {
            "median": f"Median of the final {name} over seeds.",
            "IQM": f"Interquartile mean of the final {name} over seeds (the mean of the middle 50%).",
            "CI low": f"Lower end of the 95% percentile-bootstrap CI of the {name} IQM (2000 resamples of the seeds).",
            "CI high": f"Upper end of the 95% percentile-bootstrap CI of the {name} IQM (2000 resamples of the seeds).",
        }[stat]
        for _, name in COMPARISON_VALUES
        for stat in STATS
    },
}
# what the per-setting tables of Compare and Sensitivity hold, said once under each
CAPTION = (
    "Median and interquartile mean (IQM) over seeds with its 95% percentile-bootstrap CI; final return and "
    "cost: the mean over each run's last 10% of epochs; Reg+: at the end."
)


def comparison_view(summary: pd.DataFrame, extra=()) -> pd.DataFrame:
    """The table as a page shows it: the short setting name, ``extra`` columns (e.g. β, b_H), the seeds,
    then median, IQM and CI of each final value, the note and the full label last."""
    columns = [
        "setting",
        *extra,
        COUNT_COLUMN,
        CUT_COUNT_COLUMN,
        "seed ids",
        NOT_COUNTED,
        "cut at steps",
        *[f"{name} {stat}" for _, name in COMPARISON_VALUES for stat in STATS],
        "note",
        "label",
    ]
    return summary[[c for c in columns if c in summary]] if len(summary) else summary


def number_columns(summary: pd.DataFrame) -> list[str]:
    return [f"{name} {stat}" for _, name in COMPARISON_VALUES for stat in STATS if f"{name} {stat}" in summary]


def one_seed_settings(summary: pd.DataFrame) -> list[str]:
    """A sentence naming the settings of one seed (their IQM is that run's value and they have no CI)."""
    if summary.empty or "note" not in summary:
        return []
    lines = []
    single = summary[summary.note == ONE_SEED_NOTE].setting.tolist()
    if single:
        lines.append(
            f"{len(single)} setting{'s' if len(single) > 1 else ''} with one seed, so no confidence "
            "interval: " + ", ".join(single) + ". Train more seeds to compare them."
        )
    empty = summary[summary.note == NONE_FINISHED_NOTE].setting.tolist()
    if empty:
        lines.append(
            f"{len(empty)} setting{'s' if len(empty) > 1 else ''} with no finished run, so no values yet: "
            + ", ".join(empty)
            + "."
        )
    return lines


def unfinished_settings(summary: pd.DataFrame) -> list[str]:
    """A line per setting that holds runs which do not count: "C-TRPO β=0: 2 finished; seed 2 stopped at
    epoch 15/80" (the values pool only the finished ones)."""
    if summary.empty or NOT_COUNTED not in summary:
        return []
    rest = summary[summary[NOT_COUNTED].fillna("") != ""]
    return [f"{row['setting']}: {int(row[COUNT_COLUMN])} finished; {row[NOT_COUNTED]}" for _, row in rest.iterrows()]


def selection_caption(chosen: pd.DataFrame, counted: pd.DataFrame, steps: int | None) -> str:
    """What a comparison pools, said once above it: how many runs count, in how many settings, and on what
    terms (finished runs only, or every run cut at ``steps``)."""
    settings = f"{counted.label.nunique()} setting{'s' if counted.label.nunique() != 1 else ''}"
    if steps is not None:
        return (
            f"{len(counted)} runs in {settings}, every one cut at {steps:,} environment steps (finished or "
            "not), pooled only with runs of exactly the same settings (all but the seed), one run per seed."
        )
    rest = len(chosen) - len(counted)
    return (
        f"{len(counted)} finished runs in {settings}, pooled only with runs of exactly the same settings (all "
        "but the seed), one run per seed"
        + (f"; {rest} unfinished run{'s are' if rest != 1 else ' is'} not counted (below)." if rest else ".")
    )


MISSING = "—"  # a value that does not exist yet (no finished episode, no epoch): never "None" or "nan"


def readable_number(value) -> str:
    """A number as a class reads it: 3 significant digits, whole thousands with separators, "—" when missing."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return MISSING
    if not math.isfinite(value):
        return MISSING
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def live_view(table: pd.DataFrame) -> pd.DataFrame:
    """Live's run table: which run and seed, where it stands, and its final values, marked "so far" while the
    run has not finished its planned epochs (they are not final yet), "—" where a value does not exist."""

    def values(row) -> str:
        if row.state == "damaged":
            return MISSING
        return "final" if row.complete else "so far" if row.epoch else MISSING

    epochs = [f"{int(e)}/{int(n)}" if e == e and n == n else MISSING for e, n in zip(table.epoch, table.epochs)]
    return pd.DataFrame(
        {
            "run": table.name,
            "seed": [MISSING if s != s or s is None else str(int(s)) for s in table.seed],
            "state": table.state,
            "progress": table.progress,
            "epoch": epochs,
            "ETA": table.eta_s.map(format_duration),
            "values": [values(r) for r in table.itertuples()],
            "return": table.final_return.map(readable_number),
            "cost": table.final_cost.map(readable_number),
            "Reg+": table.reg_plus.map(readable_number),
            "message": table.message.fillna(""),
        }
    )
