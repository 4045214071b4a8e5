"""What one poll of the runs screen reads, in its worker thread: the runs that changed since
the runs shown (a new epoch of one training run, usually), the test metrics when a run ended,
and what the UI thread would otherwise derive from 10,000 runs at each poll."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from morec_core.store import RunRecord, Store, StoreError
from morec_tui.jobs import JobQueue
from morec_tui.messages import RunsLoaded
from morec_tui.widgets.run_rows import NO_STUDY

FIRST_PAGE = 60
"""Runs the first load reads (newest first): a screenful at 120x40 and more, a small part of a big
store. 10,000 runs took some 5 s to read and format before anything was drawn (issue 24)."""
RELOAD_ALL_ABOVE = 20  # changed runs: above this, one query for all beats one query each
FULL_CHECK_EVERY = 10
"""Polls between two reads of every run's versions (the others read the runs that moved)."""
CLOCK_SLACK_S = 300.0
"""How far behind the newest heartbeat shown a run's clock may be and its events still be
seen at the next poll (a host further behind is seen at the next full check)."""


@dataclass(frozen=True)
class Shown:
    """What the screen shows (read on the UI thread): the load is relative to it."""

    versions: dict[str, Any]
    runs: list[RunRecord]
    finished: tuple[Any, ...]
    tests: dict[str, dict[str, float]]
    full: bool
    """Read every run's versions this time (every FULL_CHECK_EVERY polls)."""


def first_runs(store: Store, queue: JobQueue, page: int = FIRST_PAGE) -> RunsLoaded:
    """The newest `page` runs and their test metrics, for the first paint; their versions are
    left empty, so the next load reads every run."""
    try:
        jobs = queue.jobs()
    except (OSError, ValueError):
        jobs = []
    runs = store.runs(limit=page)
    tests = {run.id: store.metrics(run.id, "test") for run in runs
             if run.status not in ("running", "queued") and run.best_epoch is not None}
    studies = sorted({run.study or NO_STUDY for run in runs},
                     key=lambda name: (name == NO_STUDY, name))
    total, _ = store.recent_run_versions(math.inf)  # the count alone: no run is that recent
    live = store.epoch_seconds(run.id for run in runs if run.status == "running"
                               and run.seconds_per_epoch is None)
    return RunsLoaded(runs, {key: value for key, value in tests.items() if value}, jobs, {},
                      ended(runs), studies, live, total=total, damaged=dict(store.damaged))


def load_runs(store: Store, queue: JobQueue, shown: Shown) -> RunsLoaded:
    try:
        jobs = queue.jobs()
    except (OSError, ValueError):
        jobs = []  # only the job counts of the bar: the jobs screen reports the error
    versions = None
    if shown.versions and not shown.full:
        # The runs that moved lately, not every run's versions; every FULL_CHECK_EVERY polls
        # (and whenever runs were added or removed) all of them.
        newest = max(version[0] for version in shown.versions.values())
        count, recent = store.recent_run_versions(newest - CLOCK_SLACK_S)
        versions = {**shown.versions, **recent}
        if len(versions) != count:
            versions = None
    if versions is None:
        versions = store.run_versions()
    if versions == shown.versions:
        # Nothing recorded since.
        return RunsLoaded(None, None, jobs, versions, damaged=dict(store.damaged))
    changed = [run_id for run_id, version in versions.items()
               if shown.versions.get(run_id) != version]
    if len(changed) > RELOAD_ALL_ABOVE:
        runs = store.runs()
    else:  # the usual poll: one training run has a new epoch
        by_id = {run.id: run for run in shown.runs if run.id in versions}
        for run_id in changed:
            try:
                by_id[run_id] = store.run(run_id)
            except StoreError:  # damaged (store.damaged says why) or gone meanwhile
                by_id.pop(run_id, None)
        runs = sorted(by_id.values(), key=lambda run: run.started_at, reverse=True)
    # Test metrics come once a run ends: while only running runs change, keep them.
    finished = ended(runs)
    tests = shown.tests if finished == shown.finished else store.best_epoch_metrics("test")
    studies = sorted({run.study or NO_STUDY for run in runs},
                     key=lambda name: (name == NO_STUDY, name))  # runs without one last
    # A running run's cost is measured at its end: until then, its epochs' mean time.
    live = store.epoch_seconds(run.id for run in runs if run.status == "running"
                               and run.seconds_per_epoch is None)
    return RunsLoaded(runs, tests, jobs, versions, finished, studies, live,
                      damaged=dict(store.damaged))


def ended(runs: list[RunRecord]) -> tuple[Any, ...]:
    """What the test metrics depend on: which runs have ended, and at which best epoch."""
    return tuple((run.id, run.best_epoch, run.status) for run in runs
                 if run.status not in ("running", "queued"))
