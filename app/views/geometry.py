import streamlit as st

from ctrpo_core.tabular import figures
from ctrpo_core.ui.charts import PLOTLY_CONFIG

st.title("Geometry")
st.markdown(
    "The exact, tabular picture behind C-TRPO, on the authors' 2-state toy: the policy space is the unit "
    "square (x, y) = (π(a₁|s₁), π(a₁|s₂)). NPG (β = 0) follows the natural gradient of V_r across the "
    "boundary V_c = b; C-NPG's metric carries the barrier β·φ''(b − V_c)∇V_c∇V_cᵀ, so its trajectories "
    'bend along the boundary and stay safe: a panel\'s "crossed b" counts the paths from safe starts that '
    "went past the limit b, and for C-NPG that is a fixed step landing just past the boundary (the note under "
    "the picture gives the numbers). The trust regions {D_C(π‖π_k) ≤ δ} shrink as π_k nears the boundary."
)
BETAS = [0.0001, 0.001, 0.01, 0.1, 1.0, 2.0, 10.0]
c1, c2, c3 = st.columns(3)
beta = c1.select_slider("β (barrier weight)", BETAS, value=1.0, key="geo_beta")
delta = c2.select_slider("δ (trust radius)", [0.005, 0.01, 0.02, 0.05, 0.1, 0.2], value=0.05, key="geo_delta")
starts = c3.slider("random safe starts", 1, 20, 10, key="geo_starts")


@st.cache_data(show_spinner="integrating the flows ...")
def _figures(beta: float, delta: float, starts: int):
    return (
        figures.policy_space_figure(betas=[beta], n_starts=starts, seed=0),
        figures.trust_region_figure(delta=delta, beta=beta),
        figures.value_curves_figure(betas=[beta], n_starts=starts, seed=0),
    )


policy_space, trust_regions, value_curves = _figures(beta, delta, starts)
# one figure per row, each at the page's width: side by side their legends and titles would not fit
st.plotly_chart(policy_space, key="geo_policy_space", config=PLOTLY_CONFIG)
st.caption(figures.crossing_note(policy_space.layout.meta, value_curves.layout.meta))
st.plotly_chart(trust_regions, key="geo_trust_regions", config=PLOTLY_CONFIG)
st.plotly_chart(value_curves, key="geo_values", config=PLOTLY_CONFIG)
