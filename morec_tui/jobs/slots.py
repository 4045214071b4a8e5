"""Slots: the GPUs this machine has (by `nvidia-smi`, no torch), the slots a new job may take,
and which queued jobs start now, oldest first."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from morec_tui.jobs.model import CPU, Job


@dataclass(frozen=True)
class Gpu:
    index: str
    name: str


def detect_gpus(timeout_s: float = 10.0) -> list[Gpu]:
    """GPUs by `nvidia-smi -L` (no torch import), limited to CUDA_VISIBLE_DEVICES when set."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return []
    try:
        listing = subprocess.run([executable, "-L"], capture_output=True, text=True,
                                 timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = [Gpu(index=match[1], name=match[2].strip()) for match in
            re.finditer(r"^GPU (\d+): (.*?)(?: \(UUID.*)?$", listing.stdout, re.MULTILINE)]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        wanted = [part.strip() for part in visible.split(",") if part.strip()]
        gpus = [gpu for gpu in gpus if gpu.index in wanted]
    return gpus


def candidate_slots(picked: Sequence[str], gpus: Sequence[Gpu]) -> tuple[str, ...]:
    """Slots a new job may take: the GPUs picked, else every GPU, else the CPU slot."""
    return tuple(picked) or tuple(gpu.index for gpu in gpus) or (CPU,)


def assign(jobs: Sequence[Job]) -> dict[int, tuple[str, ...]]:
    """Slots for the queued jobs that can start now, oldest first: job id -> slots.

    A waiting job keeps its claim on its candidate slots, so a younger job never overtakes it
    on a slot it waits for.
    """
    busy = {slot for job in jobs if job.status == "running" for slot in job.slots}
    granted: dict[int, tuple[str, ...]] = {}
    waiting = (job for job in jobs if job.status == "queued" and not job.cancel_requested)
    for job in sorted(waiting, key=lambda job: job.id):
        free = [slot for slot in job.candidates if slot not in busy]
        if len(free) >= job.slots_needed:
            granted[job.id] = tuple(free[:job.slots_needed])
            busy.update(granted[job.id])
        else:
            busy.update(job.candidates)
    return granted
