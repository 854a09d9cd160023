import streamlit as st

from ctrpo_core.config import ConfigError
from ctrpo_core.envs.builtin import hazard_edge
from ctrpo_core.results.catalog import default_runs_dir, load_curves, run_table
from ctrpo_core.results.plots import ctrpo_only, shrinkage_figure, shrinkage_sentence
from ctrpo_core.tools import demo
from ctrpo_core.tools.episodes import render_episodes
from ctrpo_core.ui import forms
from ctrpo_core.ui.charts import PLOTLY_CONFIG

ACTIVE = ("queued", "running")
REFRESH_S = 1.5

st.title("Demo: the barrier at work")
st.markdown(
    f"A point on a line earns more reward the further right it goes, but every step past the edge costs 1 and an "
    f"episode may cost at most **b = {hazard_edge.COST_LIMIT:g}**. **1.** Press **Run** (about a minute) · "
    "**2.** watch TRPO walk into the hazard while C-TRPO slows down before the limit · **3.** below, the "
    "**β slider** re-runs C-TRPO with another barrier weight."
)
with st.expander("The task and the three learners"):
    st.markdown(
        f"**{demo.TASK}**: a point on a line is rewarded for being far to the right (reward = its position, "
        f"up to {hazard_edge.REWARD_CAP}), but every step past the edge x > {hazard_edge.EDGE} costs 1, and an "
        f"episode may cost at most **b = {hazard_edge.COST_LIMIT:g}**. The reward pulls every learner toward the "
        "edge. **TRPO** ignores the cost and walks into the hazard; **TRPO-Lag** learns a price for cost only after "
        "paying it; **C-TRPO** measures its trust region with a barrier on the remaining budget b − $\\hat J_c$ "
        "(b minus the episode cost so far), so its steps shrink as it nears the edge. Same seed, same settings, one "
        "process per run."
    )
try:
    settings = demo.page_settings()
except ConfigError as exc:
    st.error(forms.say(exc))
    st.stop()
if settings:
    st.caption(f"Shortened by {demo.STEPS_ENV}: {settings['total_steps']:,} steps per run instead of the demo's.")
runs_dir = default_runs_dir()
c1, c2, c3, c4 = st.columns([1.8, 1, 1.7, 1.5], vertical_alignment="bottom")  # one row, whole at 1024 px
seed = int(
    c2.number_input(
        "Seed", value=0, min_value=forms.bounds("seed")[0], max_value=forms.bounds("seed")[1], step=1, key="demo_seed"
    )
)
log_y = c3.toggle(
    "Log cost",
    value=False,
    key="demo_log",
    help="Off: the cost axis is focused on the limit b, a run far above it marked at the top edge. "
    "Reg+ is always on a log axis.",
)
only_ctrpo = c4.toggle("C-TRPO only", value=False, key="demo_ctrpo_only")
base = demo.plan(runs_dir, seed=seed, **settings)


def shown() -> tuple[dict, list[str]]:
    """{name: (path, label)} of the runs this page shows (its β overlays come from the runs folder, so they
    survive a new browser session), and the names of those still queued or training."""
    runs = demo.shown_runs(runs_dir, base, seed=seed, **settings)
    table = run_table(runs_dir)
    mine = table[table.name.isin(list(runs))] if len(table) else table
    return runs, sorted(mine.name[mine.state.isin(ACTIVE)]) if len(mine) else []


def pending(names) -> set[str]:
    """Those of ``names`` that are queued or training (or not in the runs folder yet: just launched)."""
    table = run_table(runs_dir)
    states = dict(zip(table.name, table.state)) if len(table) else {}
    return {name for name in names if states.get(name, "queued") in ACTIVE}


def note(key: str, text: str, runs=()) -> None:
    """Keep a note for show_note: about ``runs``, shown while one of them is queued or training; without
    runs, shown once."""
    st.session_state[key] = {"text": text, "runs": list(runs)}


def show_note(key: str) -> None:
    """Show the note ``key`` only while it is true, then drop it: "Started 3 runs" goes once they finished."""
    kept = st.session_state.get(key)
    if not kept:
        return
    live = pending(kept["runs"])
    if live or not kept["runs"]:
        st.info(kept["text"])
    if not live:
        del st.session_state[key]


def start(configs) -> list[str] | None:
    """demo.launch, its refusal said on the page (None) instead of a traceback."""
    try:
        return demo.launch(configs)
    except ConfigError as exc:
        st.error(forms.say(exc))
    except OSError as exc:
        st.error(f"Cannot start the demo's runs: {exc}")
    return None


if c1.button(
    "Run the demo",
    type="primary",
    help="C-TRPO, TRPO and TRPO-Lag with the same seed, each in its own process in the background: about a minute.",
):
    started = start(base)
    training = pending([cfg.name for cfg in base])
    if started is None:
        pass  # refused: the reason is on the page
    elif started:
        note("demo_note", f"Started {len(started)} runs: about a minute.", started)
    elif training:
        note(
            "demo_note",
            "These runs were already started (another session or an earlier press): their curves grow below.",
            training,
        )
    else:
        note("demo_note", "These runs have been trained already: showing them.")
runs, active = shown()
show_note("demo_note")


@st.fragment(run_every=REFRESH_S if active else None)
def watch():
    if shown()[1] != active:
        st.rerun()  # a run started or finished: the whole page follows (animations, notes), no reload


@st.fragment(run_every=REFRESH_S if active else None)
def curves_view():
    current = shown()[0]
    table = run_table(runs_dir)
    mine = (
        table.set_index("name").reindex([n for n in current if n in set(table.name)]).reset_index()
        if len(table)
        else table
    )  # in the page's order: the three runs, then the other β ascending
    if mine.empty:
        st.info("Press **Run**: three runs start in the background and take about a minute.")
        return
    curves = load_curves([path for path, _ in current.values()])
    if curves.empty:
        st.info("Starting ...")
        return
    labels = {name: label for name, (_, label) in current.items()}
    curves = ctrpo_only(curves) if only_ctrpo else curves
    limit = base[0].cost_limit
    st.plotly_chart(demo.curves_figure(curves, labels, limit, log_cost=log_y), key="demo_curves", config=PLOTLY_CONFIG)
    for column, line in zip(st.columns(3), demo.panel_notes(curves, labels, limit)):
        column.markdown(line)  # under each panel, in the page's dark 16 px text: what to see there
    training = int(mine.state.isin(ACTIVE).sum())
    st.caption(f"{len(mine)} runs, {training} still training; final values: the last 10% of epochs")
    st.dataframe(
        demo.table_view(mine, labels),
        hide_index=True,
        width="stretch",
        column_config={c: st.column_config.NumberColumn(c, format="localized") for c in demo.TABLE_NUMBERS},
    )
    st.plotly_chart(shrinkage_figure(curves, labels=labels), key="demo_shrinkage", config=PLOTLY_CONFIG)
    st.caption(shrinkage_sentence(curves, labels=labels))


watch()
curves_view()

st.subheader("One episode of each learned policy, from the same start")
st.caption(
    "Position left to right, time top to bottom, each learner in its colour; red: the hazard; dashed: where "
    "the reward stops growing."
)
finished = run_table(runs_dir)
finished = (
    finished[finished.name.isin([c.name for c in base]) & (finished.state == "finished")] if len(finished) else finished
)


@st.cache_data(show_spinner="rendering ...", max_entries=8)
def episode_gifs(runs: tuple[tuple[str, float], ...]) -> list:
    """The three runs' episodes, rendered in one process of their own (the server never loads torch); cached per
    (path, last update) of each run."""
    return render_episodes(
        [path for path, _ in runs], seed=0, deterministic=True, max_steps=hazard_edge.HORIZON, frame_ms=80
    )


if len(finished) < len(base):
    st.info(
        f"The animations appear here once the three runs have finished ({len(finished)} of {len(base)} so far)."
        if active or len(finished)
        else "The animations appear here once the three runs have finished."
    )
else:
    rows = [finished[finished.name == cfg.name].iloc[0] for cfg in base]
    episodes = episode_gifs(tuple((row.path, float(row.updated or 0)) for row in rows))
    for col, cfg, episode in zip(st.columns(len(base)), base, episodes):
        if isinstance(episode, Exception):
            col.warning(f"{demo.short_label(cfg)}: could not render ({episode})")
            continue
        col.image(episode["gif"])
        col.markdown(f"**{demo.short_label(cfg)}**  \nreturn {episode['return']:.1f} · cost {episode['cost']:.0f}")

st.subheader("What does β do?")
default_beta = demo.default_beta()
st.caption(
    f"Pick a barrier weight β (C-TRPO's default: {default_beta:g}), then press **Re-run C-TRPO**: moving the "
    "slider alone trains nothing. The new run's curves join the ones above (and stay: every C-TRPO run of the "
    "demo's settings in the runs folder is shown)."
)
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
beta = c1.select_slider("β (barrier weight)", demo.BETA_CHOICES, value=default_beta, key="demo_beta")
if c2.button("Re-run C-TRPO", key="demo_rerun"):
    cfg = demo.plan(runs_dir, seed=seed, algos=("c-trpo",), beta=float(beta), **settings)[0]
    started = start([cfg])
    if started is None:
        st.stop()
    if started:
        note("demo_beta_note", f"Started C-TRPO β={beta:g}: its curves join the ones above.", started)
    elif pending([cfg.name]):
        note("demo_beta_note", f"C-TRPO β={beta:g} is training: its curves grow above.", [cfg.name])
    else:
        note("demo_beta_note", f"C-TRPO β={beta:g} has been trained already: its curves are shown above.")
    st.rerun()  # the page refreshes while the new run trains
show_note("demo_beta_note")
