import streamlit as st

from ctrpo_core.config.rules import RANGES
from ctrpo_core.results.catalog import default_runs_dir, resolve_run, run_table, usable
from ctrpo_core.tools.episodes import render_episodes

st.title("Rollout")
st.caption("One episode of a run's latest checkpoint (MuJoCo tasks render offscreen; built-ins are drawn).")
runs_dir = default_runs_dir()
table = usable(run_table(runs_dir))
if table.empty:
    st.info("No runs yet.")
    st.stop()
name = st.selectbox("Run", table.name.tolist(), key="ro_run")
c1, c2, c3 = st.columns(3)
seed = c1.number_input(
    "Episode seed", value=0, min_value=RANGES["eval_seed"].lo, max_value=RANGES["eval_seed"].hi, step=1, key="ro_seed"
)
deterministic = c2.toggle("Deterministic actions (mean / most likely)", value=True, key="ro_det")
max_steps = c3.number_input("Max steps", value=300, min_value=10, max_value=2000, step=50, key="ro_steps")
if st.button("Render episode", type="primary"):
    with st.spinner("rendering ..."):  # in a process of its own: the server never loads torch
        (episode,) = render_episodes(
            [resolve_run(runs_dir, name)], seed=int(seed), deterministic=deterministic, max_steps=int(max_steps)
        )
    if isinstance(episode, Exception):  # a damaged run or a missing renderer: say so, don't crash the page
        st.warning(f"Could not render {name}: {episode}")
    else:
        st.image(
            episode["gif"],
            caption=f"return {episode['return']:.3g}, cost {episode['cost']:.3g}, {episode['steps']} steps",
        )
