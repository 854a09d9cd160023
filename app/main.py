"""C-TRPO Explorer (``streamlit run app/main.py``): the pages are thin views over ctrpo_core."""

import streamlit as st

from ctrpo_core.ui import hosts
from ctrpo_core.ui.serving import refusal

hosts.usage_stats_off()  # also when started outside the repository (no .streamlit/config.toml there)
if __name__ != "__main__":
    # `streamlit run app/main.py` finds this st.App by reading the file and imports the file as a module before
    # it listens: every request, the first one and the WebSocket included, passes hosts.HostCheck (loopback Host
    # and Origin only, issue 31). Streamlit then runs this file as "__main__" for each session: the pages below.
    app = st.App(__file__, middleware=hosts.middleware())
else:
    st.set_page_config(page_title="C-TRPO Explorer", layout="wide")
    # Streamlit's default 6rem above every page pushes the figures below the fold at a projector's 1280×720
    st.markdown("<style>[data-testid='stMainBlockContainer']{padding-top:1rem}</style>", unsafe_allow_html=True)
    # bound to anything but loopback (streamlit run from another folder binds every interface) and not
    # allowed by CTRPO_ALLOW_REMOTE=1: one page saying how to serve it safely, no navigation, no other page;
    # the same for a session opened under a foreign Host or Origin (a Streamlit without st.App serves it)
    problem = refusal(st.get_option("server.address")) or hosts.session_refusal(st.context.headers)
    if problem is not None:
        st.title("C-TRPO Explorer is not served on this address")
        st.markdown(problem)
        st.stop()
    pages = [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/demo.py", title="Demo", icon=":material/school:"),
        st.Page("views/train.py", title="Train", icon=":material/play_arrow:"),
        st.Page("views/live.py", title="Live", icon=":material/monitoring:"),
        st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("views/sensitivity.py", title="Sensitivity", icon=":material/grid_on:"),
        st.Page("views/benchmark.py", title="Benchmark", icon=":material/leaderboard:"),
        st.Page("views/geometry.py", title="Geometry", icon=":material/architecture:"),
        st.Page("views/claims.py", title="Claims", icon=":material/fact_check:"),
        st.Page("views/rollout.py", title="Rollout", icon=":material/movie:"),
        st.Page("views/reports.py", title="Reports", icon=":material/description:"),
    ]
    st.navigation(pages).run()
