"""Progress of data preparation (tokenizing titles, decoding images, downloads): a tqdm bar on a
terminal, and where the output is not one (a study worker's log, a Slurm job's), a whole line at
most every $MOREC_PROGRESS_LINE_S seconds and one at the end, as training's progress lines do.

A bar redraws itself with carriage returns: in a log file every redraw piles onto one line, which
grows with every refresh and which neither `tail` nor a reader can use.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

from morec_core.run.run_console import PROGRESS_LINE_S, progress_line_seconds


class _LineFile:
    """A file for tqdm that writes each of its redraws as one line; the blank redraw of a bar
    that does not stay (leave=False) writes nothing."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> None:
        # tqdm writes '\r' + status (and '\x1b[A' to move up for nested bars).
        line = text.replace("\r", "").replace("\x1b[A", "").strip()
        if line:
            self._stream.write(line + "\n")

    def flush(self) -> None:
        self._stream.flush()


def progress_bar(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str,
                 unit: str, enabled: bool = True, leave: bool = True,
                 stream: TextIO | None = None, **options: Any) -> Any:
    """A tqdm bar (use it as tqdm: iterate it, or `with` it and `update`), on `stream` (standard
    error by default)."""
    from tqdm.auto import tqdm

    stream = stream or sys.stderr
    if not enabled:
        return tqdm(iterable, total=total, disable=True)
    if stream.isatty():
        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=stream,
                    **options)
    try:
        every_s = progress_line_seconds()
    except ValueError:  # the commands refuse a bad value before any work; a library caller
        every_s = PROGRESS_LINE_S
    # A line at the end even for leave=False: the log keeps what was done and how fast.
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=True,
                file=_LineFile(stream), mininterval=every_s, maxinterval=max(every_s, 10.0),
                ascii=True, ncols=100, **options)
