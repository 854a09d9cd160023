"""What the research tables of the Compare and Sensitivity pages show of ``catalog.comparison_table``:
the columns in reading order, a help text per column, and a sentence per setting that has no CI."""

from __future__ import annotations

import pandas as pd

from .catalog import COMPARISON_VALUES, ONE_SEED_NOTE

STATS = ("median", "IQM", "CI low", "CI high")
COLUMN_HELP = {
    "setting": "The settings that differ among the ones shown (hover a curve for all of them; 'label' has all).",
    "seeds": "How many seeds (one run each) the values pool; which ones: 'seed ids'.",
    "seed ids": "The seeds of the runs pooled in this setting.",
    "note": f"'{ONE_SEED_NOTE}': a single run has no spread to resample.",
    "label": "Every result-changing setting but the seed: runs pool only within one label.",
    **{f"{name} {stat}": {
        "median": f"Median of the final {name} over seeds.",
        "IQM": f"Interquartile mean of the final {name} over seeds (the mean of the middle 50%).",
        "CI low": f"Lower end of the 95% percentile-bootstrap CI of the {name} IQM (2000 resamples of the seeds).",
        "CI high": f"Upper end of the 95% percentile-bootstrap CI of the {name} IQM (2000 resamples of the seeds).",
    }[stat] for _, name in COMPARISON_VALUES for stat in STATS},
}
NUMBER_FORMAT = "%.4g"
# what the per-setting tables of Compare and Sensitivity hold, said once under each
CAPTION = ("Median and interquartile mean (IQM) over seeds with its 95% percentile-bootstrap CI; final return and "
           "cost: the mean over each run's last 10% of epochs; Reg+: at the end.")


def comparison_view(summary: pd.DataFrame, extra=()) -> pd.DataFrame:
    """The table as a page shows it: the short setting name, ``extra`` columns (e.g. β, b_H), the seeds,
    then median, IQM and CI of each final value, the note and the full label last."""
    columns = ["setting", *extra, "seeds", "seed ids",
               *[f"{name} {stat}" for _, name in COMPARISON_VALUES for stat in STATS], "note", "label"]
    return summary[[c for c in columns if c in summary]] if len(summary) else summary


def number_columns(summary: pd.DataFrame) -> list[str]:
    return [f"{name} {stat}" for _, name in COMPARISON_VALUES for stat in STATS if f"{name} {stat}" in summary]


def one_seed_settings(summary: pd.DataFrame) -> list[str]:
    """A sentence naming the settings of one seed (their IQM is that run's value and they have no CI)."""
    if summary.empty or "note" not in summary:
        return []
    single = summary[summary.note == ONE_SEED_NOTE].setting.tolist()
    if not single:
        return []
    return [f"{len(single)} setting{'s' if len(single) > 1 else ''} with one seed, so no confidence interval: "
            + ", ".join(single) + ". Train more seeds to compare them."]
