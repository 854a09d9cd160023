"""Every training setting, declared once: its type, default (and where a task, a task family or an algorithm
family trains with another), range, help text and who reads it. Validation, ``--set`` and TOML, the CLI's
flags and their help, docs/CLI.md, the Train page's fields and its Advanced table all derive from these
declarations; a setting only one algorithm reads is declared in that algorithm's file, in the same form
(``config/algorithms.py`` collects them).

Who reads a setting: ``read_by`` "all", an algorithm family ("trust region", "first order"), or None: the
algorithms whose declaration lists it under ``reads``. A setting an algorithm does not read is refused for it
and left out of its config.json, so no run stores a value that had no effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .rules import INF, MAX_ENVS, MAX_MAGNITUDE, MAX_PASSES, MAX_SEED, MAX_STEPS, ConfigError, Range

KINDS = ("int", "float", "bool", "str", "ints")  # "ints": a list of positive integers (layer widths)
FAMILIES = ("trust region", "first order")
ALL = "all"


@dataclass(frozen=True)
class Setting:
    key: str
    kind: str
    default: object
    help: str
    range: Range | None = None
    choices: tuple | None = None
    optional: bool = False  # None is a value (the task's own limit, the task's b)
    read_by: str | None = ALL  # "all", a family, or None: the algorithms that list it under "reads"
    flag: bool = False  # its own option on `ctrpo train` (--key-with-dashes); else reached by --set
    label: str = ""  # the Train page's field label; the form shows the flagged settings with one
    symbol: str = ""  # how tables and legends name it (β, b_H, δ, b)
    by_task: dict = field(default_factory=dict)  # {task id or task source ("built-in"): default}
    by_family: dict = field(default_factory=dict)  # {algorithm family: default}, over by_task
    result: bool = True  # False: names, places or adds outputs to a run, never changes what it computes
    settable: bool = True  # False: the code's own (conventions)

    @property
    def option(self) -> str:
        return "--" + self.key.replace("_", "-")

    def allowed(self) -> str:
        """What a value must be, in words: 'a number in (0, 1]', 'one of entropy, log'."""
        if self.choices:
            text = "one of " + ", ".join(map(repr, self.choices))
        elif self.kind == "ints":
            text = "a comma-separated list of positive integers, e.g. 64,64"
        elif self.range is not None:
            text = self.range.describe()
        else:
            text = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}[self.kind]
        return text + (" or none" if self.optional else "")

    def parse(self, value):
        """``value`` (text from --set, a TOML value, a form's value) as this setting's type; ConfigError naming
        the setting otherwise. The range is checked by :meth:`check`."""
        try:
            if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
                if self.optional:
                    return None
                raise ValueError
            return _PARSERS[self.kind](value)
        except (ValueError, TypeError, OverflowError):
            raise ConfigError(self.key, f"must be {self.allowed()}, got {value!r}") from None

    def check(self, value) -> None:
        """ConfigError naming the setting unless ``value`` is of its kind and in its range or choices."""
        if value is None and self.optional:
            return
        if self.choices is not None and value not in self.choices:
            raise ConfigError(self.key, f"must be {self.allowed()}, got {value!r}")
        if self.kind == "ints":
            widths = tuple(value) if isinstance(value, (list, tuple)) else ()
            if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
                raise ConfigError(self.key, f"must be {self.allowed()}, got {value!r}")
        elif self.range is not None and not self.range.contains(value):
            raise ConfigError(self.key, f"must be {self.allowed()}, got {value!r}")


def _int(value) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    number = float(text) if any(c in text.lower() for c in ".e") else int(text, 10)
    if isinstance(number, float) and not number.is_integer():
        raise ValueError
    return int(number)


def _float(value) -> float:
    if isinstance(value, bool):
        raise ValueError
    number = float(value)
    if math.isnan(number):
        raise ValueError
    return number


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError


def _str(value) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _ints(value) -> tuple[int, ...]:
    items = value if isinstance(value, (list, tuple)) else str(value).replace(" ", "").split(",")
    widths = tuple(_positive(w) for w in items)
    if not widths:
        raise ValueError
    return widths


def _positive(item) -> int:
    if isinstance(item, bool):
        raise ValueError
    number = int(str(item), 10) if not isinstance(item, int) else item
    if number <= 0:
        raise ValueError
    return number


_PARSERS = {"int": _int, "float": _float, "bool": _bool, "str": _str, "ints": _ints}


def interval(text: str, integer: bool = False) -> Range:
    """'(0, 1]', '[0, inf)', '[1, 1e12]' as a Range (the form algorithm declarations write ranges in)."""
    text = text.strip()
    lo_text, hi_text = (part.strip() for part in text[1:-1].split(","))
    number = lambda t: (
        INF if t in ("inf", "∞") else -INF if t in ("-inf", "-∞") else (int(float(t)) if integer else float(t))
    )
    return Range(number(lo_text), number(hi_text), lo_open=text[0] == "(", hi_open=text[-1] == ")", integer=integer)


def count(lo: int, hi: int) -> Range:
    return Range(lo, hi, integer=True)


POSITIVE = Range(0.0, INF, lo_open=True, hi_open=True)
# δ and b: positive, and no larger than a run folder's reader accepts (runs/store.config_problem)
POSITIVE_MAGNITUDE = Range(0.0, MAX_MAGNITUDE, lo_open=True)
NON_NEGATIVE = Range(0.0, INF, hi_open=True)
PASSES = count(1, MAX_PASSES)


# The built-in tasks train fast, small runs (each to a safe, good policy in well under a minute on one core); the
# Safety-Gymnasium tasks use the paper's settings (the plain defaults). HazardEdge-v0 is the demo task: 80 epochs
# of 2,000 steps (62 per env, about 40 episode ends), so that "final" (the last 10% of epochs, 8 here) spans at
# least one violate-recover cycle of the hysteresis and the final cost is ordered by b_H (with 40 epochs of 4,000
# steps it fell on a random phase of that cycle); its Ĵ_c records cover the last 32 episodes, less than one
# epoch's, so they lag little. γ = 0.95 puts the surrogate α in the units of b on 50-step episodes (0.99 would
# overstate cost changes ~2.5×, making every β act ~6× stronger); observations are in [0, 1] already, and a
# running normaliser would move the policy between updates, outside its trust region. Adam moves λ by about its
# learning rate per epoch, so the authors' 0.035 could take it to ~3 in 80 epochs, too slow to bind; 0.3 lets
# TRPO-Lag learn the limit within the run. On PointHazard-v0, Ĵ_c averages the running cost mean over the epoch,
# so the window adds to its lag: 20 episodes (one epoch's worth) keep C-TRPO under b after its first epochs; 40
# let it overshoot in 28% of them.
SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in [
        # the run's identity and size
        Setting("seed", "int", 0, "random seed", range=count(0, MAX_SEED), flag=True),
        Setting(
            "delta",
            "float",
            0.01,
            "trust radius δ: the bound on each step's divergence (first-order methods: "
            "the KL at which their passes stop)",
            range=POSITIVE_MAGNITUDE,
            flag=True,
            label="δ (trust radius)",
            symbol="δ",
            by_task={"GridHazard-v0": 0.02, "PointHazard-v0": 0.02, "HazardEdge-v0": 0.01},
            by_family={"first order": 0.02},
        ),
        Setting(
            "cost_limit",
            "float",
            None,
            "cost limit b: the bound on an episode's cost (none: the task's own)",
            range=POSITIVE_MAGNITUDE,
            optional=True,
            flag=True,
            label="b (cost limit)",
            symbol="b",
        ),
        Setting(
            "total_steps",
            "int",
            10_000_000,
            "environment steps per run",
            range=count(1, MAX_STEPS),
            flag=True,
            label="Total environment steps",
            symbol="steps",
            by_task={"GridHazard-v0": 60_000, "PointHazard-v0": 200_000, "HazardEdge-v0": 160_000},
        ),
        Setting(
            "steps_per_epoch",
            "int",
            20_000,
            "environment steps per epoch (one policy update each)",
            range=count(1, MAX_STEPS),
            flag=True,
            by_task={"GridHazard-v0": 2_000, "PointHazard-v0": 4_000, "HazardEdge-v0": 2_000},
        ),
        Setting(
            "num_envs",
            "int",
            10,
            "parallel environments per run",
            range=count(1, MAX_ENVS),
            flag=True,
            by_task={"GridHazard-v0": 16, "PointHazard-v0": 16, "HazardEdge-v0": 32},
        ),
        # the hysteresis of C-TRPO (and of CPO, the paper's ablation): after a violation, recover until Ĵ_c < b_H·b
        Setting(
            "bh",
            "float",
            0.8,
            "hysteresis fraction b_H: after a violation, recover until Ĵ_c < b_H·b (1: no hysteresis)",
            range=Range(0.0, 1.0, lo_open=True),
            read_by=None,
            flag=True,
            label="b_H (hysteresis fraction)",
            symbol="b_H",
        ),
        # what every learner shares
        Setting(
            "gamma", "float", 0.99, "discount γ", range=Range(0.0, 1.0, lo_open=True), by_task={"HazardEdge-v0": 0.95}
        ),
        Setting("lam", "float", 0.95, "GAE λ (reward and cost)", range=Range(0.0, 1.0)),
        Setting("hidden", "ints", (64, 64), "hidden layer widths of the policy and both critics"),
        Setting(
            "policy_init",
            "str",
            "default",
            "the policy's last layer at the start: default = PyTorch's init with "
            "its bias (the authors'), small = weights × 0.01 and a zero bias (runs of conventions < 3)",
            choices=("default", "small"),
        ),
        Setting(
            "episode_window",
            "int",
            50,
            "ep_* columns and Ĵ_c: means over the last N finished episodes",
            range=count(1, MAX_STEPS),
            by_task={"GridHazard-v0": 100, "PointHazard-v0": 20, "HazardEdge-v0": 32},
        ),
        Setting(
            "normalize_obs",
            "bool",
            True,
            "running mean/std normalisation of observations (the authors')",
            by_task={"HazardEdge-v0": False},
        ),
        Setting(
            "timeout_bootstrap",
            "str",
            "raw",
            "the value of a time-limited episode's end: the critics on its "
            "raw final observation (raw, the authors' code) or on the normalised one (normalized)",
            choices=("raw", "normalized"),
            by_task={"built-in": "normalized"},
        ),
        Setting("critic_l2", "float", 1e-3, "L2 penalty on the critics' weights", range=NON_NEGATIVE),
        Setting(
            "grad_clip",
            "float",
            40.0,
            "gradient-norm clip (critics; first-order methods: actor and critics together)",
            range=POSITIVE,
        ),
        Setting("torch_threads", "int", 1, "torch and BLAS threads of the training process", range=count(1, 256)),
        Setting(
            "max_episode_steps",
            "int",
            None,
            "episode time limit (none: the task's own)",
            range=count(1, MAX_STEPS),
            optional=True,
        ),
        # the trust-region family: critics fitted apart from the policy step, conjugate gradient, line search
        Setting("critic_lr", "float", 1e-3, "the critics' Adam learning rate", range=POSITIVE, read_by="trust region"),
        Setting(
            "critic_passes", "int", 10, "passes of the critics over each batch", range=PASSES, read_by="trust region"
        ),
        Setting(
            "critic_minibatch",
            "int",
            128,
            "the critics' minibatch size",
            range=count(1, MAX_STEPS),
            read_by="trust region",
            by_task={"HazardEdge-v0": 1024, "SafetyPointPush1-v0": 256},
        ),  # the authors' table has no PointPush
        Setting("cg_iters", "int", 15, "conjugate-gradient iterations", range=PASSES, read_by="trust region"),
        Setting(
            "cg_damping", "float", 0.1, "damping added to the Fisher matrix", range=NON_NEGATIVE, read_by="trust region"
        ),
        Setting("ls_tries", "int", 15, "line-search tries", range=PASSES, read_by="trust region"),
        Setting(
            "ls_decay",
            "float",
            0.8,
            "line-search step decay",
            range=Range(0.0, 1.0, True, True),
            read_by="trust region",
        ),
        # the first-order family: minibatch passes of a clipped surrogate, critics in the same passes
        Setting("ppo_clip", "float", 0.2, "ratio clip ε of the surrogate", range=POSITIVE, read_by="first order"),
        Setting(
            "ppo_lr",
            "float",
            3e-4,
            "the actor's Adam learning rate, decayed linearly to 0 over training",
            range=POSITIVE,
            read_by="first order",
        ),
        Setting(
            "ppo_critic_lr",
            "float",
            3e-4,
            "the critics' Adam learning rate (trained in the same passes)",
            range=POSITIVE,
            read_by="first order",
        ),
        Setting(
            "ppo_epochs",
            "int",
            40,
            "passes over the batch (stopped early once the summed KL exceeds δ)",
            range=PASSES,
            read_by="first order",
        ),
        Setting(
            "ppo_minibatch", "int", 64, "minibatch size of the passes", range=count(1, MAX_STEPS), read_by="first order"
        ),
        # the Lagrange multiplier of the Lagrangian methods (read by those that list them)
        Setting("lagrange_init", "float", 1e-3, "the multiplier's initial value", range=NON_NEGATIVE, read_by=None),
        Setting(
            "lagrange_lr",
            "float",
            0.035,
            "the multiplier's Adam learning rate",
            range=POSITIVE,
            read_by=None,
            by_task={"HazardEdge-v0": 0.3},
        ),
        # what a run writes besides its metrics: never changes its results
        Setting(
            "checkpoint_every",
            "int",
            0,
            "also keep checkpoints/epoch_<k>.pt every K epochs (0: only the latest)",
            range=count(0, MAX_STEPS),
            result=False,
            flag=True,
        ),
        Setting(
            "tensorboard",
            "bool",
            False,
            "also write the metrics as TensorBoard scalars in RUN/tensorboard/ (needs the tensorboard extra)",
            result=False,
            flag=True,
        ),
        Setting(
            "name",
            "str",
            None,
            "run directory name (default: made from task, algo, seed and time)",
            optional=True,
            result=False,
            flag=True,
        ),
        Setting(
            "runs_dir",
            "str",
            "runs",
            "runs folder (default: $CTRPO_RUNS_DIR, else the repository's runs/, from any working directory)",
            result=False,
            flag=True,
        ),
        # the training conventions a run was made with (docs/BASELINES.md): 2 = the authors' baselines and Ĵ_c, 3 =
        # also the authors' policy initialisation; a run is never resumed or reused under other conventions than its
        # own (a setting added since, such as timeout_bootstrap, reads its old behaviour from schema.as_trained)
        Setting("conventions", "int", 3, "the training conventions of the code that wrote the run", settable=False),
    ]
}
