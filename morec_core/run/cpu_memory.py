"""A process's peak resident memory since a reset, on Linux: a run's own peak on a CPU.

`getrusage`'s ru_maxrss is the process's lifetime maximum, so in a worker that ran several
trials a run's recorded memory was whatever the largest run before it had reached (issue 24).
Linux resets that peak (VmHWM) when "5" is written to /proc/self/clear_refs (since 4.0); it is
then read from /proc/self/status. Where that is not possible (macOS, a locked-down /proc), the
lifetime maximum is what there is, and `peak_rss_bytes` says which one it returns.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


def reset_peak_rss() -> bool:
    """Start a new peak from the memory in use now; False where the platform cannot."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> tuple[int, bool]:
    """(peak resident bytes, since the last reset_peak_rss?). Without /proc: ru_maxrss, the
    process's lifetime peak (False)."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, True  # "VmHWM:   123456 kB"
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024), False  # Linux: KiB
