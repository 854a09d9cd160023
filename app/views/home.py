import pandas as pd
import streamlit as st

from ctrpo_core import __version__
from ctrpo_core.catalog import default_runs_dir, run_table
from ctrpo_core.envs import TASKS

st.title("C-TRPO Explorer")
st.caption(f"ctrpo_core {__version__} · Constrained Trust Region Policy Optimization "
           "(Milosevic, Müller & Scherf, ICML 2025)")
st.markdown(
    "C-TRPO measures the trust region with a divergence that carries a barrier on the remaining cost "
    "budget **b − V_c**, so every policy inside the region satisfies the cost constraint. "
    "**Train** launches runs in the background, **Live** watches them, **Compare** pools seeds, "
    "**Sensitivity** sweeps β × b_H × δ, **Geometry** shows the exact C-NPG flow and its trust regions, "
    "**Rollout** plays an episode of a trained policy."
)
st.subheader("Tasks")
st.dataframe(pd.DataFrame([{
    "task": s.id, "source": s.source, "obs dim": s.obs_dim,
    "actions": f"{s.act_dim} ({'discrete' if s.discrete else 'continuous'})",
    "episode steps": s.max_episode_steps, "default cost limit b": s.cost_limit, "about": s.description,
} for s in TASKS.values()]), hide_index=True, width="stretch")
runs = run_table(default_runs_dir())
st.caption(f"{len(runs)} runs in `{default_runs_dir()}`")
