"""A study trial on several processes (DDP, one per GPU): the run process of
morec_core.run.run_process with N processes, in a process group of its own, which torchrun fans out into N ranks.

The worker queues the trial's run in the store (or finds it, when the trial resumes one), starts
the command, keeps the trial's heartbeat while it runs, and reads the run's end from the store.
A scheduler's stop (SIGTERM, SIGUSR2: morec_core.run.preemption) is passed on as SIGTERM to the whole
group: the ranks end the run `cancelled` at once, its last epoch's checkpoint kept, and the trial
is queued again under the same run id (the worker raises Preempted), to resume from that
checkpoint. Such trials are not pruned: the pruner reads the run's events in the worker's own
process, and these events happen in the ranks'.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from morec_core.config import RunSpec
from morec_core.launch import queue_run
from morec_core.run.preemption import Preempted, requested
from morec_core.run.run_process import run_process_argv
from morec_core.run.run_status import ENDED_STATUSES
from morec_core.store import Store

POLL_S = 2.0
STOP_GRACE_S = 120.0
"""How long the ranks get to end the run after SIGTERM before they are killed (and the run is
then found interrupted by the store's reaper)."""


def run_distributed(spec: RunSpec, *, run_id: str, resume: bool, study: str, arm: str,
                    store: Store, runs_dir: Path, processes: int,
                    heartbeat: Callable[[], None], poll_s: float = POLL_S) -> str:
    """Run the trial's run on `processes` ranks to its end; returns its final status ("failed"
    when the command ended without ending the run). Raises Preempted (after the ranks ended)
    when this worker was asked to stop, KeyboardInterrupt when interrupted."""
    if not resume:
        queue_run(store, spec, run_id=run_id, study=study, arm=arm)
    env = dict(os.environ, MOREC_RUNS_DIR=str(runs_dir))
    child = subprocess.Popen(run_process_argv(run_id, store.url, processes=processes), env=env,
                             start_new_session=True)
    try:
        while child.poll() is None:
            heartbeat()
            signum = requested()
            if signum is not None:
                _stop(child)
                raise Preempted(signum)
            time.sleep(poll_s)
    except KeyboardInterrupt:
        _stop(child)
        raise
    status = store.run(run_id).status
    if status in ENDED_STATUSES:
        return status
    # The command ended before its run did (torchrun or a rank failed at start): no run may
    # stay queued, and one that started is the reaper's (its process is gone).
    store.end_queued_run(run_id, "failed", f"`morec run --nproc-per-node {processes}` exited "
                                           f"with code {child.returncode} before the run ended")
    return "failed"


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the ranks and torchrun, then SIGKILL what is left after the grace time. Waits
    for the whole group (torchrun may end before its ranks): nothing of the run outlives this."""
    group = child.pid
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_GRACE_S
    while _group_alive(group, child) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(group, child):
        os.killpg(group, signal.SIGKILL)
        while _group_alive(group, child):
            time.sleep(0.1)


def _group_alive(group: int, child: subprocess.Popen[bytes]) -> bool:
    child.poll()  # reap torchrun itself, else its zombie keeps the group alive
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
