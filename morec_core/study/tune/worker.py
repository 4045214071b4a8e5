"""A study worker: runs claimed trials through the run door (morec_core.launch) with the
pruner, keeps each trial's heartbeat, tells Optuna the result, and waits for trials running
elsewhere until the study is done."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from morec_core.config import RunSpec
from morec_core.run import events as ev
from morec_core.run.faults import pause_point
from morec_core.run.preemption import Preempted, raise_if_requested
from morec_core.run.run_status import FINAL_STATUSES
from morec_core.store import Store
from morec_core.study.studies import GridPoint, Study
from morec_core.study.trial_attributes import (
    HEARTBEAT_ATTR,
    REASON_ATTR,
    WORKER_ATTR,
)
from morec_core.study.tune.claims import Claimed, claim_next, recover_dead_trials
from morec_core.study.tune.schedule import (
    enqueue_point,
    enqueue_seed_runs,
    optuna_params,
    trials_running,
)
from morec_core.study.tune.storage import (
    optuna_storage,
    run_record_of,
    tell,
    tell_result,
    trials_lock,
)

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

    from morec_core.store import RunRecord


POLL_S = 5.0
"""How often, at most, an idle worker looks again while trials run elsewhere (a query per arm)."""


POLL_FIRST_S = 0.25


def trial_spec(point: GridPoint, compile_networks: bool = False) -> RunSpec:
    """The spec a trial runs: the grid point's, with train.compile on where asked and where it
    applies (E2E text and vision arms). Compiling computes the same function, so the run keeps
    the point's spec_key and pools with runs that did not compile."""
    if compile_networks and point.spec.compilable:
        return point.spec.with_overrides(["train.compile=true"])
    return point.spec


def run_trial(claimed: Claimed, storage: BaseStorage, store: Store, runs_dir: Path,
              extra_sinks: tuple[ev.Sink, ...] = (), *, compile_networks: bool = False,
              processes: int = 1) -> str:
    """Run one claimed trial to its end and tell Optuna; returns the run's final status.
    compile_networks: train.compile for the trial's network where it applies (trial_spec).
    processes > 1: the run trains on that many DDP ranks (morec_core.run.distributed_trial), with
    neither pruning nor extra_sinks (its events happen in the ranks)."""
    import optuna

    from morec_core.launch import RunContext, execute, run_folder

    trial, point, run_id = claimed.trial, claimed.point, claimed.run_id
    ended = run_record_of(store, run_id) if claimed.resume else None
    if ended is not None and ended.status in FINAL_STATUSES:
        # Re-queued while its run was ending (a worker judged dead by a stale heartbeat).
        _finish(claimed, storage, store, ended.status, ended)
        return ended.status
    context = RunContext(run_id=run_id, run_dir=run_folder(runs_dir, run_id), study=point.study,
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
            from morec_core.run.distributed_trial import run_distributed

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
        with store.lock(trials_lock(point.study)):
            if _still_claimed(claimed, storage):
                # The successor first: killed in between, recovery finds the point covered.
                enqueue_point(claimed.study, point.key, optuna_params(point), run_id)
                tell(claimed.study, storage, claimed.trial_id, trial.number,
                      optuna.trial.TrialState.FAIL, status, reason)
        raise
    except Exception as error:  # noqa: BLE001 - recorded as RunFailed by drive; the study goes on
        _finish(claimed, storage, store, "failed", None, f"{type(error).__name__}: {error}")
        return "failed"
    pause_point("before-tell")
    _finish(claimed, storage, store, status, store.run(run_id))
    return status


def _finish(claimed: Claimed, storage: BaseStorage, store: Store, status: str,
            record: RunRecord | None, reason: str = "") -> None:
    """Tell Optuna how the claimed trial's run ended, unless it is no longer this worker's."""
    with store.lock(trials_lock(claimed.point.study)):
        if _still_claimed(claimed, storage):
            tell_result(claimed.study, storage, claimed.trial_id, claimed.trial.number, status,
                         record, reason)


def _still_claimed(claimed: Claimed, storage: BaseStorage) -> bool:
    """False for a trial another worker settled, having judged this one dead by a stale
    heartbeat (another host): its bookkeeping is that worker's now. Under the trials lock."""
    import optuna

    frozen = storage.get_trial(claimed.trial_id)
    return (frozen.state == optuna.trial.TrialState.RUNNING
            and frozen.user_attrs.get(WORKER_ATTR) == claimed.worker)


class _PrunerSink:
    """Reports the validation metric to the trial each epoch; prunes when Optuna says so."""

    def __init__(self, trial: optuna.trial.Trial, metric: str) -> None:
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
