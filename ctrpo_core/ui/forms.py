"""Forms whose fields follow a choice (task, algorithm): the app's Train, Sensitivity and Reports pages.

A form shows the defaults of the chosen task and algorithm; when either changes, every field takes the
new choice's defaults, except the values the user typed earlier for that very choice, which come back.
Without this, widgets keyed once keep the first task's numbers (b, steps, δ) and a run silently trains
with settings the chosen task never had.

The state lives in a mapping (``st.session_state`` in the app, a dict in the tests): the widget keys
themselves, plus ``_<form>_choice`` (the choice the fields show) and ``_<form>_typed`` ({choice: {key:
value the user typed}}). Call :func:`follow` before the fields render and :func:`remember` after.
"""

from __future__ import annotations

from collections.abc import MutableMapping


def _keys(form: str) -> tuple[str, str]:
    return f"_{form}_choice", f"_{form}_typed"


def follow(state: MutableMapping, form: str, choice: tuple, defaults: dict) -> bool:
    """Set the fields (widget keys of ``defaults``) for ``choice``; returns whether the choice changed.

    On a new choice every field gets the value typed earlier for that choice, else its default; on the
    same choice only fields missing from ``state`` (Streamlit forgets a page's widgets when the user
    visits another page) are filled, so what the user is typing stays."""
    choice_key, typed_key = _keys(form)
    typed = state.get(typed_key) or {}
    own = typed.get(choice, {})
    changed = state.get(choice_key) != choice
    for key, default in defaults.items():
        if changed or key not in state:
            state[key] = own.get(key, default)
    state[choice_key] = choice
    return changed


def remember(state: MutableMapping, form: str, choice: tuple, defaults: dict) -> dict:
    """Record the fields of ``choice`` whose values differ from its defaults (what the user typed), so
    they come back after another choice; returns them."""
    choice_key, typed_key = _keys(form)
    typed = dict(state.get(typed_key) or {})
    typed[choice] = {k: state[k] for k, default in defaults.items() if k in state and state[k] != default}
    state[typed_key] = typed
    return typed[choice]
