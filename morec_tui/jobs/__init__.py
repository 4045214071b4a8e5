"""The dashboard's local job queue: studies and single runs as detached processes, one job per
GPU (one CPU slot when there is no GPU), recorded in a small JSON file under the runs folder.

Each job is a runner process (`python -m morec_tui.jobs JOB_ID --root DIR`) in its own session,
so closing the dashboard kills nothing and a reopened one finds its jobs in `jobs.json`. The
runner waits for free slots (oldest job first), starts the job's command with
CUDA_VISIBLE_DEVICES set to its GPUs, records the exit status, and forwards a cancel (SIGTERM)
to the command, which records its run as `cancelled`. Runner and command write one log,
`<runs>/logs/job-<id>.log`. No Textual here: the dashboard reads `JobQueue.jobs()` in a worker.

The file is checked on every read (issue 13): a record's argv is what a runner executes, and its
runner_pid is what a cancel signals. A file that is not JSON, has duplicate ids, a next_id not
above every id, or records of the wrong shape is set aside (`jobs.json.corrupt-<time>`) and the
queue starts afresh, with one line for the dashboard in `JobQueue.problem`. A pid is signalled
only while it is still the job's runner: the same start time and command line it recorded.

The parts: model (Job, JobRequest), slots (GPUs and which job starts), commands (the argv of a
job and of its runner), records (the checks of the file), jobs_file (the file under its lock),
queue (JobQueue), runner (run_job), tail (a log's last lines). The names below are the package's
public ones, as `morec_tui.jobs` had them when it was one module.
"""

from morec_tui.jobs.commands import morec_argv, run_argv, runner_argv, study_argv
from morec_tui.jobs.jobs_file import MAX_JOBS_FILE_BYTES, JobFileError, JobsFile
from morec_tui.jobs.model import ACTIVE, CPU, JOB_KINDS, JOB_STATUSES, Job, JobRequest
from morec_tui.jobs.queue import LOST_AFTER_S, PID_REUSED, RUNNER_DIED, JobQueue
from morec_tui.jobs.records import _FIELD_CHECKS, PID_MAX_LIMIT
from morec_tui.jobs.runner import WAIT_POLL_S, run_job
from morec_tui.jobs.slots import Gpu, assign, candidate_slots, detect_gpus
from morec_tui.jobs.tail import tail

__all__ = ["_FIELD_CHECKS", "ACTIVE", "CPU", "JOB_KINDS", "JOB_STATUSES", "LOST_AFTER_S",
           "MAX_JOBS_FILE_BYTES", "PID_MAX_LIMIT", "PID_REUSED", "RUNNER_DIED", "WAIT_POLL_S",
           "Gpu", "Job", "JobFileError", "JobQueue", "JobRequest", "JobsFile", "assign",
           "candidate_slots", "detect_gpus", "morec_argv", "run_argv", "run_job", "runner_argv",
           "study_argv", "tail"]
