import streamlit as st

from ctrpo_core.catalog import comparison_table, default_runs_dir, load_curves, one_run_per_seed, run_table, usable
from ctrpo_core.plots import curve_figure

st.title("Compare")
table = usable(run_table(default_runs_dir()))
if table.empty:
    st.info("No runs to compare yet.")
    st.stop()

filters = {}
cols = st.columns(6)
for col, (key, title) in zip(cols, [("task", "Task"), ("algo", "Algorithm"), ("beta", "β"), ("bh", "b_H"),
                                    ("delta", "δ"), ("total_steps", "Steps")]):
    options = sorted(table[key].dropna().unique().tolist())
    filters[key] = col.multiselect(title, options, default=options, key=f"cmp_{key}")
mask = table.state.notna()
for key, values in filters.items():
    mask &= table[key].isin(values) | table[key].isna()  # N/A (β for trpo) is never a filter value
chosen, duplicates = one_run_per_seed(table[mask])
st.caption(f"{len(chosen)} runs in {chosen.label.nunique()} settings; runs are pooled only with runs of exactly "
           f"the same settings (every setting but the seed), one run per seed")
if duplicates:
    with st.expander(f"{len(duplicates)} runs left out: their seed is already counted in their setting"):
        st.markdown("\n".join(f"- {line}" for line in duplicates))
if chosen.empty:
    st.stop()

curves = load_curves(chosen.path.tolist())
limits = chosen.cost_limit.unique()
c1, c2, c3 = st.columns(3)
c1.plotly_chart(curve_figure(curves, "ep_return"), key="cmp_return")
c2.plotly_chart(curve_figure(curves, "ep_cost", cost_limit=limits[0] if len(limits) == 1 else None), key="cmp_cost")
c3.plotly_chart(curve_figure(curves, "cost_regret"), key="cmp_regret")

st.subheader("Final values: IQM with 95% bootstrap CIs over seeds")
summary = comparison_table(chosen)
st.dataframe(summary, hide_index=True, width="stretch")
st.download_button("Download CSV", summary.to_csv(index=False).encode(), file_name="comparison.csv", mime="text/csv")
