import streamlit as st

from ctrpo_core import api
from ctrpo_core.ui import forms
from ctrpo_core.config import overrides
from ctrpo_core.results.catalog import default_runs_dir, label
from ctrpo_core.config import ALGORITHM_IDS, ConfigError, resolve
from ctrpo_core.envs import TASKS, UnknownTaskError
from ctrpo_core.sweeps.plan import parse_list
from ctrpo_core.config.rules import RANGES

st.title("Train")
st.caption("Runs start as background processes writing run directories; they outlive this page.")
# what was typed (the task included) comes back after a visit to another page
forms.restore(st.session_state, "train", {"seeds": "0", "checkpoint_every": 0})

task = st.selectbox("Task", list(TASKS), format_func=lambda t: f"{t}  ({TASKS[t].source}, obs {TASKS[t].obs_dim}, "
                    f"act {TASKS[t].act_dim})", key="task")
algo = st.selectbox("Algorithm", ALGORITHM_IDS, key="algo")
defaults = resolve(task, algo)
# every field shows this task's and algorithm's defaults (or what was typed for this very pair): widgets keyed
# once would keep the first task's b, steps and δ, and the run would silently train with them
fields = api.train_form(task, algo)
forms.follow(st.session_state, "train", (task, algo), fields)
reads_barrier = overrides.applies(algo, "beta")  # β, b_H and φ are C-TRPO's; other algorithms never see them
settings, errors = {}, {}
col1, col2 = st.columns(2)
with col1:
    if reads_barrier:
        settings["beta"] = st.number_input(
            "β (barrier weight)", step=0.1, format="%.4g", key="beta",
            help="Weight of the barrier φ in D_C = KL + β·φ. β = 0 is TRPO; larger β stiffens the trust region "
                 "along the cost gradient. Allowed: β ≥ 0.")
        errors["--beta"] = st.empty()
        settings["bh"] = st.number_input(
            "b_H (hysteresis fraction)", step=0.05, format="%.3g", key="bh",
            help="After a violation, C-TRPO recovers until Ĵ_c < b_H·b. b_H = 1: no hysteresis. Allowed: 0 < b_H ≤ 1.")
        errors["--bh"] = st.empty()
    settings["delta"] = st.number_input("δ (trust radius)", step=0.005, format="%.4g", key="delta",
                                        help=f"Bound on the divergence of each step; {task}'s default with {algo}: "
                                             f"{fields['delta']:g}. Allowed: δ > 0.")
    errors["--delta"] = st.empty()
with col2:
    settings["cost_limit"] = st.number_input("b (cost limit)", step=1.0, format="%.4g", key="cost_limit",
                                             help=f"Constraint: episode cost ≤ b; {task}'s default: "
                                                  f"{fields['cost_limit']:g}. Allowed: b > 0.")
    errors["--cost-limit"] = st.empty()
    settings["total_steps"] = st.number_input("Total environment steps", step=defaults.steps_per_epoch,
                                              key="total_steps",
                                              help=f"{task}'s default: {fields['total_steps']:,}. At least one "
                                                   f"epoch ({defaults.steps_per_epoch} steps).")
    errors["--total-steps"] = st.empty()
    seeds_text = st.text_input("Seeds (comma list)", key="seeds", help="One run per seed, e.g. 0,1,2.")
    errors["--seeds"] = st.empty()
    if reads_barrier:
        settings["barrier"] = st.radio("Barrier form φ", ["entropy", "log"], horizontal=True, key="barrier",
                                       help="entropy: slope → ∞ at the boundary (authors' default); log: value → ∞.")
forms.remember(st.session_state, "train", (task, algo), fields)

with st.expander("Advanced settings"):
    st.caption("Every other setting of the run, with this task's and algorithm's defaults; edit a value to change "
               "it (the same keys as `ctrpo train --set KEY=VALUE`).")
    table_defaults = overrides.advanced_defaults(defaults, skip=(*settings, "seed", "tensorboard", "checkpoint_every"))
    edited = st.data_editor({"setting": list(table_defaults), "value": list(table_defaults.values())},
                            disabled=["setting"], hide_index=True, key=f"advanced_{task}_{algo}", width="stretch")
    errors["advanced"] = st.empty()
    checkpoint_every = st.number_input("Keep a checkpoint copy every K epochs (0: only the latest)",
                                       min_value=RANGES["checkpoint_every"].lo, max_value=RANGES["checkpoint_every"].hi,
                                       step=1, key="checkpoint_every")
    tensorboard = st.checkbox("Also write TensorBoard scalars (needs the tensorboard extra)", key="tensorboard")
forms.keep(st.session_state, "train", ["task", "algo", *fields, "seeds", "checkpoint_every", "tensorboard"])

settings = {k: (v if isinstance(v, str) else float(v)) for k, v in settings.items()}
settings["total_steps"] = int(settings["total_steps"])
try:  # say what Launch trains, so a setting never goes unseen
    preview = resolve(task, algo, **settings)
    st.caption(f"Launch trains **{label(preview.to_dict())}** ({preview.epochs} epochs) per seed, plus any "
               "advanced setting changed above.")
except (ConfigError, UnknownTaskError):
    pass
if st.button("Launch", type="primary"):
    try:
        seeds = parse_list("--seeds", seeds_text, int)
        advanced = overrides.changed_settings(table_defaults, dict(zip(edited["setting"], edited["value"])))
        settings.update(runs_dir=str(default_runs_dir()), **advanced,
                        checkpoint_every=int(checkpoint_every), tensorboard=bool(tensorboard))
        for seed in seeds:  # validate every run before starting any
            resolve(task, algo, seed=seed, **settings)
    except ConfigError as exc:
        (errors.get(exc.param) or errors["advanced"]).error(str(exc))
    except UnknownTaskError as exc:
        st.error(str(exc))
    else:
        names = [api.launch(task, algo, seed=seed, **settings).name for seed in seeds]
        st.session_state["live_selection"] = names
        st.success(f"Started {', '.join(names)}")
        st.switch_page("views/live.py")
