"""C-TRPO Explorer: the app's home page (``streamlit run app/main.py``)."""

import pandas as pd
import streamlit as st

from ctrpo_core import __version__
from ctrpo_core.envs import TASKS

st.set_page_config(page_title="C-TRPO Explorer", layout="wide")
st.title("C-TRPO Explorer")
st.caption(f"ctrpo_core {__version__}: Constrained Trust Region Policy Optimization "
           "(Milosevic, Müller & Scherf, ICML 2025)")
st.markdown(
    "C-TRPO measures the trust region with a divergence that carries a barrier on the remaining "
    "cost budget **b − V_c**, so every policy inside the region satisfies the cost constraint."
)
st.subheader("Tasks")
st.dataframe(
    pd.DataFrame(
        [{"task": s.id, "source": s.source, "obs dim": s.obs_dim,
          "actions": f"{s.act_dim} ({'discrete' if s.discrete else 'continuous'})",
          "episode steps": s.max_episode_steps, "default cost limit b": s.cost_limit,
          "about": s.description} for s in TASKS.values()]
    ),
    hide_index=True,
    use_container_width=True,
)
