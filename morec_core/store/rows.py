"""SQLAlchemy 2.0 table rows. Named `...Row` because "model" means the ML model in this project.

Tables are prefixed `morec_`: on PostgreSQL they share one database with Optuna's (which has its
own `studies` and `trials`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# 2: morec_user_results (per-user standing of every evaluated split).
# 3: morec_metrics.value nullable (SQLite stores NaN as NULL).
# 4: morec_runs.data_fingerprint (the data as trained on; '' for runs recorded before).
SCHEMA_VERSION = 4


class Base(DeclarativeBase):
    pass


class SchemaRow(Base):
    """One row holding the schema version this database was last migrated to."""

    __tablename__ = "morec_schema"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class StudyRow(Base):
    __tablename__ = "morec_studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class RunRow(Base):
    __tablename__ = "morec_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("morec_studies.id", ondelete="SET NULL"))
    arm: Mapped[str] = mapped_column(String(200), default="")
    trial_number: Mapped[int | None] = mapped_column(Integer)
    spec_json: Mapped[str] = mapped_column(Text)
    spec_key: Mapped[str] = mapped_column(String(64), index=True)
    seed: Mapped[int] = mapped_column(Integer)
    # Short labels the runs screen shows without parsing the spec JSON of every run.
    dataset: Mapped[str] = mapped_column(String(200), default="")
    encoder: Mapped[str] = mapped_column(String(200), default="")
    backbone: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    device: Mapped[str] = mapped_column(String(100), default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    # Best validation value of `selection_metric` so far and its epoch: kept up to date on
    # every validation event so "best run of a study" needs no scan of the metrics table.
    selection_metric: Mapped[str] = mapped_column(String(50), default="")
    best_epoch: Mapped[int | None] = mapped_column(Integer)
    best_value: Mapped[float | None] = mapped_column(Float)
    last_epoch: Mapped[int | None] = mapped_column(Integer)
    checkpoint_path: Mapped[str] = mapped_column(Text, default="")
    protocol: Mapped[str] = mapped_column(Text, default="")
    """How the run's metrics were computed (full ranking? history masked?)."""
    # The paper's Table 6 columns.
    trainable_params: Mapped[int | None] = mapped_column(BigInteger)
    total_params: Mapped[int | None] = mapped_column(BigInteger)
    flops_per_sample: Mapped[float | None] = mapped_column(Float)
    seconds_per_epoch: Mapped[float | None] = mapped_column(Float)
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    data_fingerprint: Mapped[str] = mapped_column(Text, default="")
    """DataFingerprint JSON of the data as trained on; '' for runs recorded before schema 4."""

    __table_args__ = (Index("ix_runs_study_status", "study_id", "status"),)


class MetricRow(Base):
    __tablename__ = "morec_metrics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("morec_runs.id", ondelete="CASCADE"))
    split: Mapped[str] = mapped_column(String(30))
    epoch: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(50))
    # NULL is a NaN on SQLite (which stores NaN so); the store reads it back as float("nan").
    value: Mapped[float | None] = mapped_column(Float)

    # One run's curves are read by (run_id) and a study table by (run_id, split, name, epoch).
    # Re-recording a value (a resumed run repeating an epoch) replaces it.
    __table_args__ = (
        UniqueConstraint("run_id", "split", "epoch", "name", name="uq_metric_point"),
    )


class UserResultRow(Base):
    """Per-user results of one split of one run: validation at the best epoch, the test split
    and its cold/new subsets. One compressed blob per (run, split), not a row per user: a
    50,000-user split is under 100 KB (`UserResults.to_bytes`)."""

    __tablename__ = "morec_user_results"
    run_id: Mapped[str] = mapped_column(ForeignKey("morec_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    split: Mapped[str] = mapped_column(String(30), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer)
    users: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
