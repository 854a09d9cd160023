"""Where a tool may write a file of its own (`ctrpo export`'s policy, `ctrpo cnpg`'s pictures): one rule.

A new file, or with ``force`` an existing regular file, in a folder outside every run directory (a run's
files are the trainer's); never a symbolic link (not even with ``force``: neither the link nor its target
is replaced), a directory, a device, a FIFO or a socket. The checks only read: a refusal is
``ConfigError(param, ...)`` (exit 2) before anything is written. The writer then replaces the file
atomically (``util.atomic.atomic_write_bytes``: a temporary file in the folder, then a rename).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..config.schema import ConfigError
from ..runs.store import inside_run


def check_folder(folder, *, param: str = "--out", tool: str = "export", missing_ok: bool = False, target=None) -> Path:
    """``folder`` as one ``tool`` may write files into: an existing folder (with ``missing_ok`` also one that
    does not exist yet and may be made: no file in its path) that is no run directory and lies in none.
    ``target``: the file to be written there, named by a refusal because of a run directory."""
    folder = Path(folder)
    if str(folder) == "" or "\0" in str(folder):
        raise ConfigError(param, f"a folder name is required, got {str(folder)!r}")
    try:
        if not stat.S_ISDIR(os.stat(folder).st_mode):
            raise ConfigError(param, f"{folder} is a file, not a folder")
    except FileNotFoundError:
        if os.path.lexists(folder):  # a link to nothing: making the folder would follow it
            raise ConfigError(param, f"{folder} is a symbolic link to nothing; give a folder") from None
        if not missing_ok:
            raise ConfigError(param, f"the folder {folder} does not exist") from None
    except NotADirectoryError:
        raise ConfigError(param, f"{folder} cannot be a folder: a file is in its path") from None
    except OSError as exc:  # a name too long, a folder we may not search, a link loop
        raise ConfigError(param, f"cannot use {folder}: {exc.strerror}") from None
    try:
        run = inside_run(folder.resolve())
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop (Python < 3.13)
        raise ConfigError(param, f"cannot use {folder}: {getattr(exc, 'strerror', None) or exc}") from None
    if run is not None:
        raise ConfigError(
            param,
            f"{target or folder} is inside the run directory {run}; {tool} writes only outside run directories",
        )
    return folder


def check_file(
    out, force: bool = False, *, param: str = "--out", tool: str = "export", missing_ok: bool = False
) -> Path:
    """``out`` as a file ``tool`` may write: a new file in a folder :func:`check_folder` accepts, or with
    ``force`` an existing regular file there. ``missing_ok``: the folder may not exist yet (then the file is new)."""
    out = Path(out)
    if str(out) in ("", ".") or out.name in ("", ".", "..") or "\0" in str(out):
        raise ConfigError(param, f"a file name is required, got {str(out)!r}")
    check_folder(out.parent, param=param, tool=tool, missing_ok=missing_ok, target=out)
    try:
        info = os.lstat(out)
    except (FileNotFoundError, NotADirectoryError):
        return out  # a new file (in a folder that exists, or that missing_ok lets the writer make)
    except OSError as exc:  # a name too long
        raise ConfigError(param, f"cannot use {out}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError(
            param,
            f"{out} is a symbolic link; {tool} replaces no link or its target, not even with --force: "
            "give a plain file name or remove the link",
        )
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(param, f"{out} is a directory; {tool} replaces only regular files")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(param, f"{out} is not a regular file (a device, FIFO or socket); it is never replaced")
    if not force:
        raise ConfigError(param, f"{out} exists; add --force to replace it")
    return out
