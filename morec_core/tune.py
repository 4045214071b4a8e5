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
Slurm job, that job's state and restart count (morec_core/slurm_jobs.py), else the trial's
heartbeat attribute, written every 30 s. A dead worker's trial is failed and re-queued with its
run id, so that the retry resumes the run from its last checkpoint; if the run had already
ended, its recorded result is told to Optuna instead (never trained again). A worker stopped by
its scheduler (morec_core.preemption) does the same for its own trial once its run checkpointed.
Seeds: the grid is searched on the study's first seed; when an arm's search is over, its best
configuration by validation is queued on the further seeds (never pruned). Grids can grow: new
points are queued, points that ran are kept; a waiting trial of a point this definition lacks
is left for a definition that has it.
Failed trials: a trial whose run raised (missing data, out of memory) is FAIL with status
`failed`; `requeue_failed`, run by `morec tune` before its workers start (never by a worker, so
that a failure that persists costs one try per `tune`, not a loop), queues its point again, under
the same lock, unless another trial covers the point. Completed, pruned and collapsed trials are
final: a collapse is a result (paper Figure 5), not an accident.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from morec_core import events as ev
from morec_core.config import RunSpec
from morec_core.faults import pause_point
from morec_core.paths import optuna_url_for as optuna_url_for
from morec_core.preemption import Preempted, raise_if_requested
from morec_core.processes import alive_since
from morec_core.run_status import FINAL_STATUSES
from morec_core.slurm_jobs import slurm_identity, slurm_job_alive
from morec_core.store import Store, StoreError
from morec_core.store.engine import SQLITE_BUSY_TIMEOUT_MS, install_sqlite_hooks
from morec_core.store.liveness import HEARTBEAT_STALE_SECONDS
from morec_core.studies import GridPoint, Study

if TYPE_CHECKING:
    from morec_core.store import RunRecord

POLL_S = 5.0
"""How often, at most, an idle worker looks again while trials run elsewhere (a query per arm)."""
POLL_FIRST_S = 0.25
POINT_ATTR = "morec_point"
RUN_ATTR = "morec_run_id"
RESUME_ATTR = "morec_resume_run_id"
WORKER_ATTR = "morec_worker"
HEARTBEAT_ATTR = "morec_heartbeat"
STATUS_ATTR = "morec_status"
REASON_ATTR = "morec_reason"


def optuna_storage(url: str, store: Store) -> Any:
    """Optuna's RDB storage, created under the store's lock: Optuna creates its tables without
    one, and two processes doing so at once on PostgreSQL collide.

    Without Optuna's heartbeat: its stale-trial check fails a trial on the heartbeat alone, on
    any host, and its retry copies the trial without our bookkeeping; liveness is ours (above)."""
    with store.lock("morec-optuna-schema"):
        return _optuna_storage(url)


def _optuna_storage(url: str) -> Any:
    import optuna

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
        if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):
        # Several worker processes claim trials at once: serialise writers and let them wait,
        # instead of "database is locked" when two deferred transactions both try to write.
        install_sqlite_hooks(storage.engine, ("journal_mode = WAL",), immediate=True)
        storage.engine.dispose()  # connections opened before the hooks would lack them
    return storage


def arm_study_name(study: Study, arm: str) -> str:
    return f"{study.name}:{arm}"


def _optuna_study(storage: Any, study: Study, arm: str) -> Any:
    return _load_arm_study(storage, arm_study_name(study, arm))


@functools.lru_cache(maxsize=64)
def _load_arm_study(storage: Any, name: str) -> Any:
    """Loaded (or created) once per storage: an idle worker's polling looks at every arm a few
    times a round, and `create_study` tries an insert (a write transaction) at each call. What
    the Study keeps between calls is Optuna's cache of finished trials, which no write changes;
    unfinished and new trials are read again at each `get_trials`."""
    import optuna

    return optuna.create_study(
        study_name=name, storage=storage, direction="maximize",
        load_if_exists=True,
        # Grid points are enqueued: the sampler only ever replays them.
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3))


def _trials_lock(study_name: str) -> str:
    return f"morec-trials:{study_name}"


def _trial_id(storage: Any, optuna_study: Any, number: int) -> int:
    """A trial's storage id from its number, through the storage's public API."""
    study_id = storage.get_study_id_from_name(optuna_study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


def enqueue_grid(study: Study, storage: Any, store: Store) -> int:
    """Enqueue every grid point that has no trial yet; returns how many were added."""
    added = 0
    with store.lock(_trials_lock(study.name)):
        store.ensure_study(study.name, study.description)
        for arm in study.arms:
            optuna_study = _optuna_study(storage, study, arm.name)
            known = {trial.user_attrs.get(POINT_ATTR) for trial in optuna_study.get_trials(
                deepcopy=False)}
            for point in study.points():
                if point.arm == arm.name and point.key not in known:
                    _enqueue(optuna_study, point.key, _optuna_params(point))
                    added += 1
                    pause_point("enqueue")
    return added


def requeue_failed(study: Study, storage: Any, store: Store) -> list[GridPoint]:
    """Queue again every point of the study (search or further seed) whose trials all failed
    (status `failed`; not collapsed, and no trial of it waiting, running, complete or pruned);
    returns those points. Each retry is a new trial and a new run; the failed ones stay as they
    were, for the record."""
    import optuna

    state = optuna.trial.TrialState
    points = {point.key: point for point in study.every_point()}
    queued = []
    with store.lock(_trials_lock(study.name)):
        for arm in study.arms:
            optuna_study = _optuna_study(storage, study, arm.name)
            trials = optuna_study.get_trials(deepcopy=False)
            covered = {trial.user_attrs.get(POINT_ATTR) for trial in trials
                       if trial.state != state.FAIL
                       or trial.user_attrs.get(STATUS_ATTR) == "collapsed"}
            failed = {trial.user_attrs.get(POINT_ATTR) for trial in trials
                      if trial.state == state.FAIL
                      and trial.user_attrs.get(STATUS_ATTR) == "failed"}
            for key in sorted(key for key in failed - covered if key in points):
                _enqueue(optuna_study, key, _optuna_params(points[key]))
                queued.append(points[key])
    return queued


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
    with store.lock(_trials_lock(study.name)):
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
                    _enqueue(optuna_study, point.key, _optuna_params(point))
                    added += 1
    return added


def trials_running(study: Study, storage: Any) -> bool:
    """Whether a trial of the study still runs somewhere: a worker out of work waits for it, to
    run it again if its worker dies, and for its end to queue further seeds."""
    import optuna

    return any(_optuna_study(storage, study, arm.name).get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)) for arm in study.arms)


def _optuna_params(point: GridPoint) -> dict[str, Any]:
    return {name: value for name, value in point.params.items()} | {"seed": point.seed}


def _enqueue(optuna_study: Any, key: str, params: dict[str, Any],
             resume_run_id: str | None = None) -> None:
    attrs = {POINT_ATTR: key} | ({RESUME_ATTR: resume_run_id} if resume_run_id else {})
    optuna_study.enqueue_trial(params, user_attrs=attrs, skip_if_exists=False)


@dataclass(frozen=True)
class Claimed:
    study: Any
    trial: Any
    trial_id: int
    point: GridPoint
    run_id: str
    resume: bool
    """A retry of a dead worker's trial: the run continues from its last checkpoint."""
    worker: dict[str, Any]
    """The WORKER_ATTR recorded at the claim: host, pid, claimed_at."""


def claim_next(study: Study, storage: Any, store: Store) -> Claimed | None:
    """Claim one WAITING trial of any arm; None when nothing is left to claim."""
    import optuna

    points = {point.key: point for point in study.every_point()}
    with store.lock(_trials_lock(study.name)):
        for arm in study.arms:
            optuna_study = _optuna_study(storage, study, arm.name)
            waiting = optuna_study.get_trials(deepcopy=False,
                                              states=(optuna.trial.TrialState.WAITING,))
            # A run to resume first (preempted, or its worker died): its checkpoint is there.
            for frozen in sorted(waiting, key=lambda trial: RESUME_ATTR not in trial.user_attrs):
                point = points.get(frozen.user_attrs.get(POINT_ATTR, ""))
                if point is None:
                    continue  # another definition's point (more seeds, a wider grid): left to it
                trial_id = _trial_id(storage, optuna_study, frozen.number)
                if not storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING):
                    continue  # taken outside the lock (optuna's own ask); never by a morec worker
                pause_point("claim")
                resume_run_id = frozen.user_attrs.get(RESUME_ATTR)
                run_id = resume_run_id or ev.new_run_id()
                worker = {"host": socket.gethostname(), "pid": os.getpid(),
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
    """Settle every RUNNING trial whose worker is dead; returns their trial numbers. A trial
    whose run ended is told its recorded result; one whose point another trial already covers
    (a recovery killed halfway) is failed; any other is failed and re-queued with its run id."""
    # Under the lock of claims too: a claim in progress is never taken for a dead one, and two
    # workers recovering at once cannot both re-queue a dead trial.
    with store.lock(_trials_lock(study.name)):
        return _recover_dead_trials(study, storage, store)


def _recover_dead_trials(study: Study, storage: Any, store: Store) -> list[int]:
    import optuna

    state = optuna.trial.TrialState
    store.reap_dead_runs()
    points = {point.key: point for point in study.every_point()}
    recovered = []
    for arm in study.arms:
        optuna_study = _optuna_study(storage, study, arm.name)
        trials = optuna_study.get_trials(deepcopy=False)
        dead = [trial for trial in trials
                if trial.state == state.RUNNING and not _worker_alive(trial.user_attrs)]
        dead_numbers = {trial.number for trial in dead}
        covered = {trial.user_attrs.get(POINT_ATTR): trial.number for trial in trials
                   if trial.number not in dead_numbers
                   and trial.state in (state.WAITING, state.RUNNING, state.COMPLETE, state.PRUNED)}
        for frozen in dead:
            key = frozen.user_attrs.get(POINT_ATTR, "")
            trial_id = _trial_id(storage, optuna_study, frozen.number)
            run_id = frozen.user_attrs.get(RUN_ATTR) or frozen.user_attrs.get(RESUME_ATTR)
            record = _run_record(store, run_id)
            if key in covered:
                _tell(optuna_study, storage, trial_id, frozen.number, state.FAIL, "interrupted",
                      f"its worker died; trial {covered[key]} has its grid point")
            elif record is not None and record.status in FINAL_STATUSES:
                _tell_result(optuna_study, storage, trial_id, frozen.number, record.status,
                             record)
            else:
                point = points.get(key)
                # A point this definition lacks keeps the params recorded at its claim.
                _enqueue(optuna_study, key,
                         _optuna_params(point) if point is not None else frozen.params, run_id)
                pause_point("requeue")
                _tell(optuna_study, storage, trial_id, frozen.number, state.FAIL, "interrupted",
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
    if worker["host"] == socket.gethostname():
        return alive_since(worker["pid"], worker["claimed_at"])
    if "slurm_job" in worker:
        # On another node a pid says nothing: a Slurm job's worker lives as long as that run of
        # its job (same id and restart count) does, which Slurm says at once; where Slurm
        # cannot be asked from here, the heartbeat below (morec_core/slurm_jobs.py).
        alive = slurm_job_alive(worker["slurm_job"], worker.get("slurm_restarts", 0))
        if alive is not None:
            return alive
    # The stale limit of run rows: a worker is judged as the run it trains would be.
    beat = max(worker["claimed_at"], attrs.get(HEARTBEAT_ATTR, 0.0))
    return time.time() - beat <= HEARTBEAT_STALE_SECONDS


def _run_record(store: Store, run_id: str | None) -> RunRecord | None:
    if run_id is None:
        return None
    try:
        return store.run(run_id)
    except StoreError:
        return None  # killed before the run's first event


def trial_spec(point: GridPoint, compile_networks: bool = False) -> RunSpec:
    """The spec a trial runs: the grid point's, with train.compile on where asked and where it
    applies (E2E text and vision arms). Compiling computes the same function, so the run keeps
    the point's spec_key and pools with runs that did not compile."""
    if compile_networks and point.spec.compilable:
        return point.spec.with_overrides(["train.compile=true"])
    return point.spec


def run_trial(claimed: Claimed, storage: Any, store: Store, runs_dir: Path,
              extra_sinks: tuple[ev.Sink, ...] = (), *, compile_networks: bool = False,
              processes: int = 1) -> str:
    """Run one claimed trial to its end and tell Optuna; returns the run's final status.
    compile_networks: train.compile for the trial's network where it applies (trial_spec).
    processes > 1: the run trains on that many DDP ranks (morec_core.distributed_trial), with
    neither pruning nor extra_sinks (its events happen in the ranks)."""
    import optuna

    from morec_core.launch import RunContext, execute

    trial, point, run_id = claimed.trial, claimed.point, claimed.run_id
    ended = _run_record(store, run_id) if claimed.resume else None
    if ended is not None and ended.status in FINAL_STATUSES:
        # Re-queued while its run was ending (a worker judged dead by a stale heartbeat).
        _finish(claimed, storage, store, ended.status, ended)
        return ended.status
    context = RunContext(run_id=run_id, run_dir=runs_dir / run_id, study=point.study,
                         arm=point.arm, trial_number=trial.number, resume=claimed.resume)
    # The further seeds of a selected configuration run to the end: a pruned seed would leave
    # the configuration's mean to the luckier seeds.
    pruner = [_PrunerSink(trial, point.spec.eval.selection_metric)] if point.search else []

    def beat() -> None:
        storage.set_trial_user_attr(claimed.trial_id, HEARTBEAT_ATTR, time.time())

    pause_point("trial-start")
    try:
        # The engine's front door: the collapse detector, the store and the heartbeat.
        if processes > 1:
            from morec_core.distributed_trial import run_distributed

            status = run_distributed(trial_spec(point, compile_networks), run_id=run_id,
                                     resume=claimed.resume, study=point.study, arm=point.arm,
                                     store=store, runs_dir=runs_dir, processes=processes,
                                     heartbeat=beat)
        else:
            status = execute(trial_spec(point, compile_networks), context, store,
                             sinks=[*pruner, *extra_sinks], heartbeat=beat)
    except (KeyboardInterrupt, Preempted) as stop:
        # Preempted (the scheduler's signal): the run wrote its checkpoint and is `interrupted`;
        # the successor resumes it, in this job once requeued or in another worker.
        status, reason = (("interrupted", str(stop)) if isinstance(stop, Preempted)
                          else ("cancelled", "interrupted"))
        with store.lock(_trials_lock(point.study)):
            if _still_claimed(claimed, storage):
                # The successor first: killed in between, recovery finds the point covered.
                _enqueue(claimed.study, point.key, _optuna_params(point), run_id)
                _tell(claimed.study, storage, claimed.trial_id, trial.number,
                      optuna.trial.TrialState.FAIL, status, reason)
        raise
    except Exception as error:  # noqa: BLE001 - recorded as RunFailed by drive; the study goes on
        _finish(claimed, storage, store, "failed", None, f"{type(error).__name__}: {error}")
        return "failed"
    pause_point("before-tell")
    _finish(claimed, storage, store, status, store.run(run_id))
    return status


def _finish(claimed: Claimed, storage: Any, store: Store, status: str,
            record: RunRecord | None, reason: str = "") -> None:
    """Tell Optuna how the claimed trial's run ended, unless it is no longer this worker's."""
    with store.lock(_trials_lock(claimed.point.study)):
        if _still_claimed(claimed, storage):
            _tell_result(claimed.study, storage, claimed.trial_id, claimed.trial.number, status,
                         record, reason)


def _still_claimed(claimed: Claimed, storage: Any) -> bool:
    """False for a trial another worker settled, having judged this one dead by a stale
    heartbeat (another host): its bookkeeping is that worker's now. Under the trials lock."""
    import optuna

    frozen = storage.get_trial(claimed.trial_id)
    return (frozen.state == optuna.trial.TrialState.RUNNING
            and frozen.user_attrs.get(WORKER_ATTR) == claimed.worker)


def _tell_result(optuna_study: Any, storage: Any, trial_id: int, number: int, status: str,
                 record: RunRecord | None, reason: str = "") -> None:
    import optuna

    state = optuna.trial.TrialState
    if record is not None:
        reason = reason or record.status_reason or record.error
    if status == "completed" and record is not None and record.best_value is not None:
        _tell(optuna_study, storage, trial_id, number, state.COMPLETE, status, reason,
              record.best_value)
    elif status == "pruned":
        _tell(optuna_study, storage, trial_id, number, state.PRUNED, status, reason)
    else:
        # Collapsed, failed (or a run with no validation value): FAIL keeps it out of the
        # pruner's medians and the sampler's history; Optuna never retries it (a failed one is
        # queued again by requeue_failed, at the next `morec tune`).
        _tell(optuna_study, storage, trial_id, number, state.FAIL, status, reason)


def _tell(optuna_study: Any, storage: Any, trial_id: int, number: int, state: Any, status: str,
          reason: str, value: float | None = None) -> None:
    storage.set_trial_user_attr(trial_id, STATUS_ATTR, status)
    storage.set_trial_user_attr(trial_id, REASON_ATTR, reason)
    optuna_study.tell(number, value, state=state)


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
         on_trial: Callable[[GridPoint, str, str], None] | None = None, *,
         trial_sinks: Callable[[GridPoint], Sequence[ev.Sink]] | None = None,
         compile_networks: bool = False, poll_s: float = POLL_S,
         processes_per_trial: int = 1) -> int:
    """A worker: claim and run trials until none is left to claim and none runs elsewhere;
    returns how many it ran. processes_per_trial > 1: each trial trains on that many DDP ranks
    (a Slurm job's GPUs).

    on_trial: told each trial's point, final status and its reason (why it failed, was pruned
    or collapsed; empty when it completed). trial_sinks: the caller's sinks for one trial's run
    (a console's progress lines), made per trial since they may depend on its spec.

    A worker out of work waits for the trials other workers run (polling, and settling those
    of dead workers at once): their end may queue further seeds, and a trial whose worker dies
    is run again here instead of waiting for the next `morec tune`."""
    store = Store(store_url)
    storage = optuna_storage(optuna_url, store)
    done = 0
    recover_dead_trials(study, storage, store)
    # Short waits first: the trials still running at the end of a study end at about the same
    # time; a long one then waits at poll_s.
    wait_s = POLL_FIRST_S
    while True:
        raise_if_requested()  # preempted between trials: nothing to save, claim nothing more
        claimed = claim_next(study, storage, store)
        if claimed is None:
            if enqueue_seed_runs(study, storage, store):
                continue
            if not trials_running(study, storage):
                return done
            time.sleep(wait_s)
            wait_s = min(2 * wait_s, poll_s)
            recover_dead_trials(study, storage, store)
            continue
        wait_s = POLL_FIRST_S
        sinks = tuple(trial_sinks(claimed.point)) if trial_sinks is not None else ()
        status = run_trial(claimed, storage, store, runs_dir, sinks,
                           compile_networks=compile_networks, processes=processes_per_trial)
        done += 1
        if on_trial is not None:
            # The reason as told to Optuna: the one record of it, whoever settled the trial.
            reason = storage.get_trial(claimed.trial_id).user_attrs.get(REASON_ATTR, "")
            on_trial(claimed.point, status, str(reason))


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker_env(gpu: str | None, workers: int = 1) -> dict[str, str]:
    """The environment of one of `workers` local worker processes: its GPU only, and on a CPU
    its share of the cores. Without a share, each worker's torch starts one thread per core and
    N workers thrash: two workers on 2 cores beside other jobs ran 20x slower than one alone."""
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    elif workers > 1 and not any(name in os.environ for name in THREAD_VARIABLES):
        share = str(max(1, (os.cpu_count() or 1) // workers))
        env.update({name: share for name in THREAD_VARIABLES})
    return env
