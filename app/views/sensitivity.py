import os

import streamlit as st

from ctrpo_core import api
from ctrpo_core.config import ALGORITHM_IDS, ConfigError
from ctrpo_core.envs import TASKS
from ctrpo_core.results import pooling
from ctrpo_core.results.catalog import default_runs_dir, run_table, usable
from ctrpo_core.results.plots import sensitivity_figures
from ctrpo_core.results.tables import CAPTION, one_seed_settings, unfinished_settings
from ctrpo_core.sweeps import cost
from ctrpo_core.sweeps.execute import launch_resume, launch_sweep
from ctrpo_core.sweeps.manifest import list_sweeps, request_stop, sweep_manifest, sweep_status
from ctrpo_core.sweeps.plan import parse_grid, plan_sweep
from ctrpo_core.tools.demo import TASK as DEMO_TASK
from ctrpo_core.ui import forms
from ctrpo_core.ui.charts import PLOTLY_CONFIG
from ctrpo_core.ui.tables import comparison_dataframe

st.title("Sensitivity")
st.caption(
    "A grid over β × b_H (× δ) × seeds on one task, run locally with at most one process per core, "
    "or on Ray (a local instance, or a cluster: see the README) with the results written here. "
    "The line above Launch says what the grid trains and how long it takes here (from the speed of the "
    "runs that finished in this folder); Enter in a field only updates it."
)
runs_dir = default_runs_dir()
FIELDS = (
    "sw_task",
    "sw_algo",
    "sw_beta",
    "sw_bh",
    "sw_delta",
    "sw_seeds",
    "sw_steps",
    "sw_name",
    "sw_backend",
    "sw_address",
)
# what was typed comes back after a visit to another page, the seeds as well as β (a relaunch trains the grid shown)
forms.restore(
    st.session_state,
    "sensitivity",
    {"sw_task": DEMO_TASK, "sw_seeds": "0,1,2", "sw_name": "", "sw_backend": "local", "sw_address": ""},
)

c1, c2 = st.columns(2)  # the fields below follow the task and algorithm as they change
task = c1.selectbox(
    "Task",
    list(TASKS),
    key="sw_task",
    help=f"{DEMO_TASK}, the demo task, shows β and b_H at work in minutes; the Safety-Gymnasium "
    "tasks take hours per run.",
)
algo = c2.selectbox("Algorithm", ALGORITHM_IDS, key="sw_algo")
form_fields = {f"sw_{k}": v for k, v in api.sweep_form(task, algo).items()}
forms.follow(st.session_state, "sweep", (task, algo), form_fields)

# no st.form: Enter in a field only updates the line below; the sweep starts from its button alone
c1, c2 = st.columns(2)
betas = c1.text_input(
    "β values (c-trpo only)",
    key="sw_beta",
    help="Comma list, each ≥ 0. Leave empty for the other algorithms, which do not read β.",
)
bhs = c2.text_input(
    "b_H values (c-trpo only)", key="sw_bh", help="Comma list, each in (0, 1]. Leave empty for the other algorithms."
)
deltas = c1.text_input("δ values (empty: the task's default)", key="sw_delta")
seeds = c2.text_input("Seeds", key="sw_seeds")
total = c1.number_input("Steps per run (0: the task's default)", step=1000, key="sw_steps")
name = c2.text_input("Sweep name (prefix of its runs)", key="sw_name")
backend = c1.radio(
    "Backend",
    ["local", "ray"],
    horizontal=True,
    key="sw_backend",
    help="local: one process per core here; ray: one Ray task per run (needs the ray extra).",
)
address = c2.text_input(
    "Ray cluster address (empty: a local Ray instance)",
    key="sw_address",
    placeholder="HOST:PORT of the head",
    help="Only with the ray backend.",
)
forms.remember(st.session_state, "sweep", (task, algo), form_fields)
forms.keep(st.session_state, "sensitivity", FIELDS)

parallel = os.cpu_count() if backend == "local" else None
request = dict(runs_dir=str(runs_dir), name=name.strip() or None, total_steps=int(total) or None)
line = st.empty()  # what the button starts and what it costs, or why it cannot start
try:
    grid = parse_grid(betas, bhs, deltas, seeds)
    plan = plan_sweep(task, algo, **grid, **request)
    line.markdown(
        cost.sweep_line(
            plan, cost.estimate(plan.configs, runs_dir=runs_dir, parallel=parallel) if backend == "local" else None
        )
    )
except ConfigError as exc:
    grid = None
    line.error(forms.say(exc))
if st.button("Launch sweep", type="primary", key="sw_launch") and grid is not None:
    try:
        plan = launch_sweep(
            task, algo, **grid, parallel=parallel, backend=backend, address=address.strip() or None, **request
        )
    except ConfigError as exc:
        line.error(forms.say(exc))
    else:
        st.session_state["sw_show"] = plan.name  # the Sweep box below shows the sweep just launched
        st.toast(f"Started sweep {plan.name}: {len(plan.configs)} run{'s' if len(plan.configs) != 1 else ''}.")

sweeps = list_sweeps(runs_dir, kind="sweep")  # a benchmark has its own page
if not sweeps:
    st.info("No sweep yet.")
    st.stop()
if st.session_state.get("sw_show") not in sweeps:
    st.session_state["sw_show"] = sweeps[-1]
chosen = st.selectbox("Sweep", sweeps, key="sw_show")
forms.keep(st.session_state, "sensitivity", ["sw_show"])


def stop_sweep(name: str) -> None:
    request_stop(runs_dir, name)
    st.session_state["sw_stopping"] = name


def resume_sweep(name: str) -> None:
    try:
        launch_resume(runs_dir, name)
    except ConfigError as exc:
        st.session_state["sw_resume_error"] = str(exc)


@st.fragment(run_every=2.0)
def sweep_controls():
    """Stop or resume the sweep shown, with a line that says what it is doing while that is true (the buttons
    act in their callbacks, so the line below already shows their effect)."""
    now = sweep_status(runs_dir, chosen)
    stopping = st.session_state.get("sw_stopping") == chosen
    text, button = st.columns([4, 1], vertical_alignment="center")
    if now["driver"] is not None or now["runs"]:
        training = f"{len(now['runs'])} run{'s' if len(now['runs']) != 1 else ''}"
        if stopping:
            text.info(
                f"Stopping sweep {chosen}: {training} still checkpointing"
                + (", its driver still ending" if now["driver"] is not None else "")
                + "."
            )
        else:
            text.caption(f"Sweep {chosen} is running: {training} training now.")
        button.button(
            "Stop sweep",
            key="sw_stop",
            disabled=stopping,
            on_click=stop_sweep,
            args=(chosen,),
            help="Every run of this sweep stops at a checkpoint and no other starts; Resume continues",
        )
        return
    if stopping:
        del st.session_state["sw_stopping"]
    if "sw_resume_error" in st.session_state:
        text.error(st.session_state.pop("sw_resume_error"))
    elif now["unfinished"]:
        text.caption(
            f"Sweep {chosen}: {len(now['unfinished'])} of {now['planned']} runs not finished; Resume "
            "trains them (the finished ones are kept)."
        )
    if now["unfinished"]:
        button.button(
            "Resume sweep",
            key="sw_resume",
            on_click=resume_sweep,
            args=(chosen,),
            help="`ctrpo sweep --resume NAME` in the background",
        )


sweep_controls()


@st.fragment(run_every=2.0)
def sweep_view():
    manifest = sweep_manifest(runs_dir, chosen)
    if manifest is None:
        st.warning(f"The manifest of sweep {chosen} cannot be read (`{runs_dir}/.sweeps/{chosen}.json`).")
        return
    table = usable(run_table(runs_dir))
    runs = table[table.name.isin(manifest["runs"])]
    finished = int((runs.state == "finished").sum())
    st.progress(
        finished / max(1, len(manifest["runs"])),
        text=f"{finished} of {len(manifest['runs'])} runs finished, {int((runs.state == 'running').sum())} running",
    )
    if runs.empty:
        return
    variants = sorted(runs.variant.unique())
    if len(variants) > 1:  # the sweep was run again with other settings: never pool them
        variant = st.selectbox(
            "Settings (this sweep was run with several; each is shown on its own)", variants, key="sw_variant"
        )
        runs = runs[runs.variant == variant]
    figures = sensitivity_figures(runs)
    for kind, row in (("heat", figures[:3]), ("beta", figures[3:])):
        for i, (col, fig) in enumerate(zip(st.columns(3), row)):
            col.plotly_chart(fig, key=f"sens_{kind}_{i}", config=PLOTLY_CONFIG)
    kept, _ = pooling.one_run_per_seed(runs)
    if kept.empty:
        return
    st.subheader("Per setting")
    summary = pooling.comparison_table(kept)
    st.caption(CAPTION + " Only finished runs count; the heatmaps mark a cell with fewer finished seeds than planned.")
    for line in one_seed_settings(summary) + unfinished_settings(summary):
        st.warning(line)
    comparison_dataframe(summary, extra=("beta", "bh"), names={"beta": "β", "bh": "b_H"})
    st.download_button(
        "Download CSV", summary.to_csv(index=False).encode(), file_name=f"{chosen}.csv", mime="text/csv", key="sw_csv"
    )


sweep_view()
