"""What a study queues: every grid point once, failed points again (by `morec tune` only), and
each arm's best configuration on the further seeds when its search is over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from morec_core.run.faults import pause_point
from morec_core.store import Store
from morec_core.study.studies import GridPoint, Study
from morec_core.study.trial_attributes import (
    POINT_ATTR,
    RESUME_ATTR,
    STATUS_ATTR,
)
from morec_core.study.tune.storage import (
    arm_study,
    trials_lock,
)

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage


def enqueue_grid(study: Study, storage: BaseStorage, store: Store) -> int:
    """Enqueue every grid point that has no trial yet; returns how many were added."""
    added = 0
    with store.lock(trials_lock(study.name)):
        store.ensure_study(study.name, study.description)
        for arm in study.arms:
            optuna_study = arm_study(storage, study, arm.name)
            known = {trial.user_attrs.get(POINT_ATTR) for trial in optuna_study.get_trials(
                deepcopy=False)}
            for point in study.points():
                if point.arm == arm.name and point.key not in known:
                    enqueue_point(optuna_study, point.key, optuna_params(point))
                    added += 1
                    pause_point("enqueue")
    return added


def requeue_failed(study: Study, storage: BaseStorage, store: Store) -> list[GridPoint]:
    """Queue again every point of the study (search or further seed) whose trials all failed
    (status `failed`; not collapsed, and no trial of it waiting, running, complete or pruned);
    returns those points. Each retry is a new trial and a new run; the failed ones stay as they
    were, for the record."""
    import optuna

    state = optuna.trial.TrialState
    points = {point.key: point for point in study.every_point()}
    queued = []
    with store.lock(trials_lock(study.name)):
        for arm in study.arms:
            optuna_study = arm_study(storage, study, arm.name)
            trials = optuna_study.get_trials(deepcopy=False)
            covered = {trial.user_attrs.get(POINT_ATTR) for trial in trials
                       if trial.state != state.FAIL
                       or trial.user_attrs.get(STATUS_ATTR) == "collapsed"}
            failed = {trial.user_attrs.get(POINT_ATTR) for trial in trials
                      if trial.state == state.FAIL
                      and trial.user_attrs.get(STATUS_ATTR) == "failed"}
            for key in sorted(key for key in failed - covered if key in points):
                enqueue_point(optuna_study, key, optuna_params(points[key]))
                queued.append(points[key])
    return queued


def enqueue_seed_runs(study: Study, storage: BaseStorage, store: Store) -> int:
    """For every arm whose search is over (no search trial waiting or running), enqueue its best
    configuration by validation on the study's further seeds; returns how many were added.

    Run again whenever a worker runs out of trials: a grid that grew and found a new best gets
    that one's seeds too; what ran already is never queued again."""
    import optuna

    if len(study.seed_values) == 1:
        return 0
    added = 0
    search_keys = {point.key: point for point in study.points()}
    with store.lock(trials_lock(study.name)):
        for arm in study.arms:
            optuna_study = arm_study(storage, study, arm.name)
            trials = optuna_study.get_trials(deepcopy=False)
            searched = [trial for trial in trials
                        if trial.user_attrs.get(POINT_ATTR) in search_keys]
            if any(not trial.state.is_finished() for trial in searched):
                continue
            complete = [trial for trial in searched
                        if trial.state == optuna.trial.TrialState.COMPLETE]
            if not complete:
                continue
            # The highest validation value; the first trial among equals.
            best = max(complete, key=lambda trial: (trial.value, -trial.number))
            winner = search_keys[best.user_attrs[POINT_ATTR]]
            known = {trial.user_attrs.get(POINT_ATTR) for trial in trials}
            for point in study.seed_points(arm.name, winner.params):
                if point.key not in known:
                    enqueue_point(optuna_study, point.key, optuna_params(point))
                    added += 1
    return added


def trials_running(study: Study, storage: BaseStorage) -> bool:
    """Whether a trial of the study still runs somewhere: a worker out of work waits for it, to
    run it again if its worker dies, and for its end to queue further seeds."""
    import optuna

    return any(arm_study(storage, study, arm.name).get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)) for arm in study.arms)


def optuna_params(point: GridPoint) -> dict[str, Any]:
    return {name: value for name, value in point.params.items()} | {"seed": point.seed}


def enqueue_point(optuna_study: optuna.Study, key: str, params: dict[str, Any],
             resume_run_id: str | None = None) -> None:
    attrs = {POINT_ATTR: key} | ({RESUME_ATTR: resume_run_id} if resume_run_id else {})
    optuna_study.enqueue_trial(params, user_attrs=attrs, skip_if_exists=False)
