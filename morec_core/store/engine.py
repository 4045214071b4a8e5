"""Opening a store's database: the URL, the engines (SQLite's pragmas and transaction mode in
one connect hook, also used by Optuna's storage; a read-only SQLite engine that never writes
the file), and the one-line errors of opening.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 60_000
POSTGRES_CONNECT_TIMEOUT_S = 3
"""Per attempt (libpq tries twice under sslmode=prefer). libpq's default is to wait for ever on a
server that does not answer; an unreachable one should fail `Store(...)` while the user still
watches. A `connect_timeout` in the URL wins."""

# Primary SQLite result codes (https://sqlite.org/rescode.html) behind the open errors we explain.
SQLITE_CORRUPT, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_NOTADB = 11, 8, 14, 26


class StoreError(RuntimeError):
    pass


class StoreNotWritableError(StoreError):
    """This user cannot write the store (file or folder): it can still be opened read-only."""



def normalize_url(url_or_path: str | os.PathLike[str]) -> str:
    """A database URL, or a plain file path taken as SQLite. postgresql:// means psycopg 3
    (the `postgres` extra), not SQLAlchemy's default psycopg2."""
    text_url = str(url_or_path)
    if text_url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text_url.split("://", 1)[1]
    if "://" in text_url:
        return text_url
    return f"sqlite:///{Path(text_url).expanduser().resolve()}"


def install_sqlite_hooks(engine: Engine, pragmas: Sequence[str], *, immediate: bool) -> None:
    """The one SQLite connect hook (the store's engines and Optuna's storage): SQLAlchemy, not
    pysqlite, begins transactions; each connection runs `pragmas` (busy_timeout first); writers
    begin IMMEDIATE. A deferred transaction that reads and then writes cannot wait for the lock
    in WAL mode (SQLITE_BUSY at once); taking the lock up front lets busy_timeout apply."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}", *pragmas):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    install_sqlite_hooks(engine, ("journal_mode = WAL", "synchronous = NORMAL",
                                  "foreign_keys = ON"), immediate=immediate)
    return engine


def sqlite_read_only_engine(database: str) -> Engine:
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
            if sqlite_code(error) not in (SQLITE_READONLY, SQLITE_CANTOPEN):
                raise
        return open_file("?mode=ro&immutable=1")

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
    # BEGIN: one snapshot per session, as on the writable engine.
    install_sqlite_hooks(engine, ("query_only = ON",), immediate=False)
    return engine


def sqlite_code(error: sqlite3.Error) -> int:
    """The primary result code (https://sqlite.org/rescode.html); 0 for pysqlite's own errors."""
    return (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF


def open_problem(error: BaseException, where: str, read_only: bool) -> str:
    """One line: the driver's message, and for the usual SQLite cases what to do."""
    original = getattr(error, "orig", None) or error
    message = " ".join(line.strip() for line in str(original).splitlines() if line.strip())
    if not isinstance(original, sqlite3.Error):
        return message or type(original).__name__
    code = sqlite_code(original)
    if code == SQLITE_NOTADB:
        return f"{message} (not an SQLite file, or its header is damaged)"
    if code == SQLITE_CORRUPT:
        return (f"{message}; restore it from a backup, or save what is readable with "
                f"`sqlite3 {where} .recover`")
    if code in (SQLITE_READONLY, SQLITE_CANTOPEN) and not read_only:
        return (f"{message}: this user cannot write the file or its folder; fix the "
                "permissions, or open the store read-only")
    return message


def quick_check(reader: Engine, where: str) -> None:
        """A damaged page otherwise shows only when a query reads it, perhaps mid-run; this
        reads every page once (about 0.1 s per 100 MB of store, from the page cache)."""
        with reader.connect() as conn:
            found = conn.exec_driver_sql("PRAGMA quick_check").scalars().all()
        if found != ["ok"]:
            lines = [line for row in found for line in str(row).splitlines()
                     if line.strip() and not line.startswith("***")]
            raise StoreError(f"store {where} is damaged (SQLite quick_check: "
                             f"{lines[0] if lines else found[0]}); restore it from a backup, "
                             f"or save what is readable with `sqlite3 {where} .recover`")
