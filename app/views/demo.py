import streamlit as st

from ctrpo_core import demo
from ctrpo_core.catalog import default_runs_dir, load_curves, run_table
from ctrpo_core.envs.builtin import hazard_edge
from ctrpo_core.plots import curve_figure
from ctrpo_core.rollout import render_episode

st.title("Demo: the barrier at work")
st.markdown(
    f"**{demo.TASK}**: a point on a line is rewarded for being far to the right (reward = its position, "
    f"up to {hazard_edge.REWARD_CAP}), but every step past the edge x > {hazard_edge.EDGE} costs 1, and an "
    f"episode may cost at most **b = {hazard_edge.COST_LIMIT:g}**. The reward pulls every learner toward the "
    "edge. **TRPO** ignores the cost and walks into the hazard; **TRPO-Lag** learns a price for cost only after "
    "paying it; **C-TRPO** measures its trust region with a barrier on the remaining budget b − Ĵ_c, so its "
    "steps shrink as it nears the edge. Same seed, same settings, one process per run."
)
runs_dir = default_runs_dir()
c1, c2 = st.columns([1, 3])
seed = int(c1.number_input("Seed", value=0, min_value=0, step=1, key="demo_seed"))
base = demo.plan(runs_dir, seed=seed)
if c2.button("Run the demo: C-TRPO, TRPO and TRPO-Lag", type="primary"):
    started = demo.launch(base)
    st.toast(f"Started {len(started)} runs" if started else "These runs exist already: showing them")
extra = st.session_state.setdefault("demo_extra", {})  # β → run name, per seed
configs = base + [c for (s, _), c in extra.items() if s == seed]


def label_of(name: str) -> str:
    cfg = next(c for c in configs if c.name == name)
    return f"c-trpo β={cfg.beta:g}" if cfg.algo == "c-trpo" else cfg.algo


@st.fragment(run_every=1.5)
def curves_view():
    table = run_table(runs_dir)
    mine = table[table.name.isin([c.name for c in configs])] if len(table) else table
    if mine.empty:
        st.info("Press the button: three runs of about 30 seconds start in the background.")
        return
    curves = load_curves(mine.path.tolist())
    if curves.empty:
        st.info("Starting ...")
        return
    curves["run"] = curves.run.map(label_of)
    left, mid, right = st.columns(3)
    left.plotly_chart(curve_figure(curves, "ep_return", pooled=False), key="demo_return")
    mid.plotly_chart(curve_figure(curves, "ep_cost", pooled=False, cost_limit=base[0].cost_limit), key="demo_cost")
    right.plotly_chart(curve_figure(curves, "cost_regret", pooled=False), key="demo_regret")
    running = int((mine.state == "running").sum()) + int((mine.state == "queued").sum())
    st.caption(f"{len(mine)} runs, {running} still training; final values: the last 10% of epochs")
    st.dataframe(mine.assign(run=mine.name.map(label_of))[
        ["run", "state", "epoch", "epochs", "final_return", "final_cost", "reg_plus", "recovery_epochs"]
    ].rename(columns={"reg_plus": "Reg+"}), hide_index=True, width="stretch")


curves_view()

st.subheader("One episode of each learned policy, from the same start")
st.caption("Position left to right, time top to bottom; red: the hazard; dashed: where the reward stops growing.")
finished = run_table(runs_dir)
finished = finished[finished.name.isin([c.name for c in base]) & (finished.state == "finished")] \
    if len(finished) else finished


@st.cache_data(show_spinner="rendering ...", max_entries=32)
def episode_gif(path: str, updated: float) -> dict:
    return render_episode(path, seed=0, deterministic=True, max_steps=hazard_edge.HORIZON, frame_ms=80)


if len(finished) < len(base):
    st.info("The animations appear once the three runs have finished.")
else:
    for col, cfg in zip(st.columns(len(base)), base):
        row = finished[finished.name == cfg.name].iloc[0]
        episode = episode_gif(row.path, float(row.updated or 0))
        col.image(episode["gif"], caption=f"{cfg.algo}: return {episode['return']:.1f}, cost {episode['cost']:.0f}")

st.subheader("What does β do?")
st.caption("Re-run C-TRPO alone with another barrier weight; its curves join the ones above.")
c1, c2 = st.columns([3, 1])
beta = c1.select_slider("β (barrier weight)", [0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0], value=10.0, key="demo_beta")
if c2.button("Re-run C-TRPO", key="demo_rerun"):
    cfg = demo.plan(runs_dir, seed=seed, algos=("c-trpo",), beta=float(beta))[0]
    demo.launch([cfg])
    extra[(seed, float(beta))] = cfg
    st.rerun()
