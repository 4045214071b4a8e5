"""Whether the process that records a run is still at it, and when a heartbeat is stale."""

from __future__ import annotations

import time

from morec_core.processes import alive_since, host_label
from morec_core.store.records import RunRecord

HEARTBEAT_STALE_SECONDS = 300.0



def run_process_alive(record: RunRecord, now: float | None = None) -> bool:
    """Whether the process that records a run (`starting`, `running`, or reaped as
    `interrupted` for a stale heartbeat) is still at it: on this host, its pid, started before
    the run's last heartbeat (a reused pid does not count); on another, a heartbeat younger than
    the stale limit. `morec run --resume` refuses such a run."""
    if record.status not in ("starting", "running", "interrupted") or record.pid is None:
        return False
    if record.host == host_label():
        return alive_since(record.pid, record.heartbeat_at)
    now = time.time() if now is None else now
    return record.status != "interrupted" and now - record.heartbeat_at <= HEARTBEAT_STALE_SECONDS
