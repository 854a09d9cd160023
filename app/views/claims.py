from pathlib import Path

import streamlit as st

from ctrpo_core import reports
from ctrpo_core.config import ConfigError
from ctrpo_core.results.catalog import default_runs_dir
from ctrpo_core.tools import claims
from ctrpo_core.ui.charts import PLOTLY_CONFIG

st.title("Claims")
st.caption(
    "The paper's claims checked where the truth is known: on GridHazard-v0 and HazardEdge-v0 every run "
    "logs the true cost of each policy iterate, so a crossing into the unsafe set is measured, not "
    "estimated. Each verdict is computed from the numbers of the latest `claims` report."
)
runs_dir = default_runs_dir()
BADGES = {claims.HOLDS: ("green", "check_circle"), claims.FAILS: ("red", "cancel"), claims.UNTESTED: ("gray", "help")}


@st.fragment(run_every=3.0)
def watch(running_folder):
    """While a claims report runs: its runs done of its runs planned, elapsed and left; the page follows when
    one starts or ends."""
    now = claims.running_report(runs_dir)
    if (now or {}).get("folder") != running_folder:
        st.rerun()  # a claims report started or ended: show its verdicts without a reload
    if now is not None:
        progress = claims.report_progress(runs_dir, now)
        st.progress(
            progress.finished / max(1, progress.planned),
            text=f"The claims report {now['folder']} is {now['state']}: {progress.line()}. Its verdicts "
            "appear here when it ends.",
        )


# the button on its own row: beside the status line it was cut to "Run the claims r…" at 1024 px
button = st.empty()
status = st.empty()
starting = st.session_state.get("claims_start", False)  # the button's value in the run its press started
if starting:
    status.info("Starting the claims report…")  # said first: what follows, and the report's start, take seconds
running = claims.running_report(runs_dir)
latest = claims.latest_report(runs_dir)
if running is None and not starting:
    before = claims.report_progress(runs_dir)  # what the button starts, timed on this machine
    status.info(
        (f"No finished claims report in `{reports.reports_dir(runs_dir)}` yet. " if latest is None else "")
        + f"A claims report at its defaults trains {before.line()} (timed from the runs finished here, "
        "else from speeds measured on this machine kind)."
    )
if button.button(
    "Run the claims report",
    type="primary",
    disabled=running is not None,
    key="claims_start",
    help="`ctrpo report claims` at its defaults, in the background; finished runs are reused",
):
    try:
        reports.launch_report(claims.REPORT, {}, runs_dir)
    except ConfigError as exc:
        status.error(str(exc))
    else:
        st.rerun()
watch(running["folder"] if running else None)

if latest is not None:
    row = latest["row"]
    st.markdown(f"From **{row['folder']}** ({row['created']}). Reproduce: `{latest['command']}`")
    # the five verdicts first, a line each: the whole story on one screen, no verdict cut at any width
    lines = []
    for verdict in latest["verdicts"]:
        color, icon = BADGES.get(verdict.verdict, ("gray", "help"))
        lines.append(
            f":{color}-badge[:material/{icon}: {verdict.verdict}] **({verdict.claim})** "
            f"{claims.SHORT.get(verdict.claim, '')}"
        )
    st.markdown("  \n".join(lines))
    figures = claims.report_figures(latest)
    for verdict in latest["verdicts"]:
        color, icon = BADGES.get(verdict.verdict, ("gray", "help"))
        with st.container(border=True):
            text, picture = st.columns([2, 3]) if verdict.claim in figures else (st.container(), None)
            text.markdown(
                f"**({verdict.claim})** {verdict.statement}  \n:{color}-badge[:material/{icon}: {verdict.verdict}]"
            )
            text.markdown(verdict.because[:1].upper() + verdict.because[1:] + ".")
            if verdict.paper:
                text.caption(f"The paper: {verdict.paper}.")
            if picture is not None:
                picture.plotly_chart(figures[verdict.claim], key=f"claims_{verdict.claim}", config=PLOTLY_CONFIG)
    if row["html"]:
        with st.expander("Every figure and table behind the verdicts (the full report)"):
            st.iframe(Path(row["html"]), height=900)
