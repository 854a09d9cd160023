"""What the report notebooks call first and last: an offline Plotly renderer, and the recorded numbers.

- :func:`setup` makes every figure render as HTML with plotly.js embedded once per notebook (no CDN, no
  MathJax, no require.js), so the executed notebook and its HTML export show the figures offline; the
  figure JSON is kept too (``application/vnd.plotly.v1+json``) for JupyterLab.
- :func:`record` shows the report's key numbers as a table in a cell tagged ``results`` and stores them
  as one JSON object in the same output (the ``RESULTS_MIME`` type, which viewers do not draw);
  :func:`ctrpo_core.reports.papermill.read_results` reads them back from the executed notebook.
"""

from __future__ import annotations

import json
import math

import plotly.io as pio
from IPython.display import display
from plotly.io import to_html
from plotly.io.base_renderers import NotebookRenderer

RENDERER = "ctrpo_offline"
RESULTS_TAG = "results"
RESULTS_MIME = "application/vnd.ctrpo.results+json"


def _offline_renderer():
    class OfflineNotebookRenderer(NotebookRenderer):
        """Plotly's 'notebook' renderer (plotly.js inlined once, at the first figure) without the
        MathJax script it loads from a CDN for every figure."""

        def to_mimebundle(self, fig_dict):
            html = to_html(
                fig_dict,
                config=self.config,
                auto_play=self.auto_play,
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                animation_opts=self.animation_opts,
                default_width="100%",
                default_height=525,
                validate=False,
            )
            return {"text/html": html}

    return OfflineNotebookRenderer()


def setup() -> None:
    """Figures: JSON for JupyterLab plus self-contained HTML for the executed notebook and its export."""
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


def _table(results: dict) -> str:
    """The scalar entries as a two-column Markdown table; nested ones are named, not dumped."""
    rows, nested = [], []
    for key, value in results.items():
        if isinstance(value, (dict, list)) and any(
            isinstance(v, (dict, list)) for v in (value.values() if isinstance(value, dict) else value)
        ):
            nested.append(key)
            continue
        shown = (
            f"{value:.4g}"
            if isinstance(value, float)
            else ", ".join(map(str, value))
            if isinstance(value, list)
            else json.dumps(value)
            if isinstance(value, dict)
            else str(value)
        )
        rows.append(f"| {key} | {shown} |")
    text = "| key number | value |\n|---|---|\n" + "\n".join(rows)
    if nested:
        text += f"\n\n(also in results.json: {', '.join(nested)})"
    return text


def record(results: dict) -> dict:
    """Show ``results`` as a table and keep them, as one JSON object, in the cell's output."""
    results = _plain(results)
    json.dumps(results, allow_nan=False)  # refuses what results.json could not hold
    display({RESULTS_MIME: results, "text/markdown": _table(results), "text/plain": _table(results)}, raw=True)
    return results
