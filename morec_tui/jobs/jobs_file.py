"""The jobs file (`<runs>/jobs.json`): read without a lock (it is replaced whole), changed in
short read-modify-write transactions under an flock, and set aside (`jobs.json.corrupt-<time>`)
when it is not one this queue wrote, the queue starting afresh."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from morec_core.regular_files import NotARegularFile, read_regular
from morec_tui.jobs.model import Job
from morec_tui.jobs.records import job_from_record, jsonable, refuse_constant, state_problem

_LOG_NAME = re.compile(r"job-(\d+)\.log")
MAX_JOBS_FILE_BYTES = 64 * 1024 * 1024
"""A jobs file of thousands of jobs is a few MB; one larger is set aside, not parsed."""


class JobFileError(ValueError):
    """The jobs file is not one this queue wrote: one line naming the file and what is wrong."""


class JobsFile:
    """The jobs file of one runs folder. Every change is a short read-modify-write under an flock."""

    def __init__(self, runs_dir: Path) -> None:
        self.root = Path(runs_dir).expanduser().resolve()
        self.path = self.root / "jobs.json"
        self.logs = self.root / "logs"
        self.problem: str | None = None
        """Why the last jobs file was set aside, as of the last read; cleared by `submit`."""

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
            state = json.loads(text, parse_constant=refuse_constant)
        except (ValueError, RecursionError) as error:  # bad JSON, bad UTF-8, absurd nesting
            raise JobFileError(f"{self.path}: not valid JSON, truncated or overwritten? "
                               f"({error})".splitlines()[0]) from error
        problem = state_problem(state)
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
                return job_from_record(raw)
        raise KeyError(f"no job {job_id} in {self.path}")

    def _update(self, job_id: int, **changes: Any) -> Job:
        with self._transaction() as state:
            for raw in state["jobs"]:
                if raw["id"] == job_id:
                    raw.update(jsonable(changes))
                    return job_from_record(raw)
        raise KeyError(f"no job {job_id} in {self.path}")
