"""The run store: records events, answers the dashboard's and `compare`'s queries.

SQLite by default (WAL, busy_timeout, foreign keys, writes under BEGIN IMMEDIATE so that many
processes can record at once without "database is locked"); PostgreSQL by URL with the same code.
Every call opens its own short transaction; a Store may be shared by threads.

Non-finite metric values are kept: SQLite stores NaN as NULL, PostgreSQL as NaN, and both read
back as float("nan"), so a run whose loss became NaN is recorded (and ends `collapsed`) instead
of failing on the store. `Store(url, read_only=True)` reads a store this user may not write
(a colleague's, a read-only mount) and never migrates it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import socket
import sqlite3
import time
import urllib.parse
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from morec_core import events as ev
from morec_core.processes import alive_since
from morec_core.spec_labels import data_view, encoder_label, read_spec
from morec_core.store.records import CurvePoint, Curves, RunRecord, StudyRecord
from morec_core.store.rows import (
    SCHEMA_VERSION,
    Base,
    MetricRow,
    RunRow,
    SchemaRow,
    StudyRow,
    UserResultRow,
)
from morec_core.user_results import UserResults

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

# morec_metrics as schema 3 made it. Frozen here rather than read from MetricRow: a later
# migration that changes MetricRow must not change what the 2 -> 3 step builds.
_METRICS_TABLE_V3 = """CREATE TABLE {name} (
    id INTEGER NOT NULL,
    run_id VARCHAR(32) NOT NULL,
    split VARCHAR(30) NOT NULL,
    epoch INTEGER NOT NULL,
    name VARCHAR(50) NOT NULL,
    value FLOAT,
    PRIMARY KEY (id),
    CONSTRAINT uq_metric_point UNIQUE (run_id, split, epoch, name),
    FOREIGN KEY(run_id) REFERENCES morec_runs (id) ON DELETE CASCADE
)"""


def _metric_values_nullable(conn: Connection) -> None:
    """2 -> 3: morec_metrics.value may be NULL, the NaN of SQLite (a NaN loss failed the run
    with "NOT NULL constraint failed: morec_metrics.value")."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE morec_metrics ALTER COLUMN value DROP NOT NULL"))
        return
    # SQLite cannot drop NOT NULL in place: build the new table, copy, drop, rename
    # (https://sqlite.org/lang_altertable.html#otheralter). The unique constraint is part of the
    # new table; foreign keys stay on, as no table refers to morec_metrics. Rows of runs deleted
    # with foreign keys off (the sqlite3 shell's default) could not be inserted and were never
    # readable: they are left behind.
    conn.execute(text(_METRICS_TABLE_V3.format(name="morec_metrics_new")))
    conn.execute(text(
        "INSERT INTO morec_metrics_new (id, run_id, split, epoch, name, value) "
        "SELECT id, run_id, split, epoch, name, value FROM morec_metrics "
        "WHERE run_id IN (SELECT id FROM morec_runs)"))
    conn.execute(text("DROP TABLE morec_metrics"))
    conn.execute(text("ALTER TABLE morec_metrics_new RENAME TO morec_metrics"))


def _add_data_fingerprints(conn: Connection) -> None:
    """3 -> 4: morec_runs.data_fingerprint; runs recorded before have none (''). A store whose
    table has it already (made by this morec's create_all, then set back) is left as it is."""
    if "data_fingerprint" in {column["name"] for column in inspect(conn).get_columns("morec_runs")}:
        return
    conn.execute(text("ALTER TABLE morec_runs ADD COLUMN data_fingerprint TEXT NOT NULL "
                      "DEFAULT ''"))


# Each migration takes a connection inside a transaction and moves the schema from version v to
# v + 1. New tables are made by create_all before the migrations run; a new column is added here
# as `MIGRATIONS[v] = lambda conn: conn.execute(text("ALTER TABLE morec_runs ADD COLUMN ..."))`.
MIGRATIONS: dict[int, Any] = {
    # 1 -> 2: the morec_user_results table (created by create_all); runs recorded before it
    # have none, and `morec compare --recompute` evaluates them again from their checkpoints.
    1: lambda conn: None,
    2: _metric_values_nullable,
    3: _add_data_fingerprints,
}

SQLITE_BUSY_TIMEOUT_MS = 60_000
POSTGRES_CONNECT_TIMEOUT_S = 3
"""Per attempt (libpq tries twice under sslmode=prefer). libpq's default is to wait for ever on a
server that does not answer; an unreachable one should fail `Store(...)` while the user still
watches. A `connect_timeout` in the URL wins."""
HEARTBEAT_STALE_SECONDS = 300.0

# Primary SQLite result codes (https://sqlite.org/rescode.html) behind the open errors we explain.
_SQLITE_CORRUPT, _SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 8, 14, 26


class StoreError(RuntimeError):
    pass


class StoreNotWritableError(StoreError):
    """This user cannot write the store (file or folder): it can still be opened read-only."""


def open_for_reading(url: str | os.PathLike[str]) -> Store:
    """The store for a reader (`morec compare`, the dashboard): writable where this user may
    write it (so it migrates and dead runs are marked), else read-only."""
    try:
        return Store(url)
    except StoreNotWritableError:
        return Store(url, read_only=True)


def normalize_url(url_or_path: str | os.PathLike[str]) -> str:
    """A database URL, or a plain file path taken as SQLite. postgresql:// means psycopg 3
    (the `postgres` extra), not SQLAlchemy's default psycopg2."""
    text_url = str(url_or_path)
    if text_url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text_url.split("://", 1)[1]
    if "://" in text_url:
        return text_url
    return f"sqlite:///{Path(text_url).expanduser().resolve()}"


class Store:
    def __init__(self, url: str | os.PathLike[str], *, read_only: bool = False) -> None:
        """Open the store at `url`, creating or migrating its schema unless `read_only`.

        read_only: never migrate or write (a store this user may not write, e.g. one shared
        read-only); the writing methods raise StoreError. Failing to open raises StoreError,
        one line naming the store, never a driver's traceback.
        """
        self.url = normalize_url(url)
        self.read_only = read_only
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
                    self._quick_check()
                if read_only:
                    self._check_schema()
                else:
                    self._migrate()
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
            return None, _sqlite_read_only_engine(database)
        if not in_memory:
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the folder of store {database}: "
                                 f"{error.strerror or error}") from None
        return (_sqlite_engine(self.url, immediate=True),
                _sqlite_engine(self.url, immediate=False))

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
                          and _sqlite_code(original) in (_SQLITE_READONLY, _SQLITE_CANTOPEN))
            raise (StoreNotWritableError if unwritable else StoreError)(
                f"cannot open store {self.where}: "
                f"{_open_problem(error, self.where, self.read_only)}") from None

    def _quick_check(self) -> None:
        """A damaged page otherwise shows only when a query reads it, perhaps mid-run; this
        reads every page once (about 0.1 s per 100 MB of store, from the page cache)."""
        with self._reader().connect() as conn:
            found = conn.exec_driver_sql("PRAGMA quick_check").scalars().all()
        if found != ["ok"]:
            lines = [line for row in found for line in str(row).splitlines()
                     if line.strip() and not line.startswith("***")]
            raise StoreError(f"store {self.where} is damaged (SQLite quick_check: "
                             f"{lines[0] if lines else found[0]}); restore it from a backup, "
                             f"or save what is readable with `sqlite3 {self.where} .recover`")

    # --- schema -------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._writer().begin() as conn:
            if conn.dialect.name == "postgresql":
                # Serialise schema creation between processes starting at once.
                conn.execute(text("SELECT pg_advisory_xact_lock(7311)"))
            Base.metadata.create_all(conn)
            row = conn.execute(select(SchemaRow.version).where(SchemaRow.id == 1)).first()
            if row is None:
                conn.execute(insert(SchemaRow).values(id=1, version=SCHEMA_VERSION))
                return
            version = row[0]
            if version > SCHEMA_VERSION:
                raise StoreError(self._newer_schema(version))
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
            conn.execute(update(SchemaRow).where(SchemaRow.id == 1).values(version=SCHEMA_VERSION))

    def _check_schema(self) -> None:
        """Read-only: the schema must be this morec's, as nothing may migrate it."""
        with self._reader().connect() as conn:
            version = None
            if inspect(conn).has_table(SchemaRow.__tablename__):
                version = conn.execute(select(SchemaRow.version).where(SchemaRow.id == 1)).scalar()
        if version is None:
            raise StoreError(f"store {self.where} holds no morec schema (not a morec store, "
                             "or never written)")
        if version > SCHEMA_VERSION:
            raise StoreError(self._newer_schema(version))
        if version < SCHEMA_VERSION:
            raise StoreError(f"store {self.where} is at schema {version}; open it once writable "
                             f"to migrate (this morec reads schema {SCHEMA_VERSION})")

    def _newer_schema(self, version: int) -> str:
        return (f"store {self.where} was written by a newer morec (schema {version}, this one "
                f"knows {SCHEMA_VERSION}); upgrade morec")

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
            return _study_record(row)

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

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold an exclusive lock across processes and machines sharing this store.

        PostgreSQL: an advisory lock. SQLite (one machine by nature): an flock on a file beside
        the database, which leaves the database itself free for writers, this process's too.
        """
        writer = self._writer()  # a lock guards writes: none on a read-only store
        if self.is_sqlite:
            database = self._database
            digest = hashlib.sha256(name.encode()).hexdigest()[:12]
            with open(f"{database}.{digest}.lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with writer.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()

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
                run.host, run.pid, run.heartbeat_at = socket.gethostname(), os.getpid(), now

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
        host = socket.gethostname()
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

    # --- reading ------------------------------------------------------------------------

    def studies(self) -> list[StudyRecord]:
        with Session(self._reader()) as session:
            return [_study_record(row) for row in session.scalars(
                select(StudyRow).order_by(StudyRow.name))]

    def run(self, run_id: str) -> RunRecord:
        with Session(self._reader()) as session:
            found = session.execute(_run_query().where(RunRow.id == run_id)).first()
            if found is None:
                raise StoreError(f"no run {run_id!r} in {self.url}")
            return _run_record(*found)

    def runs(self, study: str | None = None, statuses: Iterable[str] | None = None,
             limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first, optionally of one study and some statuses."""
        query = _run_query()
        if study is not None:
            query = query.where(StudyRow.name == study)
        if statuses is not None:
            query = query.where(RunRow.status.in_(list(statuses)))
        query = query.order_by(RunRow.started_at.desc())
        if limit is not None:
            query = query.limit(limit)
        with Session(self._reader()) as session:
            return [_run_record(*row) for row in session.execute(query)]

    def curves(self, run_id: str) -> Curves:
        """Every recorded series of one run, by (split, name), in epoch order."""
        query = (select(MetricRow.split, MetricRow.name, MetricRow.epoch, MetricRow.value)
                 .where(MetricRow.run_id == run_id)
                 .order_by(MetricRow.split, MetricRow.name, MetricRow.epoch))
        curves: Curves = {}
        with Session(self._reader()) as session:
            for split, name, epoch, value in session.execute(query):
                curves.setdefault((split, name), []).append(
                    CurvePoint(epoch=epoch, value=_metric_value(value)))
        return curves

    def metrics(self, run_id: str, split: str, epoch: int | None = None) -> dict[str, float]:
        """One split's metrics of a run at `epoch` (default: the run's best validation epoch)."""
        with Session(self._reader()) as session:
            if epoch is None:
                epoch = session.scalar(select(RunRow.best_epoch).where(RunRow.id == run_id))
                if epoch is None:
                    return {}
            rows = session.execute(select(MetricRow.name, MetricRow.value).where(
                MetricRow.run_id == run_id, MetricRow.split == split, MetricRow.epoch == epoch))
            return {name: _metric_value(value) for name, value in rows}

    def best_epoch_metrics(self, split: str, study: str | None = None) -> dict[str, dict[str, float]]:
        """`metrics(run, split)` of every run (of one study) in one query: run id -> {name: value}.

        The runs screen shows test metrics of a thousand runs; one query per run would not do.
        Runs without a best epoch or without that split are absent.
        """
        query = (select(MetricRow.run_id, MetricRow.name, MetricRow.value)
                 .join(RunRow, (MetricRow.run_id == RunRow.id)
                       & (MetricRow.epoch == RunRow.best_epoch))
                 .where(MetricRow.split == split))
        if study is not None:
            query = query.join(StudyRow, RunRow.study_id == StudyRow.id).where(StudyRow.name == study)
        found: dict[str, dict[str, float]] = {}
        with Session(self._reader()) as session:
            for run_id, name, value in session.execute(query):
                found.setdefault(run_id, {})[name] = _metric_value(value)
        return found

    def user_results(self, run_ids: Iterable[str],
                     split: str) -> dict[str, tuple[int, UserResults]]:
        """Per-user results of one split of several runs: run id -> (epoch, results). Runs
        recorded before per-user results existed (or still running) are absent."""
        ids = list(run_ids)
        found: dict[str, tuple[int, UserResults]] = {}
        if not ids:
            return found
        query = select(UserResultRow.run_id, UserResultRow.epoch, UserResultRow.data).where(
            UserResultRow.run_id.in_(ids), UserResultRow.split == split)
        with Session(self._reader()) as session:
            for run_id, epoch, data in session.execute(query):
                try:
                    found[run_id] = (epoch, UserResults.from_bytes(data))
                except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
                    raise StoreError(f"{self.url}: per-user results of run {run_id} ({split}) "
                                     f"are unreadable ({type(error).__name__}); re-run "
                                     "`morec compare --recompute`") from None
        return found

    def run_versions(self) -> dict[str, tuple[Any, ...]]:
        """Per run id, the values that change as the run records events, in one narrow query:
        a display that polls reloads (with `run`) only the runs whose values changed.

        Every event moves the heartbeat forward or, at the end, sets `finished_at`; the other
        values guard against events stamped by a clock that is behind.
        """
        with Session(self._reader()) as session:
            return {row[0]: tuple(row[1:]) for row in session.execute(_version_query())}

    def best_run(self, study: str, spec_key: str | None = None) -> RunRecord | None:
        """The run of a study with the highest validation selection metric (never test)."""
        query = _run_query().where(StudyRow.name == study, RunRow.best_value.is_not(None))
        if spec_key is not None:
            query = query.where(RunRow.spec_key == spec_key)
        query = query.order_by(RunRow.best_value.desc(), RunRow.started_at).limit(1)
        with Session(self._reader()) as session:
            found = session.execute(query).first()
            return None if found is None else _run_record(*found)

    def recent_run_versions(self, since: float) -> tuple[int, dict[str, tuple[Any, ...]]]:
        """The number of runs, and run_versions() of those whose heartbeat or end is at or
        after `since`: a poll of 10,000 runs reads the few that move, not all (run_versions
        takes some 90 ms there). A run whose clock stamps events before `since` is not in it;
        a caller reads run_versions() now and then to catch those."""
        query = _version_query().where((RunRow.heartbeat_at >= since)
                                       | (RunRow.finished_at >= since))
        with Session(self._reader()) as session:
            count = session.scalar(select(func.count()).select_from(RunRow)) or 0
            return count, {row[0]: tuple(row[1:]) for row in session.execute(query)}


    def epoch_seconds(self, run_ids: Iterable[str]) -> dict[str, float]:
        """Mean seconds per epoch so far (the EpochEnded times) of each run that has an epoch:
        what a running run's cost column shows before its CostMeasured at the end."""
        ids = list(run_ids)
        if not ids:
            return {}
        query = (select(MetricRow.run_id, func.avg(MetricRow.value))
                 .where(MetricRow.run_id.in_(ids), MetricRow.split == "train",
                        MetricRow.name == "seconds")
                 .group_by(MetricRow.run_id))
        with Session(self._reader()) as session:
            return {run_id: float(value) for run_id, value in session.execute(query)
                    if value is not None}

    def training_seconds(self, run_ids: Iterable[str]) -> dict[str, float]:
        """Total training seconds (the recorded epochs' seconds) of each run that has an epoch:
        the device time a run spent training, evaluation not counted."""
        ids = list(run_ids)
        if not ids:
            return {}
        query = (select(MetricRow.run_id, func.sum(MetricRow.value))
                 .where(MetricRow.run_id.in_(ids), MetricRow.split == "train",
                        MetricRow.name == "seconds")
                 .group_by(MetricRow.run_id))
        with Session(self._reader()) as session:
            return {run_id: float(value) for run_id, value in session.execute(query)
                    if value is not None}


def _version_query() -> Any:
    """What run_versions reads: the id, then the values that change as a run records events."""
    return select(RunRow.id, RunRow.heartbeat_at, RunRow.finished_at, RunRow.status,
                  RunRow.last_epoch, RunRow.best_epoch, RunRow.best_value,
                  RunRow.seconds_per_epoch, RunRow.peak_memory_bytes)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see `_on_begin`).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes cannot wait for the lock in WAL
        # mode (SQLITE_BUSY at once); writers take the lock up front so busy_timeout applies.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _sqlite_read_only_engine(database: str) -> Engine:
    """An engine that never writes the file, nor creates its -wal or -shm.

    mode=ro reads a WAL store whose -shm it can use: one in a folder this user may write, or one a
    writer has open now. A WAL store in a read-only folder with no writer has no -shm, and SQLite
    cannot make one: that connection opens with immutable=1 (no locks, no -wal read). As a writer
    may open the store later, and an immutable connection would not see its writes, connections
    are not pooled: each one chooses again.
    """
    location = "file:" + urllib.parse.quote(database)

    def open_file(query: str) -> sqlite3.Connection:
        return sqlite3.connect(location + query, uri=True, check_same_thread=False,
                               timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)

    def connect() -> sqlite3.Connection:
        connection = open_file("?mode=ro")
        try:
            # The -shm is needed (and found missing) at the first read, not at connect.
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return connection
        except sqlite3.OperationalError as error:
            connection.close()
            if _sqlite_code(error) not in (_SQLITE_READONLY, _SQLITE_CANTOPEN):
                raise
        return open_file("?mode=ro&immutable=1")

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")  # one snapshot per session, as on the writable engine

    return engine


def _sqlite_code(error: sqlite3.Error) -> int:
    """The primary result code (https://sqlite.org/rescode.html); 0 for pysqlite's own errors."""
    return (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF


def _open_problem(error: BaseException, where: str, read_only: bool) -> str:
    """One line: the driver's message, and for the usual SQLite cases what to do."""
    original = getattr(error, "orig", None) or error
    message = " ".join(line.strip() for line in str(original).splitlines() if line.strip())
    if not isinstance(original, sqlite3.Error):
        return message or type(original).__name__
    code = _sqlite_code(original)
    if code == _SQLITE_NOTADB:
        return f"{message} (not an SQLite file, or its header is damaged)"
    if code == _SQLITE_CORRUPT:
        return (f"{message}; restore it from a backup, or save what is readable with "
                f"`sqlite3 {where} .recover`")
    if code in (_SQLITE_READONLY, _SQLITE_CANTOPEN) and not read_only:
        return (f"{message}: this user cannot write the file or its folder; fix the "
                "permissions, or open the store read-only")
    return message


def _metric_value(value: float | None) -> float:
    """SQLite keeps a NaN metric as NULL (morec_metrics.value)."""
    return math.nan if value is None else value


def run_process_alive(record: RunRecord, now: float | None = None) -> bool:
    """Whether the process that records a run (`starting`, `running`, or reaped as
    `interrupted` for a stale heartbeat) is still at it: on this host, its pid, started before
    the run's last heartbeat (a reused pid does not count); on another, a heartbeat younger than
    the stale limit. `morec run --resume` refuses such a run."""
    if record.status not in ("starting", "running", "interrupted") or record.pid is None:
        return False
    if record.host == socket.gethostname():
        return alive_since(record.pid, record.heartbeat_at)
    now = time.time() if now is None else now
    return record.status != "interrupted" and now - record.heartbeat_at <= HEARTBEAT_STALE_SECONDS


def _run_query() -> Any:
    return select(RunRow, StudyRow.name).outerjoin(StudyRow, RunRow.study_id == StudyRow.id)


def _run_record(row: RunRow, study: str | None) -> RunRecord:
    values = {column.key: getattr(row, column.key) for column in RunRow.__table__.columns}
    del values["study_id"]
    return RunRecord(study=study, **values)


def _study_record(row: StudyRow) -> StudyRecord:
    return StudyRecord(id=row.id, name=row.name, description=row.description,
                       created_at=row.created_at)
