"""Forms whose fields follow a choice (task, algorithm): the app's Train, Sensitivity and Reports pages.

A form shows the defaults of the chosen task and algorithm; when either changes, every field takes the
new choice's defaults, except the values the user typed earlier for that very choice, which come back.
Without this, widgets keyed once keep the first task's numbers (b, steps, δ) and a run silently trains
with settings the chosen task never had.

The state lives in a mapping (``st.session_state`` in the app, a dict in the tests): the widget keys
themselves, plus ``_<form>_choice`` (the choice the fields show) and ``_<form>_typed`` ({choice: {key:
value the user typed}}). Call :func:`follow` before the fields render and :func:`remember` after.

A page's values also outlive visits to other pages: Streamlit deletes the state of every widget a run
does not draw, so after a visit to Live the Train page would come back at its first task's defaults (its
Task box included), and Sensitivity with its seeds reset but its β kept: a relaunch would train another
grid. :func:`keep` copies a page's widget values into ``_<page>_kept``, a key no widget owns (Streamlit
keeps it), and :func:`restore`, called first thing on the page, puts back those the visit deleted.
Widgets restored this way take their first value from ``restore``'s defaults, never from a ``value=``
argument (Streamlit warns when both set one).
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


def _kept_key(page: str) -> str:
    return f"_{page}_kept"


def restore(state: MutableMapping, page: str, defaults: dict | None = None) -> None:
    """Before ``page``'s widgets render: every value :func:`keep` saved whose widget state Streamlit deleted
    (another page showed) comes back; a key never set gets its value from ``defaults``."""
    kept = state.get(_kept_key(page)) or {}
    for key, value in {**(defaults or {}), **kept}.items():
        if key not in state:
            state[key] = value


def keep(state: MutableMapping, page: str, keys) -> None:
    """After ``page``'s widgets ``keys`` rendered: save their values where Streamlit keeps them (merged with
    what was saved before, so a field drawn only for some choices keeps its value while hidden)."""
    kept = dict(state.get(_kept_key(page)) or {})
    kept.update({key: state[key] for key in keys if key in state})
    state[_kept_key(page)] = kept
