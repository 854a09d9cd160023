"""What the report notebooks call first and last: an offline Plotly renderer, and the recorded numbers.

- :func:`setup` makes every figure render as HTML with plotly.js embedded once per notebook (no CDN, no
  MathJax, no require.js), so the executed notebook and its HTML export show the figures offline; the
  figure JSON is kept too (``application/vnd.plotly.v1+json``) for JupyterLab.
- :func:`record` prints the report's key numbers as one JSON object in a cell tagged ``results``;
  :func:`ctrpo_core.reports.read_results` reads them back from the executed notebook.
"""

from __future__ import annotations

import json
import math

RENDERER = "ctrpo_offline"
RESULTS_TAG = "results"


def _offline_renderer():
    from plotly.io import to_html
    from plotly.io.base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        """Plotly's 'notebook' renderer (plotly.js inlined once, at the first figure) without the
        MathJax script it loads from a CDN for every figure."""

        def to_mimebundle(self, fig_dict):
            html = to_html(fig_dict, config=self.config, auto_play=self.auto_play, include_plotlyjs=False,
                           include_mathjax=False, full_html=False, animation_opts=self.animation_opts,
                           default_width="100%", default_height=525, validate=False)
            return {"text/html": html}

    return OfflineNotebookRenderer()


def setup() -> None:
    """Figures: JSON for JupyterLab plus self-contained HTML for the executed notebook and its export."""
    import plotly.io as pio

    if RENDERER not in pio.renderers:
        pio.renderers[RENDERER] = _offline_renderer()
    pio.renderers.default = f"plotly_mimetype+{RENDERER}"


def _plain(value):
    """numpy and pandas scalars/arrays as plain JSON values; NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def record(results: dict) -> dict:
    """Print ``results`` as one JSON object (the output of the notebook's 'results' cell)."""
    results = _plain(results)
    print(json.dumps(results, indent=1, sort_keys=True, allow_nan=False, ensure_ascii=False))
    return results
