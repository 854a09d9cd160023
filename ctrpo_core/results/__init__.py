"""Reading runs back: the catalog, statistics, tables as text, figures, analysis and written conclusions."""

import warnings

from . import text

_TEXT_NAMES = ("run_row", "list_rows", "table", "text_chart", "show", "show_text")


def __getattr__(name):  # the former module ctrpo_core.results is ctrpo_core.results.text
    if name in _TEXT_NAMES:
        warnings.warn(
            f"ctrpo_core.results.{name} moved to ctrpo_core.results.text.{name}", DeprecationWarning, stacklevel=2
        )
        return getattr(text, name)
    raise AttributeError(f"module 'ctrpo_core.results' has no attribute {name!r}")
