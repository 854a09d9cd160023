import json
from pathlib import Path

import pandas as pd
import streamlit as st

from ctrpo_core import reports
from ctrpo_core.config import ALGORITHM_IDS, ConfigError
from ctrpo_core.envs import TASKS
from ctrpo_core.results.catalog import default_runs_dir
from ctrpo_core.ui import forms

st.title("Reports")
st.caption(
    "The notebooks in `notebooks/` executed with papermill into the runs folder's `reports/`: the "
    "parameters, the executed notebook and its HTML. Same parameters, same numbers. From a terminal: "
    "`ctrpo report NAME -p KEY VALUE ...`."
)
runs_dir = default_runs_dir()
names = reports.available()


def _shown(value) -> str:
    """A parameter's value as the form shows it: strings plain, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


# what was typed comes back after a visit to another page
forms.restore(st.session_state, "reports")
with st.expander("New report", expanded=not reports.list_reports(runs_dir)):
    name = st.selectbox("Report", names, key="rep_name")
    own = reports.parameters(name)
    # the task and algorithm come first, so the fields below follow them as they change; their first value
    # is the notebook's (given through the state, where a value kept from an earlier visit also comes back)
    choices = {
        f"rep_{name}_{k}": own[k]["value"]
        for k, options in (("task", TASKS), ("algo", ALGORITHM_IDS))
        if k in own and own[k]["value"] in options
    }
    forms.restore(st.session_state, "reports", choices)
    c1, c2 = st.columns(2)
    task = (
        c1.selectbox("task", list(TASKS), key=f"rep_{name}_task", help=own["task"]["help"]) if "task" in own else None
    )
    algo = (
        c2.selectbox("algo", ALGORITHM_IDS, key=f"rep_{name}_algo", help=own["algo"]["help"]) if "algo" in own else None
    )
    params = {k: v for k, v in reports.form_defaults(name, task, algo).items() if k not in ("task", "algo")}
    fields = {f"rep_{name}_{k}": _shown(v) for k, v in params.items()}
    forms.follow(st.session_state, f"rep_{name}", (task, algo), fields)
    # no st.form: Enter in a field starts nothing; the report starts from its button alone
    texts, slots = {}, {}
    columns = st.columns(2)
    for i, key in enumerate(params):
        col = columns[i % 2]
        texts[key] = col.text_input(
            key, key=f"rep_{name}_{key}", help=f"{own[key]['help']}. JSON (numbers, [lists], true, null) or plain text."
        )
        slots[key] = col.empty()
    forms.remember(st.session_state, f"rep_{name}", (task, algo), fields)
    forms.keep(st.session_state, "reports", ["rep_name", *choices, *fields])
    submitted = st.button("Start in the background", type="primary", key="rep_start")
    if submitted:
        # what differs from the notebook's defaults: the task and algorithm, and fields changed from the values
        # the form showed for them (an unchanged task default is left to the notebook, which resolves the same)
        changed = [(k, v) for k, v in (("task", task), ("algo", algo)) if k in own and v != own[k]["value"]]
        changed += [(k, t) for k, t in texts.items() if t != _shown(params[k])]
        try:
            values = reports.parse_parameters(name, changed)
            folder = reports.launch_report(name, values, runs_dir)
        except ConfigError as exc:
            key = exc.param.removeprefix("-p").strip()
            (slots.get(key) or st).error(str(exc))
        else:
            st.session_state["rep_show"] = st.session_state["rep_select"] = folder.name
            st.success(f"Started {folder.name} in the background.")


rows = reports.list_reports(runs_dir)
busy = sorted(r["folder"] for r in rows if r["state"] in ("queued", "running"))


@st.fragment(run_every=2.0 if busy else 5.0)
def report_table():
    rows = reports.list_reports(runs_dir)
    if sorted(r["folder"] for r in rows if r["state"] in ("queued", "running")) != busy:
        st.rerun()  # a report started or ended: the whole page follows (its state, its HTML) without a reload
    if not rows:
        st.info(f"No report yet in `{reports.reports_dir(runs_dir)}`.")
        return
    table = pd.DataFrame(
        [
            {
                "report": r["folder"],
                "notebook": r["report"],
                "created": r["created"],
                "state": r["state"],
                "seconds": round(r["duration_s"], 1) if r["duration_s"] is not None else None,
                "parameters": json.dumps(r["parameters"]) if r["parameters"] else "defaults",
                "message": r["message"],
            }
            for r in rows
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch", key="rep_table")


report_table()
if rows:
    folders = [r["folder"] for r in rows]
    current = st.session_state.get("rep_show")
    chosen = st.selectbox(
        "Show report", folders, index=folders.index(current) if current in folders else 0, key="rep_select"
    )
    row = rows[folders.index(chosen)]
    folder = reports.resolve_report(runs_dir, chosen)  # only folders inside <runs>/reports
    status = reports.read_status(folder)
    if row["state"] in ("queued", "running"):
        st.info(f"{chosen} is {row['state']}; this page shows it as soon as it is done.")
    elif row["state"] == "failed":
        st.error(f"{chosen} failed: {row['message']}")
        error = status.get("error")
        if isinstance(error, dict) and error.get("traceback"):
            st.code(str(error["traceback"]), language=None)
    elif row["state"] == "interrupted":
        st.warning(f"{chosen}: its process ended before it finished.")
    elif row["state"] == "stopped":
        st.warning(f"{chosen} was stopped ({row['message'] or 'by a signal'}): its notebook holds the cells run.")
    results = reports.read_results_file(folder)
    if results:
        with st.expander("Recorded numbers (results.json)"):
            st.json(results, expanded=False)
    if row["html"]:
        st.caption(f"`{folder}`")
        st.iframe(Path(row["html"]), height=900)
