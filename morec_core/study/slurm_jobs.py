"""What morec asks Slurm about its jobs, through Slurm's own commands (scontrol, squeue,
scancel): whether a worker's job still runs, the jobs to show, cancelling one.

Standard library only: `tune` asks it when judging a worker dead, and the dashboard lists jobs.
Submission is submitit's (morec_core/study/slurm.py); nothing here schedules anything.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

JOB_PREFIX = "morec-"
"""Every job morec submits is named `morec-<study>`: `morec cancel` cancels no other job."""

# A job in one of these states still has its processes (COMPLETING: being ended, within the
# cluster's KillWait); in any other (PENDING after a requeue, ended, or purged) they are gone.
_ALIVE_STATES = {"RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING", "STOPPED", "SIGNALING",
                 "RESIZING"}
_TIMEOUT_S = 30.0


class SlurmError(RuntimeError):
    """A Slurm command failed or is missing; the message is one line to show the user."""


def slurm_identity() -> dict[str, object]:
    """The claim bookkeeping of a worker that runs inside a Slurm job: the job id and which run
    of it (a requeued job keeps its id: only the restart count tells its runs apart)."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return {}
    return {"slurm_job": job, "slurm_restarts": int(os.environ.get("SLURM_RESTART_COUNT", "0"))}


def job_fields(job_id: str) -> dict[str, str] | None:
    """`scontrol show job -o` as a dict; {} for a job Slurm does not know (any more); None when
    Slurm cannot be asked from here."""
    try:
        done = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)],
                              capture_output=True, text=True, timeout=_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return {} if "Invalid job id" in done.stderr else None
    # One line of Key=Value pairs; the values morec reads hold no spaces.
    return dict(re.findall(r"(?:^|\s)(\w+)=(\S*)", done.stdout))


def slurm_job_alive(job_id: str, restarts: int) -> bool | None:
    """Whether run `restarts` of Slurm job `job_id` still has its processes; None when Slurm
    cannot be asked from here (the caller falls back to the heartbeat)."""
    fields = job_fields(job_id)
    if fields is None:
        return None
    if not fields:
        return False  # purged after it ended (MinJobAge)
    return (fields.get("JobState") in _ALIVE_STATES
            and int(fields.get("Restarts", "0") or 0) == restarts)


@dataclass(frozen=True)
class SlurmJob:
    """One of morec's Slurm jobs, as squeue shows it."""
    job_id: str
    name: str
    state: str
    node: str
    """The node it runs on, or squeue's reason while it waits (`(Priority)`)."""
    elapsed: str

    @property
    def study(self) -> str:
        return self.name.removeprefix(JOB_PREFIX)


def slurm_available() -> bool:
    try:
        return subprocess.run(["squeue", "--version"], capture_output=True,
                              timeout=_TIMEOUT_S).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def list_jobs() -> list[SlurmJob]:
    """morec's jobs of this user that Slurm still lists (pending, running, completing); [] where
    there is no Slurm."""
    try:
        done = subprocess.run(["squeue", "--me", "--noheader", "--format=%i|%j|%T|%N|%M|%R"],
                              capture_output=True, text=True, timeout=_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    jobs = []
    for line in done.stdout.splitlines():
        parts = line.split("|")
        if len(parts) != 6 or not parts[1].startswith(JOB_PREFIX):
            continue
        job_id, name, state, node, elapsed, reason = parts
        jobs.append(SlurmJob(job_id=job_id, name=name, state=state,
                             node=node or reason, elapsed=elapsed))
    return jobs


def cancel(job_id: str) -> str:
    """scancel one of morec's jobs; returns its name. Its worker, sent SIGTERM, checkpoints its
    trial and queues it again (resumable) before it exits. Raises SlurmError, one line."""
    fields = job_fields(job_id)
    if fields is None:
        raise SlurmError("cannot reach Slurm from here (no scontrol, or slurmctld does not answer)")
    if not fields:
        raise SlurmError(f"Slurm has no job {job_id}")
    name = fields.get("JobName", "")
    if not name.startswith(JOB_PREFIX):
        raise SlurmError(f"job {job_id} ({name or 'no name'}) is not one of morec's jobs "
                         f"(named {JOB_PREFIX}<study>); not cancelled")
    try:
        done = subprocess.run(["scancel", str(job_id)], capture_output=True, text=True,
                              timeout=_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SlurmError(f"scancel {job_id}: {error}") from None
    if done.returncode != 0:
        raise SlurmError(f"scancel {job_id}: {done.stderr.strip() or done.returncode}")
    return name


def log_paths(runs_dir: Path, job_id: str) -> tuple[Path, Path]:
    """The job's stdout and stderr files: submitit's names in the job folder morec gives it
    (`<runs>/slurm/<job id>/`, see slurm.submit_workers)."""
    folder = runs_dir / "slurm" / job_id
    return folder / f"{job_id}_0_log.out", folder / f"{job_id}_0_log.err"
