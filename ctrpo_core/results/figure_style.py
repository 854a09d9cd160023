"""One visual language for every figure (app pages and notebooks): a fixed colour per algorithm,
C-TRPO's β / b_H variants in one ordered blue family (each β with its own line style and marker), the cost
limit b in black dashes that no run uses, short labels, 14 px fonts."""

from __future__ import annotations

import math

from plotly.colors import sample_colorscale

from ..config.algorithms import ALGORITHMS, ALL_SETTINGS

FONT = dict(size=14)  # every text of a figure: readable at a projector (issue 18)

# Each algorithm's colour and marker are its own (declared in its file). None is red (the hazard and "over the
# limit" in the other figures) or black (the limit line), and only C-TRPO is blue: its blue is the middle of its
# own family. Twelve colours cannot all differ for colour-blind readers, so every algorithm also has its marker.
OTHER_COLORS = ["#7f7f7f", "#c49c94", "#bcbd22", "#9edae5"]  # runs of algorithms this version does not know
CTRPO = "c-trpo"

LIMIT_COLOR, LIMIT_DASH = "#111111", "dash"  # the cost limit b: no run is black, no run is dashed
# Line styles a run may take when two settings of one colour are shown (never the limit's "dash").
RUN_DASHES = ["solid", "dot", "dashdot", "longdashdot"]

# The C-TRPO family: light (no or a weak barrier) to dark (a strong one) blues. The dark end stops short of
# Blues' navy, which at a projector reads as the black of the limit line.
_FAMILY_SCALE = "Blues"
_FAMILY_RANGE = (0.36, 0.88)
DEFAULT_BETA = ALL_SETTINGS["beta"].default  # C-TRPO's default β: its line is solid and unmarked
# Markers of the other β, by half-decade (round(2·log10 β)): each value of the Demo's β slider has its own.
_BETA_SYMBOLS = {
    -4: "triangle-down",
    -3: "star",
    -2: "square",
    -1: "triangle-up",
    1: "circle",
    2: "diamond",
    3: "x",
    4: "star-diamond",
}
NO_BARRIER_SYMBOL = "cross"  # β = 0


def algo_name(algo) -> str:
    return ALGORITHMS[algo].name if algo in ALGORITHMS else str(algo)


def algo_marker(algo) -> str:
    """The marker symbol of an algorithm's lines and dots (its declaration's), a second channel beside colour."""
    return ALGORITHMS[algo].marker if algo in ALGORITHMS else "circle"


def family_color(t: float) -> str:
    """A blue of the C-TRPO family at position ``t`` in [0, 1] (0: lightest, 1: darkest)."""
    lo, hi = _FAMILY_RANGE
    rgb = sample_colorscale(_FAMILY_SCALE, [lo + (hi - lo) * min(1.0, max(0.0, float(t)))])[0]
    return _hex(rgb)


def beta_position(beta) -> float:
    """Where β sits in the family, by value (so a β keeps its blue when other β are added): β = 0 is the
    lightest, then log10 β from 0.01 to 100 spans the rest; β = 1 is the middle."""
    if beta is None or _isnan(beta):
        return 0.5
    beta = float(beta)
    if beta <= 0:
        return 0.0
    return 0.1 + 0.9 * min(1.0, max(0.0, (math.log10(beta) + 2) / 4))


def color_of(algo, beta=None, bh=None, family_values=None) -> str:
    """The colour of a setting. Every algorithm but C-TRPO has one fixed colour. C-TRPO's settings
    are blues ordered by β (by value, see :func:`beta_position`), or, when ``family_values`` (the sorted
    distinct (β, b_H) pairs shown) vary in b_H, by their rank in that list: darker = larger."""
    if algo != CTRPO:
        if algo in ALGORITHMS:
            return ALGORITHMS[algo].color
        return OTHER_COLORS[sum(map(ord, str(algo))) % len(OTHER_COLORS)]
    if family_values and len(family_values) > 1 and len({_key(v[1]) for v in family_values}) > 1:
        ranked = sorted({(_key(b), _key(h)) for b, h in family_values})
        i = ranked.index((_key(beta), _key(bh))) if (_key(beta), _key(bh)) in ranked else 0
        return family_color(i / (len(ranked) - 1))
    if beta is None or _isnan(beta):
        return ALGORITHMS[CTRPO].color
    return family_color(beta_position(beta))


def beta_dash(beta) -> str:
    """C-TRPO's line style by β, so variants differ in more than a shade of blue: dotted below the default β
    (a weaker barrier, β = 0 included), solid from it up. Never the limit's "dash"."""
    if beta is None or _isnan(beta) or float(beta) >= DEFAULT_BETA:
        return "solid"
    return "dot"


def beta_symbol(beta) -> str | None:
    """The marker a C-TRPO line of this β carries (None at the default β): fixed per value, so a β keeps it
    when other β are added."""
    if beta is None or _isnan(beta) or _key(beta) == _key(DEFAULT_BETA):
        return None
    if float(beta) <= 0:
        return NO_BARRIER_SYMBOL
    step = round(2 * math.log10(float(beta) / DEFAULT_BETA))
    symbols = [v for _, v in sorted(_BETA_SYMBOLS.items())]
    return _BETA_SYMBOLS.get(step, symbols[step % len(symbols)]) if step else symbols[0]


def band_color(color: str, alpha: float = 0.18) -> str:
    r, g, b = _rgb(color)
    return f"rgba({r},{g},{b},{alpha})"


def legend_rows(names, width: float = 860.0, char_px: float = 8.0, item_px: float = 46.0) -> int:
    """Rows a horizontal legend of ``names`` takes at ``width`` px (14 px font), packed as Plotly packs
    them; errs on more rows, so a figure sized for it never squeezes its plots."""
    rows, used = 1, 0.0
    for name in names:
        w = item_px + char_px * len(str(name))
        if used and used + w > width:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def _key(value):
    return None if value is None or _isnan(value) else round(float(value), 12)


def _isnan(value) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _rgb(color: str) -> tuple[int, int, int]:
    if color.startswith("rgb"):
        return tuple(int(float(v)) for v in color[color.index("(") + 1 : color.index(")")].split(",")[:3])
    color = color.lstrip("#")
    return tuple(int(color[i : i + 2], 16) for i in (0, 2, 4))


def _hex(color: str) -> str:
    return "#%02x%02x%02x" % _rgb(color)


def short_labels(labels) -> dict:
    """{full label: short label}: the algorithm's name plus only the settings that differ among the
    ``labels`` of that algorithm shown (the task only when several are shown; one algorithm's default δ
    against another's is no difference worth a legend); C-TRPO always keeps its β.

    A full label is ``catalog.label``'s text: "TASK ALGO key=value ..."."""
    parsed = {}
    for text in dict.fromkeys(labels):
        words = str(text).split(" ")
        settings = dict(w.split("=", 1) for w in words[2:] if "=" in w)
        parsed[text] = (words[0], words[1] if len(words) > 1 else "", settings)
    tasks = {task for task, _, _ in parsed.values()}
    values: dict[tuple, set] = {}  # (algorithm, key): the values shown; defaults differ between algorithms
    for _, algo, settings in parsed.values():
        for key, value in settings.items():
            values.setdefault((algo, key), set()).add(value)
    # a key some labels of the same algorithm lack (a default left out of them) tells them apart too
    partial = set()
    for algo in {a for _, a, _ in parsed.values()}:
        keysets = [set(s) for _, a, s in parsed.values() if a == algo]
        partial |= {(algo, k) for k in set.union(*keysets) - set.intersection(*keysets)}
    out = {}
    for text, (task, algo, settings) in parsed.items():
        parts = ([task] if len(tasks) > 1 else []) + [algo_name(algo)]
        parts += [
            f"{k}={v}"
            for k, v in settings.items()
            if len(values[(algo, k)]) > 1 or (algo, k) in partial or (algo == CTRPO and k == "β")
        ]
        out[text] = " ".join(parts)
    if len(set(out.values())) < len(out):  # never two settings under one name
        out = {text: text for text in out}
    return out
