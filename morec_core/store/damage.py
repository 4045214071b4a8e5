"""What is wrong with a stored row, read before any caller sees it.

A store is shared: PostgreSQL between colleagues, a SQLite file merged from a GPU machine, an
old file a script wrote into. SQLite keeps whatever a column is given (text in a FLOAT column, a
blob in a TEXT one), so a reader meets rows no morec wrote. One such row must not hide the
others: the store sets it aside with one line naming the run and what is wrong (`Store.damaged`),
readers print those lines and go on with the rest, and `morec store check --repair` moves the
rows out of the way. Long texts (a 2 MB failure reason) are cut, not refused.
"""

from __future__ import annotations

import json
import math
from typing import Any

from morec_core.run.run_status import RUN_STATUSES
from morec_core.safe_text import terminal_text

MAX_TEXT_CHARACTERS = 4_000
"""A failure reason or protocol longer than this is cut when read (a screen shows a few lines)."""
MAX_SPEC_CHARACTERS = 1_000_000
MAX_PID = 2**22
SHOWN_VALUE_CHARACTERS = 40

_TEXT = ("arm", "spec_key", "dataset", "encoder", "backbone", "status_reason", "error", "host",
         "device", "selection_metric", "checkpoint_path", "protocol", "data_fingerprint")
_OPTIONAL_INTEGERS = ("trial_number", "best_epoch", "last_epoch")
_OPTIONAL_COUNTS = ("trainable_params", "total_params", "peak_memory_bytes")
_OPTIONAL_NUMBERS = ("finished_at", "flops_per_sample", "seconds_per_epoch")
_NUMBERS = ("started_at", "heartbeat_at")


def shown(value: Any) -> str:
    """A stored value as a warning quotes it: short, and safe for a terminal."""
    text = repr(value)
    if len(text) > SHOWN_VALUE_CHARACTERS:
        text = text[:SHOWN_VALUE_CHARACTERS] + "..."
    return terminal_text(text)


def name_of(value: Any) -> str:
    """A stored name or id as a warning shows it: the text itself if it is text, else quoted."""
    return terminal_text(value) if isinstance(value, str) else shown(value)


def is_count(value: Any) -> bool:
    return _is_integer(value) and value >= 0


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not text)."""
    return (_is_integer(value) or isinstance(value, float)) and math.isfinite(value)


_is_number = is_number


def run_problem(values: dict[str, Any]) -> str | None:
    """What is wrong with a morec_runs row's values (column -> value), or None."""
    spec = values.get("spec_json")
    if not isinstance(spec, str):
        return f"spec_json is {shown(spec)}, not text"
    if len(spec) > MAX_SPEC_CHARACTERS:
        return f"spec_json holds {len(spec):,} characters, more than a spec can"
    try:
        parsed = json.loads(spec)
    except (ValueError, RecursionError) as error:
        return f"spec_json is not JSON ({terminal_text(str(error))[:80]})"
    if not isinstance(parsed, dict):
        return f"spec_json holds a JSON {type(parsed).__name__}, not an object"
    for name in ("train", "data", "encoder", "backbone", "eval"):
        if name in parsed and not isinstance(parsed[name], dict):
            return f"spec_json's {name} is {shown(parsed[name])}, not an object"
    if values.get("status") not in RUN_STATUSES:
        return f"status is {shown(values.get('status'))}, not one of {', '.join(RUN_STATUSES)}"
    if not _is_integer(values.get("seed")):
        return f"seed is {shown(values.get('seed'))}, not an integer"
    for name in _TEXT:
        if not isinstance(values.get(name), str):
            return f"{name} is {shown(values.get(name))}, not text"
    for name in _NUMBERS:
        if not _is_number(values.get(name)):
            return f"{name} is {shown(values.get(name))}, not a finite number"
    for name in _OPTIONAL_NUMBERS:
        value = values.get(name)
        if value is not None and not _is_number(value):
            return f"{name} is {shown(value)}, not a finite number"
    for name in (*_OPTIONAL_INTEGERS, *_OPTIONAL_COUNTS):
        value = values.get(name)
        if value is not None and not (_is_integer(value) and value >= 0):
            return f"{name} is {shown(value)}, not a count"
    pid = values.get("pid")
    if pid is not None and not (_is_integer(pid) and 0 < pid <= MAX_PID):
        return f"pid is {shown(pid)}, not a process id"
    best = values.get("best_value")
    # NULL is how SQLite keeps a NaN; anything else must be a finite number.
    if best is not None and not (_is_number(best) or (isinstance(best, float) and
                                                      math.isnan(best))):
        return f"best_value is {shown(best)}, not a finite number"
    return None


SHOWN_TEXTS = ("arm", "dataset", "encoder", "backbone", "status_reason", "error", "host",
               "device", "protocol")
"""Texts only ever shown (never looked up): read without escape sequences or controls."""


def cut_texts(values: dict[str, Any]) -> dict[str, Any]:
    """The row's long texts cut to MAX_TEXT_CHARACTERS, saying how long they were; the texts
    it only shows made safe for a terminal (safe_text.terminal_text)."""
    cut = dict(values)
    for name in SHOWN_TEXTS:
        if isinstance(cut.get(name), str):
            cut[name] = terminal_text(cut[name][:MAX_TEXT_CHARACTERS * 2])
    for name in ("status_reason", "error", "protocol", "checkpoint_path", "data_fingerprint"):
        text = cut.get(name)
        if isinstance(text, str) and len(text) > MAX_TEXT_CHARACTERS:
            if name == "data_fingerprint":
                cut[name] = ""  # a cut JSON is no fingerprint: read as 'not recorded'
            else:
                cut[name] = f"{text[:MAX_TEXT_CHARACTERS]}... ({len(text):,} characters)"
    return cut


def study_problem(name: Any, description: Any, created_at: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return f"name is {shown(name)}, not text: its runs are shown without a study"
    if not isinstance(description, str):
        return f"description is {shown(description)}, not text (read as empty)"
    if not _is_number(created_at):
        return f"created_at is {shown(created_at)}, not a finite number (read as 0)"
    return None


def damage_lines(damaged: dict[str, str]) -> list[str]:
    """The warnings a reader prints: one per damaged row, then their count."""
    if not damaged:
        return []
    lines = [f"warning: {terminal_text(key)} skipped: {problem}"
             for key, problem in sorted(damaged.items())]
    rows = "row" if len(damaged) == 1 else "rows"
    lines.append(f"warning: {len(damaged)} damaged {rows} skipped, the rest shown; "
                 "`morec store check` lists them, `--repair` moves them aside")
    return lines
