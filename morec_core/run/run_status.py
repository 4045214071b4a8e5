"""The one vocabulary of a run's status, and the sets every reader derives from it.

A run row holds one of RUN_STATUSES. `queued`: recorded before any process took it (a dashboard
job, a study's trial); `starting`: its process is loading data; `running`: it reached its first
epoch. A run that ended is FINAL (its numbers, or its failure, are what they will be) or
RESUMABLE (`interrupted`: its process died without a word, or a scheduler preempted it after it
wrote its checkpoint; `cancelled`: Ctrl-C or SIGTERM), and `morec run --resume` continues it.
"""

from __future__ import annotations

import typing
from typing import Literal

FinishStatus = Literal["completed", "pruned", "collapsed", "cancelled", "interrupted"]
"""The statuses a run's own RunFinished event may carry (`failed` comes with RunFailed)."""

RunStatus = Literal["queued", "starting", "running", "completed", "pruned", "collapsed",
                    "cancelled", "interrupted", "failed"]

RUN_STATUSES: tuple[RunStatus, ...] = typing.get_args(RunStatus)
FINISH_STATUSES: tuple[FinishStatus, ...] = typing.get_args(FinishStatus)
ACTIVE_STATUSES: frozenset[RunStatus] = frozenset({"queued", "starting", "running"})
"""Not ended yet: a process holds the run, or will take it."""
RESUMABLE_STATUSES: frozenset[RunStatus] = frozenset({"interrupted", "cancelled"})
"""Ended before its last epoch, with a checkpoint to continue from."""
FINAL_STATUSES: frozenset[RunStatus] = frozenset(RUN_STATUSES) - ACTIVE_STATUSES \
    - RESUMABLE_STATUSES
"""completed, pruned, collapsed, failed: a study's trial with such a run is told, never rerun."""
ENDED_STATUSES: frozenset[RunStatus] = FINAL_STATUSES | RESUMABLE_STATUSES
"""Every status a process writes when it lets go of its run."""
TRAINED_STATUSES: frozenset[RunStatus] = FINAL_STATUSES - {"failed"}
"""Ended by its own training (completed, pruned or collapsed): its epochs ran as planned."""
