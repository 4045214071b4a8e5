"""The GPU pane of the jobs screen: utilisation and memory per GPU, and each job's memory on it,
from NVML (`nvidia-ml-py`, imported as pynvml). Hidden where NVML finds no GPU.

Sampling is blocking (a driver call per GPU and process) and runs in the jobs screen's load
worker; a GpuSource is anything with `sample()`, so tests give a fake one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from morec_tui.jobs import Job


@dataclass(frozen=True, kw_only=True)
class GpuProcess:
    pid: int
    memory_bytes: int | None
    """None where the driver does not say (some containers, MIG)."""


@dataclass(frozen=True, kw_only=True)
class GpuSample:
    index: int
    name: str
    utilisation: int | None
    """Percent of the last sample period a kernel ran; None where NVML does not say."""
    memory_used: int
    memory_total: int
    processes: tuple[GpuProcess, ...] = ()


class GpuSource(Protocol):
    def sample(self) -> list[GpuSample]:
        """Every GPU this process sees, now. Raises OSError when the driver fails."""
        ...


class NvmlSource:
    """NVML through pynvml; `open` returns None without a driver or a GPU."""

    def __init__(self, pynvml: Any, count: int) -> None:
        self._nvml = pynvml
        self.count = count

    @classmethod
    def open(cls) -> NvmlSource | None:
        try:
            import pynvml  # type: ignore[import-untyped]  # nvidia-ml-py ships no stubs

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
        except Exception:  # noqa: BLE001 - no library, no driver, no GPU: the pane stays hidden
            return None
        return cls(pynvml, count) if count else None

    def sample(self) -> list[GpuSample]:
        nvml = self._nvml
        samples = []
        try:
            for index in range(self.count):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                utilisation = None
                with contextlib.suppress(nvml.NVMLError):
                    utilisation = nvml.nvmlDeviceGetUtilizationRates(handle).gpu
                processes: list[GpuProcess] = []
                with contextlib.suppress(nvml.NVMLError):
                    processes = [GpuProcess(pid=process.pid, memory_bytes=process.usedGpuMemory)
                                 for process in nvml.nvmlDeviceGetComputeRunningProcesses(handle)]
                name = nvml.nvmlDeviceGetName(handle)
                samples.append(GpuSample(
                    index=index, name=name.decode() if isinstance(name, bytes) else str(name),
                    utilisation=utilisation, memory_used=int(memory.used),
                    memory_total=int(memory.total), processes=tuple(processes)))
        except nvml.NVMLError as error:
            raise OSError(f"NVML: {error}") from None
        return samples


def job_of_process(pid: int, jobs: Sequence[Job]) -> Job | None:
    """The running job a GPU process belongs to: jobs run in process groups of their own,
    led by their runner (jobs.py), so the process's group names the job."""
    try:
        group = os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None  # another host's pid namespace, or gone
    return next((job for job in jobs if job.active and job.runner_pid == group), None)


def gpu_lines(samples: Sequence[GpuSample], jobs: Sequence[Job]) -> list[str]:
    """One line per GPU: `GPU 0 NVIDIA H100 · 87% · 31.2/80.0 GiB · job 3 30.1 GiB`."""
    lines = []
    for gpu in samples:
        use = "?" if gpu.utilisation is None else f"{gpu.utilisation}%"
        parts = [f"GPU {gpu.index} {gpu.name}", use,
                 f"{gpu.memory_used / 2**30:.1f}/{gpu.memory_total / 2**30:.1f} GiB"]
        by_job: dict[str, int] = {}
        for process in gpu.processes:
            job = job_of_process(process.pid, jobs)
            label = f"job {job.id}" if job is not None else f"pid {process.pid}"
            by_job[label] = by_job.get(label, 0) + (process.memory_bytes or 0)
        parts += [f"{label} {used / 2**30:.1f} GiB" for label, used in by_job.items()]
        lines.append(" · ".join(parts))
    return lines
