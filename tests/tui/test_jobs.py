"""The job queue without the UI: slots, order, exit status, cancel, a runner that dies, and a
jobs file that cannot be trusted (issue 13)."""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from morec_core.processes import process_arguments, process_start_time
from morec_tui.jobs import (
    _FIELD_CHECKS,
    CPU,
    PID_REUSED,
    Gpu,
    Job,
    JobQueue,
    JobRequest,
    assign,
    candidate_slots,
    detect_gpus,
    tail,
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
    started = wait_until(queue, running.id, lambda j: j.child_pid is not None)
    assert started.runner_started == process_start_time(started.runner_pid)
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


# --- a jobs file that cannot be trusted ---------------------------------------------------

def record(job_id, marker, **fields):
    """A job record as the file holds it, whose command would create `marker`."""
    job = Job(id=job_id, kind="run", label=f"forged {job_id}", candidates=(CPU,),
              argv=(sys.executable, "-c", f"open({str(marker)!r}, 'w')"), **fields)
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(job).items()}


def bad_files(marker):
    """name -> (what the file holds, words of the message)."""
    valid = json.dumps({"next_id": 2, "jobs": [record(1, marker)]})
    return {
        "a duplicate id": (json.dumps({"next_id": 3, "jobs": [
            record(1, marker, status="completed"), record(1, marker)]}), "job id 1 appears twice"),
        "an id equal to next_id": (json.dumps({"next_id": 1, "jobs": [record(1, marker)]}),
                                   "next_id 1 is not above job id 1"),
        "a truncated file": (valid[:len(valid) // 2], "not valid JSON"),
        "not JSON": ("jobs: none\n", "not valid JSON"),
        "a list": ("[]", "holds a list, not an object"),
        "an argv of the wrong shape": (json.dumps({"next_id": 2, "jobs": [
            {**record(1, marker), "argv": "touch x"}]}), "jobs[0]: argv is 'touch x'"),
        "a pid addressing every process": (json.dumps({"next_id": 2, "jobs": [
            record(1, marker, status="running", runner_pid=-1)]}), "jobs[0]: runner_pid is -1"),
        "a pid no process can have": (json.dumps({"next_id": 2, "jobs": [
            record(1, marker, status="running", runner_pid=2**70)]}),
            f"jobs[0]: runner_pid is {2**70}, not a process id"),
    }


@pytest.mark.parametrize("case", list(bad_files("")))
def test_a_bad_jobs_file_is_set_aside_and_never_run(tmp_path, case):
    marker = tmp_path / "forged-job-ran"
    text, words = bad_files(marker)[case]
    (tmp_path / "jobs.json").write_text(text)
    queue = JobQueue(tmp_path)
    assert queue.jobs() == []
    problem = queue.problem
    assert problem is not None and "\n" not in problem
    assert str(tmp_path / "jobs.json") in problem and words in problem
    [aside] = tmp_path.glob("jobs.json.corrupt-*")
    assert aside.read_text() == text and aside.name in problem
    # The queue starts afresh; the next job runs its own command, not a forged one.
    done = wait_until(queue, queue.submit(python_job("print('mine')")).id, lambda j: not j.active)
    assert done.status == "completed" and "mine" in open(done.log).read()
    assert not marker.exists() and queue.problem is None
    assert list(tmp_path.glob("*.tmp")) == []


def test_a_runner_that_meets_a_bad_file_runs_nothing_and_the_dashboard_hears_of_it(tmp_path):
    marker = tmp_path / "forged-job-ran"
    text, words = bad_files(marker)["an id equal to next_id"]
    (tmp_path / "jobs.json").write_text(text)
    runner = subprocess.run([sys.executable, "-m", "morec_tui.jobs", "1", "--root", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert runner.returncode != 0 and "no job 1" in runner.stderr
    assert not marker.exists() and len(list(tmp_path.glob("jobs.json.corrupt-*"))) == 1
    queue = JobQueue(tmp_path)
    assert queue.jobs() == [] and words in queue.problem


def test_two_bad_files_in_a_row_are_both_kept_and_ids_continue_past_old_logs(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "job-7.log").write_text("the log of a job of a lost file\n")
    for text in ("{", "[]"):
        (tmp_path / "jobs.json").write_text(text)
        JobQueue(tmp_path).jobs()
    assert sorted(path.read_text() for path in tmp_path.glob("jobs.json.corrupt-*")) == ["[]", "{"]
    assert JobQueue(tmp_path).submit(python_job("pass")).id == 8  # job-7.log is not appended to


def forged_running(tmp_path, pid, started):
    """Running jobs of this host that claim the process `pid` as their runner: job 1 with its
    true start time (but not a runner's command line), job 2 with another start time (the pid
    was reused), job 3 with none recorded."""
    marker = tmp_path / "forged-job-ran"
    host = socket.gethostname()
    runs = [record(job_id, marker, status="running", slots=[CPU], host=host, runner_pid=pid,
                   runner_started=value, created_at=time.time(), started_at=time.time())
            for job_id, value in ((1, started), (2, started + 1), (3, None))]
    (tmp_path / "jobs.json").write_text(json.dumps({"next_id": 4, "jobs": runs}))


def assert_never_signalled(process):
    time.sleep(0.3)  # a SIGTERM or SIGKILL sent would have ended it by now
    assert process.poll() is None
    assert os.waitpid(process.pid, os.WNOHANG) == (0, 0)


@pytest.fixture
def sleeper():
    """A foreign process in a group of its own, so that a killpg of its pid would reach it."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    # Popen can return (vfork) before the kernel has set the new program's command line; until it
    # has, /proc shows an empty one, which the queue reads as a runner on its way out.
    deadline = time.monotonic() + 10
    while not process_arguments(process.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield process
    process.kill()
    process.wait()


def test_a_pid_that_is_not_the_runner_is_never_signalled(tmp_path, sleeper):
    forged_running(tmp_path, sleeper.pid, process_start_time(sleeper.pid))
    queue = JobQueue(tmp_path)
    forced, plain = queue.cancel(1, force=True), queue.cancel(2)
    assert_never_signalled(sleeper)
    for found in (forced, plain, queue.job(3)):
        assert (found.status, found.note) == ("failed", PID_REUSED)
    assert queue.submit(python_job("pass")).id == 4


def test_cancel_checks_the_runner_itself(tmp_path, sleeper, monkeypatch):
    """Where the look for lost runners has not marked the job yet (a race), cancel still
    signals only a pid that is the job's runner."""
    forged_running(tmp_path, sleeper.pid, process_start_time(sleeper.pid))
    queue = JobQueue(tmp_path)
    monkeypatch.setattr(queue, "_lost", lambda job, now: None)
    forced, plain = queue.cancel(1, force=True), queue.cancel(2)
    assert_never_signalled(sleeper)
    for found in (forced, plain):
        assert (found.status, found.note, found.cancel_requested) == ("cancelled", PID_REUSED,
                                                                      True)


def test_a_job_the_file_could_not_hold_is_refused_when_queued(tmp_path):
    queue = JobQueue(tmp_path)
    with pytest.raises(ValueError, match="kind"):
        queue.submit(JobRequest(kind="sweep", label="", argv=("true",), candidates=(CPU,)))
    with pytest.raises(ValueError, match="argv"):
        queue.submit(JobRequest(kind="run", label="", argv=(), candidates=(CPU,)))
    assert queue.jobs() == [] and queue.problem is None


def test_every_field_of_a_job_is_checked_on_read():
    assert set(_FIELD_CHECKS) == {field.name for field in dataclasses.fields(Job)}


def test_the_job_runner_does_not_import_the_store():
    code = ("import sys, morec_tui.jobs; "
            "print(sorted({'torch', 'sqlalchemy', 'morec_core.store'} & set(sys.modules)))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert found.stdout.strip() == "[]"


def test_a_jobs_file_that_is_a_named_pipe_is_set_aside_without_blocking(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: the dashboard never quit."""
    os.mkfifo(tmp_path / "jobs.json")
    queue = JobQueue(tmp_path)
    assert queue.jobs() == []
    assert queue.problem is not None and "is a named pipe, not a regular file" in queue.problem
    [aside] = tmp_path.glob("jobs.json.corrupt-*")
    assert aside.is_fifo() and not (tmp_path / "jobs.json").is_fifo()
    assert queue.submit(python_job("pass")).id == 1


def test_the_tail_of_a_log_that_is_a_named_pipe_is_empty_at_once(tmp_path):
    os.mkfifo(tmp_path / "job-1.log")
    assert tail(tmp_path / "job-1.log") == []
