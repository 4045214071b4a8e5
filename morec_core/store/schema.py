"""The store's schema version and its migrations, one step per version; a read-only store is
checked, never migrated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, inspect, select, text, update

from morec_core.store.engine import StoreError
from morec_core.store.rows import SCHEMA_VERSION, Base, SchemaRow

# morec_metrics as schema 3 made it. Frozen here rather than read from MetricRow: a later
# migration that changes MetricRow must not change what the 2 -> 3 step builds.
_METRICS_TABLE_V3 = """CREATE TABLE {name} (
    id INTEGER NOT NULL,
    run_id VARCHAR(32) NOT NULL,
    split VARCHAR(30) NOT NULL,
    epoch INTEGER NOT NULL,
    name VARCHAR(50) NOT NULL,
    value FLOAT,
    PRIMARY KEY (id),
    CONSTRAINT uq_metric_point UNIQUE (run_id, split, epoch, name),
    FOREIGN KEY(run_id) REFERENCES morec_runs (id) ON DELETE CASCADE
)"""


def _metric_values_nullable(conn: Connection) -> None:
    """2 -> 3: morec_metrics.value may be NULL, the NaN of SQLite (a NaN loss failed the run
    with "NOT NULL constraint failed: morec_metrics.value")."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE morec_metrics ALTER COLUMN value DROP NOT NULL"))
        return
    # SQLite cannot drop NOT NULL in place: build the new table, copy, drop, rename
    # (https://sqlite.org/lang_altertable.html#otheralter). The unique constraint is part of the
    # new table; foreign keys stay on, as no table refers to morec_metrics. Rows of runs deleted
    # with foreign keys off (the sqlite3 shell's default) could not be inserted and were never
    # readable: they are left behind.
    conn.execute(text(_METRICS_TABLE_V3.format(name="morec_metrics_new")))
    conn.execute(text(
        "INSERT INTO morec_metrics_new (id, run_id, split, epoch, name, value) "
        "SELECT id, run_id, split, epoch, name, value FROM morec_metrics "
        "WHERE run_id IN (SELECT id FROM morec_runs)"))
    conn.execute(text("DROP TABLE morec_metrics"))
    conn.execute(text("ALTER TABLE morec_metrics_new RENAME TO morec_metrics"))


def _add_data_fingerprints(conn: Connection) -> None:
    """3 -> 4: morec_runs.data_fingerprint; runs recorded before have none (''). A store whose
    table has it already (made by this morec's create_all, then set back) is left as it is."""
    if "data_fingerprint" in {column["name"] for column in inspect(conn).get_columns("morec_runs")}:
        return
    conn.execute(text("ALTER TABLE morec_runs ADD COLUMN data_fingerprint TEXT NOT NULL "
                      "DEFAULT ''"))


# Each migration takes a connection inside a transaction and moves the schema from version v to
# v + 1. New tables are made by create_all before the migrations run; a new column is added here
# as `MIGRATIONS[v] = lambda conn: conn.execute(text("ALTER TABLE morec_runs ADD COLUMN ..."))`.
MIGRATIONS: dict[int, Any] = {
    # 1 -> 2: the morec_user_results table (created by create_all); runs recorded before it
    # have none, and `morec compare --recompute` evaluates them again from their checkpoints.
    1: lambda conn: None,
    2: _metric_values_nullable,
    3: _add_data_fingerprints,
}


def migrate(writer: Engine, where: str) -> None:
    """Create what is missing and migrate to SCHEMA_VERSION, in one transaction."""
    with writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Serialise schema creation between processes starting at once.
            conn.execute(text("SELECT pg_advisory_xact_lock(7311)"))
        Base.metadata.create_all(conn)
        row = conn.execute(select(SchemaRow.version).where(SchemaRow.id == 1)).first()
        if row is None:
            conn.execute(insert(SchemaRow).values(id=1, version=SCHEMA_VERSION))
            return
        version = row[0]
        if version > SCHEMA_VERSION:
            raise StoreError(newer_schema(where, version))
        for step in range(version, SCHEMA_VERSION):
            MIGRATIONS[step](conn)
        conn.execute(update(SchemaRow).where(SchemaRow.id == 1).values(version=SCHEMA_VERSION))


def check_schema(reader: Engine, where: str) -> None:
    """Read-only: the schema must be this morec's, as nothing may migrate it."""
    with reader.connect() as conn:
        version = None
        if inspect(conn).has_table(SchemaRow.__tablename__):
            version = conn.execute(select(SchemaRow.version).where(SchemaRow.id == 1)).scalar()
    if version is None:
        raise StoreError(f"store {where} holds no morec schema (not a morec store, "
                         "or never written)")
    if version > SCHEMA_VERSION:
        raise StoreError(newer_schema(where, version))
    if version < SCHEMA_VERSION:
        raise StoreError(f"store {where} is at schema {version}; open it once writable "
                         f"to migrate (this morec reads schema {SCHEMA_VERSION})")


def newer_schema(where: str, version: int) -> str:
    return (f"store {where} was written by a newer morec (schema {version}, this one "
            f"knows {SCHEMA_VERSION}); upgrade morec")
