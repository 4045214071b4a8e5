"""The last lines of a job's log, for the dashboard."""

from __future__ import annotations

import os
from pathlib import Path

from morec_core.regular_files import open_regular


def tail(path: str | Path, *, max_lines: int = 200, max_bytes: int = 64 * 1024) -> list[str]:
    """The last lines of a log; a progress bar's carriage-return updates keep their last state."""
    try:
        with open_regular(path) as handle:  # a named pipe for a log would block the screen
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first one is cut
    return [line.rsplit("\r", 1)[-1] for line in lines[-max_lines:]]
