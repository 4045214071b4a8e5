"""A dashboard job as its record holds it (`Job`), and what the launch form asks for (`JobRequest`).

A job takes slots: GPU indices ("0", "1"...) or the one CPU slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CPU = "cpu"
JOB_KINDS = ("run", "study")
JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE = ("queued", "running")


@dataclass(frozen=True, kw_only=True)
class Job:
    id: int
    kind: str
    """run (one `morec run`) or study (`morec tune`)."""
    label: str
    argv: tuple[str, ...]
    candidates: tuple[str, ...]
    """Slots the job may take: GPU indices ("0", "1"...) or ("cpu",)."""
    slots_needed: int = 1
    status: str = "queued"
    slots: tuple[str, ...] = ()
    """Slots it holds while running."""
    study: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    """Added to the dashboard's environment (e.g. MOREC_STUDIES_DIR)."""
    cwd: str = "."
    host: str = ""
    log: str = ""
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    runner_pid: int | None = None
    runner_started: int | None = None
    """The runner's start time (clock ticks since boot): with the pid, it names the runner, so a
    reused pid is never taken for it."""
    child_pid: int | None = None
    returncode: int | None = None
    cancel_requested: bool = False
    note: str = ""
    """Why a job failed or was cancelled, in a few words."""
    run_id: str | None = None
    """A run job's run: recorded (`queued`) in the store before the job was submitted, so the
    dashboard knows it by id from the start; its command is the engine's run process for
    RUN_ID (morec_core.run.run_process)."""
    spec_json: str | None = None
    """A run job's RunSpec as JSON (what the run was queued with), for display."""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def slot_label(self) -> str:
        return ", ".join(slot_name(slot) for slot in (self.slots or self.candidates))


@dataclass(frozen=True, kw_only=True)
class JobRequest:
    """What the launch form asks for; `JobQueue.submit` turns it into a queued job."""

    kind: str
    label: str
    argv: tuple[str, ...]
    candidates: tuple[str, ...]
    slots_needed: int = 1
    study: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    run_id: str | None = None
    spec_json: str | None = None


def slot_name(slot: str) -> str:
    return "CPU" if slot == CPU else f"GPU {slot}"
