"""Studies on Optuna: every grid point enqueued once, claimed by exactly one worker, pruned on
the validation metric, collapsed trials flagged; dead workers' trials run again.

One Optuna study per arm (`<study>:<arm>`): a pruner must compare an IDRec curve with IDRec
curves only. Each trial is one run of the run store (its id in the trial's user attributes).

Exactly once: every change of a trial's bookkeeping (enqueue, claim, recovery, the final tell)
happens under one store lock per study, `morec-trials:<study>`. A claim changes a WAITING trial
to RUNNING and records, in the same locked step, the claiming worker (host, pid, time) and the
trial's run id; so a recovery, holding the lock, knows that no claim is half done, and a RUNNING
trial without them belongs to a worker that died while claiming.
Liveness is the claiming worker's, never the run row's (a run row is missing before the run's
first event and says `completed` before Optuna is told): on the same host, its process (pid, and
started before the claim, so a reused pid does not count); on another host, for a worker in a
Slurm job, that job's state and restart count (morec_core/study/slurm_jobs.py), else the trial's
heartbeat attribute, written every 30 s. A dead worker's trial is failed and re-queued with its
run id, so that the retry resumes the run from its last checkpoint; if the run had already
ended, its recorded result is told to Optuna instead (never trained again). A worker stopped by
its scheduler (morec_core.run.preemption) does the same for its own trial once its run checkpointed.
Seeds: the grid is searched on the study's first seed; when an arm's search is over, its best
configuration by validation is queued on the further seeds (never pruned). Grids can grow: new
points are queued, points that ran are kept; a waiting trial of a point this definition lacks
is left for a definition that has it.
Failed trials: a trial whose run raised (missing data, out of memory) is FAIL with status
`failed`; `requeue_failed`, run by `morec tune` before its workers start (never by a worker, so
that a failure that persists costs one try per `tune`, not a loop), queues its point again, under
the same lock, unless another trial covers the point. Completed, pruned and collapsed trials are
final: a collapse is a result (paper Figure 5), not an accident.

Split by part: storage.py (Optuna's storage and the trial attributes), schedule.py (what is
queued), claims.py (the claim protocol, dead workers), worker.py (running trials). The shell and
the Slurm worker reach it through morec_core.study_launch.
"""

from morec_core.paths import optuna_url_for
from morec_core.study.trial_attributes import (
    HEARTBEAT_ATTR,
    POINT_ATTR,
    REASON_ATTR,
    RESUME_ATTR,
    RUN_ATTR,
    STATUS_ATTR,
    WORKER_ATTR,
)
from morec_core.study.tune.claims import Claimed, claim_next, recover_dead_trials
from morec_core.study.tune.claims import _worker_alive as _worker_alive
from morec_core.study.tune.schedule import (
    enqueue_grid,
    enqueue_seed_runs,
    requeue_failed,
    trials_running,
)
from morec_core.study.tune.storage import (
    arm_study_name,
    optuna_storage,
)
from morec_core.study.tune.worker import (
    POLL_FIRST_S,
    POLL_S,
    THREAD_VARIABLES,
    run_trial,
    trial_spec,
    work,
    worker_env,
)

__all__ = ["HEARTBEAT_ATTR", "POINT_ATTR", "POLL_FIRST_S", "POLL_S", "REASON_ATTR", "RESUME_ATTR",
           "RUN_ATTR", "STATUS_ATTR", "THREAD_VARIABLES", "WORKER_ATTR", "Claimed",
           "arm_study_name", "claim_next", "enqueue_grid", "enqueue_seed_runs",
           "optuna_storage", "optuna_url_for", "recover_dead_trials", "requeue_failed",
           "run_trial", "trial_spec", "trials_running", "work", "worker_env"]
