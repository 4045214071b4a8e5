"""The run store: SQLite by default, PostgreSQL by URL."""

from morec_core.store.records import CurvePoint, Curves, RunRecord, StudyRecord
from morec_core.store.store import Store, StoreError, normalize_url, pid_alive

__all__ = ["CurvePoint", "Curves", "RunRecord", "Store", "StoreError", "StudyRecord",
           "normalize_url", "pid_alive"]
