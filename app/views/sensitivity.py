import os

import streamlit as st

from ctrpo_core import api
from ctrpo_core.ui import forms
from ctrpo_core.results import pooling
from ctrpo_core.results.catalog import default_runs_dir, run_table, usable
from ctrpo_core.config import ALGORITHM_IDS, ConfigError
from ctrpo_core.tools.demo import TASK as DEMO_TASK
from ctrpo_core.envs import TASKS
from ctrpo_core.results.plots import sensitivity_figures
from ctrpo_core.sweeps.execute import launch_sweep
from ctrpo_core.sweeps.manifest import list_sweeps, sweep_manifest
from ctrpo_core.sweeps.plan import parse_list
from ctrpo_core.results.tables import (CAPTION, COLUMN_HELP, NUMBER_FORMAT, comparison_view, number_columns,
                                       one_seed_settings, unfinished_settings)

st.title("Sensitivity")
st.caption("A grid over β × b_H (× δ) × seeds on one task, run locally with at most one process per core, "
           "or on Ray (a local instance, or a cluster: see the README) with the results written here. "
           "The defaults (C-TRPO on the demo task, 4 β × 3 b_H × 3 seeds = 36 runs) take about 4 to 5 minutes on 2 cores.")
runs_dir = default_runs_dir()

c1, c2 = st.columns(2)  # outside the form: the fields below follow the task and algorithm as they change
task = c1.selectbox("Task", list(TASKS), index=list(TASKS).index(DEMO_TASK), key="sw_task",
                    help=f"{DEMO_TASK}, the demo task, shows β and b_H at work in minutes; the Safety-Gymnasium "
                         "tasks take hours per run.")
algo = c2.selectbox("Algorithm", ALGORITHM_IDS, key="sw_algo")
form_fields = {f"sw_{k}": v for k, v in api.sweep_form(task, algo).items()}
forms.follow(st.session_state, "sweep", (task, algo), form_fields)

with st.form("sweep"):
    c1, c2 = st.columns(2)
    betas = c1.text_input("β values (c-trpo only)", key="sw_beta",
                          help="Comma list, each ≥ 0. Leave empty for the other algorithms, which do not read β.")
    err_beta = c1.empty()
    bhs = c2.text_input("b_H values (c-trpo only)", key="sw_bh",
                        help="Comma list, each in (0, 1]. Leave empty for the other algorithms.")
    err_bh = c2.empty()
    deltas = c1.text_input("δ values (empty: the task's default)", key="sw_delta")
    err_delta = c1.empty()
    seeds = c2.text_input("Seeds", "0,1,2", key="sw_seeds")
    err_seeds = c2.empty()
    total = c1.number_input("Steps per run (0: the task's default)", step=1000, key="sw_steps")
    err_steps = c1.empty()
    name = c2.text_input("Sweep name (prefix of its runs)", "", key="sw_name")
    err_name = c2.empty()
    backend = c1.radio("Backend", ["local", "ray"], horizontal=True, key="sw_backend",
                       help="local: one process per core here; ray: one Ray task per run (needs the ray extra).")
    err_backend = c1.empty()
    address = c2.text_input("Ray cluster address (empty: a local Ray instance)", "", key="sw_address",
                            placeholder="HOST:PORT of the head", help="Only with the ray backend.")
    err_address = c2.empty()
    submitted = st.form_submit_button("Launch sweep", type="primary")
forms.remember(st.session_state, "sweep", (task, algo), form_fields)

if submitted:
    fields = {"--beta": err_beta, "--bh": err_bh, "--delta": err_delta, "--seeds": err_seeds,
              "--total-steps": err_steps, "--steps-per-epoch": err_steps, "--name": err_name,
              "--backend": err_backend, "--address": err_address}
    try:
        optional = lambda flag, text: parse_list(flag, text) if text.strip() else [None]  # empty: not swept
        plan = launch_sweep(task, algo, optional("--beta", betas), optional("--bh", bhs),
                            parse_list("--delta", deltas) if deltas.strip() else [None],
                            parse_list("--seeds", seeds, int), runs_dir=str(runs_dir), name=name.strip() or None,
                            parallel=os.cpu_count() if backend == "local" else None, total_steps=int(total) or None,
                            backend=backend, address=address.strip() or None)
    except ConfigError as exc:
        fields.get(exc.param, st).error(str(exc))
    else:
        st.session_state["current_sweep"] = plan.name
        st.success(f"Sweep {plan.name}: {len(plan.configs)} runs queued")

sweeps = list_sweeps(runs_dir)
if not sweeps:
    st.info("No sweep yet.")
    st.stop()
current = st.session_state.get("current_sweep")
chosen = st.selectbox("Sweep", sweeps, index=sweeps.index(current) if current in sweeps else len(sweeps) - 1,
                      key="sw_show")


@st.fragment(run_every=2.0)
def sweep_view():
    manifest = sweep_manifest(runs_dir, chosen)
    if manifest is None:
        st.warning(f"The manifest of sweep {chosen} cannot be read (`{runs_dir}/.sweeps/{chosen}.json`).")
        return
    table = usable(run_table(runs_dir))
    runs = table[table.name.isin(manifest["runs"])]
    finished = int((runs.state == "finished").sum())
    st.progress(finished / max(1, len(manifest["runs"])),
                text=f"{finished} of {len(manifest['runs'])} runs finished, {int((runs.state == 'running').sum())} running")
    if runs.empty:
        return
    variants = sorted(runs.variant.unique())
    if len(variants) > 1:  # the sweep was run again with other settings: never pool them
        variant = st.selectbox("Settings (this sweep was run with several; each is shown on its own)", variants,
                               key="sw_variant")
        runs = runs[runs.variant == variant]
    figures = sensitivity_figures(runs)
    for kind, row in (("heat", figures[:3]), ("beta", figures[3:])):
        for i, (col, fig) in enumerate(zip(st.columns(3), row)):
            col.plotly_chart(fig, key=f"sens_{kind}_{i}")
    kept, _ = pooling.one_run_per_seed(runs)
    if kept.empty:
        return
    st.subheader("Per setting")
    summary = pooling.comparison_table(kept)
    st.caption(CAPTION + " Only finished runs count; the heatmaps mark a cell with fewer finished seeds than planned.")
    for line in one_seed_settings(summary) + unfinished_settings(summary):
        st.warning(line)
    numbers = set(number_columns(summary))
    view = comparison_view(summary, extra=("beta", "bh")).rename(columns={"beta": "β", "bh": "b_H"})
    st.dataframe(view, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(help=h, format=NUMBER_FORMAT) if c in numbers else st.column_config.Column(help=h)
        for c, h in COLUMN_HELP.items()})
    st.download_button("Download CSV", summary.to_csv(index=False).encode(), file_name=f"{chosen}.csv",
                       mime="text/csv", key="sw_csv")


sweep_view()
