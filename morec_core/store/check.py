"""`morec store check [--repair]`: every row the store cannot read, and moving them aside.

Moving aside never deletes what was there: the rows (a damaged run with its metrics and per-user
results, a damaged study) are written to a JSON Lines file beside the store first, and only then
removed from it, in one transaction. Bytes are kept as base64, non-finite numbers as text.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from morec_core.store.store import Store


@dataclass(frozen=True)
class Damage:
    what: str
    """'run <id>', 'study <id>' or 'per-user results of run <id> (<split>)'."""
    problem: str


def find_damage(store: Store) -> list[Damage]:
    """Read every study, run and per-user result the way readers do; what they set aside."""
    store.damaged.clear()
    store.studies()
    runs = store.runs()
    with Session(store._reader()) as session:
        splits = [row[0] for row in session.execute(
            text("SELECT DISTINCT split FROM morec_user_results")) if isinstance(row[0], str)]
    for split in splits:
        store.user_results([run.id for run in runs], split)
    return [Damage(what, problem) for what, problem in sorted(store.damaged.items())]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _rows(session: Session, table: str, column: str, key: Any) -> list[dict[str, Any]]:
    result = session.execute(text(f"SELECT * FROM {table} WHERE {column} = :key"), {"key": key})
    return [{name: _jsonable(value) for name, value in row._mapping.items()} for row in result]


def move_aside(store: Store, damage: list[Damage], folder: Path) -> tuple[Path, int]:
    """Write the damaged runs' and studies' rows to `<folder>/<store>.set-aside-<time>.jsonl`,
    then delete them from the store in one transaction; returns the file and the row count.
    Damaged per-user results go with their run row left in place (the run itself reads)."""
    run_ids = {item.what.removeprefix("run ") for item in damage if item.what.startswith("run ")}
    per_user = {tuple(item.what.split(" of run ", 1)[1].rsplit(" (", 1))
                for item in damage if item.what.startswith("per-user results of run ")}
    study_ids = {item.what.removeprefix("study ") for item in damage
                 if item.what.startswith("study ")}
    name = Path(store.where).name if store.is_sqlite else "store"
    target = folder / f"{name}.set-aside-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    records: list[dict[str, Any]] = []
    with Session(store._writer()) as session, session.begin():
        for run_id in sorted(run_ids):
            for table, column in (("morec_runs", "id"), ("morec_metrics", "run_id"),
                                  ("morec_user_results", "run_id")):
                records += [{"table": table, "row": row}
                            for row in _rows(session, table, column, run_id)]
        for run_id, split in sorted(per_user):
            split = split.rstrip(")")
            rows = _rows(session, "morec_user_results", "run_id", run_id)
            records += [{"table": "morec_user_results", "row": row}
                        for row in rows if row.get("split") == split]
        for study_id in sorted(study_ids):
            records += [{"table": "morec_studies", "row": row}
                        for row in _rows(session, "morec_studies", "id", study_id)]
        folder.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".jsonl.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)  # the copy is whole before anything is removed
        for run_id in run_ids:
            for table, column in (("morec_user_results", "run_id"), ("morec_metrics", "run_id"),
                                  ("morec_runs", "id")):
                session.execute(text(f"DELETE FROM {table} WHERE {column} = :key"),
                                {"key": run_id})
        for run_id, split in per_user:
            session.execute(text("DELETE FROM morec_user_results WHERE run_id = :run AND "
                                 "split = :split"), {"run": run_id, "split": split.rstrip(")")})
        for study_id in study_ids:
            session.execute(text("UPDATE morec_runs SET study_id = NULL WHERE study_id = :key"),
                            {"key": study_id})
            session.execute(text("DELETE FROM morec_studies WHERE id = :key"), {"key": study_id})
    return target, len(records)
