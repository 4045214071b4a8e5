"""The frozen events a run emits. The training loop yields them; sinks (store, pruner, UI) consume.

Every event names its run by `run_id` (a uuid4 hex made by whoever starts the run), so events
from many processes and machines can share one store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The status vocabulary is morec_core.run.run_status's; named here too for the dashboard's imports.
from morec_core.run.run_status import FINISH_STATUSES as FINISH_STATUSES
from morec_core.run.run_status import RUN_STATUSES as RUN_STATUSES
from morec_core.run.run_status import FinishStatus as FinishStatus
from morec_core.run.user_results import UserResults


def new_run_id() -> str:
    return uuid.uuid4().hex


def _now() -> float:
    return time.time()


@dataclass(frozen=True, kw_only=True)
class RunStarted:
    run_id: str
    spec: dict[str, Any]
    """The full RunSpec as a dict (RunSpec.to_dict())."""
    spec_key: str
    selection_metric: str
    """Validation metric that selects the best epoch, e.g. ndcg@10."""
    host: str
    pid: int
    device: str
    study: str | None = None
    arm: str | None = None
    """The study arm (e.g. IDRec, or one MoRec encoder) this run is a trial of."""
    trial_number: int | None = None
    num_users: int = 0
    num_items: int = 0
    """Catalogue size: the level of random ranking depends on it (collapse detection)."""
    data_fingerprint: str = ""
    """The data as trained on (DataFingerprint.to_json(); morec_core/data/fingerprint.py)."""
    time: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class EpochEnded:
    run_id: str
    epoch: int
    loss: float
    learning_rates: dict[str, float]
    """Learning rate of each named parameter group, e.g. {"encoder": 1e-4, "rest": 1e-3}."""
    seconds: float
    time: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class Evaluated:
    run_id: str
    epoch: int
    split: str
    """valid | test | test_cold | test_new ..."""
    metrics: dict[str, float]
    """e.g. {"hr@10": 0.18, "ndcg@10": 0.09, "ties@10": 0.0, "users": 671}."""
    per_user: UserResults | None = None
    """Where each user's target stood (kept by the store for validation at the best epoch and
    for every test split: paired statistics read it)."""
    protocol: str = "full-ranking, history masked"
    """How the numbers were computed; recorded with every result."""
    time: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class CheckpointSaved:
    run_id: str
    epoch: int
    path: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class CostMeasured:
    """The paper's Table 6 columns."""

    run_id: str
    trainable_params: int
    total_params: int
    flops_per_sample: float | None = None
    seconds_per_epoch: float | None = None
    peak_memory_bytes: int | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class Progress:
    """Steps done within an epoch; high-rate and throttled by the trainer. Not stored."""

    run_id: str
    epoch: int
    step: int
    total_steps: int
    loss: float
    phase: str = "train"
    time: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class Heartbeat:
    run_id: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class RunFinished:
    run_id: str
    status: FinishStatus
    reason: str = ""
    """Why a run was pruned, collapsed or cancelled; empty when it completed."""
    best_epoch: int | None = None
    best_value: float | None = None
    """The selection metric on validation at best_epoch (a resumed run's best may predate it)."""
    time: float = field(default_factory=_now)

    def __post_init__(self) -> None:
        if self.status not in FINISH_STATUSES:
            raise ValueError(f"RunFinished.status: {self.status!r} is not one of {FINISH_STATUSES}")


@dataclass(frozen=True, kw_only=True)
class RunFailed:
    run_id: str
    error: str
    """The exception's type and message; the traceback goes to the run's log."""
    time: float = field(default_factory=_now)


Event = (RunStarted | EpochEnded | Evaluated | CheckpointSaved | CostMeasured | Progress
         | Heartbeat | RunFinished | RunFailed)
Sink = Callable[[Event], None]


class StopRun(Exception):  # noqa: N818 - a control signal, not an error
    """Raised by any sink to end a run early; handled in one place by the run driver.

    `status` says how the run ends (pruned, collapsed or cancelled) and `reason` why.
    """

    def __init__(self, status: FinishStatus, reason: str = "") -> None:
        super().__init__(f"{status}: {reason}" if reason else status)
        self.status: FinishStatus = status
        self.reason = reason
