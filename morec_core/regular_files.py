"""Files opened with their kind checked first: what morec reads (a jobs file, a log, a
checkpoint) may have been replaced by a named pipe, which blocks an open for ever, or by a link
to a device such as /dev/zero, which a read never ends. Such a file is refused in one line."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class NotARegularFile(OSError):
    """The path names something other than a regular file, or one larger than allowed."""


def kind_of(mode: int) -> str:
    """What a file mode names, in words: 'a regular file', 'a named pipe', 'a device'..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(mode: int, size: int, path: str | Path, max_bytes: int | None) -> None:
    if not stat.S_ISREG(mode):
        raise NotARegularFile(f"{path} is {kind_of(mode)}, not a regular file: not read")
    if max_bytes is not None and size > max_bytes:
        raise NotARegularFile(f"{path} is {size:,} bytes, more than the {max_bytes:,} it may "
                              "hold: not read")


@contextlib.contextmanager
def open_regular(path: str | Path, *, max_bytes: int | None = None) -> Iterator[BinaryIO]:
    """`open(path, "rb")` for a regular file only (a symbolic link is followed to its target).

    Opened non-blocking, so a named pipe without a writer returns at once, then checked on the
    open descriptor itself (no race between a check and the open); FileNotFoundError and other
    OSErrors pass through, NotARegularFile (an OSError too) for the wrong kind or size."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(descriptor)
        check_regular(status.st_mode, status.st_size, path, max_bytes)
        os.set_blocking(descriptor, True)
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        yield handle


def read_regular(path: str | Path, *, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (see `open_regular`)."""
    with open_regular(path, max_bytes=max_bytes) as handle:
        return handle.read(max_bytes + 1)[:max_bytes]
