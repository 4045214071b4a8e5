"""The run store: records events, answers the dashboard's and `compare`'s queries.

SQLite by default (WAL, busy_timeout, foreign keys, writes under BEGIN IMMEDIATE so that many
processes can record at once without "database is locked"); PostgreSQL by URL with the same code.
Every call opens its own short transaction; a Store may be shared by threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text, update
from sqlalchemy.orm import Session

from morec_core import events as ev
from morec_core.store.records import CurvePoint, Curves, RunRecord, StudyRecord
from morec_core.store.rows import SCHEMA_VERSION, Base, MetricRow, RunRow, SchemaRow, StudyRow

# Each migration takes a connection inside a transaction and moves the schema from version v to
# v + 1. Version 1 is the first schema: nothing to migrate yet. A new column is added here as
# `MIGRATIONS[1] = lambda conn: conn.execute(text("ALTER TABLE runs ADD COLUMN ..."))`.
MIGRATIONS: dict[int, Any] = {}

SQLITE_BUSY_TIMEOUT_MS = 60_000
HEARTBEAT_STALE_SECONDS = 300.0


class StoreError(RuntimeError):
    pass


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
    def __init__(self, url: str | os.PathLike[str]) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            database = self.url.split(":///", 1)[-1]
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._write_engine = _sqlite_engine(self.url, immediate=True)
            self._read_engine = _sqlite_engine(self.url, immediate=False)
        else:
            self._write_engine = create_engine(self.url, pool_pre_ping=True)
            self._read_engine = self._write_engine
        self._migrate()

    def close(self) -> None:
        self._write_engine.dispose()
        self._read_engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema -------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._write_engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Serialise schema creation between processes starting at once.
                conn.execute(text("SELECT pg_advisory_xact_lock(7311)"))
            Base.metadata.create_all(conn)
            row = conn.execute(select(SchemaRow.version).where(SchemaRow.id == 1)).first()
            if row is None:
                conn.execute(SchemaRow.__table__.insert().values(id=1, version=SCHEMA_VERSION))
                return
            version = row[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.url}: written by a newer morec (schema {version}, "
                                 f"this one knows {SCHEMA_VERSION}); upgrade morec")
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
            conn.execute(update(SchemaRow).where(SchemaRow.id == 1).values(version=SCHEMA_VERSION))

    def schema_version(self) -> int:
        with Session(self._read_engine) as session:
            return session.scalar(select(SchemaRow.version).where(SchemaRow.id == 1)) or 0

    # --- writing ------------------------------------------------------------------------

    def ensure_study(self, name: str, description: str = "") -> StudyRecord:
        with Session(self._write_engine) as session, session.begin():
            row = session.scalar(select(StudyRow).where(StudyRow.name == name))
            if row is None:
                row = StudyRow(name=name, description=description, created_at=time.time())
                session.add(row)
                session.flush()
            return _study_record(row)

    def record(self, event: ev.Event) -> None:
        """Write one event in one short transaction."""
        if isinstance(event, ev.Progress):
            return  # high-rate, for live displays only
        with Session(self._write_engine) as session, session.begin():
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
                if event.split == "valid" and value is not None and (
                        run.best_value is None or value > run.best_value):
                    run.best_value = value
                    run.best_epoch = event.epoch
            elif isinstance(event, ev.CheckpointSaved):
                run.checkpoint_path = event.path
            elif isinstance(event, ev.CostMeasured):
                for name in ("trainable_params", "total_params", "flops_per_sample",
                             "seconds_per_epoch", "peak_memory_bytes"):
                    value = getattr(event, name)
                    if value is not None:
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
        if self.is_sqlite:
            database = self.url.split(":///", 1)[-1]
            digest = hashlib.sha256(name.encode()).hexdigest()[:12]
            with open(f"{database}.{digest}.lock", "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self._write_engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()

    def heartbeat(self, run_id: str) -> None:
        self.record(ev.Heartbeat(run_id=run_id))

    def _record_started(self, session: Session, event: ev.RunStarted) -> None:
        study_id = None
        if event.study is not None:
            study = session.scalar(select(StudyRow).where(StudyRow.name == event.study))
            if study is None:
                study = StudyRow(name=event.study, description="", created_at=event.time)
                session.add(study)
                session.flush()
            study_id = study.id
        run = session.get(RunRow, event.run_id)
        if run is None:
            data, encoder, backbone = _labels(event.spec)
            run = RunRow(
                id=event.run_id, study_id=study_id, arm=event.arm or "",
                trial_number=event.trial_number,
                spec_json=json.dumps(event.spec, sort_keys=True), spec_key=event.spec_key,
                seed=int(event.spec.get("train", {}).get("seed", 0)),
                dataset=data, encoder=encoder, backbone=backbone,
                started_at=event.time, selection_metric=event.selection_metric,
            )
            session.add(run)
        # A resumed run starts again under the same id: it keeps its metrics and best epoch.
        run.status = "running"
        run.status_reason = ""
        run.error = ""
        run.finished_at = None
        run.host, run.pid, run.device = event.host, event.pid, event.device
        run.heartbeat_at = event.time

    def _put_metrics(self, session: Session, run_id: str, split: str, epoch: int,
                     values: dict[str, float]) -> None:
        if not values:
            return
        rows = [dict(run_id=run_id, split=split, epoch=epoch, name=name, value=float(value))
                for name, value in values.items()]
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(MetricRow).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id", "split", "epoch", "name"],
            set_={"value": statement.excluded.value},
        )
        session.execute(statement)

    def reap_dead_runs(self, stale_after_s: float = HEARTBEAT_STALE_SECONDS,
                       now: float | None = None) -> list[str]:
        """Mark `interrupted` every running run whose process is gone or whose heartbeat is stale.

        Same host: the pid is checked directly. Other hosts: only the heartbeat can tell.
        Returns the ids marked.
        """
        now = time.time() if now is None else now
        host = socket.gethostname()
        marked: list[str] = []
        with Session(self._write_engine) as session, session.begin():
            for run in session.scalars(select(RunRow).where(RunRow.status == "running")):
                gone = run.host == host and run.pid is not None and not pid_alive(run.pid)
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
        with Session(self._read_engine) as session:
            return [_study_record(row) for row in session.scalars(
                select(StudyRow).order_by(StudyRow.name))]

    def run(self, run_id: str) -> RunRecord:
        with Session(self._read_engine) as session:
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
        with Session(self._read_engine) as session:
            return [_run_record(*row) for row in session.execute(query)]

    def curves(self, run_id: str) -> Curves:
        """Every recorded series of one run, by (split, name), in epoch order."""
        query = (select(MetricRow.split, MetricRow.name, MetricRow.epoch, MetricRow.value)
                 .where(MetricRow.run_id == run_id)
                 .order_by(MetricRow.split, MetricRow.name, MetricRow.epoch))
        curves: Curves = {}
        with Session(self._read_engine) as session:
            for split, name, epoch, value in session.execute(query):
                curves.setdefault((split, name), []).append(CurvePoint(epoch=epoch, value=value))
        return curves

    def metrics(self, run_id: str, split: str, epoch: int | None = None) -> dict[str, float]:
        """One split's metrics of a run at `epoch` (default: the run's best validation epoch)."""
        with Session(self._read_engine) as session:
            if epoch is None:
                epoch = session.scalar(select(RunRow.best_epoch).where(RunRow.id == run_id))
                if epoch is None:
                    return {}
            rows = session.execute(select(MetricRow.name, MetricRow.value).where(
                MetricRow.run_id == run_id, MetricRow.split == split, MetricRow.epoch == epoch))
            return {name: value for name, value in rows}

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
        with Session(self._read_engine) as session:
            for run_id, name, value in session.execute(query):
                found.setdefault(run_id, {})[name] = value
        return found

    def run_versions(self) -> dict[str, tuple[Any, ...]]:
        """Per run id, the values that change as the run records events, in one narrow query:
        a display that polls reloads (with `run`) only the runs whose values changed.

        Every event moves the heartbeat forward or, at the end, sets `finished_at`; the other
        values guard against events stamped by a clock that is behind.
        """
        query = select(RunRow.id, RunRow.heartbeat_at, RunRow.finished_at, RunRow.status,
                       RunRow.last_epoch, RunRow.best_epoch, RunRow.best_value,
                       RunRow.seconds_per_epoch, RunRow.peak_memory_bytes)
        with Session(self._read_engine) as session:
            return {row[0]: tuple(row[1:]) for row in session.execute(query)}

    def best_run(self, study: str, spec_key: str | None = None) -> RunRecord | None:
        """The run of a study with the highest validation selection metric (never test)."""
        query = _run_query().where(StudyRow.name == study, RunRow.best_value.is_not(None))
        if spec_key is not None:
            query = query.where(RunRow.spec_key == spec_key)
        query = query.order_by(RunRow.best_value.desc(), RunRow.started_at).limit(1)
        with Session(self._read_engine) as session:
            found = session.execute(query).first()
            return None if found is None else _run_record(*found)


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


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _labels(spec: dict[str, Any]) -> tuple[str, str, str]:
    data = spec.get("data", {})
    encoder = spec.get("encoder", {})
    backbone = spec.get("backbone", {})
    dataset = data.get("source", "")
    if data.get("modality") == "image":
        dataset += "/image"  # another item set than the text view of the same source
    if data.get("warm_min_item_interactions"):
        dataset += f"/warm-{data['warm_min_item_interactions']}"
    label = encoder.get("name", "")
    if encoder.get("model"):
        label += f":{encoder['model']}"
    if encoder.get("mode") == "two_stage":
        label += "/TS" + (f"-DNN{encoder['mlp_layers']}" if encoder.get("mlp_layers") else "")
    if encoder.get("fusion", "none") != "none":
        label = f"id+{label}/{encoder['fusion']}"
    return dataset, label, backbone.get("name", "")


def _run_query() -> Any:
    return select(RunRow, StudyRow.name).outerjoin(StudyRow, RunRow.study_id == StudyRow.id)


def _run_record(row: RunRow, study: str | None) -> RunRecord:
    values = {column.key: getattr(row, column.key) for column in RunRow.__table__.columns}
    del values["study_id"]
    return RunRecord(study=study, **values)


def _study_record(row: StudyRow) -> StudyRecord:
    return StudyRecord(id=row.id, name=row.name, description=row.description,
                       created_at=row.created_at)
