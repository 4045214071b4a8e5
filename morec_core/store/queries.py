"""The store's reads: frozen records for the dashboard, `compare` and the study's workers, each
in one short session (a poll of 10,000 runs reads narrow columns, then the runs that moved).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from morec_core.run.user_results import UserResults
from morec_core.store import damage
from morec_core.store.engine import StoreError
from morec_core.store.records import CurvePoint, Curves, RunRecord, StudyRecord
from morec_core.store.rows import MetricRow, RunRow, StudyRow, UserResultRow

IDS_PER_QUERY = 500
"""Run ids bound in one `IN (...)` (SQLite allows 32,766 variables; smaller keeps plans cheap)."""
SCAN_ABOVE_RUNS = 2_000
"""Above this many runs, one scan of the metrics beats a primary-key lookup per run."""


class StoreQueries:
    """The reading half of Store (morec_core.store.store), which gives it its engine."""

    url: str
    where: str
    is_sqlite: bool
    damaged: dict[str, str]

    def _reader(self) -> Engine:
        raise NotImplementedError

    def studies(self) -> list[StudyRecord]:
        """Every readable study, by name; a damaged row is set aside (`damaged`)."""
        found = []
        with Session(self._reader()) as session:
            for row in session.scalars(select(StudyRow)):
                problem = damage.study_problem(row.name, row.description, row.created_at)
                if problem is not None:
                    self.damaged[f"study {damage.name_of(row.id)}"] = problem
                if isinstance(row.name, str) and row.name:
                    # Only a study without a name is left out; a bad description or date is
                    # read as empty, so its runs are still shown.
                    found.append(StudyRecord(
                        id=row.id, name=row.name,
                        description=row.description if isinstance(row.description, str) else "",
                        created_at=(row.created_at if damage.is_number(row.created_at)
                                    else 0.0)))
        return sorted(found, key=lambda record: record.name)

    def run(self, run_id: str) -> RunRecord:
        with Session(self._reader()) as session:
            found = session.execute(_run_query().where(RunRow.id == run_id)).first()
            if found is None:
                raise StoreError(f"no run {run_id!r} in {self.url}")
            record = self._checked(session, *found)
            if record is None:
                raise StoreError(f"run {damage.name_of(run_id)} in {self.where} is damaged: "
                                 f"{self.damaged[f'run {run_id}']}")
            return record


    def _checked(self, session: Session, row: RunRow, study: Any,
                 damaged_metrics: dict[str, str] | None = None) -> RunRecord | None:
        """The run's record, or None with the reason in `damaged`: its row, its study's name
        and (SQLite) its metric values read as morec wrote them."""
        values = {column.key: getattr(row, column.key) for column in RunRow.__table__.columns}
        problem = damage.run_problem(values)
        if problem is None and study is not None and not isinstance(study, str):
            problem = f"its study's name is {damage.shown(study)}, not text"
        if problem is None:
            if damaged_metrics is None:
                damaged_metrics = self._damaged_metrics(session, [row.id])
            problem = damaged_metrics.get(row.id) if isinstance(row.id, str) else None
        if problem is not None:
            self.damaged[f"run {damage.name_of(row.id)}"] = problem
            return None
        values = damage.cut_texts(values)
        del values["study_id"]
        return RunRecord(study=study, **values)


    def _damaged_metrics(self, session: Session, run_ids: Sequence[str] | None = None
                         ) -> dict[str, str]:
        """Run id -> its first metric value that is not a number (or an infinite test metric,
        which no evaluation gives). SQLite keeps text or a blob in a FLOAT column; a server's
        column cannot. run_ids: only those runs' metrics are read, through the primary key's
        run_id prefix (a page of runs, or one study's, in a store of a million metric rows,
        whose scan takes half a second); None: one scan of the table."""
        if not self.is_sqlite:
            return {}
        query = ("SELECT run_id, split, name, epoch, value FROM morec_metrics "
                 "WHERE (typeof(value) NOT IN ('real', 'integer', 'null') "
                 "OR typeof(name) != 'text' OR typeof(split) != 'text' "
                 "OR typeof(epoch) != 'integer' "
                 # a collapsed run's validation may hold an infinity; a test metric cannot
                 "OR (split LIKE 'test%' AND abs(value) > 1.7e308))")
        statements: list[tuple[TextClause, dict[str, Any]]]
        if run_ids is None:
            statements = [(text(query), {})]
        else:
            by_ids = text(query + " AND run_id IN :run_ids").bindparams(
                bindparam("run_ids", expanding=True))
            statements = [(by_ids, {"run_ids": list(run_ids[start:start + IDS_PER_QUERY])})
                          for start in range(0, len(run_ids), IDS_PER_QUERY)]
        found: dict[str, str] = {}
        for statement, parameters in statements:
            for bad_run, split, name, epoch, value in session.execute(statement, parameters):
                if isinstance(bad_run, str) and bad_run not in found:
                    found[bad_run] = (f"metric {damage.shown(name)} of {damage.shown(split)} "
                                      f"epoch {damage.shown(epoch)} is {damage.shown(value)}, "
                                      "not a finite number")
        return found

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
            rows = list(session.execute(query))
            # Some runs (a page, a study): their own metrics, by the primary key; most of a
            # store's runs: one scan of the table, cheaper than that many lookups.
            narrowed = (study is not None or statuses is not None or limit is not None) \
                and len(rows) <= SCAN_ABOVE_RUNS
            damaged_metrics = self._damaged_metrics(
                session, run_ids=[row[0].id for row in rows] if narrowed else None)
            records = [self._checked(session, row[0], row[1], damaged_metrics=damaged_metrics)
                       for row in rows]
        return [record for record in records if record is not None]

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
                    if not isinstance(data, bytes) or not damage.is_count(epoch):
                        raise ValueError(f"data is {damage.shown(data)}, epoch "
                                         f"{damage.shown(epoch)}")
                    found[run_id] = (epoch, UserResults.from_bytes(data))
                except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile) as error:
                    # The run stays; its paired tests cannot use it (as for an older run).
                    reason = damage.name_of(str(error))[:120]
                    self.damaged[f"per-user results of run {damage.name_of(run_id)} ({split})"] = (
                        f"unreadable ({type(error).__name__}: {reason}); `morec compare "
                        "--recompute` writes them again")
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
            for row in session.execute(query.limit(None)):
                record = self._checked(session, *row)
                if record is not None:
                    return record
        return None

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
        return self._train_seconds(run_ids, func.avg)

    def training_seconds(self, run_ids: Iterable[str]) -> dict[str, float]:
        """Total training seconds (the recorded epochs' seconds) of each run that has an epoch:
        the device time a run spent training, evaluation not counted."""
        return self._train_seconds(run_ids, func.sum)

    def _train_seconds(self, run_ids: Iterable[str], aggregate: Any) -> dict[str, float]:
        """`aggregate` (func.avg, func.sum) over each run's recorded epoch seconds."""
        ids = list(run_ids)
        if not ids:
            return {}
        query = (select(MetricRow.run_id, aggregate(MetricRow.value))
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


def _metric_value(value: Any) -> float:
    """SQLite keeps a NaN metric as NULL (morec_metrics.value); a value that is no number
    (text or a blob a foreign writer left) reads as NaN too: `runs` sets its run aside."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _run_query() -> Any:
    return select(RunRow, StudyRow.name).outerjoin(StudyRow, RunRow.study_id == StudyRow.id)


def study_record(row: StudyRow) -> StudyRecord:
    return StudyRecord(id=row.id, name=row.name, description=row.description,
                       created_at=row.created_at)
