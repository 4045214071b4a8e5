"""The dashboard's local job queue: studies and single runs as detached processes, one job per
GPU (one CPU slot when there is no GPU), recorded in a small JSON file under the runs folder.

Each job is a runner process (`python -m morec_tui.jobs JOB_ID --root DIR`) in its own session,
so closing the dashboard kills nothing and a reopened one finds its jobs in `jobs.json`. The
runner waits for free slots (oldest job first), starts the job's command with
CUDA_VISIBLE_DEVICES set to its GPUs, records the exit status, and forwards a cancel (SIGTERM)
to the command, which records its run as `cancelled`. Runner and command write one log,
`<runs>/logs/job-<id>.log`. No Textual here: the dashboard reads `JobQueue.jobs()` in a worker.
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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CPU = "cpu"
JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE = ("queued", "running")
WAIT_POLL_S = 1.0
LOST_AFTER_S = 60.0
_RUN_LINE = re.compile(r"^run ([0-9a-f]{32}): ", re.MULTILINE)


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
    child_pid: int | None = None
    returncode: int | None = None
    cancel_requested: bool = False
    note: str = ""
    """Why a job failed or was cancelled, in a few words."""

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


def run_argv(*, dataset: str, path: str, encoder: str, model: str, backbone: str,
             overrides: Sequence[str], store_url: str, study: str | None = None) -> list[str]:
    argv = morec_argv("run", "--dataset", dataset, "--encoder", encoder, "--backbone", backbone,
                      "--storage", store_url, "--quiet")
    argv += ["--path", path] if path else []
    argv += ["--model", model] if model else []
    argv += ["--study", study] if study else []
    for override in overrides:
        argv += ["--set", override]
    return argv


def study_argv(study: str, store_url: str, *, compile_networks: bool = False) -> list[str]:
    argv = morec_argv("tune", "--study", study, "--storage", store_url)
    return argv + ["--compile"] if compile_networks else argv


class JobQueue:
    """Jobs of one runs folder. Every change is a short read-modify-write under an flock."""

    def __init__(self, runs_dir: Path) -> None:
        self.root = Path(runs_dir).expanduser().resolve()
        self.path = self.root / "jobs.json"
        self.logs = self.root / "logs"
        self.host = socket.gethostname()
        self._spawned: dict[int, subprocess.Popen[bytes]] = {}
        self._run_ids: dict[int, list[str]] = {}

    # --- the file -------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[dict[str, Any]]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "jobs.json.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self._read()
                before = json.dumps(state, sort_keys=True)
                yield state
                if json.dumps(state, sort_keys=True) != before:
                    self._write(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"next_id": 1, "jobs": []}
        return state

    def _write(self, state: dict[str, Any]) -> None:
        # Readers never lock: they see the old file or the new one, never half of one.
        scratch = self.path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(scratch, self.path)

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
                    if self._lost(job, now):
                        raw.update(status="cancelled" if job.cancel_requested else "failed",
                                   note=job.note or "job runner died", finished_at=time.time(),
                                   slots=[])
                jobs = [_job(raw) for raw in state["jobs"]]
        return sorted(jobs, key=lambda job: job.id, reverse=True)

    def _lost(self, job: Job, now: float) -> bool:
        from morec_core.store import pid_alive  # sqlalchemy: not in the runner's start-up

        if not job.active or job.host != self.host:
            return False
        if job.runner_pid is None:  # its dashboard died between queueing it and starting it
            return now - job.created_at > LOST_AFTER_S
        return not pid_alive(job.runner_pid)

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
            state["next_id"] += 1
            job = Job(id=job_id, kind=request.kind, label=request.label, argv=request.argv,
                      candidates=candidates, slots_needed=request.slots_needed,
                      study=request.study, env=dict(request.env),
                      cwd=str(Path(request.cwd or os.getcwd()).resolve()), host=self.host,
                      log=str(self.logs / f"job-{job_id}.log"), created_at=time.time())
            state["jobs"].append(_jsonable(dataclasses.asdict(job)))
        with open(job.log, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "morec_tui.jobs", str(job.id), "--root", str(self.root)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=job.cwd, start_new_session=True)
        self._spawned[process.pid] = process
        with self._transaction() as state:
            for raw in state["jobs"]:
                if raw["id"] == job.id and raw["runner_pid"] is None:
                    raw["runner_pid"] = process.pid
        return self.job(job.id)

    def cancel(self, job_id: int, *, force: bool = False) -> Job:
        """Ask the runner to stop the job (SIGTERM, forwarded to the command); `force` kills the
        job's whole process group at once (SIGKILL)."""
        if not self.job(job_id).active:
            return self.job(job_id)
        from morec_core.store import pid_alive

        job = self._update(job_id, cancel_requested=True)
        if job.runner_pid is None or not pid_alive(job.runner_pid):
            return self._update(job_id, status="cancelled", finished_at=time.time(), slots=[],
                                note="cancelled before its runner started")
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile: nothing to stop
            if force:
                os.killpg(job.runner_pid, signal.SIGKILL)
            else:
                os.kill(job.runner_pid, signal.SIGTERM)
        return job

    def run_ids(self, job: Job) -> list[str]:
        """Ids of the runs a job's command announced in its log (`morec run` prints one)."""
        if job.id in self._run_ids and not job.active:
            return self._run_ids[job.id]
        found = list(dict.fromkeys(_RUN_LINE.findall(_head(Path(job.log)))))
        self._run_ids[job.id] = found
        return found

    def job_of_run(self, run_id: str, host: str, pid: int | None) -> Job | None:
        """The job that ran a run: by the run id in its log, or by the pid of its command."""
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
                    raw["runner_pid"] = os.getpid()
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


def tail(path: Path, *, max_lines: int = 200, max_bytes: int = 64 * 1024) -> list[str]:
    """The last lines of a log; a progress bar's carriage-return updates keep their last state."""
    try:
        with open(path, "rb") as handle:
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


def _head(path: Path, max_bytes: int = 256 * 1024) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(max_bytes).decode("utf-8", "replace")
    except OSError:
        return ""


def _slot_name(slot: str) -> str:
    return "CPU" if slot == CPU else f"GPU {slot}"


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in values.items()}


def _job(raw: dict[str, Any]) -> Job:
    known = {f.name for f in dataclasses.fields(Job)}
    values = {key: tuple(value) if isinstance(value, list) else value
              for key, value in raw.items() if key in known}
    return Job(**values)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run one job of the dashboard's queue.")
    parser.add_argument("job_id", type=int)
    parser.add_argument("--root", type=Path, required=True)
    arguments = parser.parse_args()
    sys.exit(run_job(arguments.root, arguments.job_id))
