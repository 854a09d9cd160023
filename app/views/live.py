import pandas as pd
import streamlit as st

from ctrpo_core import api
from ctrpo_core.results.catalog import active_runs, default_runs_dir, load_curves, resolve_run, run_table
from ctrpo_core.results.plots import (
    SHRINKAGE_PANEL_NOTES,
    ctrpo_only,
    curve_panels,
    shrinkage_details_figure,
    shrinkage_figure,
    shrinkage_sentence,
)
from ctrpo_core.results.tables import live_view
from ctrpo_core.ui.charts import PLOTLY_CONFIG

FAST_S, IDLE_S = 1.0, 5.0  # refresh while a run trains; otherwise only look for runs that start

st.title("Live")
runs_dir = default_runs_dir()
table = run_table(runs_dir)
if table.empty:
    st.info(f"No runs in `{runs_dir}` yet: start one on the Train page.")
    st.stop()

running = table.loc[table.state == "running", "name"].tolist()
default = (
    [n for n in st.session_state.get("live_selection", []) if n in set(table.name)]
    or running
    or table.name[:3].tolist()
)
selected = st.multiselect("Runs to watch", table.name.tolist(), default=default, key="live_runs")
t1, t2, t3 = st.columns(3)
pooled = t1.toggle("Pool seeds (mean ± std)", value=False, key="live_pooled")
log_y = t2.toggle(
    "Log cost, Reg+", value=False, key="live_log", help="Cost and Reg+ on log axes (a value of 0 is not drawn)."
)
only_ctrpo = t3.toggle("C-TRPO only", value=False, key="live_ctrpo_only")
paths = [resolve_run(runs_dir, n) for n in selected]
b1, b2, _ = st.columns(3)  # wide enough for "Resume selected" at 1024 px
if b1.button("Stop selected", disabled=not selected):
    st.session_state["live_notes"] = api.stop_runs(paths)
if b2.button("Resume selected", disabled=not selected):
    st.session_state["live_notes"] = api.resume_runs(paths)
for name, acted, why in st.session_state.get("live_notes", []):  # until the next press: every press answered
    (st.success if acted else st.info)(f"{name}: {why}")


# The whole runs folder is looked at every IDLE_S (a run that starts, stops or finishes reruns the page); each second
# only the watched runs are read, and of those only the rows appended since the last read.
# Active: training now or about to (a queued run of a sweep whose driver is gone is neither); read after the buttons
# acted, so a resumed run keeps this page refreshing.
active = active_runs(runs_dir)
watched = sorted(set(selected) | set(active))


@st.fragment(run_every=IDLE_S)
def watch():
    if active_runs(runs_dir) != active:
        st.session_state.pop("live_notes", None)  # "resumed", "stop requested": no longer what is happening
        st.rerun()  # a run started, stopped or finished: the whole page follows, without a reload


def shown_curves():
    curves = load_curves([resolve_run(runs_dir, n) for n in selected])
    return ctrpo_only(curves) if only_ctrpo and len(curves) else curves


@st.fragment(run_every=FAST_S if active else None)
def curves_view():
    curves = shown_curves()
    if curves.empty:
        st.info("No finished epoch yet." if selected else "Choose runs to watch.")
        return
    limits = curves.cost_limit.dropna().unique()
    st.plotly_chart(
        curve_panels(curves, pooled=pooled, cost_limit=limits[0] if len(limits) == 1 else None, log_y=log_y),
        key="live_curves",
        config=PLOTLY_CONFIG,
    )
    st.caption(
        f"{len(curves)} epochs of {curves.run.nunique()} run(s); "
        + ("refreshing every second while a run trains." if active else "no run is training.")
    )


@st.fragment(run_every=FAST_S * 2 if active else None)
def details_view():
    current = run_table(runs_dir, names=watched)  # the watched and the training runs, fresh
    shown = current[current.name.isin(selected)]
    recent = pd.concat([current, table[~table.name.isin(watched)].head(20)])  # and the 20 last updated, as listed
    st.dataframe(  # every running run, the selected ones and the 20 most recently updated
        live_view(recent),
        hide_index=True,
        width="stretch",
        column_config={
            "run": st.column_config.TextColumn("run", width="medium"),
            "seed": st.column_config.TextColumn("seed", width="small"),
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, width="small"),
            "ETA": st.column_config.TextColumn("ETA", help="time left (h:mm:ss), — when unknown"),
            "values": st.column_config.TextColumn(
                "values",
                help="final: the run trained every planned epoch; so far: it has not, and "
                "its return, cost and Reg+ are not final (they never enter Compare's "
                "or Sensitivity's pooled values)",
            ),
        },
    )
    for row in shown.itertuples():
        if row.state == "failed":
            st.error(f"{row.name} failed: {row.message}")
        elif row.state == "damaged":
            st.warning(f"{row.name}: the run directory is damaged or was deleted ({row.message})")
    curves = shown_curves()
    if not curves.empty:
        st.subheader("The trust region")
        st.plotly_chart(shrinkage_figure(curves), key="live_shrinkage", config=PLOTLY_CONFIG)
        st.caption(shrinkage_sentence(curves))
        with st.expander("The trust region in detail: six panels"):
            st.plotly_chart(shrinkage_details_figure(curves), key="live_shrinkage_details", config=PLOTLY_CONFIG)
            notes = SHRINKAGE_PANEL_NOTES.items() if isinstance(SHRINKAGE_PANEL_NOTES, dict) else SHRINKAGE_PANEL_NOTES
            st.markdown("\n".join(f"- **{title}**: {sentence}" for title, sentence in notes))


watch()
curves_view()
details_view()
