"""The run store: SQLite by default, PostgreSQL by URL."""

# pid_alive: its home is morec_core.processes; kept here for callers of the store.
from morec_core.processes import pid_alive
from morec_core.store.engine import StoreError, StoreNotWritableError, normalize_url
from morec_core.store.liveness import run_process_alive
from morec_core.store.records import CurvePoint, Curves, RunRecord, StudyRecord
from morec_core.store.store import Store, open_for_reading

__all__ = ["CurvePoint", "Curves", "RunRecord", "Store", "StoreError", "StoreNotWritableError",
           "StudyRecord", "normalize_url", "open_for_reading", "pid_alive", "run_process_alive"]
