"""The job queue without the UI: slots, order, exit status, cancel, a runner that dies."""

import os
import signal
import sys
import time

import pytest

from morec_tui.jobs import (
    CPU,
    Gpu,
    Job,
    JobQueue,
    JobRequest,
    assign,
    candidate_slots,
    detect_gpus,
)


def job(job_id, status="queued", candidates=("0", "1"), slots=(), needed=1, cancel=False):
    return Job(id=job_id, kind="run", label="", argv=(), candidates=candidates,
               slots_needed=needed, status=status, slots=slots, cancel_requested=cancel)


def test_one_job_per_gpu_oldest_first():
    jobs = [job(1, "running", slots=("0",)), job(2), job(3), job(4)]
    assert assign(jobs) == {2: ("1",)}
    assert assign([job(1, "completed"), job(2), job(3), job(4)]) == {2: ("0",), 3: ("1",)}


def test_a_waiting_job_is_not_overtaken_on_the_slots_it_waits_for():
    jobs = [job(1, "running", slots=("0",)), job(2, candidates=("0",)), job(3)]
    # Job 3 may use GPU 1, but not GPU 0, which job 2 is waiting for.
    assert assign(jobs) == {3: ("1",)}
    study = [job(1, "running", slots=("0",)), job(2, needed=2), job(3, candidates=("1",))]
    assert assign(study) == {}


def test_cancelled_jobs_take_no_slot_and_cpu_is_the_slot_without_gpus():
    assert assign([job(1, cancel=True), job(2)]) == {2: ("0",)}
    assert candidate_slots([], []) == (CPU,)
    assert candidate_slots([], [Gpu("0", "H100"), Gpu("1", "H100")]) == ("0", "1")
    assert candidate_slots(["1"], [Gpu("0", "H100"), Gpu("1", "H100")]) == ("1",)


def python_job(code, label="python"):
    return JobRequest(kind="run", label=label, argv=(sys.executable, "-c", code),
                      candidates=(CPU,))


def wait_until(queue, job_id, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = queue.job(job_id)
        if condition(found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} stayed {queue.job(job_id)}")


def test_jobs_share_the_cpu_slot_in_order_and_record_how_they_ended(tmp_path):
    queue = JobQueue(tmp_path)
    first = queue.submit(python_job("import time; print('one'); time.sleep(1)"))
    second = queue.submit(python_job("import sys; print('two'); sys.exit(3)"))
    running = wait_until(queue, first.id, lambda j: j.status == "running")
    assert running.slots == (CPU,) and queue.job(second.id).status == "queued"
    done = wait_until(queue, first.id, lambda j: not j.active)
    failed = wait_until(queue, second.id, lambda j: not j.active)
    assert (done.status, done.returncode) == ("completed", 0)
    assert (failed.status, failed.returncode, failed.note) == ("failed", 3, "exit code 3")
    assert failed.started_at >= done.finished_at
    assert "one" in open(done.log).read() and "two" in open(failed.log).read()
    # A second queue on the same folder (a reopened dashboard) sees the same jobs.
    assert [j.id for j in JobQueue(tmp_path).jobs()] == [second.id, first.id]


def test_cancel_a_running_and_a_queued_job(tmp_path):
    queue = JobQueue(tmp_path)
    running = queue.submit(python_job("import time; time.sleep(60)"))
    queued = queue.submit(python_job("print('never')"))
    wait_until(queue, running.id, lambda j: j.child_pid is not None)
    queue.cancel(queued.id)
    queue.cancel(running.id)
    stopped = wait_until(queue, running.id, lambda j: not j.active)
    skipped = wait_until(queue, queued.id, lambda j: not j.active)
    assert (stopped.status, stopped.returncode) == ("cancelled", -signal.SIGTERM)
    assert skipped.status == "cancelled" and skipped.started_at is None
    assert "never" not in open(skipped.log).read()


def test_a_dead_runner_marks_its_job_failed(tmp_path):
    queue = JobQueue(tmp_path)
    doomed = queue.submit(python_job("import time; time.sleep(60)"))
    found = wait_until(queue, doomed.id, lambda j: j.child_pid is not None)
    os.killpg(found.runner_pid, signal.SIGKILL)
    lost = wait_until(queue, doomed.id, lambda j: not j.active)
    assert (lost.status, lost.note) == ("failed", "job runner died")


def test_a_job_needs_slots_it_can_have(tmp_path):
    with pytest.raises(ValueError, match="slots"):
        JobQueue(tmp_path).submit(JobRequest(kind="study", label="", argv=("true",),
                                             candidates=("0",), slots_needed=2))


def test_a_study_on_two_gpus_gets_both_and_each_job_sees_only_its_own(tmp_path):
    queue = JobQueue(tmp_path)
    show = "import os, sys; print(sys.argv[1:], os.environ['CUDA_VISIBLE_DEVICES'])"
    study = queue.submit(JobRequest(kind="study", label="", argv=(sys.executable, "-c", show),
                                    candidates=("0", "1"), slots_needed=2))
    done = wait_until(queue, study.id, lambda j: not j.active)
    assert done.status == "completed"
    assert "['--gpus', '0,1'] 0,1" in open(done.log).read()
    single = queue.submit(JobRequest(kind="run", label="", argv=(sys.executable, "-c", show),
                                     candidates=("1",)))
    assert "[] 1" in open(wait_until(queue, single.id, lambda j: not j.active).log).read()


def test_gpus_come_from_nvidia_smi_within_cuda_visible_devices(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)'\n"
                    "echo 'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert detect_gpus() == [Gpu("0", "NVIDIA H100 80GB HBM3"), Gpu("1", "NVIDIA H100 80GB HBM3")]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert [gpu.index for gpu in detect_gpus()] == ["1"]
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert detect_gpus() == []
