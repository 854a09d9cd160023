import streamlit as st

from ctrpo_core import api
from ctrpo_core.catalog import default_runs_dir, load_curves, resolve_run, run_table, stop_run
from ctrpo_core.config import ConfigError
from ctrpo_core.plots import curve_figure, shrinkage_figure

st.title("Live")
runs_dir = default_runs_dir()
table = run_table(runs_dir)
if table.empty:
    st.info(f"No runs in `{runs_dir}` yet: start one on the Train page.")
    st.stop()

running = table.loc[table.state == "running", "name"].tolist()
default = [n for n in st.session_state.get("live_selection", []) if n in set(table.name)] or running or table.name[:3].tolist()
selected = st.multiselect("Runs to watch", table.name.tolist(), default=default, key="live_runs")
pooled = st.toggle("Pool seeds (mean ± std band)", value=False, key="live_pooled")

col1, col2, _ = st.columns([1, 1, 4])
if col1.button("Stop selected", disabled=not selected):
    stopped = [n for n in selected if stop_run(resolve_run(runs_dir, n))]
    st.toast(f"Asked to stop: {', '.join(stopped)}" if stopped else "Not running: nothing to stop")
if col2.button("Resume selected", disabled=not selected):
    for name in selected:
        row = table.loc[table.name == name].iloc[0]
        if row.state in ("queued", "stopped", "failed") and not row.epoch >= row.epochs:
            try:
                api.launch_resume(resolve_run(runs_dir, name))
            except ConfigError as exc:
                st.warning(f"{name}: {exc}")
            else:
                st.toast(f"Resuming {name}")


REFRESH = 1.0 if running else None  # seconds; the curves refresh faster than the details


def selected_paths(current):
    shown = current[current.name.isin(selected)] if selected else current
    return shown, [resolve_run(runs_dir, n) for n in shown.name if n in selected]


@st.fragment(run_every=REFRESH)
def curves_view():
    shown, paths = selected_paths(run_table(runs_dir))
    curves = load_curves(paths)
    if curves.empty:
        st.info("No finished epoch yet.")
        return
    limits = curves.cost_limit.dropna().unique()
    left, mid, right = st.columns(3)
    left.plotly_chart(curve_figure(curves, "ep_return", pooled), key="live_return")
    mid.plotly_chart(curve_figure(curves, "ep_cost", pooled, cost_limit=limits[0] if len(limits) == 1 else None),
                     key="live_cost")
    right.plotly_chart(curve_figure(curves, "cost_regret", pooled), key="live_regret")
    st.caption(f"{len(curves)} epochs loaded from {len(paths)} runs; refreshing every second while any run trains.")


@st.fragment(run_every=None if REFRESH is None else 2 * REFRESH)
def details_view():
    current = run_table(runs_dir)
    shown, paths = selected_paths(current)
    recent = current[(current.state == "running") | current.name.isin(selected) | (current.index < 20)]
    st.dataframe(  # every running run, the selected ones and the 20 most recently updated
        recent[["name", "state", "progress", "epoch", "epochs", "eta_s", "final_return", "final_cost", "reg_plus",
               "message"]].rename(columns={"eta_s": "ETA (s)", "reg_plus": "Reg+"}),
        column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)},
        hide_index=True, width="stretch")
    for row in shown.itertuples():
        if row.state == "failed":
            st.error(f"{row.name} failed: {row.message}")
        elif row.state == "damaged":
            st.warning(f"{row.name}: the run directory is damaged or was deleted ({row.message})")
    curves = load_curves(paths)
    if not curves.empty:
        st.plotly_chart(shrinkage_figure(curves), key="live_shrinkage")


curves_view()
details_view()
