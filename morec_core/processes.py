"""Whether a process is alive, and whether a pid is still the process that was recorded.

One home for what the store (a run's heartbeat), tune (a study's worker) and the dashboard's job
queue (its runners) ask about processes on this host. Standard library only: a job runner imports
this at start-up, so it must not pull in torch or sqlalchemy. Start times and command lines come
from /proc (Linux); where they cannot be read, a pid matches nothing and is never signalled.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
from collections.abc import Iterable

# /proc/<pid>/stat field 22: the start time in clock ticks since boot. Fields are counted from 1
# and the split starts at field 3 (the state), after the command name, which may hold spaces.
_START_TIME_FIELD = 22 - 3


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host and is not a zombie."""
    if pid <= 0:
        return False  # 0 and -1 address process groups, not one process: os.kill(0, 0) succeeds
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = _stat_fields(pid)[0]
    except (OSError, IndexError):
        return True  # no /proc: os.kill said it exists
    return state not in ("Z", "X")


def process_start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot; None if there is no such process (or
    no /proc). A pid and its start time name one process: a reused pid has a later start."""
    if pid <= 0:
        return None
    try:
        return int(_stat_fields(pid)[_START_TIME_FIELD])
    except (OSError, IndexError, ValueError):
        return None


def process_started_at(pid: int) -> float | None:
    """The process's start in epoch seconds (to about a second: the boot time is in whole
    seconds); None if there is no such process or no /proc."""
    ticks = process_start_time(pid)
    boot = _boot_time()
    return None if ticks is None or boot is None else boot + ticks / os.sysconf("SC_CLK_TCK")


def alive_since(pid: int, since: float, slack_s: float = 2.0) -> bool:
    """Whether process `pid` is alive and was already there at `since` (epoch seconds): the pid
    of a process killed since then may belong to another process now. Where /proc cannot tell
    the start, a live pid counts."""
    if not pid_alive(pid):
        return False
    started = process_started_at(pid)
    return started is None or started <= since + slack_s


def process_arguments(pid: int) -> tuple[str, ...] | None:
    """The process's command line; None if it cannot be read. Empty for a kernel thread, a
    zombie, and a process on its way out (its memory, which holds the arguments, goes first)."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if not data:
        return ()
    return tuple(os.fsdecode(part) for part in data.removesuffix(b"\0").split(b"\0"))


def process_matches(pid: int, started: int | None, tokens: Iterable[str]) -> bool:
    """True if `pid` is alive, started at `started` and has each token as one whole argument of
    its command line (so a job id "1" does not match an argument "12")."""
    if started is None or not pid_alive(pid) or process_start_time(pid) != started:
        return False
    arguments = set(process_arguments(pid) or ())
    # The start time again: the pid may have been reused between the reads, and the command line
    # must belong to the process whose start time was compared.
    return all(token in arguments for token in tokens) and process_start_time(pid) == started


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as handle:
            return next(float(line.split()[1]) for line in handle if line.startswith("btime"))
    except (OSError, StopIteration, IndexError, ValueError):
        return None


INIT_PID_NAMESPACE = 0xEFFFFFFC
"""The inode of the machine's own pid namespace (the kernel's PROC_PID_INIT_INO)."""


def pid_namespace() -> int | None:
    """The inode of this process's pid namespace; None where /proc cannot tell."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


@functools.cache
def host_label() -> str:
    """This process's host as liveness reads it: the hostname, with the pid namespace where it
    is not the machine's own (a container). A pid names a process only within its namespace:
    two containers with host networking share a hostname, and each one's pid 1 is alive for
    itself. Records of another label are judged by their heartbeat, as another host's are."""
    name = socket.gethostname()
    namespace = pid_namespace()
    if namespace is None or namespace == INIT_PID_NAMESPACE:
        return name
    return f"{name} (pid namespace {namespace})"


PARENT_ENV = "MOREC_PARENT_PID"
"""Set by a parent for the worker processes that must end with it (`end_with_parent`)."""
_PR_SET_PDEATHSIG = 1


def end_with_parent(signum: int) -> bool:
    """Ask the kernel to send `signum` to this process when the parent that started it (its pid
    in $MOREC_PARENT_PID) dies, so that a worker of a killed `morec tune` does not train on
    beside the workers of the next one. Linux only (prctl PR_SET_PDEATHSIG); returns False where
    it is not available. A parent gone before the request counts as gone: `signum` at once."""
    expected = os.environ.get(PARENT_ENV)
    if not expected or not expected.isdigit():
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != int(expected):  # it died before the request: no signal will come
        os.kill(os.getpid(), signum)
    return True


def interrupt_once(signum: int, frame: object) -> None:
    """A handler for SIGTERM (and SIGUSR2) that turns the first one into KeyboardInterrupt, so
    the run or trial ends cancelled or queued again instead of dying marked running, and
    ignores the same signal after it. A worker of `morec tune` stopped with `kill -- -PGID`
    gets the signal twice (its group's and its parent's forward): a second KeyboardInterrupt
    raised while the first unwinds would cut short the re-queueing of its trial, or print a
    traceback from the interpreter's exit handlers. Both stop signals this handler serves are
    ignored after the first of either (Slurm sends SIGUSR2 before a time limit, then SIGTERM)."""
    for stop in (signal.SIGTERM, signal.SIGUSR2):
        if stop == signum or signal.getsignal(stop) is interrupt_once:
            signal.signal(stop, signal.SIG_IGN)
    raise KeyboardInterrupt
