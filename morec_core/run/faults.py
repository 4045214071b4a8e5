"""Test hooks for killing a process at a chosen point: `MOREC_TEST_PAUSE_AT=<point>[:<hit>]`.

When the variable names a point, the first process to pass it for the `hit`-th time (default
the first) writes a marker file (path in `MOREC_TEST_PAUSE_MARKER`: its pid, for the test) and
sleeps until it is killed, so that a test can SIGKILL it exactly there
(tests/test_tune_faults.py), or until it is asked to stop by a scheduler's signal
(morec_core.run.preemption; tests/test_slurm_cluster.py); other processes pass on. Unset, a pause point is one dictionary
lookup: cheap enough for a training step loop.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Literal

from morec_core.run import preemption

PAUSE_AT_ENV = "MOREC_TEST_PAUSE_AT"
MARKER_ENV = "MOREC_TEST_PAUSE_MARKER"

PausePoint = Literal[
    "enqueue",  # `morec tune` starting: a grid point queued, the others not yet
    "claim",  # a trial's state changed to RUNNING, its worker and run id not yet recorded
    "trial-start",  # a trial claimed with its run id, before the run's first event
    "mid-epoch",  # after a training step
    "validation",  # an epoch trained and recorded, before evaluating the validation split
    "checkpoint-write",  # a checkpoint written to its temporary name, before the rename
    "before-tell",  # a trial's run ended and is recorded in the store; Optuna not told yet
    "requeue",  # recovery queued a dead trial's successor, the dead one not yet failed
]

_hits: Counter[str] = Counter()


def pause_point(name: PausePoint) -> None:
    wanted = os.environ.get(PAUSE_AT_ENV)
    if wanted is not None:
        _pause_if_named(wanted, name)


def _pause_if_named(wanted: str, name: str) -> None:
    point, _, hit = wanted.partition(":")
    if point != name:
        return
    _hits[name] += 1
    if _hits[name] != int(hit or 1):
        return
    marker = Path(os.environ[MARKER_ENV])
    # The first process to get here pauses, the others pass (two workers reach the same point):
    # the marker is linked into place whole, which fails where it exists already.
    temporary = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"point": name, "hit": _hits[name], "pid": os.getpid()}))
    try:
        os.link(temporary, marker)
    except FileExistsError:
        return
    finally:
        temporary.unlink()
    # Until killed, or until a scheduler's signal asks the run to stop (a Slurm test lowers
    # the job's time limit while a trial waits here): the run then checkpoints where it is.
    while preemption.requested() is None:
        time.sleep(0.2)
