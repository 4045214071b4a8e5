"""The run store: SQLite by default, PostgreSQL by URL."""

from morec_core.store.records import CurvePoint, Curves, RunRecord, StudyRecord
from morec_core.store.store import (
    Store,
    StoreError,
    StoreNotWritableError,
    normalize_url,
    open_for_reading,
    pid_alive,
)

__all__ = ["CurvePoint", "Curves", "RunRecord", "Store", "StoreError", "StoreNotWritableError",
           "StudyRecord", "normalize_url", "open_for_reading", "pid_alive"]
