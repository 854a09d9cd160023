import streamlit as st

from ctrpo_core import api
from ctrpo_core.catalog import default_runs_dir
from ctrpo_core.config import ALGORITHM_IDS, ConfigError, resolve
from ctrpo_core.envs import TASKS, UnknownTaskError
from ctrpo_core.sweep import parse_list

st.title("Train")
st.caption("Runs start as background processes writing run directories; they outlive this page.")

task = st.selectbox("Task", list(TASKS), format_func=lambda t: f"{t}  ({TASKS[t].source}, obs {TASKS[t].obs_dim}, "
                    f"act {TASKS[t].act_dim})", key="task")
algo = st.selectbox("Algorithm", ALGORITHM_IDS, key="algo")
defaults = resolve(task, algo)
errors = {}
col1, col2 = st.columns(2)
with col1:
    beta = st.number_input("β (barrier weight)", value=defaults.beta, step=0.1, format="%.4g", key="beta",
                           help="Weight of the barrier φ in D_C = KL + β·φ. β = 0 is TRPO; larger β stiffens "
                                "the trust region along the cost gradient. Allowed: β ≥ 0.")
    errors["--beta"] = st.empty()
    bh = st.number_input("b_H (hysteresis fraction)", value=defaults.bh, step=0.05, format="%.3g", key="bh",
                         help="After a violation, C-TRPO recovers until Ĵ_c < b_H·b. b_H = 1: no hysteresis. "
                              "Allowed: 0 < b_H ≤ 1.")
    errors["--bh"] = st.empty()
    delta = st.number_input("δ (trust radius)", value=defaults.delta, step=0.005, format="%.4g", key="delta",
                            help="Bound on the divergence of each step. Allowed: δ > 0.")
    errors["--delta"] = st.empty()
with col2:
    cost_limit = st.number_input("b (cost limit)", value=float(defaults.cost_limit), step=1.0, format="%.4g",
                                 key="cost_limit", help="Constraint: episode cost ≤ b. Allowed: b > 0.")
    errors["--cost-limit"] = st.empty()
    total_steps = st.number_input("Total environment steps", value=defaults.total_steps, step=defaults.steps_per_epoch,
                                  key="total_steps", help=f"At least one epoch ({defaults.steps_per_epoch} steps).")
    errors["--total-steps"] = st.empty()
    seeds_text = st.text_input("Seeds (comma list)", value="0", key="seeds", help="One run per seed, e.g. 0,1,2.")
    errors["--seeds"] = st.empty()
    barrier = st.radio("Barrier form φ", ["entropy", "log"], horizontal=True, key="barrier",
                       help="entropy: slope → ∞ at the boundary (authors' default); log: value → ∞.")

if st.button("Launch", type="primary"):
    try:
        seeds = parse_list("--seeds", seeds_text, int)
        settings = dict(beta=float(beta), bh=float(bh), delta=float(delta), cost_limit=float(cost_limit),
                        total_steps=int(total_steps), barrier=barrier, runs_dir=str(default_runs_dir()))
        for seed in seeds:  # validate every run before starting any
            resolve(task, algo, seed=seed, **settings)
    except ConfigError as exc:
        (errors.get(exc.param) or st).error(str(exc))
    except UnknownTaskError as exc:
        st.error(str(exc))
    else:
        names = [api.launch(task, algo, seed=seed, **settings).name for seed in seeds]
        st.session_state["live_selection"] = names
        st.success(f"Started {', '.join(names)}")
        st.switch_page("views/live.py")
