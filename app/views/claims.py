from pathlib import Path

import streamlit as st

from ctrpo_core.tools import claims
from ctrpo_core import reports
from ctrpo_core.results.catalog import default_runs_dir
from ctrpo_core.config import ConfigError

st.title("Claims")
st.caption("The paper's claims checked where the truth is known: on GridHazard-v0 and HazardEdge-v0 every run "
           "logs the true cost of each policy iterate, so a crossing into the unsafe set is measured, not "
           "estimated. Each verdict is computed from the numbers of the latest `claims` report.")
runs_dir = default_runs_dir()
BADGES = {claims.HOLDS: ("green", "check_circle"), claims.FAILS: ("red", "cancel"),
          claims.UNTESTED: ("gray", "help")}


@st.fragment(run_every=3.0)
def watch(running_folder):
    now = claims.running_report(runs_dir)
    if (now or {}).get("folder") != running_folder:
        st.rerun()  # a claims report started or ended: show its verdicts without a reload


running = claims.running_report(runs_dir)
latest = claims.latest_report(runs_dir)
watch(running["folder"] if running else None)

left, right = st.columns([3, 1], vertical_alignment="center")
if running:
    left.info(f"The claims report {running['folder']} is {running['state']}; its verdicts appear here when it ends "
              "(about 4 minutes at the defaults when no run is reused).")
elif latest is None:
    left.info(f"No finished claims report in `{reports.reports_dir(runs_dir)}` yet.")
if right.button("Run the claims report", type="primary", disabled=running is not None,
                help="`ctrpo report claims` at its defaults, in the background; finished runs are reused"):
    try:
        folder = reports.launch_report(claims.REPORT, {}, runs_dir)
    except ConfigError as exc:
        st.error(str(exc))
    else:
        st.rerun()

if latest is not None:
    row = latest["row"]
    st.markdown(f"From **{row['folder']}** ({row['created']}). Reproduce: `{latest['command']}`")
    # the five verdicts in one row first: the whole story on one screen
    for column, verdict in zip(st.columns(len(latest["verdicts"])), latest["verdicts"]):
        color, icon = BADGES.get(verdict.verdict, ("gray", "help"))
        column.markdown(f"**({verdict.claim})** {claims.SHORT.get(verdict.claim, '')}  \n"
                        f":{color}-badge[:material/{icon}: {verdict.verdict}]")
    figures = claims.report_figures(latest)
    for verdict in latest["verdicts"]:
        color, icon = BADGES.get(verdict.verdict, ("gray", "help"))
        with st.container(border=True):
            text, picture = st.columns([2, 3]) if verdict.claim in figures else (st.container(), None)
            text.markdown(f"**({verdict.claim})** {verdict.statement}  \n"
                          f":{color}-badge[:material/{icon}: {verdict.verdict}]")
            text.markdown(verdict.because[:1].upper() + verdict.because[1:] + ".")
            if verdict.paper:
                text.caption(f"The paper: {verdict.paper}.")
            if picture is not None:
                picture.plotly_chart(figures[verdict.claim], key=f"claims_{verdict.claim}")
    if row["html"]:
        with st.expander("Every figure and table behind the verdicts (the full report)"):
            st.iframe(Path(row["html"]), height=900)
