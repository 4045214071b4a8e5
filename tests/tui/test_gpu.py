"""The jobs screen's GPU pane: hidden without a GPU, one line per GPU with utilisation, memory
and each job's memory, from a fake NVML source."""

import os

import pytest
from textual.widgets import Static

from morec_tui.jobs import Job
from morec_tui.screens.jobs import JobsScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.widgets.gpu import GpuProcess, GpuSample, NvmlSource, gpu_lines
from tests.tui.fill import app_on, drive, loaded, wait_for

GIB = 2**30


def _job(job_id: int, runner_pid: int | None) -> Job:
    return Job(id=job_id, kind="run", label="demo", argv=("morec", "run"), candidates=("0",),
               status="running", runner_pid=runner_pid)


class FakeNvml:
    def __init__(self, samples=None, error=None):
        self.samples, self.error, self.calls = samples or [], error, 0

    def sample(self):
        self.calls += 1
        if self.error:
            raise OSError(self.error)
        return self.samples


def test_gpu_lines_name_each_gpu_and_the_memory_of_each_job():
    mine = os.getpgid(os.getpid())  # this test's process group: a job's runner leads one
    samples = [GpuSample(index=0, name="NVIDIA H100", utilisation=87, memory_used=31 * GIB,
                         memory_total=80 * GIB,
                         processes=(GpuProcess(pid=os.getpid(), memory_bytes=30 * GIB),)),
               GpuSample(index=1, name="NVIDIA H100", utilisation=None, memory_used=GIB // 2,
                         memory_total=80 * GIB, processes=(GpuProcess(pid=2**22 + 7,
                                                                      memory_bytes=None),))]
    lines = gpu_lines(samples, [_job(3, runner_pid=mine), _job(4, runner_pid=None)])
    assert lines == ["GPU 0 NVIDIA H100 · 87% · 31.0/80.0 GiB · job 3 30.0 GiB",
                     f"GPU 1 NVIDIA H100 · ? · 0.5/80.0 GiB · pid {2**22 + 7} 0.0 GiB"]
    assert gpu_lines([], []) == []


def test_without_a_driver_there_is_no_source(monkeypatch):
    pynvml = pytest.importorskip("pynvml")

    def no_driver():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_driver)
    assert NvmlSource.open() is None


@pytest.mark.parametrize("source", [None, "gpus", "failing"])
def test_the_pane_shows_gpus_and_hides_without_one(filled, source):
    fake = {None: None, "failing": FakeNvml(error="NVML: driver gone"),
            "gpus": FakeNvml([GpuSample(index=0, name="NVIDIA A100", utilisation=12,
                                        memory_used=2 * GIB, memory_total=40 * GIB)])}[source]
    app = app_on(filled)
    app.gpu_source = fake

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("j")
        screen = await loaded(app, pilot, JobsScreen)
        pane = screen.query_one("#gpu-pane", Static)
        if source is None:
            assert not pane.display
            return
        await wait_for(pilot, lambda: pane.display, what="the GPU pane")
        text = str(pane.render())
        assert text == ("GPU 0 NVIDIA A100 · 12% · 2.0/40.0 GiB" if source == "gpus"
                        else "GPUs: NVML: driver gone")
        assert fake.calls >= 1

    drive(app, body)
