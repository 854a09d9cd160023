"""Every training setting from the command line and the app: ``--set KEY=VALUE``, ``--config FILE.toml``,
and the rule that a setting the chosen algorithm does not read is refused.

Values are parsed by the type of the ``TrainConfig`` field they set, and checked against its range, so a
typo or an out-of-range value exits 2 naming the key before any run directory is written.
"""

from __future__ import annotations

import dataclasses
import math
import stat
import tomllib
import typing
from pathlib import Path

from .algorithms import REGISTRY
from .schema import ConfigError, TrainConfig

# Fields a user does not set: the conventions are the code's, ``extra`` is the API's free-form slot.
NOT_SETTABLE = ("conventions", "extra")
FIELD_TYPES = {k: v for k, v in typing.get_type_hints(TrainConfig).items() if k not in NOT_SETTABLE}
SETTABLE = tuple(FIELD_TYPES)

# Settings only some algorithms read (the registry says which): given to another algorithm, refused.
ALGORITHM_SETTINGS = {name for entry in REGISTRY.values() for name in entry.settings}

MAX_CONFIG_BYTES = 1_000_000  # a --config file larger than this is not a settings file


def _kind(key: str) -> tuple[type, bool]:
    """(base type, whether None is allowed) of a field."""
    hint = FIELD_TYPES[key]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    base = typing.get_origin(hint) or hint
    if optional and len(args) == 1:
        base = typing.get_origin(args[0]) or args[0]
    return base, optional


def _allowed(key: str) -> str:
    base, optional = _kind(key)
    text = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            tuple: "a comma-separated list of positive integers, e.g. 64,64"}.get(base, base.__name__)
    return text + (" or none" if optional else "")


def parse_value(key: str, value):
    """``value`` (text from --set, or a TOML value) as the type of field ``key``; ConfigError otherwise."""
    if key not in FIELD_TYPES:
        hint = f"; settable keys: {', '.join(SETTABLE)}"
        raise ConfigError(key, f"unknown setting{hint}")
    base, optional = _kind(key)
    try:
        if isinstance(value, str) and value.strip().lower() in ("none", "null") and optional:
            return None
        if base is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if base is int:
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
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if math.isnan(number):
                raise ValueError
            return number
        if base is tuple:
            items = value if isinstance(value, (list, tuple)) else str(value).replace(" ", "").split(",")
            widths = tuple(_positive_int(w) for w in items)
            if not widths:
                raise ValueError
            return widths
        if base is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (ValueError, TypeError, OverflowError):
        pass
    raise ConfigError(key, f"must be {_allowed(key)}, got {value!r}")


def _positive_int(item) -> int:
    if isinstance(item, bool):
        raise ValueError
    number = int(str(item), 10) if not isinstance(item, int) else item
    if number <= 0:
        raise ValueError
    return number


def parse_assignments(pairs: list[str] | None) -> dict:
    """``["gamma=0.995", "hidden=128,128"]`` → {"gamma": 0.995, "hidden": (128, 128)}."""
    out: dict = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError("--set", f"expects KEY=VALUE, e.g. --set gamma=0.995; got {pair!r}")
        if key in out:
            raise ConfigError(key, "set twice with --set")
        out[key] = parse_value(key, text.strip())  # its range: config.validate, for every source alike
    return out


def read_config_file(path) -> dict:
    """The settings of a TOML file: top-level ``key = value`` lines (a ``[train]`` table also works)."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise ConfigError("--config", f"{path} is not a regular file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError("--config", f"{path} is {info.st_size} bytes; a settings file is at most "
                                          f"{MAX_CONFIG_BYTES}")
        data = tomllib.loads(path.read_text())
    except ConfigError:
        raise
    except FileNotFoundError:
        raise ConfigError("--config", f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc}") from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise ConfigError("--config", f"{path} nests its values too deeply to be settings") from None
    if set(data) == {"train"} and isinstance(data["train"], dict):
        data = data["train"]
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            raise ConfigError(key, f"tables are not settings (in {path}); write top-level key = value lines")
        out[key] = parse_value(key, value)
    return out


def merge(*sources: tuple[str, dict]) -> dict:
    """Settings from several sources, later ones winning over earlier ones (file < --set < flags);
    ``--set beta=2`` and ``--beta 3`` together are refused rather than silently resolved."""
    out: dict = {}
    origin: dict = {}
    for label, settings in sources:
        for key, value in settings.items():
            if value is None:  # not given
                continue
            if key in origin and origin[key] != "--config" and label != "--config" and out[key] != value:
                raise ConfigError(key, f"given twice ({origin[key]} and {label}) with different values")
            out[key], origin[key] = value, label
    return out


def check_applicable(algo: str, settings: dict) -> None:
    """Refuse a setting the algorithm does not read (β for trpo), so that no run stores a value that
    had no effect and no page offers it as a filter."""
    if algo not in REGISTRY:
        return
    own = set(REGISTRY[algo].settings)
    for key, value in settings.items():
        if value is not None and key in ALGORITHM_SETTINGS and key not in own:
            readers = [a for a, e in REGISTRY.items() if key in e.settings]
            flag = {"beta": "--beta", "bh": "--bh", "barrier": "--barrier"}.get(key, key)
            raise ConfigError(flag, f"{algo} does not use it (only {', '.join(readers)}); drop it")


def applies(algo: str, key: str) -> bool:
    """Whether ``algo`` reads setting ``key`` (every algorithm reads the shared ones)."""
    return key not in ALGORITHM_SETTINGS or (algo in REGISTRY and key in REGISTRY[algo].settings)


def as_text(value) -> str:
    """A setting's value as --set would spell it (64,64; none; true)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def advanced_defaults(cfg: TrainConfig, skip=()) -> dict[str, str]:
    """{setting: its value as text} for the settable fields ``cfg``'s algorithm reads, except ``skip``
    (the app's advanced table; the page's own widgets are skipped)."""
    hidden = {"task", "algo", "name", "runs_dir", *skip}
    return {f.name: as_text(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)
            if f.name in FIELD_TYPES and f.name not in hidden and applies(cfg.algo, f.name)}


def changed_settings(defaults: dict[str, str], edited: dict[str, str]) -> dict:
    """The edited settings whose text differs from the default's, parsed (ranges: config.validate)."""
    out = {}
    for key, text in edited.items():
        if str(text).strip() != defaults.get(key):
            out[key] = parse_value(key, str(text).strip())
    return out
