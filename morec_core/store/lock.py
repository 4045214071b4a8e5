"""A named exclusive lock across the processes and machines that share a store (a study's
workers claiming trials)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from morec_core.store.retry import retrying


@contextlib.contextmanager
def named_lock(writer: Engine, name: str, sqlite_database: str | None, *,
               where: str) -> Iterator[None]:
    """PostgreSQL: an advisory lock. SQLite (one machine by nature; sqlite_database its file):
    an flock on a file beside the database, which leaves the database itself free for writers,
    this process's too. where: the store as messages name it (taking an advisory lock is retried
    while the server is away, morec_core.store.retry)."""
    if sqlite_database is not None:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        with open(f"{sqlite_database}.{digest}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)

    def take() -> Connection:
        # Retried while the server is away (morec_core.store.retry); once held, the server's
        # session holds it (a lost connection releases it: the release below then says so).
        conn = writer.connect()
        try:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        except BaseException:
            conn.close()
            raise
        return conn

    with retrying(take, where=where, what=f"taking lock {name}") as conn:
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
            except OperationalError:
                # The connection was lost (a server restart): its session, and the advisory
                # lock with it, ended on the server; there is nothing left to release.
                conn.invalidate()
