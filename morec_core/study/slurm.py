"""Studies on a Slurm cluster: `morec tune --launcher slurm` submits worker jobs through
submitit; each job runs one study worker (`tune.work`) that drains the study's queue.

One worker per job, not one trial per job: the queue is Optuna's and changes as the study runs
(each arm's best configuration is queued on further seeds when its search ends; a dead worker's
trial is queued again), so a job that asks the queue for its next trial always does what is
left, where a job per trial would need the whole grid known at submission. Exactly-once is
tune's claim under the study's lock, whichever job claims; N jobs are N trials at a time.
The jobs are separate submissions, never an array: a requeue takes one worker back, not all.

What submitit pickles is its own business (its job folder, read by its own runner in the job):
morec gives it `StudyWorker` and plain data (names, URLs, paths, numbers), reads nothing back
(never `job.result()`), and asks Slurm itself for the jobs' states (morec_core/study/slurm_jobs.py).

Preemption and time limits: the worker records SIGTERM (preemption, `scancel`, `scontrol
requeue`) and SIGUSR2 (submitit's warning, `signal_delay_s` before the time limit); the trial
checkpoints after its current step, its run is marked `interrupted` and its trial queued again
with the same run id (tune.run_trial); on SIGUSR2 submitit's handler then calls `checkpoint()`
and requeues the job, which on SIGTERM Slurm does, or not (scancel), itself. Whoever claims the
trial next, this job requeued or another one, resumes that run from its checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import submitit

from morec_core.config import ConfigError
from morec_core.run import events as ev
from morec_core.study.slurm_config import SlurmSettings
from morec_core.study.slurm_jobs import JOB_PREFIX

if TYPE_CHECKING:
    from morec_core.study.studies import GridPoint


def refuse_store(store_url: str) -> None:
    """Slurm workers share their study through a database server, never a file."""
    if store_url.startswith("sqlite"):
        raise ConfigError(
            f"--launcher slurm needs a PostgreSQL store (--storage postgresql+psycopg://user@host"
            f"/db), not {store_url}: workers on other nodes cannot reach a local SQLite file, and "
            "SQLite (and Optuna's storage beside it) on a shared file system such as NFS is "
            "corrupted by concurrent writers")


@dataclass(frozen=True, kw_only=True)
class WorkerTask:
    """What a worker job needs, as plain data: it is all a job receives."""
    request_argv: tuple[str, ...]
    """The study request (morec_core.study_launch.StudyRequest.to_argv): the study by name or
    absolute module path, its preset, name, settings, seeds, and DDP processes per trial."""
    store_url: str
    runs_dir: str
    """Absolute; on a file system every node sees (checkpoints, logs)."""
    data_dir: str
    """Absolute; on a file system every node sees (datasets, content caches)."""
    job_name: str
    """The study's name in the Slurm job names (after JOB_PREFIX)."""

    def as_kwargs(self) -> dict[str, Any]:
        return {"request_argv": list(self.request_argv), "store_url": self.store_url,
                "runs_dir": self.runs_dir, "data_dir": self.data_dir}


def submit_workers(task: WorkerTask, settings: SlurmSettings) -> list[str]:
    """Submit `settings.jobs` worker jobs; returns their Slurm job ids."""
    refuse_store(task.store_url)
    executor = submitit.SlurmExecutor(folder=Path(task.runs_dir) / "slurm" / "%j",
                                      max_num_timeout=settings.max_requeues)
    extra: dict[str, Any] = {"requeue": True, **settings.extra}
    executor.update_parameters(
        job_name=f"{JOB_PREFIX}{task.job_name}",
        time=settings.time_min, cpus_per_task=settings.cpus_per_task,
        signal_delay_s=settings.signal_delay_s, additional_parameters=extra,
        **({"partition": settings.partition} if settings.partition else {}),
        **({"gpus_per_node": settings.gpus_per_trial} if settings.gpus_per_trial else {}),
        **({"mem": f"{settings.mem_gb:g}GB"} if settings.mem_gb else {}),
        **({"account": settings.account} if settings.account else {}),
        **({"qos": settings.qos} if settings.qos else {}))
    # One submission per worker (no array): a requeue takes one worker back, not all.
    return [str(executor.submit(StudyWorker(), **task.as_kwargs()).job_id)
            for _ in range(settings.jobs)]


class StudyWorker(submitit.helpers.Checkpointable):
    """A study worker inside a Slurm job (submitit calls it; requeued, it is called again with
    the same arguments, `Checkpointable.checkpoint`'s default)."""

    def __call__(self, request_argv: Sequence[str], store_url: str, runs_dir: str,
                 data_dir: str) -> int:
        from morec_core.run import preemption
        from morec_core.study_launch import StudyRequest, trial_line, work

        os.environ["MOREC_RUNS_DIR"] = runs_dir
        os.environ["MOREC_DATA_DIR"] = data_dir
        handlers = preemption.install()
        request = StudyRequest.from_argv(request_argv)
        definition = request.resolve()

        def report(point: GridPoint, status: str, reason: str) -> None:
            print(trial_line(point, status, reason), flush=True)

        def trial_sinks(point: GridPoint) -> list[ev.Sink]:
            def log_epoch(event: ev.Event) -> None:
                # One line per epoch trained here: a resumed run's log starts at its epoch.
                if isinstance(event, ev.EpochEnded):
                    print(f"run {event.run_id[:8]} ({point.arm} seed {point.seed}): epoch "
                          f"{event.epoch + 1}/{point.spec.train.epochs} loss {event.loss:.4f} "
                          f"({event.seconds:.1f} s)", flush=True)

            return [log_epoch]

        print(f"worker for study {definition.name} in Slurm job "
              f"{os.environ.get('SLURM_JOB_ID')} (restart "
              f"{os.environ.get('SLURM_RESTART_COUNT', '0')})", flush=True)
        try:
            done = work(request, store_url, Path(runs_dir), on_trial=report,
                        trial_sinks=trial_sinks, definition=definition)
        except preemption.Preempted as stop:
            print(f"worker: {stop}; its trial is queued again", flush=True)
            submitit_handler = handlers.get(stop.signum)
            if stop.signum == signal.SIGUSR2 and callable(submitit_handler):
                # submitit's own: calls checkpoint() (this worker, same arguments), requeues
                # the job with `scontrol requeue` and exits.
                submitit_handler(stop.signum, None)
            # SIGTERM: Slurm ends the job, and requeues it or not (preemption, scancel).
            sys.exit(128 + stop.signum)
        print(f"worker: study {definition.name}: no trial left ({done} run here)", flush=True)
        return done
