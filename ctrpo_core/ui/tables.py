"""How the app shows a per-setting research table (Compare, Sensitivity): numbers to 4 significant digits,
"—" where a value does not exist (a setting with no finished run), a help text per column, and the runs a
setting does not count in a column wide enough to read."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..results.pooling import NOT_COUNTED
from ..results.tables import COLUMN_HELP, MISSING, comparison_view, number_columns


def comparison_dataframe(summary: pd.DataFrame, extra=(), names: dict | None = None, **kwargs) -> None:
    """``pooling.comparison_table`` rows as a page shows them; ``extra`` columns (e.g. β, b_H) after the
    setting, renamed by ``names``."""
    view = comparison_view(summary, extra=extra).rename(columns=names or {})
    numbers = number_columns(view)
    config = {
        c: st.column_config.NumberColumn(help=h) if c in numbers else st.column_config.Column(help=h)
        for c, h in COLUMN_HELP.items()
    }
    config[NOT_COUNTED] = st.column_config.TextColumn(help=COLUMN_HELP[NOT_COUNTED], width="large")
    styled = view.style.format({c: "{:.4g}" for c in numbers}, na_rep=MISSING)
    st.dataframe(styled, hide_index=True, width="stretch", column_config=config, **kwargs)
