import streamlit as st

from ctrpo_core.results.catalog import comparison_table, default_runs_dir, load_curves, one_run_per_seed, run_table, usable
from ctrpo_core.results.plots import BAND_NOTE, ctrpo_only, curve_panels, final_values_figure
from ctrpo_core.results.tables import CAPTION, COLUMN_HELP, NUMBER_FORMAT, comparison_view, number_columns, one_seed_settings

st.title("Compare")
table = usable(run_table(default_runs_dir()))
if table.empty:
    st.info("No runs to compare yet.")
    st.stop()

# the filters live in the sidebar: wide enough for whole chips ("HazardEdge-v0"), and the curves stay on screen
filters = {}
st.sidebar.subheader("Filter the runs")
for key, title in [("task", "Task"), ("algo", "Algorithm"), ("beta", "β"), ("bh", "b_H"), ("delta", "δ"),
                   ("total_steps", "Steps")]:
    options = sorted(table[key].dropna().unique().tolist())
    filters[key] = st.sidebar.multiselect(title, options, default=options, key=f"cmp_{key}")
mask = table.state.notna()
for key, values in filters.items():
    mask &= table[key].isin(values) | table[key].isna()  # N/A (β for trpo) is never a filter value
c1, c2, c3 = st.columns([1, 1, 2])
only = c1.toggle("C-TRPO only", key="cmp_ctrpo_only", help="Hide the other algorithms, e.g. TRPO's Reg+ of "
                 "thousands that flattens C-TRPO's β variants to zero.")
log_y = c2.toggle("Log scale: cost, Reg+", key="cmp_log", help="Cost and Reg+ on log axes (a value of 0 is not drawn).")
chosen, duplicates = one_run_per_seed(ctrpo_only(table[mask]) if only else table[mask])
c3.caption(f"{len(chosen)} runs in {chosen.label.nunique()} settings, pooled only with runs of exactly the same "
           f"settings (all but the seed), one run per seed. {BAND_NOTE}; hover for the full settings.")
if duplicates:
    with st.expander(f"{len(duplicates)} runs left out: their seed is already counted in their setting"):
        st.markdown("\n".join(f"- {line}" for line in duplicates))
if chosen.empty:
    st.info("No run matches these filters.")
    st.stop()

curves = load_curves(chosen.path.tolist())
limits = chosen.cost_limit.unique()
st.plotly_chart(curve_panels(curves, pooled=True, cost_limit=limits[0] if len(limits) == 1 else None, log_y=log_y),
                key="cmp_curves")

st.subheader("Final values per setting")
summary = comparison_table(chosen)
st.caption(CAPTION)
for line in one_seed_settings(summary):
    st.warning(line)
st.plotly_chart(final_values_figure(summary, log_x=log_y), key="cmp_final")
numbers = set(number_columns(summary))
st.dataframe(comparison_view(summary), hide_index=True, width="stretch", column_config={
    c: st.column_config.NumberColumn(help=h, format=NUMBER_FORMAT) if c in numbers else st.column_config.Column(help=h)
    for c, h in COLUMN_HELP.items()})
st.download_button("Download CSV", summary.to_csv(index=False).encode(), file_name="comparison.csv", mime="text/csv")
