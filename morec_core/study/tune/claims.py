"""The claim protocol: a worker takes one waiting trial under the study's lock (recording
itself and the run id in the same step), and settles the trials of dead workers."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from morec_core.processes import alive_since, host_label
from morec_core.run import events as ev
from morec_core.run.faults import pause_point
from morec_core.run.run_status import FINAL_STATUSES
from morec_core.store import Store
from morec_core.store.liveness import HEARTBEAT_STALE_SECONDS
from morec_core.study.slurm_jobs import slurm_identity, slurm_job_alive
from morec_core.study.studies import GridPoint, Study
from morec_core.study.trial_attributes import (
    HEARTBEAT_ATTR,
    POINT_ATTR,
    RESUME_ATTR,
    RUN_ATTR,
    WORKER_ATTR,
)
from morec_core.study.tune.schedule import enqueue_point, optuna_params
from morec_core.study.tune.storage import (
    arm_study,
    run_record_of,
    tell,
    tell_result,
    trial_id_of,
    trials_lock,
)

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import CategoricalChoiceType
    from optuna.storages import BaseStorage


@dataclass(frozen=True)
class Claimed:
    study: optuna.Study
    trial: optuna.trial.Trial
    trial_id: int
    point: GridPoint
    run_id: str
    resume: bool
    """A retry of a dead worker's trial: the run continues from its last checkpoint."""
    worker: dict[str, Any]
    """The WORKER_ATTR recorded at the claim: host, pid, claimed_at."""


def claim_next(study: Study, storage: BaseStorage, store: Store) -> Claimed | None:
    """Claim one WAITING trial of any arm; None when nothing is left to claim."""
    import optuna

    points = {point.key: point for point in study.every_point()}
    with store.lock(trials_lock(study.name)):
        for arm in study.arms:
            optuna_study = arm_study(storage, study, arm.name)
            waiting = optuna_study.get_trials(deepcopy=False,
                                              states=(optuna.trial.TrialState.WAITING,))
            # A run to resume first (preempted, or its worker died): its checkpoint is there.
            for frozen in sorted(waiting, key=lambda trial: RESUME_ATTR not in trial.user_attrs):
                point = points.get(frozen.user_attrs.get(POINT_ATTR, ""))
                if point is None:
                    continue  # another definition's point (more seeds, a wider grid): left to it
                trial_id = trial_id_of(storage, optuna_study, frozen.number)
                if not storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING):
                    continue  # taken outside the lock (optuna's own ask); never by a morec worker
                pause_point("claim")
                resume_run_id = frozen.user_attrs.get(RESUME_ATTR)
                run_id = resume_run_id or ev.new_run_id()
                worker = {"host": host_label(), "pid": os.getpid(),
                          "claimed_at": time.time(), **slurm_identity()}
                storage.set_trial_user_attr(trial_id, WORKER_ATTR, worker)
                storage.set_trial_user_attr(trial_id, RUN_ATTR, run_id)
                trial = optuna.trial.Trial(optuna_study, trial_id)
                grid = study.grid_of(study.arm(arm.name))
                for name, value in point.params.items():
                    _record_param(trial, name, value, tuple(grid[name]))
                _record_param(trial, "seed", point.seed, study.seed_values)
                return Claimed(study=optuna_study, trial=trial, trial_id=trial_id, point=point,
                               run_id=run_id, resume=resume_run_id is not None, worker=worker)
    return None


def _record_param(trial: optuna.trial.Trial, name: str, value: object,
                  choices: tuple[object, ...]) -> None:
    """Record a grid value as an Optuna param, so that optuna-dashboard shows it (the enqueued
    value is fixed, so the suggestion returns it). Numbers get a numeric distribution, whose
    bounds Optuna lets differ between trials: a grid that grows, or a study given more seeds,
    stays one Optuna study (a categorical one must keep its choices). A value that cannot be
    recorded so (other kinds, or a study whose earlier trials recorded it otherwise) is kept as a
    user attribute instead."""
    numbers = [choice for choice in (*choices, value)
               if isinstance(choice, int | float) and not isinstance(choice, bool)]
    try:
        if len(numbers) != len(choices) + 1:
            # Optuna takes None, bool, int, float and str; it refuses another kind with the
            # ValueError handled below.
            trial.suggest_categorical(name, cast("Sequence[CategoricalChoiceType]", choices))
        elif all(isinstance(number, int) for number in numbers):
            trial.suggest_int(name, int(min(numbers)), int(max(numbers)))
        else:
            low, high = float(min(numbers)), float(max(numbers))
            trial.suggest_float(name, low, high, log=low > 0)
    except ValueError:
        trial.set_user_attr(f"param {name}", value if numbers else repr(value))


def recover_dead_trials(study: Study, storage: BaseStorage, store: Store) -> list[int]:
    """Settle every RUNNING trial whose worker is dead; returns their trial numbers. A trial
    whose run ended is told its recorded result; one whose point another trial already covers
    (a recovery killed halfway) is failed; any other is failed and re-queued with its run id."""
    # Under the lock of claims too: a claim in progress is never taken for a dead one, and two
    # workers recovering at once cannot both re-queue a dead trial.
    with store.lock(trials_lock(study.name)):
        return _recover_dead_trials(study, storage, store)


def _recover_dead_trials(study: Study, storage: BaseStorage, store: Store) -> list[int]:
    import optuna

    state = optuna.trial.TrialState
    store.reap_dead_runs()
    points = {point.key: point for point in study.every_point()}
    recovered = []
    for arm in study.arms:
        optuna_study = arm_study(storage, study, arm.name)
        trials = optuna_study.get_trials(deepcopy=False)
        dead = [trial for trial in trials
                if trial.state == state.RUNNING and not _worker_alive(trial.user_attrs)]
        dead_numbers = {trial.number for trial in dead}
        covered = {trial.user_attrs.get(POINT_ATTR): trial.number for trial in trials
                   if trial.number not in dead_numbers
                   and trial.state in (state.WAITING, state.RUNNING, state.COMPLETE, state.PRUNED)}
        for frozen in dead:
            key = frozen.user_attrs.get(POINT_ATTR, "")
            trial_id = trial_id_of(storage, optuna_study, frozen.number)
            run_id = frozen.user_attrs.get(RUN_ATTR) or frozen.user_attrs.get(RESUME_ATTR)
            record = run_record_of(store, run_id)
            if key in covered:
                tell(optuna_study, storage, trial_id, frozen.number, state.FAIL, "interrupted",
                      f"its worker died; trial {covered[key]} has its grid point")
            elif record is not None and record.status in FINAL_STATUSES:
                tell_result(optuna_study, storage, trial_id, frozen.number, record.status,
                             record)
            else:
                point = points.get(key)
                # A point this definition lacks keeps the params recorded at its claim.
                enqueue_point(optuna_study, key,
                         optuna_params(point) if point is not None else frozen.params, run_id)
                pause_point("requeue")
                tell(optuna_study, storage, trial_id, frozen.number, state.FAIL, "interrupted",
                      "its worker died; queued again to resume its run")
            covered[key] = frozen.number
            recovered.append(frozen.number)
    return recovered


def _worker_alive(attrs: dict[str, Any]) -> bool:
    """Whether the worker that claimed a RUNNING trial is alive. Called under the trials lock,
    where no claim is half done: a trial without its worker and run id lost its worker while
    claiming (or was claimed by a morec from before this bookkeeping)."""
    worker = attrs.get(WORKER_ATTR)
    if not isinstance(worker, dict) or RUN_ATTR not in attrs:
        return False
    if worker["host"] == host_label():
        return alive_since(worker["pid"], worker["claimed_at"])
    if "slurm_job" in worker:
        # On another node a pid says nothing: a Slurm job's worker lives as long as that run of
        # its job (same id and restart count) does, which Slurm says at once; where Slurm
        # cannot be asked from here, the heartbeat below (morec_core/study/slurm_jobs.py).
        alive = slurm_job_alive(worker["slurm_job"], worker.get("slurm_restarts", 0))
        if alive is not None:
            return alive
    # The stale limit of run rows: a worker is judged as the run it trains would be.
    beat = max(worker["claimed_at"], attrs.get(HEARTBEAT_ATTR, 0.0))
    return time.time() - beat <= HEARTBEAT_STALE_SECONDS
