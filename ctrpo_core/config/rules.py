"""The floor of ``config``: ``ConfigError``, ``Range``, the limits every count has, and the ranges of the commands'
options (``eval --episodes``, ``sweep --parallel`` ...). The training settings declare their own ranges
(config/settings.py); the CLI's help texts print the same ranges, so what a user reads is what is checked.
This module imports nothing of the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class ConfigError(ValueError):
    """A setting or option that cannot be used; ``param`` names it (a flag, a key, ``-p KEY``)."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param, self.message = param, message


# Every count has a finite upper end: a loop of 10**18 passes is a hang, not a setting.
MAX_STEPS = 10**12  # environment steps of one run (total and per epoch)
MAX_ENVS = 1024  # parallel environments of one run
MAX_SEED = 2**32 - 1  # a run's seed: numpy's seed range
MAX_EVAL_SEED = 2**31 - 1  # `ctrpo eval --seed`: the range eval has documented since its first version
MAX_PASSES = 10_000  # passes, iterations and tries per update
MAX_EPISODES = 1_000_000  # eval --episodes: the statistics are streamed, so this bounds time, not memory
MAX_LISTED = 10_000  # per-episode "returns"/"costs" are kept (and printed by eval --json) up to this many
MAX_MAGNITUDE = 1e12  # |β|, |b_H|, |δ|, |b| beyond this: not a setting anyone trained with
MAX_PARALLEL = 256  # sweep --parallel
MAX_RETRIES = 100  # sweep --max-retries
MAX_GRID = 10_000  # runs one sweep or report grid may plan: checked before anything is written
MAX_CPUS_PER_RUN = 1024  # sweep --cpus-per-run
INF = math.inf


def check_grid(axes: dict[str, list]) -> None:
    """ConfigError naming the longest axis when the grid of ``axes`` ({param: values}) exceeds MAX_GRID runs."""
    size = math.prod(len(values) for values in axes.values())
    if size > MAX_GRID:
        longest = max(axes, key=lambda param: len(axes[param]))
        shape = " × ".join(f"{len(values)} {param.split()[-1].lstrip('-')}" for param, values in axes.items())
        raise ConfigError(longest, f"the grid would be {size:,} runs ({shape}); a grid plans at most {MAX_GRID:,}")


@dataclass(frozen=True)
class Range:
    """[lo, hi], either end open; ``integer``: only whole numbers (and no bool)."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False

    def contains(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        below = value <= self.lo if self.lo_open else value < self.lo
        above = value >= self.hi if self.hi_open else value > self.hi
        return not (below or above)

    def interval(self) -> str:
        """'[1, 1000000000000]', '(0, 1]', '[0, ∞)'."""
        return f"{'(' if self.lo_open else '['}{_number(self.lo)}, {_number(self.hi)}{')' if self.hi_open else ']'}"

    def short(self) -> str:
        """The range as help texts print it: '0-4294967295', '1-1e+12', '> 0', '>= 0', 'in (0, 1]'."""
        if self.hi == INF:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        if self.integer and not self.lo_open and not self.hi_open:
            return f"{_number(self.lo)}-{_number(self.hi)}"
        return f"in {self.interval()}"

    def describe(self) -> str:
        return ("an integer in " if self.integer else "a number in ") + self.interval()


def _number(x) -> str:
    """1e+12 for a round power of ten, 4294967295 for other integers, 0.5 for floats, ∞."""
    if x == INF:
        return "∞"
    if isinstance(x, int):
        return f"{x:.0e}" if x >= 10**9 and x % 10**9 == 0 else str(x)
    return f"{x:g}"


def _count(lo: int, hi: int) -> Range:
    return Range(lo, hi, integer=True)


# the ranges of the commands' options (not training settings: those are declared in config/settings.py)
RANGES: dict[str, Range] = {
    "episodes": _count(1, MAX_EPISODES),  # eval --episodes
    "eval_seed": _count(0, MAX_EVAL_SEED),  # eval --seed
    "parallel": _count(1, MAX_PARALLEL),  # sweep --parallel
    "max_retries": _count(0, MAX_RETRIES),  # sweep --max-retries
    "cpus_per_run": Range(0.0, MAX_CPUS_PER_RUN, lo_open=True),  # sweep --cpus-per-run
    "starts": _count(1, 100),  # cnpg --starts
}
FLAGS = {
    "episodes": "--episodes",
    "eval_seed": "--seed",
    "parallel": "--parallel",
    "max_retries": "--max-retries",
    "cpus_per_run": "--cpus-per-run",
    "starts": "--starts",
}


def param_of(key: str) -> str:
    return FLAGS.get(key, key)


def check(key: str, value, param: str | None = None) -> None:
    """ConfigError naming ``param`` (default: the setting's flag, else its key) unless ``value`` lies in
    the range of ``key``; None passes (an optional setting left unset)."""
    if value is None or key not in RANGES:
        return
    rule = RANGES[key]
    if not rule.contains(value):
        raise ConfigError(param or param_of(key), f"must be {rule.describe()}, got {value!r}")


def help_range(key: str) -> str:
    """The range of ``key`` as the CLI's help prints it."""
    return RANGES[key].short()
