"""Merge one run store into another (`morec store merge`): the runs a GPU machine recorded in a
store of its own, carried back and added to the main store, with their curves, per-user results
and studies. Optuna's storage is not merged: it schedules trials, and the runs are the record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from morec_core.run.run_status import ENDED_STATUSES
from morec_core.store.rows import MetricRow, RunRow, StudyRow, UserResultRow
from morec_core.store.store import Store

MERGED_STATUSES = ENDED_STATUSES
"""Runs that ended: a queued or running run belongs to the process that will end it."""


@dataclass(frozen=True, kw_only=True)
class MergeResult:
    copied: int
    already_there: int
    """Run ids the destination holds already: left as they are."""
    unfinished: int
    """Queued or running runs of the source: not copied."""
    damaged: int = 0
    """Runs of the source whose rows cannot be read (source.damaged says why): not copied."""
    studies: int
    """Studies created in the destination."""


def _columns(row: object, *, without: tuple[str, ...] = ()) -> dict[str, object]:
    """The mapped attributes of a row, by attribute name (the constructor's keywords)."""
    return {attribute.key: getattr(row, attribute.key)
            for attribute in inspect(type(row)).column_attrs if attribute.key not in without}


def merge_stores(source: Store, destination: Store) -> MergeResult:
    """Copy every ended run of `source` whose id `destination` lacks, in one transaction of
    the destination: a failure (or a kill) copies nothing."""
    readable = {record.id for record in source.runs()}  # sets damaged rows aside, named
    # Studies as the store reads them (a bad description or date read as empty), never raw.
    studies = {record.id: record for record in source.studies()}
    with Session(source._reader()) as reading:
        runs = list(reading.scalars(select(RunRow)))
        with Session(destination._writer()) as writing, writing.begin():
            present = set(writing.scalars(select(RunRow.id)))
            names = {row.name: row.id for row in writing.scalars(select(StudyRow))}
            created = copied = already = unfinished = damaged = 0
            for run in runs:
                if run.id not in readable:
                    damaged += 1
                    continue
                if run.id in present:
                    already += 1
                    continue
                if run.status not in MERGED_STATUSES:
                    unfinished += 1
                    continue
                values = _columns(run)
                study = studies.get(run.study_id) if run.study_id is not None else None
                if study is not None and study.name not in names:
                    added = StudyRow(name=study.name, description=study.description,
                                     created_at=study.created_at)
                    writing.add(added)
                    writing.flush()
                    names[study.name] = added.id
                    created += 1
                values["study_id"] = names[study.name] if study is not None else None
                writing.add(RunRow(**values))
                writing.flush()  # the run before the rows that reference it
                for metric in reading.scalars(select(MetricRow).where(MetricRow.run_id == run.id)):
                    writing.add(MetricRow(**_columns(metric, without=("id",))))
                for result in reading.scalars(
                        select(UserResultRow).where(UserResultRow.run_id == run.id)):
                    writing.add(UserResultRow(**_columns(result)))
                copied += 1
    return MergeResult(copied=copied, already_there=already, unfinished=unfinished,
                       studies=created, damaged=damaged)
