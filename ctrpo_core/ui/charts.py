"""How every page of the app shows a Plotly figure: one config for each ``st.plotly_chart`` call."""

# No Plotly toolbar (modebar): it opened over the legend, at the figure's top right, whenever the pointer
# crossed a chart. Zooming by dragging, double-click to reset, hover and legend clicks work without it, and
# Streamlit's own full-screen button stays.
PLOTLY_CONFIG = {"displayModeBar": False, "displaylogo": False}
