"""The job queue of one runs folder: the dashboard's side (jobs, with runners that died marked;
submit, which starts a job's runner detached; cancel, which signals a pid only while it is still
the job's runner) and the runner's claim on its slots."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path

from morec_core.processes import (
    host_label,
    pid_alive,
    process_arguments,
    process_matches,
    process_start_time,
)
from morec_tui.jobs.commands import runner_argv
from morec_tui.jobs.jobs_file import JobsFile
from morec_tui.jobs.model import ACTIVE, Job, JobRequest
from morec_tui.jobs.records import job_from_record, jsonable, record_problem
from morec_tui.jobs.slots import assign

LOST_AFTER_S = 60.0
RUNNER_DIED = "job runner died"
PID_REUSED = "runner gone (pid reused)"


class JobQueue(JobsFile):
    """Jobs of one runs folder (their file: JobsFile)."""

    def __init__(self, runs_dir: Path) -> None:
        super().__init__(runs_dir)
        self.host = host_label()
        self._spawned: dict[int, subprocess.Popen[bytes]] = {}

    # --- the dashboard's side -------------------------------------------------------

    def jobs(self) -> list[Job]:
        """Every job, newest first; active jobs whose runner died are marked failed (or
        cancelled, when a cancel was asked)."""
        for pid, process in list(self._spawned.items()):
            if process.poll() is not None:  # reap our finished runners: no zombies
                self._spawned.pop(pid, None)
        jobs = [job_from_record(raw) for raw in self._read()["jobs"]]
        now = time.time()
        if any(self._lost(job, now) for job in jobs):
            with self._transaction() as state:
                for raw in state["jobs"]:
                    job = job_from_record(raw)
                    lost = self._lost(job, now)
                    if lost is not None:
                        raw.update(status="cancelled" if job.cancel_requested else "failed",
                                   note=job.note or lost, finished_at=time.time(), slots=[])
                jobs = [job_from_record(raw) for raw in state["jobs"]]
        return sorted(jobs, key=lambda job: job.id, reverse=True)

    def _lost(self, job: Job, now: float) -> str | None:
        """Why an active job of this host has no runner any more; None while it has one."""
        if not job.active or job.host != self.host:
            return None
        if job.runner_pid is None:  # its dashboard died between queueing it and starting it
            return RUNNER_DIED if now - job.created_at > LOST_AFTER_S else None
        return self._runner_gone(job)

    def _runner_gone(self, job: Job) -> str | None:
        """Why the job's runner_pid no longer names its runner (a note); None while it does, or
        while the runner is on its way out (the next look finds it dead)."""
        pid = job.runner_pid
        if pid is None or self._is_runner(job):
            return None
        if not pid_alive(pid):
            return RUNNER_DIED
        if process_start_time(pid) == job.runner_started and not process_arguments(pid):
            return None  # exiting: its command line is gone a moment before it is a zombie
        return PID_REUSED

    def _is_runner(self, job: Job) -> bool:
        """Whether the job's runner_pid still names its runner: the start time it recorded and
        its command line. Whatever else holds that pid now is never signalled."""
        return job.runner_pid is not None and process_matches(
            job.runner_pid, job.runner_started, runner_argv(job.id, self.root)[2:])

    def job(self, job_id: int) -> Job:
        for job in self.jobs():
            if job.id == job_id:
                return job
        raise KeyError(f"no job {job_id} in {self.path}")

    def submit(self, request: JobRequest) -> Job:
        """Queue a job and start its runner, detached from this process's session."""
        candidates = request.candidates
        if not candidates or not 1 <= request.slots_needed <= len(candidates):
            raise ValueError(f"a job needs 1..{len(candidates)} of the slots {list(candidates)}")
        self.logs.mkdir(parents=True, exist_ok=True)
        with self._transaction() as state:
            job_id = state["next_id"]
            job = Job(id=job_id, kind=request.kind, label=request.label, argv=request.argv,
                      candidates=candidates, slots_needed=request.slots_needed,
                      study=request.study, env=dict(request.env),
                      cwd=str(Path(request.cwd or os.getcwd()).resolve()), host=self.host,
                      log=str(self.logs / f"job-{job_id}.log"), created_at=time.time(),
                      run_id=request.run_id, spec_json=request.spec_json)
            record = jsonable(dataclasses.asdict(job))
            problem = record_problem(record)
            if problem is not None:  # refused now, not by every later read of the file
                raise ValueError(f"cannot queue this job: {problem}")
            state["next_id"] += 1
            state["jobs"].append(record)
            state.pop("problem", None)  # a set-aside file stays news until the next job
        with open(job.log, "ab") as log:
            process = subprocess.Popen(
                runner_argv(job.id, self.root), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=job.cwd, start_new_session=True)
        self._spawned[process.pid] = process
        # Popen returns after the exec, and the pid stays ours until we reap it: this start
        # time and command line are the runner's.
        started = process_start_time(process.pid)
        with self._transaction() as state:
            for raw in state["jobs"]:
                if raw["id"] == job.id and raw.get("runner_pid") is None:
                    raw.update(runner_pid=process.pid, runner_started=started)
        return self.job(job.id)

    def cancel(self, job_id: int, *, force: bool = False) -> Job:
        """Ask the runner to stop the job (SIGTERM, forwarded to the command); `force` kills the
        job's whole process group at once (SIGKILL). Only a pid that is still the job's runner
        is signalled; a job of another host is only marked, for its runner to see."""
        if not self.job(job_id).active:
            return self.job(job_id)
        job = self._update(job_id, cancel_requested=True)
        if job.host != self.host:
            return job
        if job.runner_pid is None:
            return self._end_active(job_id, "cancelled before its runner started")
        gone = self._runner_gone(job)
        if gone is not None:
            return self._end_active(job_id, gone)
        if not self._is_runner(job):
            return job  # exiting already: nothing to signal
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile: nothing to stop
            if force:
                os.killpg(job.runner_pid, signal.SIGKILL)
            else:
                os.kill(job.runner_pid, signal.SIGTERM)
        return job

    def _end_active(self, job_id: int, note: str) -> Job:
        """Mark a job cancelled unless its runner recorded an end meanwhile."""
        with self._transaction() as state:
            for raw in state["jobs"]:
                if raw["id"] == job_id:
                    if raw["status"] in ACTIVE:
                        raw.update(status="cancelled", finished_at=time.time(), slots=[],
                                   note=note)
                    return job_from_record(raw)
        raise KeyError(f"no job {job_id} in {self.path}")

    def run_ids(self, job: Job) -> list[str]:
        """The runs of a job: a run job's own, known from its record (a study's runs are the
        study's, in the store)."""
        return [job.run_id] if job.run_id else []

    def job_of_run(self, run_id: str, host: str, pid: int | None) -> Job | None:
        """The job that ran a run: by its run id, or by the pid of its command."""
        for job in self.jobs():
            if run_id in self.run_ids(job):
                return job
            if pid is not None and host == job.host and pid == job.child_pid:
                return job
        return None

    # --- the runner's side ----------------------------------------------------------

    def _claim(self, job_id: int) -> Job:
        """Take the job's slots if it may start now; the job as it stands afterwards."""
        with self._transaction() as state:
            jobs = [job_from_record(raw) for raw in state["jobs"]]
            granted = assign(jobs)
            for raw in state["jobs"]:
                if raw["id"] == job_id:
                    raw.update(runner_pid=os.getpid(),
                               runner_started=process_start_time(os.getpid()))
                    if job_id in granted and raw["status"] == "queued":
                        raw.update(status="running", slots=list(granted[job_id]),
                                   started_at=time.time())
                    return job_from_record(raw)
        raise KeyError(f"no job {job_id} in {self.path}")
