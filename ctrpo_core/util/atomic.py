"""Writing a file so that a reader never sees half of it, and a refused write names its file.

The one helper for every file the package replaces: a run's config, status and checkpoint, a sweep's
manifest, a report's params, status and results. A reader sees the old file or the new one (temporary
file, fsync, rename); a full disk leaves no temporary file behind and says which file it refused.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path

# A write that the file system refuses (disk full, quota, a file size limit): the same to every reader
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class WriteError(OSError):
    """A file could not be written; ``str()`` is one line naming the file and the cause."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


@contextlib.contextmanager
def writing(path):
    """Turn an OSError raised while writing ``path`` into a WriteError that names ``path`` (a failed
    ``write`` of an open file carries no file name)."""
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(exc.errno, exc.strerror or str(exc), str(path)) from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data``: a temporary file in the same folder, then a rename, so readers see the
    old file or the new one. On failure the temporary file is removed (it frees the space a full disk
    needs for the status that says so) and WriteError names ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with writing(path):
        try:
            # O_NOFOLLOW: a link planted under the temporary name is never written through
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            with open(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def write_json(path: Path, data: dict, indent: int = 1) -> None:
    """``data`` as JSON (sorted keys; values JSON does not know as their ``str``), written atomically."""
    atomic_write_bytes(path, json.dumps(data, indent=indent, sort_keys=True, default=str).encode())
