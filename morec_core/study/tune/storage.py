"""Optuna's side of a study: its storage beside the run store (one SQLite connect hook with
the store), one Optuna study per arm, the trials lock, the trial attributes morec keeps, and
telling Optuna how a trial ended."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from morec_core.store import Store, StoreError
from morec_core.store.engine import SQLITE_BUSY_TIMEOUT_MS, install_sqlite_hooks
from morec_core.store.retry import retrying
from morec_core.study.studies import Study
from morec_core.study.trial_attributes import (
    REASON_ATTR,
    STATUS_ATTR,
)

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage, RDBStorage
    from optuna.trial import TrialState

    from morec_core.store import RunRecord




def optuna_storage(url: str, store: Store) -> RDBStorage:
    """Optuna's RDB storage, created under the store's lock: Optuna creates its tables without
    one, and two processes doing so at once on PostgreSQL collide.

    Without Optuna's heartbeat: its stale-trial check fails a trial on the heartbeat alone, on
    any host, and its retry copies the trial without our bookkeeping; liveness is ours (above)."""
    with store.lock("morec-optuna-schema"):
        return _open_optuna_storage(url)


def _open_optuna_storage(url: str) -> RDBStorage:
    import optuna

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not url.startswith("sqlite"):
        # A server (PostgreSQL): a connection found dead is replaced before use (pre-ping), and
        # a call made while the server is away is retried for a bounded time.
        where = make_url(url).render_as_string(hide_password=True)
        return retrying(lambda: retrying_rdb_storage_class()(
            url, engine_kwargs={"pool_pre_ping": True}, morec_where=where),
            where=where, what="opening Optuna's storage")
    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}})
    if url.startswith("sqlite"):
        # Several worker processes claim trials at once: serialise writers and let them wait,
        # instead of "database is locked" when two deferred transactions both try to write.
        install_sqlite_hooks(storage.engine, ("journal_mode = WAL",), immediate=True)
        storage.engine.dispose()  # connections opened before the hooks would lack them
    return storage


@functools.cache
def retrying_rdb_storage_class() -> Callable[..., RDBStorage]:
    """RDBStorage whose every storage call (BaseStorage's public methods: trials, attributes,
    states) is retried while the server is away (morec_core.store.retry). Optuna wraps the
    driver's error in its StorageInternalError; the retry reads the cause."""
    from optuna.storages import BaseStorage, RDBStorage

    class RetryingRDBStorage(RDBStorage):
        def __init__(self, url: str, *, morec_where: str, **kwargs: Any) -> None:
            super().__init__(url, **kwargs)
            self.morec_where = morec_where

    def retried(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: RetryingRDBStorage, *args: Any, **kwargs: Any) -> Any:
            return retrying(lambda: method(self, *args, **kwargs), where=self.morec_where,
                            what=f"Optuna's {name}")
        return wrapper

    for name, member in vars(BaseStorage).items():
        if not name.startswith("_") and callable(member):
            setattr(RetryingRDBStorage, name, retried(name, getattr(RDBStorage, name)))
    return RetryingRDBStorage


def arm_study_name(study: Study, arm: str) -> str:
    return f"{study.name}:{arm}"


def arm_study(storage: BaseStorage, study: Study, arm: str) -> optuna.Study:
    return _load_arm_study(storage, arm_study_name(study, arm))


@functools.lru_cache(maxsize=64)
def _load_arm_study(storage: BaseStorage, name: str) -> optuna.Study:
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


def trials_lock(study_name: str) -> str:
    return f"morec-trials:{study_name}"


def trial_id_of(storage: BaseStorage, optuna_study: optuna.Study, number: int) -> int:
    """A trial's storage id from its number, through the storage's public API."""
    study_id = storage.get_study_id_from_name(optuna_study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


def run_record_of(store: Store, run_id: str | None) -> RunRecord | None:
    if run_id is None:
        return None
    try:
        return store.run(run_id)
    except StoreError:
        return None  # killed before the run's first event


def tell_result(optuna_study: optuna.Study, storage: BaseStorage, trial_id: int, number: int, status: str,
                 record: RunRecord | None, reason: str = "") -> None:
    import optuna

    state = optuna.trial.TrialState
    if record is not None:
        reason = reason or record.status_reason or record.error
    if status == "completed" and record is not None and record.best_value is not None:
        tell(optuna_study, storage, trial_id, number, state.COMPLETE, status, reason,
              record.best_value)
    elif status == "pruned":
        tell(optuna_study, storage, trial_id, number, state.PRUNED, status, reason)
    else:
        # Collapsed, failed (or a run with no validation value): FAIL keeps it out of the
        # pruner's medians and the sampler's history; Optuna never retries it (a failed one is
        # queued again by requeue_failed, at the next `morec tune`).
        tell(optuna_study, storage, trial_id, number, state.FAIL, status, reason)


def tell(optuna_study: optuna.Study, storage: BaseStorage, trial_id: int, number: int, state: TrialState, status: str,
          reason: str, value: float | None = None) -> None:
    storage.set_trial_user_attr(trial_id, STATUS_ATTR, status)
    storage.set_trial_user_attr(trial_id, REASON_ATTR, reason)
    optuna_study.tell(number, value, state=state)
