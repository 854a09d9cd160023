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

import math
from collections.abc import MutableMapping

from ..config.algorithms import ALL_SETTINGS


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


# ---------------------------------------------------------------------------------- fields from declarations
# The Train page's fields are the settings whose declaration gives them a form label (config/settings.py and
# the algorithms' files): their widget, label, help, step and bounds all come from that one declaration.
def _setting(key: str):
    return ALL_SETTINGS[key]


def is_choice(key: str) -> bool:
    return _setting(key).choices is not None


def choices(key: str) -> list:
    return list(_setting(key).choices)


def label(key: str) -> str:
    return _setting(key).label or key


def help_text(key: str, task: str, algo: str, defaults: dict) -> str:
    """The field's help: what the setting is, what it allows, and this task's and algorithm's default."""
    setting = _setting(key)
    default = defaults.get(key)
    shown = f"{default:,}" if isinstance(default, int) else f"{default:g}" if isinstance(default, float) else default
    return (
        f"{setting.help[:1].upper()}{setting.help[1:]}. Allowed: {setting.allowed()}. {task}'s default with "
        f"{algo}: {shown}."
    )


def bounds(key: str) -> tuple:
    """(min, max) a number field takes (None: open), from the setting's range; an open end stays open."""
    rng = _setting(key).range
    if rng is None:
        return None, None
    lo = None if rng.lo_open or rng.lo == float("-inf") else rng.lo
    hi = None if rng.hi_open or rng.hi == float("inf") else rng.hi
    return lo, hi


def number_format(key: str, cfg) -> dict:
    """A number field's step and display format: a tenth of the default's order of magnitude for a real number
    (δ 0.01 steps by 0.001, β 1 by 0.1), one epoch for the run's steps, 1 for other counts."""
    setting, value = _setting(key), getattr(cfg, key)
    if setting.kind == "int":
        return {"step": int(cfg.steps_per_epoch) if key == "total_steps" else 1}
    return {"step": 10.0 ** (math.floor(math.log10(abs(value))) - 1) if value else 0.1, "format": "%.4g"}


def typed(values: dict) -> dict:
    """The fields' values as their settings' kinds (Streamlit gives floats for whole numbers)."""
    return {k: _setting(k).parse(v) if not isinstance(v, str) else v for k, v in values.items()}


def say(exc) -> str:
    """A ConfigError in the app's words: the field's label where the setting has one ("δ (trust radius): must
    be ..."), else the setting's key, as the Advanced table names it."""
    return f"{label(exc.param) if _known(exc.param) else exc.param}: {exc.message}"


def _known(key: str) -> bool:
    return key in ALL_SETTINGS
