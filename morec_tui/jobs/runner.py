"""A job's runner (`python -m morec_tui.jobs JOB_ID --root DIR`): waits for its slots, runs the
job's command with CUDA_VISIBLE_DEVICES set to its GPUs, forwards a cancel (SIGTERM) to it and
records how it ended."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from morec_tui.jobs.model import CPU
from morec_tui.jobs.queue import JobQueue

WAIT_POLL_S = 1.0


def run_job(root: Path, job_id: int) -> int:
    """The runner: wait for slots, run the command, record how it ended."""
    queue = JobQueue(root)
    stop = {"asked": False}
    child: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, frame: object) -> None:
        stop["asked"] = True
        if child and child[0].poll() is None:
            child[0].send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    job = queue._claim(job_id)
    if job.status == "queued":
        print(f"job {job_id}: queued for {job.slot_label}", flush=True)
    while job.status == "queued":
        if stop["asked"] or job.cancel_requested:
            queue._update(job_id, status="cancelled", finished_at=time.time(),
                          note="cancelled while queued")
            print(f"job {job_id}: cancelled while queued", flush=True)
            return 0
        time.sleep(WAIT_POLL_S)
        job = queue._claim(job_id)
    if job.status != "running":
        return 0  # finished or cancelled by someone else meanwhile
    argv = list(job.argv)
    gpus = [slot for slot in job.slots if slot != CPU]
    if job.kind == "study" and len(gpus) > 1:
        argv += ["--gpus", ",".join(gpus)]
    env = {**os.environ, **job.env, "PYTHONUNBUFFERED": "1"}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    print(f"job {job_id}: started on {job.slot_label}: {shlex.join(argv)}", flush=True)
    try:
        child.append(subprocess.Popen(argv, env=env, cwd=job.cwd, stdin=subprocess.DEVNULL))
    except OSError as error:
        queue._update(job_id, status="failed", finished_at=time.time(), slots=[],
                      note=f"could not start: {error}")
        print(f"job {job_id}: could not start: {error}", flush=True)
        return 1
    queue._update(job_id, child_pid=child[0].pid)
    if stop["asked"]:
        child[0].send_signal(signal.SIGTERM)
    returncode = child[0].wait()
    cancelled = stop["asked"] or queue._stored(job_id).cancel_requested
    status = "cancelled" if cancelled else "completed" if returncode == 0 else "failed"
    note = ("" if returncode == 0 else f"killed by signal {-returncode}" if returncode < 0
            else f"exit code {returncode}")
    queue._update(job_id, status=status, returncode=returncode, finished_at=time.time(),
                  slots=[], note=note)
    print(f"job {job_id}: {status}{f' ({note})' if note else ''}", flush=True)
    return 0
