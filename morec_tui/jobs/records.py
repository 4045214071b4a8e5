"""The jobs file checked on every read (issue 13): a record's argv is what a runner executes, and
its runner_pid is what a cancel signals, so every field of every record is checked against what
this queue writes, and ids must be unique and below next_id."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from morec_tui.jobs.model import JOB_KINDS, JOB_STATUSES, Job

PID_MAX_LIMIT = 2**22
"""The largest pid Linux can hand out (PID_MAX_LIMIT on 64-bit kernels)."""


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in values.items()}


def refuse_constant(name: str) -> Any:
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


def record_problem(record: Any) -> str | None:
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


def state_problem(state: Any) -> str | None:
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
        problem = record_problem(record)
        if problem is not None:
            return f"jobs[{index}]: {problem}"
        if record["id"] in seen:
            return f"job id {record['id']} appears twice"
        if record["id"] >= next_id:
            return f"next_id {next_id} is not above job id {record['id']}"
        seen.add(record["id"])
    return None


def job_from_record(raw: dict[str, Any]) -> Job:
    known = {f.name for f in dataclasses.fields(Job)}
    values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                              for key, value in raw.items() if key in known}
    return Job(**values)
