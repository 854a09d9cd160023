"""Reading a file of a folder that anyone may have put anything in, without ever blocking or loading too much.

A run folder is read by every listing, so one odd entry must not stall them all: a FIFO in place of
metrics.csv would block ``open`` until a writer comes, a device could stream forever, a huge file would
fill the server's memory. Only regular files are opened (checked before and after ``open``, which never
waits: O_NONBLOCK), and their size is checked against the caller's limit before anything is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class UnreadableFile(OSError):
    """A file that is not read: not a regular file, or larger than its reader allows. ``str()`` says why."""

    def __init__(self, path, why: str):
        super().__init__(why)
        self.filename, self.why = str(path), why

    def __str__(self) -> str:
        return self.why


def _check(path: Path, mode: int, size: int, limit: int) -> None:
    if not stat.S_ISREG(mode):
        raise UnreadableFile(path, f"{path.name} is {KINDS.get(stat.S_IFMT(mode), 'not a regular file')}")
    if size > limit:
        raise UnreadableFile(path, f"{path.name} holds {size:,} bytes, more than the {limit:,} a run writes")


def read_regular(path, limit: int, offset: int = 0) -> bytes:
    """The bytes of the regular file ``path`` from ``offset`` on. FileNotFoundError when it is missing;
    UnreadableFile when it is not a regular file or holds more than ``limit`` bytes."""
    path = Path(path)
    info = os.stat(path)  # follows a link, as open does; never blocks
    _check(path, info.st_mode, info.st_size, limit)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)  # what was opened: the entry may have been swapped since the stat
        _check(path, info.st_mode, info.st_size, limit)
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        chunks, left = [], limit - offset + 1  # one byte more than allowed tells a file that grew past the limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if offset + len(data) > limit:
        raise UnreadableFile(path, f"{path.name} grew past the {limit:,} bytes a run writes")
    return data


def read_regular_text(path, limit: int) -> str:
    """:func:`read_regular` decoded as UTF-8 (UnicodeDecodeError for anything else)."""
    return read_regular(path, limit).decode("utf-8")
