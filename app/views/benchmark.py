import streamlit as st

from ctrpo_core.results import aggregate
from ctrpo_core.results.benchmark_plots import (
    aggregate_figure,
    aggregate_view,
    curve_grid,
    improvement_figure,
    improvement_view,
    per_task_view,
    profile_figure,
)
from ctrpo_core.results.benchmark_results import list_benchmarks, load, summary_tables
from ctrpo_core.results.catalog import default_runs_dir
from ctrpo_core.results.figure_style import algo_name
from ctrpo_core.results.plots import BAND_NOTE
from ctrpo_core.sweeps.benchmark import scope_text
from ctrpo_core.sweeps.manifest import sweep_running
from ctrpo_core.ui.charts import PLOTLY_CONFIG

# rliable's bootstrap loops in Python (about 0.35 s per IQM CI and 6 s per pair's probability of improvement at
# 2,000 replicates): the page resamples less and says so; the Benchmark report uses the full 2,000
REPS, IMPROVEMENT_REPS, PROFILE_REPS = 500, 200, 500
REFRESH_S = 10.0  # while a driver trains the benchmark, the page looks again this often


def figure_and_table(table, figure, view, key: str, empty: str) -> None:
    """A table's figure and its printable copy, or a line saying why there is nothing yet."""
    if table.empty:
        st.info(empty)
        return
    st.plotly_chart(figure(table), key=key, config=PLOTLY_CONFIG)
    st.dataframe(view(table), hide_index=True, width="stretch")


st.title("Benchmark")
st.caption(
    "The paper's protocol over a benchmark of this runs folder (`ctrpo benchmark`: tasks × algorithms × seeds "
    "at one step budget). Only finished runs count; the others are named below."
)
runs_dir = default_runs_dir()
names = list_benchmarks(runs_dir)
if not names:
    st.info(
        f"No benchmark in `{runs_dir}` yet. Start one from a terminal (PPO and CPO, the references of the "
        "normalisation, are always added; `--plan-only` first says what it trains and how long that takes):"
    )
    st.code(
        "ctrpo benchmark --tasks HazardEdge-v0,GridHazard-v0 --algos c-trpo,trpo-lag,cpo --seeds 0,1,2 "
        f"--steps 160000 --runs-dir {runs_dir}",
        language="bash",
    )
    st.stop()
if st.session_state.get("bm_name") not in names:
    st.session_state["bm_name"] = names[-1]
chosen = st.selectbox("Benchmark", names, key="bm_name")


@st.cache_data(show_spinner=False, max_entries=8)
def statistics(counted, reps: int, improvement_reps: int, profile_reps: int):
    """Every table and the performance profile of the finished runs ``counted`` (their summary rows: the key,
    so a benchmark's statistics are bootstrapped again only when one of its runs finishes)."""
    tables = summary_tables(counted, reps, improvement_reps=improvement_reps)
    profile = aggregate.performance_profiles(tables.normalised, "return_norm", reps=profile_reps)
    return tables, profile


@st.fragment(run_every=REFRESH_S if sweep_running(runs_dir, chosen) is not None else None)
def benchmark_view():
    state = load(runs_dir, chosen)
    request = state.request
    st.markdown(f"**{chosen}**: {scope_text(request, name_task=str, name_algo=algo_name)} per run.")
    progress = state.progress()
    st.progress(progress["finished"] / max(1, progress["planned"]), text=state.progress_line())
    missing = state.missing()
    if len(missing):
        st.warning(
            f"{progress['planned'] - progress['finished']} runs do not count yet: every number and figure below "
            "uses only the finished ones. Not counted:"
        )
        # at most 6 rows high (it scrolls): the figures stay near the top while a large benchmark trains
        shown = missing.assign(algo=missing.algo.map(algo_name))
        st.dataframe(shown, hide_index=True, width="stretch", height=38 + 35 * min(len(shown), 6))
        if state.driver is None:
            st.caption(
                f"`ctrpo sweep --resume {chosen} --runs-dir {runs_dir}` trains them (the finished runs are kept)."
            )
    counted = state.counted
    if counted.empty:
        st.info("No run of this benchmark has finished yet.")
        return
    with st.spinner(
        f"Bootstrapping the confidence intervals ({REPS} resamples, {IMPROVEMENT_REPS} for the probabilities of "
        "improvement; the report uses 2,000)…"
    ):
        tables, profile = statistics(counted, REPS, IMPROVEMENT_REPS, PROFILE_REPS)

    st.subheader("Across tasks")
    st.caption(
        "Per task, the return is divided by PPO's mean final return, the cost becomes V_c / b − 1 (0 at the "
        "limit, below 0 safe) and Reg+ is divided by CPO's Reg+. Dot: the interquartile mean (IQM) over "
        "tasks × seeds; bar: its 95% stratified-bootstrap CI "
        f"({REPS} resamples here, 2,000 in the report). Probably safe: the cost's CI ends at or below 0."
    )
    for line in tables.left_out:
        st.caption(f"Left out of the aggregate: {line}.")
    figure_and_table(
        tables.aggregate,
        aggregate_figure,
        aggregate_view,
        "bm_aggregate",
        "Nothing to aggregate yet: no task has a finished run of every algorithm.",
    )

    st.subheader("Probability of improvement")
    st.caption(
        "The chance that a C-TRPO run beats a run of the baseline on a task drawn at random (ties count half): "
        "for return (higher) and Reg+ (lower), with 95% CIs "
        f"({IMPROVEMENT_REPS} resamples here, 2,000 in the report). Above 0.5: C-TRPO is more often better."
    )
    figure_and_table(
        tables.improvement,
        improvement_figure,
        improvement_view,
        "bm_improvement",
        "No probability of improvement yet: C-TRPO and a baseline need finished runs on the same tasks.",
    )

    st.subheader("Learning curves")
    log_y = st.toggle("Log cost, Reg+", key="bm_log", help="Cost and Reg+ on log axes (a value of 0 is not drawn).")
    st.caption(f"A row per task, a line per algorithm: its finished runs, {BAND_NOTE}; hover for the settings.")
    st.plotly_chart(curve_grid(state.curves(), request["tasks"], log_y=log_y), key="bm_curves", config=PLOTLY_CONFIG)

    st.subheader("Per task")
    st.caption(
        "Final return V_r, final cost V_c (mean of the last 10% of epochs) and Reg+: IQM over the finished seeds "
        f"[95% bootstrap CI, {REPS} resamples]."
    )
    per_task = tables.per_task
    for task in [t for t in request["tasks"] if t in set(per_task.task)]:
        b = per_task[per_task.task == task].b.iloc[0]
        st.markdown(f"**{task}** (cost limit b = {b:g})")
        st.dataframe(per_task_view(per_task, task), hide_index=True, width="stretch")
    st.download_button(
        "Download CSV (per task)",
        per_task.drop(columns=["not counted"], errors="ignore").to_csv(index=False).encode(),
        file_name=f"{chosen}_per_task.csv",
        mime="text/csv",
        key="bm_csv",
    )

    st.subheader("Performance profile")
    st.caption(
        "The fraction of each algorithm's runs × tasks whose normalised return is above τ, with 95% CI bands "
        f"({PROFILE_REPS} resamples): a curve further right is better."
    )
    st.plotly_chart(profile_figure(profile), key="bm_profile", config=PLOTLY_CONFIG)


benchmark_view()
