"""Frozen records the store returns; callers never see ORM rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from morec_core.config import RunSpec


@dataclass(frozen=True, kw_only=True)
class StudyRecord:
    id: int
    name: str
    description: str
    created_at: float


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    id: str
    study: str | None
    arm: str
    trial_number: int | None
    spec_json: str
    spec_key: str
    seed: int
    dataset: str
    encoder: str
    backbone: str
    status: str
    status_reason: str
    error: str
    host: str
    device: str
    pid: int | None
    started_at: float
    heartbeat_at: float
    finished_at: float | None
    selection_metric: str
    best_epoch: int | None
    best_value: float | None
    last_epoch: int | None
    checkpoint_path: str
    protocol: str
    trainable_params: int | None
    total_params: int | None
    flops_per_sample: float | None
    seconds_per_epoch: float | None
    peak_memory_bytes: int | None
    data_fingerprint: str = ""
    """DataFingerprint JSON (morec_core/data/fingerprint.py); '' for a run recorded before."""

    @property
    def spec(self) -> dict[str, Any]:
        """The spec as recorded (a JSON object); `run_spec` reads it as this morec does."""
        return json.loads(self.spec_json)

    @property
    def run_spec(self) -> RunSpec:
        """The recorded spec read once through morec_core.spec_labels (with the upgrades a spec
        recorded by an older morec needs). Raises ConfigError for one this morec cannot read."""
        from morec_core.spec_labels import read_spec_json

        return read_spec_json(self.spec_json)


@dataclass(frozen=True, kw_only=True)
class CurvePoint:
    epoch: int
    value: float
    """As recorded: NaN or infinite where the run's loss or metric was (a collapsed run)."""


# (split, name) -> points in epoch order, e.g. ("valid", "ndcg@10") or ("train", "loss").
Curves = dict[tuple[str, str], list[CurvePoint]]
