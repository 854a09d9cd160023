"""Every training setting from the command line and the app: ``--set KEY=VALUE``, ``--config FILE.toml``,
the Train page's Advanced table, and the rule that a setting the chosen algorithm does not read is refused.

Values are parsed by the declared kind of the setting they set (config/settings.py, or the algorithm's file),
and checked against its range, so a typo or an out-of-range value is refused naming the key before any run
directory is written.
"""

from __future__ import annotations

import stat
from pathlib import Path

import tomllib

from .algorithms import ALL_SETTINGS, applies, readers  # noqa: F401  (applies: the pages and tables read it here)
from .schema import ConfigError, TrainConfig, check_known

SETTABLE = tuple(k for k, s in ALL_SETTINGS.items() if s.settable)  # what --set and TOML accept
MAX_CONFIG_BYTES = 1_000_000  # a --config file larger than this is not a settings file


def parse_value(key: str, value):
    """``value`` (text from --set, or a TOML value) as the declared kind of setting ``key``; ConfigError otherwise."""
    if key in ("task", "algo"):  # a file may name the run's task and algorithm too
        if not isinstance(value, str) or not value:
            raise ConfigError(key, f"must be a {key} id, got {value!r}")
        return value
    setting = ALL_SETTINGS.get(key)
    if setting is None or not setting.settable:
        raise ConfigError(key, f"unknown setting; settable keys: {', '.join(SETTABLE)}")
    return setting.parse(value)


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
            raise ConfigError(
                "--config", f"{path} is {info.st_size} bytes; a settings file is at most {MAX_CONFIG_BYTES}"
            )
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
    for key, value in settings.items():
        if value is not None and key in ALL_SETTINGS:
            check_known(algo, key)


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
    """{setting: its value as text} for the settable settings ``cfg``'s algorithm reads, except ``skip``
    (the app's advanced table; the page's own widgets are skipped)."""
    hidden = {"name", "runs_dir", *skip}
    return {
        k: as_text(getattr(cfg, k))
        for k, s in ALL_SETTINGS.items()
        if s.settable and k not in hidden and applies(cfg.algo, k)
    }


def changed_settings(defaults: dict[str, str], edited: dict[str, str]) -> dict:
    """The edited settings whose text differs from the default's, parsed (ranges: config.validate)."""
    out = {}
    for key, text in edited.items():
        if str(text).strip() != defaults.get(key):
            out[key] = parse_value(key, str(text).strip())
    return out
