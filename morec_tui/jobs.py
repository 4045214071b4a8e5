"""The dashboard's local job queue: studies and single runs as detached processes, one job per
GPU (one CPU slot when there is no GPU), recorded in a small JSON file under the runs folder.

Each job is a runner process (`python -m morec_tui.jobs JOB_ID --root DIR`) in its own session,
so closing the dashboard kills nothing and a reopened one finds its jobs in `jobs.json`. The
runner waits for free slots (oldest job first), starts the job's command with
CUDA_VISIBLE_DEVICES set to its GPUs, records the exit status, and forwards a cancel (SIGTERM)
to the command, which records its run as `cancelled`. Runner and command write one log,
`<runs>/logs/job-<id>.log`. No Textual here: the dashboard reads `JobQueue.jobs()` in a worker.

The file is checked on every read (issue 13): a record's argv is what a runner executes, and its
runner_pid is what a cancel signals. A file that is not JSON, has duplicate ids, a next_id not
above every id, or records of the wrong shape is set aside (`jobs.json.corrupt-<time>`) and the
queue starts afresh, with one line for the dashboard in `JobQueue.problem`. A pid is signalled
only while it is still the job's runner: the same start time and command line it recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from morec_core.processes import (
    host_label,
    pid_alive,
    process_arguments,
    process_matches,
    process_start_time,
)
from morec_core.regular_files import NotARegularFile, open_regular, read_regular
from morec_core.run.run_process import run_process_argv
from morec_core.study.study_request import StudyRequest

CPU = "cpu"
JOB_KINDS = ("run", "study")
JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE = ("queued", "running")
WAIT_POLL_S = 1.0
LOST_AFTER_S = 60.0
_LOG_NAME = re.compile(r"job-(\d+)\.log")
RUNNER_DIED = "job runner died"
PID_REUSED = "runner gone (pid reused)"
PID_MAX_LIMIT = 2**22
"""The largest pid Linux can hand out (PID_MAX_LIMIT on 64-bit kernels)."""
MAX_JOBS_FILE_BYTES = 64 * 1024 * 1024
"""A jobs file of thousands of jobs is a few MB; one larger is set aside, not parsed."""


class JobFileError(ValueError):
    """The jobs file is not one this queue wrote: one line naming the file and what is wrong."""


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
        return ", ".join(_slot_name(slot) for slot in (self.slots or self.candidates))


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


def morec_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "morec_tui.cli", *args]


def run_argv(run_id: str, store_url: str, *, stop_on_collapse: bool = True) -> list[str]:
    """A run job's command: the engine's run process for the run queued in the store under
    `run_id` (its spec is there)."""
    return run_process_argv(run_id, store_url, stop_on_collapse=stop_on_collapse)


def study_argv(study: str, store_url: str, *, compile_networks: bool = False,
               launcher: str = "local", slurm: Sequence[str] = (),
               slurm_config: str | None = None) -> list[str]:
    """A study job's command (`morec tune`, the study's options written by StudyRequest); with
    launcher slurm it submits the workers and returns. slurm: `key=value` Slurm settings
    (`--slurm`), on top of the `--slurm-config` file."""
    named, *options = StudyRequest(study=study, compile_networks=compile_networks).to_argv()[1:]
    argv = morec_argv("tune", "--study", named, "--storage", store_url)
    if launcher != "local":
        argv += ["--launcher", launcher]
        argv += [part for option in slurm for part in ("--slurm", option)]
        if slurm_config:
            argv += ["--slurm-config", slurm_config]
    return argv + options


class JobQueue:
    """Jobs of one runs folder. Every change is a short read-modify-write under an flock."""

    def __init__(self, runs_dir: Path) -> None:
        self.root = Path(runs_dir).expanduser().resolve()
        self.path = self.root / "jobs.json"
        self.logs = self.root / "logs"
        self.host = host_label()
        self._spawned: dict[int, subprocess.Popen[bytes]] = {}
        self.problem: str | None = None
        """Why the last jobs file was set aside, as of the last read; cleared by `submit`."""

    # --- the file -------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[dict[str, Any]]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "jobs.json.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                try:
                    state = self._parse()
                except JobFileError as error:
                    state = self._set_aside(error)
                self.problem = state.get("problem")
                before = json.dumps(state, sort_keys=True)
                yield state
                if json.dumps(state, sort_keys=True) != before:
                    self._write(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        """The state, for readers that do not lock; a bad file is set aside under the lock."""
        try:
            state = self._parse()
        except JobFileError:
            with self._transaction() as state:  # checks again: a writer may have replaced it
                return state
        self.problem = state.get("problem")
        return state

    def _parse(self) -> dict[str, Any]:
        try:
            text = read_regular(self.path, max_bytes=MAX_JOBS_FILE_BYTES)
        except FileNotFoundError:
            return self._fresh()
        except NotARegularFile as error:  # a named pipe would block every read for ever
            raise JobFileError(str(error)) from error
        try:
            state = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as error:  # bad JSON, bad UTF-8, absurd nesting
            raise JobFileError(f"{self.path}: not valid JSON, truncated or overwritten? "
                               f"({error})".splitlines()[0]) from error
        problem = _state_problem(state)
        if problem is not None:
            raise JobFileError(f"{self.path}: {problem}")
        return state

    def _fresh(self) -> dict[str, Any]:
        # Ids continue past the logs of jobs a lost file held: a new job never appends to an
        # old job's log, whose run ids would become its own.
        logged = [int(match[1]) for path in self.logs.glob("job-*.log")
                  if (match := _LOG_NAME.fullmatch(path.name))]
        return {"next_id": max(logged, default=0) + 1, "jobs": []}

    def _set_aside(self, error: JobFileError) -> dict[str, Any]:
        """Rename the bad file out of the way (never run a record of it); the fresh state."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        copies = 1
        while target.exists():  # two bad files within a second: keep both
            copies += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{copies}")
        os.replace(self.path, target)
        state = {**self._fresh(), "problem": f"{error}; set aside as {target.name}, "
                                             "the job queue started afresh"}
        self._write(state)
        return state

    def _write(self, state: dict[str, Any]) -> None:
        # Readers never lock: they see the old file or the new one, never half of one; fsync
        # before the rename, so that a crash leaves one of the two too, not an empty file.
        with tempfile.NamedTemporaryFile("w", dir=self.root, prefix=f"{self.path.name}.",
                                         suffix=".tmp", delete=False) as scratch:
            try:
                json.dump(state, scratch, indent=1, sort_keys=True)
                scratch.flush()
                os.fsync(scratch.fileno())
            except BaseException:
                os.unlink(scratch.name)
                raise
        os.replace(scratch.name, self.path)

    def _stored(self, job_id: int) -> Job:
        """The job as its record stands, without looking at processes."""
        for raw in self._read()["jobs"]:
            if raw["id"] == job_id:
                return _job(raw)
        raise KeyError(f"no job {job_id} in {self.path}")

    def _update(self, job_id: int, **changes: Any) -> Job:
        with self._transaction() as state:
            for raw in state["jobs"]:
                if raw["id"] == job_id:
                    raw.update(_jsonable(changes))
                    return _job(raw)
        raise KeyError(f"no job {job_id} in {self.path}")

    # --- the dashboard's side -------------------------------------------------------

    def jobs(self) -> list[Job]:
        """Every job, newest first; active jobs whose runner died are marked failed (or
        cancelled, when a cancel was asked)."""
        for pid, process in list(self._spawned.items()):
            if process.poll() is not None:  # reap our finished runners: no zombies
                self._spawned.pop(pid, None)
        jobs = [_job(raw) for raw in self._read()["jobs"]]
        now = time.time()
        if any(self._lost(job, now) for job in jobs):
            with self._transaction() as state:
                for raw in state["jobs"]:
                    job = _job(raw)
                    lost = self._lost(job, now)
                    if lost is not None:
                        raw.update(status="cancelled" if job.cancel_requested else "failed",
                                   note=job.note or lost, finished_at=time.time(), slots=[])
                jobs = [_job(raw) for raw in state["jobs"]]
        return sorted(jobs, key=lambda job: job.id, reverse=True)

    def _lost(self, job: Job, now: float) -> str | None:
        """Why an active job of this host has no runner any more; None while it has one."""
        if not job.active or job.host != self.host:
            return None
        if job.runner_pid is None:  # its dashboard died between queueing it and starting it
            return RUNNER_DIED if now - job.created_at > LOST_AFTER_S else None
        return self._runner_gone(job)

    def _runner_gone(self, job: Job) -> str | None:
        """Why the job's runner_pid no longer names its runner (a note); None while it does, or
        while the runner is on its way out (the next look finds it dead)."""
        pid = job.runner_pid
        if pid is None or self._is_runner(job):
            return None
        if not pid_alive(pid):
            return RUNNER_DIED
        if process_start_time(pid) == job.runner_started and not process_arguments(pid):
            return None  # exiting: its command line is gone a moment before it is a zombie
        return PID_REUSED

    def _is_runner(self, job: Job) -> bool:
        """Whether the job's runner_pid still names its runner: the start time it recorded and
        its command line. Whatever else holds that pid now is never signalled."""
        return job.runner_pid is not None and process_matches(
            job.runner_pid, job.runner_started, _runner_argv(job.id, self.root)[2:])

    def job(self, job_id: int) -> Job:
        for job in self.jobs():
            if job.id == job_id:
                return job
        raise KeyError(f"no job {job_id} in {self.path}")

    def submit(self, request: JobRequest) -> Job:
        """Queue a job and start its runner, detached from this process's session."""
        candidates = request.candidates
        if not candidates or not 1 <= request.slots_needed <= len(candidates):
            raise ValueError(f"a job needs 1..{len(candidates)} of the slots {list(candidates)}")
        self.logs.mkdir(parents=True, exist_ok=True)
        with self._transaction() as state:
            job_id = state["next_id"]
            job = Job(id=job_id, kind=request.kind, label=request.label, argv=request.argv,
                      candidates=candidates, slots_needed=request.slots_needed,
                      study=request.study, env=dict(request.env),
                      cwd=str(Path(request.cwd or os.getcwd()).resolve()), host=self.host,
                      log=str(self.logs / f"job-{job_id}.log"), created_at=time.time(),
                      run_id=request.run_id, spec_json=request.spec_json)
            record = _jsonable(dataclasses.asdict(job))
            problem = _record_problem(record)
            if problem is not None:  # refused now, not by every later read of the file
                raise ValueError(f"cannot queue this job: {problem}")
            state["next_id"] += 1
            state["jobs"].append(record)
            state.pop("problem", None)  # a set-aside file stays news until the next job
        with open(job.log, "ab") as log:
            process = subprocess.Popen(
                _runner_argv(job.id, self.root), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=job.cwd, start_new_session=True)
        self._spawned[process.pid] = process
        # Popen returns after the exec, and the pid stays ours until we reap it: this start
        # time and command line are the runner's.
        started = process_start_time(process.pid)
        with self._transaction() as state:
            for raw in state["jobs"]:
                if raw["id"] == job.id and raw.get("runner_pid") is None:
                    raw.update(runner_pid=process.pid, runner_started=started)
        return self.job(job.id)

    def cancel(self, job_id: int, *, force: bool = False) -> Job:
        """Ask the runner to stop the job (SIGTERM, forwarded to the command); `force` kills the
        job's whole process group at once (SIGKILL). Only a pid that is still the job's runner
        is signalled; a job of another host is only marked, for its runner to see."""
        if not self.job(job_id).active:
            return self.job(job_id)
        job = self._update(job_id, cancel_requested=True)
        if job.host != self.host:
            return job
        if job.runner_pid is None:
            return self._end_active(job_id, "cancelled before its runner started")
        gone = self._runner_gone(job)
        if gone is not None:
            return self._end_active(job_id, gone)
        if not self._is_runner(job):
            return job  # exiting already: nothing to signal
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile: nothing to stop
            if force:
                os.killpg(job.runner_pid, signal.SIGKILL)
            else:
                os.kill(job.runner_pid, signal.SIGTERM)
        return job

    def _end_active(self, job_id: int, note: str) -> Job:
        """Mark a job cancelled unless its runner recorded an end meanwhile."""
        with self._transaction() as state:
            for raw in state["jobs"]:
                if raw["id"] == job_id:
                    if raw["status"] in ACTIVE:
                        raw.update(status="cancelled", finished_at=time.time(), slots=[],
                                   note=note)
                    return _job(raw)
        raise KeyError(f"no job {job_id} in {self.path}")

    def run_ids(self, job: Job) -> list[str]:
        """The runs of a job: a run job's own, known from its record (a study's runs are the
        study's, in the store)."""
        return [job.run_id] if job.run_id else []

    def job_of_run(self, run_id: str, host: str, pid: int | None) -> Job | None:
        """The job that ran a run: by its run id, or by the pid of its command."""
        for job in self.jobs():
            if run_id in self.run_ids(job):
                return job
            if pid is not None and host == job.host and pid == job.child_pid:
                return job
        return None

    # --- the runner's side ----------------------------------------------------------

    def _claim(self, job_id: int) -> Job:
        """Take the job's slots if it may start now; the job as it stands afterwards."""
        with self._transaction() as state:
            jobs = [_job(raw) for raw in state["jobs"]]
            granted = assign(jobs)
            for raw in state["jobs"]:
                if raw["id"] == job_id:
                    raw.update(runner_pid=os.getpid(),
                               runner_started=process_start_time(os.getpid()))
                    if job_id in granted and raw["status"] == "queued":
                        raw.update(status="running", slots=list(granted[job_id]),
                                   started_at=time.time())
                    return _job(raw)
        raise KeyError(f"no job {job_id} in {self.path}")


def run_job(root: Path, job_id: int) -> int:
    """The runner: wait for slots, run the command, record how it ended."""
    queue = JobQueue(root)
    stop = {"asked": False}
    child: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, frame: object) -> None:
        stop["asked"] = True
        if child and child[0].poll() is None:
            child[0].send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    job = queue._claim(job_id)
    if job.status == "queued":
        print(f"job {job_id}: queued for {job.slot_label}", flush=True)
    while job.status == "queued":
        if stop["asked"] or job.cancel_requested:
            queue._update(job_id, status="cancelled", finished_at=time.time(),
                          note="cancelled while queued")
            print(f"job {job_id}: cancelled while queued", flush=True)
            return 0
        time.sleep(WAIT_POLL_S)
        job = queue._claim(job_id)
    if job.status != "running":
        return 0  # finished or cancelled by someone else meanwhile
    argv = list(job.argv)
    gpus = [slot for slot in job.slots if slot != CPU]
    if job.kind == "study" and len(gpus) > 1:
        argv += ["--gpus", ",".join(gpus)]
    env = {**os.environ, **job.env, "PYTHONUNBUFFERED": "1"}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    print(f"job {job_id}: started on {job.slot_label}: {shlex.join(argv)}", flush=True)
    try:
        child.append(subprocess.Popen(argv, env=env, cwd=job.cwd, stdin=subprocess.DEVNULL))
    except OSError as error:
        queue._update(job_id, status="failed", finished_at=time.time(), slots=[],
                      note=f"could not start: {error}")
        print(f"job {job_id}: could not start: {error}", flush=True)
        return 1
    queue._update(job_id, child_pid=child[0].pid)
    if stop["asked"]:
        child[0].send_signal(signal.SIGTERM)
    returncode = child[0].wait()
    cancelled = stop["asked"] or queue._stored(job_id).cancel_requested
    status = "cancelled" if cancelled else "completed" if returncode == 0 else "failed"
    note = ("" if returncode == 0 else f"killed by signal {-returncode}" if returncode < 0
            else f"exit code {returncode}")
    queue._update(job_id, status=status, returncode=returncode, finished_at=time.time(),
                  slots=[], note=note)
    print(f"job {job_id}: {status}{f' ({note})' if note else ''}", flush=True)
    return 0


def tail(path: str | Path, *, max_lines: int = 200, max_bytes: int = 64 * 1024) -> list[str]:
    """The last lines of a log; a progress bar's carriage-return updates keep their last state."""
    try:
        with open_regular(path) as handle:  # a named pipe for a log would block the screen
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first one is cut
    return [line.rsplit("\r", 1)[-1] for line in lines[-max_lines:]]


def _slot_name(slot: str) -> str:
    return "CPU" if slot == CPU else f"GPU {slot}"


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in values.items()}


def _runner_argv(job_id: int, root: Path) -> list[str]:
    """A job's runner command; its arguments after the interpreter identify the runner."""
    return [sys.executable, "-m", "morec_tui.jobs", str(job_id), "--root", str(root)]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def _json_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             type(None): "null"}
    return names.get(type(value), "a number")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _or_none(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _is_positive(value: Any) -> bool:
    # A pid of 0 or -1 would signal a whole process group, or every process we may signal.
    return _is_int(value) and value > 0


def _is_pid(value: Any) -> bool:
    """A number a process can have: positive and at most Linux's PID_MAX_LIMIT (2**22), so a
    forged 2**70 is refused here rather than overflowing a system call later."""
    return _is_positive(value) and value <= PID_MAX_LIMIT


# What each field of a record must hold, and how a message says it; a test checks that every
# field of Job is here.
_FIELD_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (_is_positive, "a positive integer"),
    "kind": (lambda value: value in JOB_KINDS, " or ".join(JOB_KINDS)),
    "label": (lambda value: isinstance(value, str), "a string"),
    "argv": (lambda value: _is_strings(value) and bool(value), "a non-empty list of strings"),
    "candidates": (lambda value: _is_strings(value) and bool(value),
                   "a non-empty list of strings"),
    "slots_needed": (_is_positive, "a positive integer"),
    "status": (lambda value: value in JOB_STATUSES, "one of " + ", ".join(JOB_STATUSES)),
    "slots": (_is_strings, "a list of strings"),
    "study": (_or_none(lambda value: isinstance(value, str)), "a string or null"),
    "env": (lambda value: isinstance(value, dict)
            and all(isinstance(item, str) for item in (*value, *value.values())),
            "an object of strings"),
    "cwd": (lambda value: isinstance(value, str), "a string"),
    "host": (lambda value: isinstance(value, str), "a string"),
    "log": (lambda value: isinstance(value, str), "a string"),
    "created_at": (_is_number, "a number"),
    "started_at": (_or_none(_is_number), "a number or null"),
    "finished_at": (_or_none(_is_number), "a number or null"),
    "runner_pid": (_or_none(_is_pid), f"a process id (1 to {PID_MAX_LIMIT:,}) or null"),
    "runner_started": (_or_none(_is_int), "an integer or null"),
    "child_pid": (_or_none(_is_pid), f"a process id (1 to {PID_MAX_LIMIT:,}) or null"),
    "returncode": (_or_none(_is_int), "an integer or null"),
    "cancel_requested": (lambda value: isinstance(value, bool), "a boolean"),
    "note": (lambda value: isinstance(value, str), "a string"),
    "run_id": (_or_none(lambda value: isinstance(value, str)
                        and re.fullmatch(r"[0-9a-f]{32}", value) is not None),
               "a run id (32 hex digits) or null"),
    "spec_json": (_or_none(lambda value: isinstance(value, str)), "a string or null"),
}
_REQUIRED = tuple(f.name for f in dataclasses.fields(Job)
                  if f.default is dataclasses.MISSING
                  and f.default_factory is dataclasses.MISSING)


def _record_problem(record: Any) -> str | None:
    """What is wrong with one job record, or None. Unknown keys pass: a newer morec's fields."""
    if not isinstance(record, dict):
        return f"{_json_name(record)}, not an object"
    missing = [name for name in _REQUIRED if name not in record]
    if missing:
        return f"no {missing[0]}"
    for name, (check, expected) in _FIELD_CHECKS.items():
        if name in record and not check(record[name]):
            return f"{name} is {record[name]!r:.40}, not {expected}"
    return None


def _state_problem(state: Any) -> str | None:
    """What is wrong with a parsed jobs file, or None: its shape, and ids that are unique and
    below next_id (a duplicate would make a new job's runner run another job's command)."""
    if not isinstance(state, dict):
        return f"holds {_json_name(state)}, not an object"
    next_id, records = state.get("next_id"), state.get("jobs")
    if not _is_positive(next_id):
        return f"next_id is {next_id!r:.40}, not a positive integer"
    if not isinstance(records, list):
        return f"jobs is {_json_name(records)}, not a list"
    if not isinstance(state.get("problem", ""), str):
        return "problem is not a string"
    seen: set[int] = set()
    for index, record in enumerate(records):
        problem = _record_problem(record)
        if problem is not None:
            return f"jobs[{index}]: {problem}"
        if record["id"] in seen:
            return f"job id {record['id']} appears twice"
        if record["id"] >= next_id:
            return f"next_id {next_id} is not above job id {record['id']}"
        seen.add(record["id"])
    return None


def _job(raw: dict[str, Any]) -> Job:
    known = {f.name for f in dataclasses.fields(Job)}
    values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                              for key, value in raw.items() if key in known}
    return Job(**values)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run one job of the dashboard's queue.")
    parser.add_argument("job_id", type=int)
    parser.add_argument("--root", type=Path, required=True)
    arguments = parser.parse_args()
    sys.exit(run_job(arguments.root, arguments.job_id))
