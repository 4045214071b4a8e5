"""What a run is beside its spec: its id, checkpoint folder and study bookkeeping. Apart from
`launch` so that the training loop can take it without importing the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class RunContext:
    run_id: str
    run_dir: Path
    """Folder of this run's checkpoints (`last.pt`, `best.pt`)."""
    study: str | None = None
    arm: str | None = None
    trial_number: int | None = None
    resume: bool = False
    """Continue from `run_dir/last.pt` when it exists."""
    progress_every_s: float = 0.5
    """Minimum seconds between Progress events."""
