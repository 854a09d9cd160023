import pandas as pd
import streamlit as st

from ctrpo_core import __version__
from ctrpo_core.envs import TASKS
from ctrpo_core.results.catalog import default_runs_dir, run_table

st.title("C-TRPO Explorer")
st.caption(
    f"ctrpo_core {__version__} · Constrained Trust Region Policy Optimization (Milosevic, Müller & Scherf, ICML 2025)"
)
st.markdown(
    "C-TRPO measures the trust region with a divergence that carries a barrier on the remaining cost "
    "budget **b − V_c**, so every policy inside the region satisfies the cost constraint."
)
with st.container(border=True):
    st.markdown(
        "#### Where to start\n"
        "Open **Demo** and press **Run**: C-TRPO, TRPO and TRPO-Lag train side by side on a small task "
        "(about a minute), then each plays one episode. Then move the **β slider** below them to re-run "
        "C-TRPO with another barrier weight and watch its curves join the others."
    )
    st.page_link("views/demo.py", label="Go to the Demo", icon=":material/school:")
st.markdown(
    "Then: **Train** launches runs of any task in the background, **Live** watches them, **Compare** pools "
    "seeds, **Sensitivity** sweeps β × b_H × δ, **Geometry** shows the exact C-NPG flow and its trust regions, "
    "**Rollout** plays an episode of a trained policy, **Reports** runs the notebooks."
)
st.subheader("Tasks")
# a static table: every row and the whole "about" text, wrapped (a data grid would cut both at 1280 px)
st.table(
    pd.DataFrame(
        [
            {
                "task": s.id,
                "source": s.source,
                "obs dim": s.obs_dim,
                "actions": f"{s.act_dim} ({'discrete' if s.discrete else 'continuous'})",
                "episode steps": s.max_episode_steps,
                "default cost limit b": f"{s.cost_limit:g}",
                "about": s.description,
            }
            for s in TASKS.values()
        ]
    ).set_index("task")
)
runs = run_table(default_runs_dir())
st.caption(f"{len(runs)} runs in `{default_runs_dir()}`")
