import json
from pathlib import Path

import pandas as pd
import streamlit as st

from ctrpo_core import reports
from ctrpo_core.catalog import default_runs_dir
from ctrpo_core.config import ConfigError

st.title("Reports")
st.caption("The notebooks in `notebooks/` executed with papermill into the runs folder's `reports/`: the "
           "parameters, the executed notebook and its HTML. Same parameters, same numbers. From a terminal: "
           "`ctrpo report NAME -p KEY VALUE ...`.")
runs_dir = default_runs_dir()
names = reports.available()


def _shown(spec: dict) -> str:
    """A parameter's default as the form shows it: strings plain, everything else as JSON."""
    value = spec["value"]
    return value if isinstance(value, str) else json.dumps(value)


with st.expander("New report", expanded=not reports.list_reports(runs_dir)):
    name = st.selectbox("Report", names, key="rep_name")
    params = {k: v for k, v in reports.parameters(name).items() if k not in reports.RESERVED}
    with st.form("rep_form"):
        texts, slots = {}, {}
        columns = st.columns(2)
        for i, (key, spec) in enumerate(params.items()):
            col = columns[i % 2]
            texts[key] = col.text_input(key, value=_shown(spec), key=f"rep_{name}_{key}",
                                        help=f"{spec['help']}. JSON (numbers, [lists], true, null) or plain text.")
            slots[key] = col.empty()
        submitted = st.form_submit_button("Start in the background", type="primary")
    if submitted:
        changed = [(k, t) for k, t in texts.items() if t != _shown(params[k])]
        try:
            values = reports.parse_parameters(name, changed)
            folder = reports.launch_report(name, values, runs_dir)
        except ConfigError as exc:
            key = exc.param.removeprefix("-p").strip()
            (slots.get(key) or st).error(str(exc))
        else:
            st.session_state["rep_show"] = folder.name
            st.success(f"Started {folder.name} in the background.")


@st.fragment(run_every=3.0)
def report_table():
    rows = reports.list_reports(runs_dir)
    if not rows:
        st.info(f"No report yet in `{reports.reports_dir(runs_dir)}`.")
        return
    table = pd.DataFrame([{
        "report": r["folder"], "notebook": r["report"], "created": r["created"], "state": r["state"],
        "seconds": round(r["duration_s"], 1) if r["duration_s"] is not None else None,
        "parameters": json.dumps(r["parameters"]) if r["parameters"] else "defaults",
        "message": r["message"],
    } for r in rows])
    st.dataframe(table, hide_index=True, width="stretch", key="rep_table")


report_table()
rows = reports.list_reports(runs_dir)
if rows:
    folders = [r["folder"] for r in rows]
    current = st.session_state.get("rep_show")
    chosen = st.selectbox("Show report", folders, index=folders.index(current) if current in folders else 0,
                          key="rep_select")
    row = rows[folders.index(chosen)]
    folder = reports.resolve_report(runs_dir, chosen)  # only folders inside <runs>/reports
    status = reports.read_status(folder)
    if row["state"] in ("queued", "running"):
        st.info(f"{chosen} is {row['state']}; this page shows it when it is done (refresh).")
    elif row["state"] == "failed":
        st.error(f"{chosen} failed: {row['message']}")
        error = status.get("error")
        if isinstance(error, dict) and error.get("traceback"):
            st.code(str(error["traceback"]), language=None)
    elif row["state"] == "interrupted":
        st.warning(f"{chosen}: its process ended before it finished.")
    results = reports.read_results_file(folder)
    if results:
        with st.expander("Recorded numbers (results.json)"):
            st.json(results, expanded=False)
    if row["html"]:
        st.caption(f"`{folder}`")
        st.iframe(Path(row["html"]), height=900)
