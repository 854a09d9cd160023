import streamlit as st

from ctrpo_core import api
from ctrpo_core.config import ALGORITHM_IDS, ConfigError, overrides, resolve
from ctrpo_core.envs import TASKS, UnknownTaskError
from ctrpo_core.results.catalog import default_runs_dir, label
from ctrpo_core.sweeps.plan import parse_list
from ctrpo_core.ui import forms

st.title("Train")
st.caption("Runs start as background processes writing run directories; they outlive this page.")
# what was typed (the task included) comes back after a visit to another page
forms.restore(st.session_state, "train", {"seeds": "0", "checkpoint_every": 0})

task = st.selectbox(
    "Task",
    list(TASKS),
    format_func=lambda t: f"{t}  ({TASKS[t].source}, obs {TASKS[t].obs_dim}, act {TASKS[t].act_dim})",
    key="task",
)
algo = st.selectbox("Algorithm", ALGORITHM_IDS, key="algo")
defaults = resolve(task, algo)
# every field shows this task's and algorithm's defaults (or what was typed for this very pair): widgets keyed
# once would keep the first task's b, steps and δ, and the run would silently train with them
fields = api.train_form(task, algo)
forms.follow(st.session_state, "train", (task, algo), fields)
settings, errors = {}, {}
columns = st.columns(2)
numbers = [k for k in fields if not forms.is_choice(k)]  # number fields in two columns, then the choices
for i, key in enumerate(numbers):
    with columns[i % 2]:
        settings[key] = st.number_input(
            forms.label(key),
            key=key,
            help=forms.help_text(key, task, algo, fields),
            **forms.number_format(key, defaults),
        )
        errors[key] = st.empty()
with columns[len(numbers) % 2]:
    seeds_text = st.text_input("Seeds (comma list)", key="seeds", help="One run per seed, e.g. 0,1,2.")
    errors["--seeds"] = st.empty()
for key in [k for k in fields if forms.is_choice(k)]:
    settings[key] = st.radio(
        forms.label(key), forms.choices(key), horizontal=True, key=key, help=forms.help_text(key, task, algo, fields)
    )
    errors[key] = st.empty()
forms.remember(st.session_state, "train", (task, algo), fields)

with st.expander("Advanced settings"):
    st.caption(
        "Every other setting of the run, with this task's and algorithm's defaults; edit a value to change "
        "it (the same keys as `ctrpo train --set KEY=VALUE`)."
    )
    table_defaults = overrides.advanced_defaults(defaults, skip=(*settings, "seed", "tensorboard", "checkpoint_every"))
    edited = st.data_editor(
        {"setting": list(table_defaults), "value": list(table_defaults.values())},
        disabled=["setting"],
        hide_index=True,
        key=f"advanced_{task}_{algo}",
        width="stretch",
    )
    errors["advanced"] = st.empty()
    checkpoint_every = st.number_input(
        "Keep a checkpoint copy every K epochs (0: only the latest)",
        min_value=forms.bounds("checkpoint_every")[0],
        max_value=forms.bounds("checkpoint_every")[1],
        step=1,
        key="checkpoint_every",
    )
    tensorboard = st.checkbox("Also write TensorBoard scalars (needs the tensorboard extra)", key="tensorboard")
forms.keep(st.session_state, "train", ["task", "algo", *fields, "seeds", "checkpoint_every", "tensorboard"])

settings = forms.typed(settings)
try:  # say what Launch trains, so a setting never goes unseen
    preview = resolve(task, algo, **settings)
    st.caption(
        f"Launch trains **{label(preview.to_dict())}** ({preview.epochs} epochs) per seed, plus any "
        "advanced setting changed above."
    )
except (ConfigError, UnknownTaskError):
    pass
if st.button("Launch", type="primary"):
    try:
        seeds = parse_list("--seeds", seeds_text, int)
        advanced = overrides.changed_settings(table_defaults, dict(zip(edited["setting"], edited["value"])))
        settings.update(
            runs_dir=str(default_runs_dir()),
            **advanced,
            checkpoint_every=int(checkpoint_every),
            tensorboard=bool(tensorboard),
        )
        for seed in seeds:  # validate every run before starting any
            resolve(task, algo, seed=seed, **settings)
    except ConfigError as exc:
        (errors.get(exc.param) or errors["advanced"]).error(forms.say(exc))
    except UnknownTaskError as exc:
        st.error(str(exc))
    else:
        names = [api.launch(task, algo, seed=seed, **settings).name for seed in seeds]
        st.session_state["live_selection"] = names
        st.success(f"Started {', '.join(names)}")
        st.switch_page("views/live.py")
