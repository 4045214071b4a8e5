"""The run store: records events, answers the dashboard's and `compare`'s queries.

SQLite by default (WAL, busy_timeout, foreign keys, writes under BEGIN IMMEDIATE so that many
processes can record at once without "database is locked"); PostgreSQL by URL with the same code.
Every call opens its own short transaction; a Store may be shared by threads.

Non-finite metric values are kept: SQLite stores NaN as NULL, PostgreSQL as NaN, and both read
back as float("nan"), so a run whose loss became NaN is recorded (and ends `collapsed`) instead
of failing on the store. `Store(url, read_only=True)` reads a store this user may not write
(a colleague's, a read-only mount) and never migrates it.

About 400 lines: the writing half of one object whose reads (queries), engines, schema, lock,
liveness, damage checks and retries live in modules of their own; what is left is one method
per kind of event written, which would only be scattered by a further split.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from morec_core.processes import alive_since, host_label
from morec_core.run import events as ev
from morec_core.run.user_results import UserResults
from morec_core.spec_labels import data_view, encoder_label, read_spec
from morec_core.store.engine import (
    POSTGRES_CONNECT_TIMEOUT_S,
    SQLITE_CANTOPEN,
    SQLITE_READONLY,
    StoreError,
    StoreNotWritableError,
    normalize_url,
    open_problem,
    quick_check,
    sqlite_code,
    sqlite_engine,
    sqlite_read_only_engine,
)
from morec_core.store.liveness import HEARTBEAT_STALE_SECONDS
from morec_core.store.lock import named_lock
from morec_core.store.queries import StoreQueries, study_record
from morec_core.store.records import StudyRecord
from morec_core.store.retry import retry_methods
from morec_core.store.rows import MetricRow, RunRow, SchemaRow, StudyRow, UserResultRow
from morec_core.store.schema import check_schema, migrate

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert


def open_for_reading(url: str | os.PathLike[str]) -> Store:
    """The store for a reader (`morec compare`, the dashboard): writable where this user may
    write it (so it migrates and dead runs are marked), else read-only."""
    try:
        return Store(url)
    except StoreNotWritableError:
        return Store(url, read_only=True)


class Store(StoreQueries):
    def __init__(self, url: str | os.PathLike[str], *, read_only: bool = False) -> None:
        """Open the store at `url`, creating or migrating its schema unless `read_only`.

        read_only: never migrate or write (a store this user may not write, e.g. one shared
        read-only); the writing methods raise StoreError. Failing to open raises StoreError,
        one line naming the store, never a driver's traceback.
        """
        self.url = normalize_url(url)
        self.read_only = read_only
        self.damaged: dict[str, str] = {}
        """Rows set aside by the reads so far: 'run <id>' or 'study <id>' -> what is wrong
        (damage.damage_lines prints them). A reader shows the rest."""
        self.is_sqlite = self.url.startswith("sqlite")
        parsed = make_url(self.url)
        self._database = (parsed.database or "") if self.is_sqlite else ""
        # What messages name: the file, or the URL without its password.
        self.where = (self._database if self.is_sqlite
                      else parsed.render_as_string(hide_password=True))
        self._write_engine: Engine | None = None
        self._read_engine: Engine | None = None
        try:
            with self._open_errors():
                self._write_engine, self._read_engine = (
                    self._open_sqlite() if self.is_sqlite else self._open_server())
                if self.is_sqlite:
                    quick_check(self._reader(), self.where)
                if read_only:
                    check_schema(self._reader(), self.where)
                else:
                    migrate(self._writer(), self.where)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for engine in (self._write_engine, self._read_engine):
            if engine is not None:
                engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- opening ------------------------------------------------------------------------

    def _open_sqlite(self) -> tuple[Engine | None, Engine]:
        database = self._database
        in_memory = database in ("", ":memory:")
        if self.read_only:
            if in_memory:
                raise StoreError("an in-memory store starts empty: it cannot be read-only")
            if not Path(database).is_file():
                raise StoreError(f"store {database} does not exist")
            return None, sqlite_read_only_engine(database)
        if not in_memory:
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the folder of store {database}: "
                                 f"{error.strerror or error}") from None
        return (sqlite_engine(self.url, immediate=True),
                sqlite_engine(self.url, immediate=False))

    def _open_server(self) -> tuple[Engine | None, Engine]:
        parsed = make_url(self.url)
        connect_args: dict[str, Any] = {}
        if parsed.get_driver_name() in ("psycopg", "psycopg2"):
            if "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
            if self.read_only:
                # The server refuses writes too, whatever a caller does with the engine.
                connect_args["options"] = "-c default_transaction_read_only=on"
        engine = create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
        return (None if self.read_only else engine), engine

    @contextlib.contextmanager
    def _open_errors(self) -> Iterator[None]:
        """Driver errors while opening become one StoreError line naming the store."""
        try:
            yield
        except StoreError:
            raise
        except (SQLAlchemyError, sqlite3.Error, OSError) as error:
            original = getattr(error, "orig", None) or error
            unwritable = (not self.read_only and isinstance(original, sqlite3.Error)
                          and sqlite_code(original) in (SQLITE_READONLY, SQLITE_CANTOPEN))
            raise (StoreNotWritableError if unwritable else StoreError)(
                f"cannot open store {self.where}: "
                f"{open_problem(error, self.where, self.read_only)}") from None

    def _writer(self) -> Engine:
        if self._write_engine is None:
            raise StoreError(f"store {self.where} is open read-only")
        return self._write_engine

    def _reader(self) -> Engine:
        assert self._read_engine is not None, "used after a failed open"
        return self._read_engine

    def schema_version(self) -> int:
        with Session(self._reader()) as session:
            return session.scalar(select(SchemaRow.version).where(SchemaRow.id == 1)) or 0

    # --- writing ------------------------------------------------------------------------

    def ensure_study(self, name: str, description: str = "") -> StudyRecord:
        with Session(self._writer()) as session, session.begin():
            row = session.scalar(select(StudyRow).where(StudyRow.name == name))
            if row is None:
                row = StudyRow(name=name, description=description, created_at=time.time())
                session.add(row)
                session.flush()
            return study_record(row)

    def record(self, event: ev.Event) -> None:
        """Write one event in one short transaction."""
        writer = self._writer()
        if isinstance(event, ev.Progress):
            return  # high-rate, for live displays only
        with Session(writer) as session, session.begin():
            if isinstance(event, ev.RunStarted):
                self._record_started(session, event)
                return
            run = session.get(RunRow, event.run_id)
            if run is None:
                raise StoreError(f"{type(event).__name__} for unknown run {event.run_id}; "
                                 "a run must start with RunStarted")
            run.heartbeat_at = max(run.heartbeat_at, event.time)
            if isinstance(event, ev.EpochEnded):
                run.last_epoch = event.epoch
                points = {"loss": event.loss, "seconds": event.seconds}
                points.update({f"lr_{group}": lr for group, lr in event.learning_rates.items()})
                self._put_metrics(session, run.id, "train", event.epoch, points)
            elif isinstance(event, ev.Evaluated):
                self._put_metrics(session, run.id, event.split, event.epoch, event.metrics)
                run.protocol = event.protocol
                value = event.metrics.get(run.selection_metric)
                # A NaN or infinite value is never a best epoch (a NaN compares false anyway,
                # but would have been taken as the first best).
                new_best = (event.split == "valid" and value is not None and math.isfinite(value)
                            and (run.best_value is None or value > run.best_value))
                if new_best:
                    run.best_value = value
                    run.best_epoch = event.epoch
                # Validation per user only at the best epoch (the one the test split is read at).
                if event.per_user is not None and (event.split != "valid" or new_best):
                    self._put_user_results(session, run.id, event.split, event.epoch,
                                           event.per_user)
            elif isinstance(event, ev.CheckpointSaved):
                run.checkpoint_path = event.path
            elif isinstance(event, ev.CostMeasured):
                for name in ("trainable_params", "total_params", "flops_per_sample",
                             "seconds_per_epoch", "peak_memory_bytes"):
                    value = getattr(event, name)
                    # Unknown stays NULL; a non-finite cost is no measurement either (and SQLite
                    # would store a NaN as NULL, PostgreSQL as NaN: two readings of one event).
                    if value is not None and math.isfinite(value):
                        setattr(run, name, value)
            elif isinstance(event, ev.RunFinished):
                run.status = event.status
                run.status_reason = event.reason
                run.finished_at = event.time
                if event.best_epoch is not None:
                    run.best_epoch = event.best_epoch
            elif isinstance(event, ev.RunFailed):
                run.status = "failed"
                run.error = event.error
                run.finished_at = event.time

    def __call__(self, event: ev.Event) -> None:
        """A Store is a sink."""
        self.record(event)

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """Hold an exclusive lock across processes and machines sharing this store (a study's
        claims of trials): morec_core.store.lock."""
        # A lock guards writes: none on a read-only store.
        return named_lock(self._writer(), name, self._database if self.is_sqlite else None,
                          where=self.where)

    def heartbeat(self, run_id: str) -> None:
        self.record(ev.Heartbeat(run_id=run_id))

    def create_run(self, run_id: str, spec: dict[str, Any], spec_key: str, *, status: str,
                   study: str | None = None, arm: str | None = None,
                   trial_number: int | None = None, selection_metric: str = "") -> None:
        """The row of a run before its first event (`launch.queue_run`: `queued`, no process
        yet; `launch.execute`: `starting`, this process, loading data). An existing row keeps
        its results; only a `queued` one moves on to `starting`."""
        if status not in ("queued", "starting"):
            raise ValueError(f"create_run: status {status!r} is not queued or starting")
        now = time.time()
        with Session(self._writer()) as session, session.begin():
            run = session.get(RunRow, run_id)
            if run is None:
                run = self._new_run(session, run_id, spec, spec_key, study=study, arm=arm,
                                    trial_number=trial_number,
                                    selection_metric=selection_metric, now=now)
                run.status = status
            elif status == "starting" and run.status == "queued":
                run.status = status
            if status == "starting" and run.status == "starting":
                run.host, run.pid, run.heartbeat_at = host_label(), os.getpid(), now

    def end_queued_run(self, run_id: str, status: str, reason: str) -> bool:
        """A queued run whose job ended before any process started it (cancelled, or its runner
        failed): `cancelled` or `failed` with the reason. False when the run had started."""
        if status not in ("cancelled", "failed"):
            raise ValueError(f"end_queued_run: status {status!r} is not cancelled or failed")
        with Session(self._writer()) as session, session.begin():
            run = session.get(RunRow, run_id)
            if run is None or run.status != "queued":
                return False
            run.status, run.finished_at = status, time.time()
            if status == "failed":
                run.error = reason
            else:
                run.status_reason = reason
            return True

    def _new_run(self, session: Session, run_id: str, spec: dict[str, Any], spec_key: str, *,
                 study: str | None, arm: str | None, trial_number: int | None,
                 selection_metric: str, now: float) -> RunRow:
        study_id = None
        if study is not None:
            found = session.scalar(select(StudyRow).where(StudyRow.name == study))
            if found is None:
                found = StudyRow(name=study, description="", created_at=now)
                session.add(found)
                session.flush()
            study_id = found.id
        recorded = read_spec(spec)
        run = RunRow(
            id=run_id, study_id=study_id, arm=arm or "", trial_number=trial_number,
            spec_json=json.dumps(spec, sort_keys=True), spec_key=spec_key,
            seed=recorded.seed, dataset=data_view(recorded), encoder=encoder_label(recorded),
            backbone=recorded.backbone.name, started_at=now, heartbeat_at=now, status="queued",
            selection_metric=selection_metric)
        session.add(run)
        return run

    def _record_started(self, session: Session, event: ev.RunStarted) -> None:
        run = session.get(RunRow, event.run_id)
        if run is None:
            run = self._new_run(session, event.run_id, event.spec, event.spec_key,
                                study=event.study, arm=event.arm,
                                trial_number=event.trial_number,
                                selection_metric=event.selection_metric, now=event.time)
        # A queued run is started now; a resumed one keeps its first start.
        if run.status in ("queued", "starting"):
            run.started_at = event.time
        # A resumed run starts again under the same id: it keeps its metrics and best epoch.
        run.status = "running"
        run.status_reason = ""
        run.error = ""
        run.finished_at = None
        run.host, run.pid, run.device = event.host, event.pid, event.device
        run.heartbeat_at = event.time
        if event.data_fingerprint:
            run.data_fingerprint = event.data_fingerprint

    def _put_metrics(self, session: Session, run_id: str, split: str, epoch: int,
                     values: dict[str, float]) -> None:
        if not values:
            return
        rows = [dict(run_id=run_id, split=split, epoch=epoch, name=name, value=float(value))
                for name, value in values.items()]
        # Each dialect has its own INSERT ... ON CONFLICT construct; the two are used alike.
        statement: PostgresInsert | SqliteInsert
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as postgres_insert
            statement = postgres_insert(MetricRow).values(rows)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert
            statement = sqlite_insert(MetricRow).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id", "split", "epoch", "name"],
            set_={"value": statement.excluded.value},
        )
        session.execute(statement)

    def _put_user_results(self, session: Session, run_id: str, split: str, epoch: int,
                          results: UserResults) -> None:
        row = session.get(UserResultRow, (run_id, split))
        if row is None:
            row = UserResultRow(run_id=run_id, split=split)
            session.add(row)
        row.epoch, row.users, row.data = epoch, len(results), results.to_bytes()

    def put_user_results(self, run_id: str, split: str, epoch: int,
                         results: UserResults) -> None:
        """Record (or replace) one split's per-user results: `morec compare --recompute`."""
        with Session(self._writer()) as session, session.begin():
            self._put_user_results(session, run_id, split, epoch, results)

    def reap_dead_runs(self, stale_after_s: float = HEARTBEAT_STALE_SECONDS,
                       now: float | None = None) -> list[str]:
        """Mark `interrupted` every starting or running run whose process is gone or whose
        heartbeat is stale (resumable with `morec run --resume`).

        Same host: the pid is checked directly. Other hosts: only the heartbeat can tell.
        Returns the ids marked. A `queued` run has no process yet: its job says how it ended.
        """
        now = time.time() if now is None else now
        host = host_label()
        marked: list[str] = []
        with Session(self._writer()) as session, session.begin():
            for run in session.scalars(select(RunRow).where(
                    RunRow.status.in_(("starting", "running")))):
                # Alive since its last heartbeat: a pid reused by another process is no proof.
                gone = (run.host == host and run.pid is not None
                        and not alive_since(run.pid, run.heartbeat_at))
                stale = now - run.heartbeat_at > stale_after_s
                if gone or stale:
                    run.status = "interrupted"
                    run.status_reason = ("process gone" if gone else
                                         f"no heartbeat for {now - run.heartbeat_at:.0f} s")
                    run.finished_at = now
                    marked.append(run.id)
        return marked



# A server that went away (PostgreSQL restarting): these are run again for a bounded time.
retry_methods(Store, (
    # writes (each one transaction of upserts: safe to run again, morec_core.store.retry)
    "ensure_study", "record", "create_run", "end_queued_run", "put_user_results",
    "reap_dead_runs", "schema_version",
    # reads
    "studies", "run", "runs", "curves", "metrics", "best_epoch_metrics", "user_results",
    "run_versions", "best_run", "recent_run_versions", "epoch_seconds", "training_seconds",
))
