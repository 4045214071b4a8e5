"""The names of the user attributes `morec tune` writes on each Optuna trial: what a study view
reads from Optuna's storage without importing the trial machinery (morec_core.study.tune)."""

from __future__ import annotations

POINT_ATTR = "morec_point"
"""The grid point's key (studies.GridPoint.key): which configuration and seed the trial runs."""
RUN_ATTR = "morec_run_id"
"""The run id of the trial's run in the run store."""
RESUME_ATTR = "morec_resume_run_id"
"""On a re-queued trial: the run id to continue from its checkpoint."""
WORKER_ATTR = "morec_worker"
"""The claiming worker: host label, pid, claim time (and its Slurm job)."""
HEARTBEAT_ATTR = "morec_heartbeat"
"""The claiming worker's last heartbeat (epoch seconds)."""
STATUS_ATTR = "morec_status"
"""The run's final status as the trial ended (collapsed, failed...)."""
REASON_ATTR = "morec_reason"
"""Why the run ended so."""
