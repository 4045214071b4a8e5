"""Stopping a run at a safe point when the scheduler asks: SIGTERM (Slurm's preemption,
`scancel`, `scontrol requeue`) or SIGUSR2 (submitit's warning before the time limit).

A signal handler only records the request; the training loop asks `requested()` after each
optimizer step, writes a checkpoint there and raises `Preempted`. Raising from the handler
itself could stop a step halfway (parameters updated, optimizer state not), which no checkpoint
should capture. `Preempted` is a BaseException, as KeyboardInterrupt is: the `except Exception`
that turns a trial's error into a `failed` trial must not take it. Standard library only.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import Any

PREEMPTION_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGUSR2)

_requested: list[int] = []


class Preempted(BaseException):  # noqa: N818 - a control signal, like KeyboardInterrupt
    """The scheduler asked this process to stop; the run's checkpoint is written."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}; resumable")
        self.signum = signum


def _record(signum: int, _frame: object) -> None:
    _requested.append(signum)


def install(signals: Iterable[signal.Signals] = PREEMPTION_SIGNALS) -> dict[int, Any]:
    """Record these signals instead of dying of them; returns the handlers they had (submitit's
    own, which the worker calls once the run is safe)."""
    previous: dict[int, Any] = {}
    for signum in signals:
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, _record)
    return previous


def requested() -> int | None:
    """The first signal received since `install`, or None."""
    return _requested[0] if _requested else None


def raise_if_requested() -> None:
    signum = requested()
    if signum is not None:
        raise Preempted(signum)


def clear() -> None:
    """Forget requests (tests, which install handlers in one long-lived process)."""
    _requested.clear()

