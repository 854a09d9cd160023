import streamlit as st

from ctrpo_core.results import pooling
from ctrpo_core.results.catalog import CURVE_COLUMNS, default_runs_dir, load_curves, run_table
from ctrpo_core.results.plots import BAND_NOTE, ctrpo_only, curve_panels, final_values_figure
from ctrpo_core.results.tables import CAPTION, one_seed_settings, selection_caption, unfinished_settings
from ctrpo_core.ui.charts import PLOTLY_CONFIG
from ctrpo_core.ui.tables import comparison_dataframe

st.title("Compare")
table = run_table(default_runs_dir())
table = table[table.state != "damaged"] if len(table) else table
if table.empty:
    st.info("No runs to compare yet.")
    st.stop()

# the filters live in the sidebar: wide enough for whole chips ("HazardEdge-v0"), and the curves stay on screen
filters = {}
st.sidebar.subheader("Filter the runs")
for key, title in [
    ("task", "Task"),
    ("algo", "Algorithm"),
    ("beta", "β"),
    ("bh", "b_H"),
    ("delta", "δ"),
    ("total_steps", "Steps"),
]:
    options = sorted(table[key].dropna().unique().tolist())
    filters[key] = st.sidebar.multiselect(title, options, default=options, key=f"cmp_{key}")
mask = table.state.notna()
for key, values in filters.items():
    mask &= table[key].isin(values) | table[key].isna()  # N/A (β for trpo) is never a filter value
c1, c2, c3 = st.columns(3)
only = c1.toggle(
    "C-TRPO only",
    key="cmp_ctrpo_only",
    help="Hide the other algorithms, e.g. TRPO's Reg+ of thousands that flattens C-TRPO's β variants to zero.",
)
log_y = c2.toggle("Log cost, Reg+", key="cmp_log", help="Cost and Reg+ on log axes (a value of 0 is not drawn).")
equal = c3.toggle(
    "At equal steps",
    key="cmp_equal_steps",
    help="Also compare runs that have not finished: every run shown is cut at the fewest environment "
    "steps any of them has trained, and its values are taken there. Off: only finished runs count.",
)
chosen, duplicates = pooling.one_run_per_seed(ctrpo_only(table[mask]) if only else table[mask])
if chosen.empty:
    st.info("No run matches these filters.")
    st.stop()
if equal:
    counted, steps, left_out = pooling.at_equal_steps(chosen)
    summary = pooling.comparison_table(counted, equal_steps=steps)
else:
    counted, steps, left_out = pooling.finished(chosen), None, []
    summary = pooling.comparison_table(chosen)
st.caption(selection_caption(chosen, counted, steps) + f" {BAND_NOTE}; hover for the full settings.")
for line in unfinished_settings(summary):
    st.caption(line)
for line in left_out:
    st.caption(f"Left out: {line}")
if duplicates:
    with st.expander(f"{len(duplicates)} runs left out: their seed is already counted in their setting"):
        st.markdown("\n".join(f"- {line}" for line in duplicates))
if counted.empty:
    st.info(
        "None of these runs has finished yet. Switch on **At equal steps** to compare them as far as they have trained."
    )
    st.stop()

curves = pooling.cut_curves(load_curves(counted.path.tolist(), columns=CURVE_COLUMNS), steps)
limits = counted.cost_limit.unique()
st.plotly_chart(
    curve_panels(curves, pooled=True, cost_limit=limits[0] if len(limits) == 1 else None, log_y=log_y),
    key="cmp_curves",
    config=PLOTLY_CONFIG,
)

st.subheader("Final values per setting" + (f", {pooling.equal_steps_title(steps)}" if equal else ""))
st.caption(CAPTION)
for line in one_seed_settings(summary):
    st.warning(line)
shown = summary[summary[pooling.count_column(summary)] > 0]
st.plotly_chart(final_values_figure(shown, log_x=log_y), key="cmp_final", config=PLOTLY_CONFIG)
comparison_dataframe(summary)
st.download_button(
    "Download CSV",
    summary.to_csv(index=False).encode(),
    file_name="comparison_equal_steps.csv" if equal else "comparison.csv",
    mime="text/csv",
)
