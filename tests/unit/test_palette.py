"""The algorithms' palette (issue 30): twelve or more algorithms told apart at a glance, also by colour-blind
readers, with C-TRPO's blues and the hazard's red kept for their own meaning.

Colour distances are CIE76 ΔE in CIELAB; colour blindness is simulated with Machado, Oliveira & Fernandes (2009)
at full severity on linear RGB."""

import itertools

import numpy as np

from ctrpo_core.config.algorithms import ALGORITHMS
from ctrpo_core.results import figure_style

# Machado et al. (2009), severity 1.0
SIMULATIONS = {
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
}
_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = np.array([0.95047, 1.0, 1.08883])
# The two pairs of earlier rounds' colours below the colour-blind bar under protanopia (orange and green ΔE 4.6,
# blue and purple ΔE 8.0): readers know these colours, and the markers (square and diamond, circle and triangle)
# tell them apart. Every newer colour keeps the bar.
KNOWN_CLOSE = {frozenset({"trpo-lag", "cpo"}), frozenset({"c-trpo", "ppo-lag"})}


def rgb(color: str) -> np.ndarray:
    return np.array([int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)])


def linear(c):
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(lin) -> np.ndarray:
    f = _XYZ @ np.clip(lin, 0, 1) / _WHITE
    f = np.where(f > 0.008856, np.cbrt(f), 7.787 * f + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen(color: str, simulation=None) -> np.ndarray:
    lin = linear(rgb(color))
    return lab(lin if simulation is None else simulation @ lin)


def delta_e(a: str, b: str, simulation=None) -> float:
    return float(np.linalg.norm(seen(a, simulation) - seen(b, simulation)))


def test_the_lab_conversion_matches_known_values():
    assert np.allclose(seen("#ffffff"), [100, 0, 0], atol=0.05)
    assert np.allclose(seen("#ff0000"), [53.24, 80.09, 67.20], atol=0.1)
    # protanopia maps red and green of equal luminance close together, which is why the bar below needs markers
    assert delta_e("#ff0000", "#00ff00") > 80


def test_every_algorithm_has_its_own_marker_and_there_are_twelve_or_more():
    markers = [spec.marker for spec in ALGORITHMS.values()]
    assert len(ALGORITHMS) >= 12 and len(set(markers)) == len(markers)


def test_colours_differ_plainly_in_normal_vision_and_for_colour_blind_readers():
    colors = {algo: spec.color for algo, spec in ALGORITHMS.items()}
    normal = {(a, b): delta_e(colors[a], colors[b]) for a, b in itertools.combinations(colors, 2)}
    assert min(normal.values()) >= 20, sorted(normal.items(), key=lambda kv: kv[1])[:3]
    for name, simulation in SIMULATIONS.items():
        close = {
            frozenset(pair): round(delta_e(colors[pair[0]], colors[pair[1]], simulation), 1)
            for pair in itertools.combinations(colors, 2)
            if delta_e(colors[pair[0]], colors[pair[1]], simulation) < 8
        }
        assert set(close) <= KNOWN_CLOSE, (name, close)


def test_blue_is_c_trpos_and_no_algorithm_is_red_or_black():
    for algo, spec in ALGORITHMS.items():
        L, a, b = seen(spec.color)
        hue, chroma = np.degrees(np.arctan2(b, a)) % 360, np.hypot(a, b)
        if algo != figure_style.CTRPO:
            assert not (230 <= hue <= 308 and chroma > 25), (algo, spec.color)  # the blues of the C-TRPO family
            assert not ((hue < 45 or hue > 350) and chroma > 55 and L < 60), (algo, spec.color)  # the hazard's red
        assert delta_e(spec.color, figure_style.LIMIT_COLOR) > 30, algo  # the limit line's black
        assert 30 <= L <= 80, (algo, spec.color)  # a line on white, visible at a projector
    for t in (0.0, 0.5, 1.0):  # the C-TRPO family's blues stay away from every other algorithm
        blue = figure_style.family_color(t)
        assert all(delta_e(blue, s.color) > 15 for a, s in ALGORITHMS.items() if a != figure_style.CTRPO)
