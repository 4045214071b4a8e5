"""Studies on Optuna: every grid point enqueued once, claimed by exactly one worker, pruned on
the validation metric, collapsed trials flagged; dead workers' trials run again.

One Optuna study per arm (`<study>:<arm>`): a pruner must compare an IDRec curve with IDRec
curves only. Each trial is one run of the run store (its id in the trial's user attributes).

Exactly once: the grid is enqueued under a store-wide lock, and a worker claims a WAITING trial
by Optuna's own conditional state change (WAITING -> RUNNING), which only one worker can win.
Seeds: the grid is searched on the study's first seed; when an arm's search is over, its best
configuration by validation is queued on the further seeds (never pruned).
Dead workers: a trial whose run the store marks `interrupted` (same host: pid gone; elsewhere:
stale heartbeat), or whose Optuna heartbeat is stale, is failed and re-enqueued with its run id,
so the retry resumes that run from its last checkpoint. Finished trials are never run again.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from morec_core import events as ev
from morec_core.collapse import CollapseDetector
from morec_core.config import RunSpec
from morec_core.runner import drive
from morec_core.store import Store, StoreError, pid_alive
from morec_core.studies import GridPoint, Study

HEARTBEAT_INTERVAL_S = 30
SEED_POLL_S = 5.0
GRACE_PERIOD_S = 300
POINT_ATTR = "morec_point"
RUN_ATTR = "morec_run_id"
RESUME_ATTR = "morec_resume_run_id"
WORKER_ATTR = "morec_worker"
STATUS_ATTR = "morec_status"
REASON_ATTR = "morec_reason"


def optuna_url_for(store_url: str) -> str:
    """Optuna's storage beside the run store: runs/morec.db -> runs/morec-optuna.db.
    On PostgreSQL both live in one database (Optuna's tables have their own names)."""
    if store_url.startswith("sqlite:///"):
        path = Path(store_url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.with_name(path.stem + '-optuna' + path.suffix)}"
    return store_url


def optuna_storage(url: str, store: Store, *, heartbeat_interval: int = HEARTBEAT_INTERVAL_S,
                   grace_period: int = GRACE_PERIOD_S) -> Any:
    """Optuna's RDB storage, created under the store's lock: Optuna creates its tables without
    one, and two processes doing so at once on PostgreSQL collide."""
    with store.lock("morec-optuna-schema"):
        return _optuna_storage(url, heartbeat_interval, grace_period)


def _optuna_storage(url: str, heartbeat_interval: int, grace_period: int) -> Any:
    import optuna
    from sqlalchemy import event

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats are marked experimental in Optuna, though they have been there since 2.8.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {},
        heartbeat_interval=heartbeat_interval, grace_period=grace_period,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=3))
    if url.startswith("sqlite"):
        # Several worker processes claim trials at once: serialise writers and let them wait,
        # instead of "database is locked" when two deferred transactions both try to write.
        @event.listens_for(storage.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA busy_timeout = 60000")
            dbapi_connection.execute("PRAGMA journal_mode = WAL")

        @event.listens_for(storage.engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        storage.engine.dispose()  # connections opened before the hooks would lack them
    return storage


def arm_study_name(study: Study, arm: str) -> str:
    return f"{study.name}:{arm}"


def _optuna_study(storage: Any, study: Study, arm: str) -> Any:
    import optuna

    return optuna.create_study(
        study_name=arm_study_name(study, arm), storage=storage, direction="maximize",
        load_if_exists=True,
        # Grid points are enqueued: the sampler only ever replays them.
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3))


def enqueue_grid(study: Study, storage: Any, store: Store) -> int:
    """Enqueue every grid point that has no trial yet; returns how many were added."""
    added = 0
    with store.lock(f"morec-enqueue:{study.name}"):
        store.ensure_study(study.name, study.description)
        for arm in study.arms:
            optuna_study = _optuna_study(storage, study, arm.name)
            known = {trial.user_attrs.get(POINT_ATTR) for trial in optuna_study.get_trials(
                deepcopy=False)}
            for point in study.points():
                if point.arm == arm.name and point.key not in known:
                    optuna_study.enqueue_trial(_optuna_params(point),
                                               user_attrs={POINT_ATTR: point.key})
                    added += 1
    return added


def enqueue_seed_runs(study: Study, storage: Any, store: Store) -> int:
    """For every arm whose search is over (no search trial waiting or running), enqueue its best
    configuration by validation on the study's further seeds; returns how many were added.

    Run again whenever a worker runs out of trials: a grid that grew and found a new best gets
    that one's seeds too; what ran already is never queued again."""
    import optuna

    if len(study.seed_values) == 1:
        return 0
    added = 0
    search_keys = {point.key: point for point in study.points()}
    with store.lock(f"morec-enqueue:{study.name}"):
        for arm in study.arms:
            optuna_study = _optuna_study(storage, study, arm.name)
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
                    optuna_study.enqueue_trial(_optuna_params(point),
                                               user_attrs={POINT_ATTR: point.key})
                    added += 1
    return added


def search_running(study: Study, storage: Any) -> bool:
    """Whether a search trial is still running somewhere: its end may queue further seeds."""
    import optuna

    if len(study.seed_values) == 1:
        return False
    search_keys = {point.key for point in study.points()}
    return any(trial.user_attrs.get(POINT_ATTR) in search_keys
               for arm in study.arms
               for trial in _optuna_study(storage, study, arm.name).get_trials(
                   deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))


def _optuna_params(point: GridPoint) -> dict[str, Any]:
    return {name: value for name, value in point.params.items()} | {"seed": point.seed}


@dataclass(frozen=True)
class Claimed:
    study: Any
    trial: Any
    point: GridPoint
    resume_run_id: str | None


def claim_next(study: Study, storage: Any) -> Claimed | None:
    """Claim one WAITING trial of any arm; None when nothing is left to claim."""
    import optuna

    points = {point.key: point for point in study.every_point()}
    for arm in study.arms:
        optuna_study = _optuna_study(storage, study, arm.name)
        waiting = optuna_study.get_trials(deepcopy=False,
                                          states=(optuna.trial.TrialState.WAITING,))
        for frozen in waiting:
            trial_id = frozen._trial_id
            if not storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING):
                continue  # another worker won this one
            storage.record_heartbeat(trial_id)
            trial = optuna.trial.Trial(optuna_study, trial_id)
            point = points.get(frozen.user_attrs.get(POINT_ATTR, ""))
            if point is None:
                _tell(trial, optuna_study, optuna.trial.TrialState.FAIL, "failed",
                      "the grid point is no longer in the study")
                continue
            grid = study.arm(arm.name).grid
            for name, value in point.params.items():
                _record_param(trial, name, value, tuple(grid[name]))
            _record_param(trial, "seed", point.seed, study.seed_values)
            return Claimed(study=optuna_study, trial=trial, point=point,
                           resume_run_id=frozen.user_attrs.get(RESUME_ATTR))
    return None


def _record_param(trial: Any, name: str, value: object, choices: tuple[object, ...]) -> None:
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
            trial.suggest_categorical(name, choices)
        elif all(isinstance(number, int) for number in numbers):
            trial.suggest_int(name, int(min(numbers)), int(max(numbers)))
        else:
            low, high = float(min(numbers)), float(max(numbers))
            trial.suggest_float(name, low, high, log=low > 0)
    except ValueError:
        trial.set_user_attr(f"param {name}", value if numbers else repr(value))


def recover_dead_trials(study: Study, storage: Any, store: Store) -> list[int]:
    """Fail and re-enqueue RUNNING trials whose run is gone; returns their trial numbers."""

    # Under the study's lock: two workers recovering at once would each re-enqueue a dead trial.
    with store.lock(f"morec-recover:{study.name}"):
        return _recover_dead_trials(study, storage, store)


def _recover_dead_trials(study: Study, storage: Any, store: Store) -> list[int]:
    import optuna

    store.reap_dead_runs()
    recovered = []
    for arm in study.arms:
        optuna_study = _optuna_study(storage, study, arm.name)
        optuna.storages.fail_stale_trials(optuna_study)  # Optuna's heartbeat, any host
        for frozen in optuna_study.get_trials(deepcopy=False,
                                              states=(optuna.trial.TrialState.RUNNING,)):
            run_id = frozen.user_attrs.get(RUN_ATTR)
            if run_id is None:
                continue  # just claimed; its worker sets the run id next, or its heartbeat lapses
            if _run_is_dead(store, run_id, frozen.user_attrs.get(WORKER_ATTR, "")):
                storage.set_trial_state_values(frozen._trial_id, optuna.trial.TrialState.FAIL)
                optuna_study.enqueue_trial(frozen.params, user_attrs={
                    POINT_ATTR: frozen.user_attrs[POINT_ATTR], RESUME_ATTR: run_id},
                    skip_if_exists=False)
                recovered.append(frozen.number)
    return recovered


def _run_is_dead(store: Store, run_id: str, worker: str) -> bool:
    """A trial's run is dead when the store says so, or, before its run row exists (data still
    being prepared), when its worker process on this host is gone."""
    try:
        return store.run(run_id).status in ("interrupted", "cancelled")
    except StoreError:
        host, _, pid = worker.rpartition(":")
        return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


def trial_spec(point: GridPoint, compile_networks: bool = False) -> RunSpec:
    """The spec a trial runs: the grid point's, with train.compile on where asked and where it
    applies (E2E text and vision arms). Compiling computes the same function, so the run keeps
    the point's spec_key and pools with runs that did not compile."""
    if compile_networks and point.spec.compilable:
        return point.spec.with_overrides(["train.compile=true"])
    return point.spec


def run_trial(claimed: Claimed, storage: Any, store: Store, runs_dir: Path,
              extra_sinks: tuple[ev.Sink, ...] = (), *, compile_networks: bool = False) -> str:
    """Run one claimed trial to its end and tell Optuna; returns the run's final status.
    compile_networks: train.compile for the trial's network where it applies (trial_spec)."""
    import optuna

    trial, point = claimed.trial, claimed.point
    run_id = claimed.resume_run_id or ev.new_run_id()
    trial.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{os.getpid()}")
    trial.set_user_attr(RUN_ATTR, run_id)
    from morec_core.train import RunContext, iter_run

    context = RunContext(run_id=run_id, run_dir=runs_dir / run_id, study=point.study,
                         arm=point.arm, trial_number=trial.number,
                         resume=claimed.resume_run_id is not None)
    # The further seeds of a selected configuration run to the end: a pruned seed would leave
    # the configuration's mean to the luckier seeds.
    pruner = [_PrunerSink(trial, point.spec.eval.selection_metric)] if point.search else []
    sinks = [store, CollapseDetector(), *pruner, *extra_sinks]

    def beat() -> None:
        store.heartbeat(run_id)
        storage.record_heartbeat(trial._trial_id)

    try:
        status = drive(iter_run(trial_spec(point, compile_networks), context), sinks,
                       run_id=run_id, heartbeat=beat)
    except KeyboardInterrupt:
        _tell(trial, claimed.study, optuna.trial.TrialState.FAIL, "cancelled", "interrupted")
        claimed.study.enqueue_trial(trial.params, user_attrs={
            POINT_ATTR: point.key, RESUME_ATTR: run_id})
        raise
    except Exception as error:  # noqa: BLE001 - recorded as RunFailed by drive; the study goes on
        _tell(trial, claimed.study, optuna.trial.TrialState.FAIL, "failed",
              f"{type(error).__name__}: {error}")
        return "failed"
    record = store.run(run_id)
    if status == "completed" and record.best_value is not None:
        claimed.study.tell(trial, record.best_value)
    elif status == "pruned":
        _tell(trial, claimed.study, optuna.trial.TrialState.PRUNED, status, record.status_reason)
    else:
        # Collapsed (or a run with no validation value): FAIL keeps it out of the pruner's
        # medians and the sampler's history, and it is not retried.
        _tell(trial, claimed.study, optuna.trial.TrialState.FAIL, status, record.status_reason)
    return status


def _tell(trial: Any, optuna_study: Any, state: Any, status: str, reason: str) -> None:
    trial.set_user_attr(STATUS_ATTR, status)
    trial.set_user_attr(REASON_ATTR, reason)
    optuna_study.tell(trial, state=state)


class _PrunerSink:
    """Reports the validation metric to the trial each epoch; prunes when Optuna says so."""

    def __init__(self, trial: Any, metric: str) -> None:
        self._trial = trial
        self._metric = metric

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.Evaluated) and event.split == "valid":
            self._trial.report(event.metrics[self._metric], event.epoch)
            if self._trial.should_prune():
                raise ev.StopRun("pruned", f"Optuna median pruner at epoch {event.epoch + 1}")


def work(study: Study, store_url: str, optuna_url: str, runs_dir: Path,
         on_trial: Callable[[GridPoint, str], None] | None = None, *,
         compile_networks: bool = False, poll_s: float = SEED_POLL_S) -> int:
    """A worker: claim and run trials until none is left; returns how many it ran.

    With several seeds, a worker that runs out while another worker's search trial still runs
    waits for it (polling, and recovering trials of dead workers): its end queues the seeds."""
    store = Store(store_url)
    storage = optuna_storage(optuna_url, store)
    done = 0
    recover_dead_trials(study, storage, store)
    while True:
        claimed = claim_next(study, storage)
        if claimed is None:
            if enqueue_seed_runs(study, storage, store):
                continue
            if not search_running(study, storage):
                return done
            time.sleep(poll_s)
            recover_dead_trials(study, storage, store)
            continue
        status = run_trial(claimed, storage, store, runs_dir, compile_networks=compile_networks)
        done += 1
        if on_trial is not None:
            on_trial(claimed.point, status)


def worker_env(gpu: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env
