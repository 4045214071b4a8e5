"""The runs table's rows: columns, sorts, filters, each run's cells and the seed groups (one
line per configuration, its runs on every seed summed up). No widget here: runs_table.py paints
these rows, and the benchmarks and tests read them directly."""

from __future__ import annotations

import functools
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from morec_core.results.stats import seed_interval
from morec_core.run.events import RUN_STATUSES
from morec_core.store import RunRecord
from morec_core.study.study_view import format_value, parsed_spec

# One style for every status a run row can hold (events.RUN_STATUSES; a test checks).
STATUS_STYLES = {
    "queued": "dim", "starting": "cyan", "running": "bold cyan", "completed": "green",
    "pruned": "dim", "collapsed": "bold white on red", "failed": "bold red",
    "interrupted": "yellow", "cancelled": "dim",
}
ALL = "*"
NO_STUDY = "-"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


ARM_WIDTH = 14
"""The arm column's least width; it widens to the longest label shown, up to ARM_MAX_WIDTH."""
ARM_MAX_WIDTH = 28
PARAM_MAX_WIDTH = 12


def arm_width(labels: Iterable[str]) -> int:
    """Wide enough for every label shown (text:minilm-l6/TS was cut to text:minilm-l6, hiding
    two-stage vs end-to-end), within ARM_MAX_WIDTH."""
    return min(ARM_MAX_WIDTH, max([ARM_WIDTH, *(len(label) for label in labels)]))


def base_columns(test_metrics: Sequence[str], *, arm: int = ARM_WIDTH,
                 params: Mapping[str, str] | None = None) -> list[Column]:
    """params: the settings that vary among the runs shown, `section.key -> label`; their
    columns come right after the test metrics, where a wide terminal still shows them."""
    return [
        # Status to test metrics fit in 80 columns; the rest scrolls (left/right).
        Column("status", "status", 11), Column("study", "study", 10), Column("arm", "arm", arm),
        Column("data", "data", 6), Column("valid", "valid", 6),
        *[Column(f"test:{name}", f"T {name}", max(6, len(name) + 2)) for name in test_metrics],
        *[Column(f"param:{key}", label, min(PARAM_MAX_WIDTH, max(6, len(label))))
          for key, label in (params or {}).items()],
        Column("epochs", "ep", 3), Column("spe", "s/ep", 6), Column("memory", "mem", 6),
        Column("backbone", "bb", 6), Column("device", "device", 8),
        Column("started", "started", 11), Column("id", "id", 8),
    ]


LABEL_COLUMNS = {"study": lambda run: run.study, "arm": lambda run: arm_label(run),
                 "data": lambda run: run.dataset}
"""Label columns that move behind the settings' columns when every run shown has one value."""


def varying_first(columns: Sequence[Column], runs: Sequence[RunRecord]) -> list[int]:
    """The columns' order: a label column whose value is the same in every run shown (one
    study, one arm) goes last, so the settings that do vary (lr, seed) come into view at 80
    columns (issue 24: they sat off-screen behind constant columns). Indices into `columns`."""
    constant = {key for key, value in LABEL_COLUMNS.items()
                if len(runs) > 1 and len({value(run) for run in runs}) == 1}
    moved = [index for index, column in enumerate(columns) if column.key in constant]
    return [index for index in range(len(columns)) if index not in moved] + moved


# Sort keys: label -> (key of a run and its test metrics, newest/largest first?).
SORTS: dict[str, tuple[Callable[[RunRecord, dict[str, float]], Any], bool]] = {
    "newest": (lambda run, test: run.started_at, True),
    "status": (lambda run, test: run.status, False),
    "study": (lambda run, test: (run.study or "", run.arm), False),
    "valid": (lambda run, test: _number(run.best_value), True),
    "test": (lambda run, test: _number(test.get("ndcg@10", test.get("hr@10"))), True),
    "s/epoch": (lambda run, test: _number(run.seconds_per_epoch), True),
    "memory": (lambda run, test: _number(run.peak_memory_bytes), True),
}
SORT_OF_COLUMN = {"status": "status", "study": "study", "arm": "study", "valid": "valid",
                  "spe": "s/epoch", "memory": "memory", "id": "newest"}


def _number(value: float | None) -> float:
    return float("-inf") if value is None else float(value)


def matches(run: RunRecord, terms: Sequence[str]) -> bool:
    """Every term (lower case) is in one of the run's labels (study, arm, encoder, data,
    backbone, status, device, host), or is one of its settings' values (`43`, `0.001`), or
    is in one of its `key=value` settings (`seed=43`, `train.lr=0.001`). Not the run id: a
    number typed for a seed matched every id holding those digits (issue 24)."""
    labels = " ".join((run.study or "", run.arm, run.encoder, run.dataset, run.backbone,
                       run.status, run.device, run.host)).lower()
    values, pairs = _setting_words(run.spec_json)
    return all(term in labels or term in values or (
        "=" in term and any(term in pair for pair in pairs)) for term in terms)


@functools.lru_cache(maxsize=20_000)
def _setting_words(spec_json: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """A spec's values as the table writes them (and as written), and its `key=value`
    pairs under both the full key and the short one (`train.seed=43`, `seed=43`)."""
    flat = parsed_spec(spec_json)[1]
    values = {text.lower() for value in flat.values() for text in (format_value(value),
                                                                    str(value))}
    pairs = tuple(f"{name}={text}".lower() for key, value in flat.items()
                  for name in (key, key.split(".", 1)[-1])
                  for text in dict.fromkeys((format_value(value), str(value))))
    return frozenset(values), pairs


def visible_runs(runs: Sequence[RunRecord], tests: dict[str, dict[str, float]], *, text: str = "",
                 study: str = ALL, status: str = ALL, sort: str = "newest",
                 reverse: bool = False) -> list[RunRecord]:
    terms = text.lower().split()
    kept = [run for run in runs
            if (study == ALL or (run.study or NO_STUDY) == study)
            and (status == ALL or run.status == status)
            and (not terms or matches(run, terms))]
    key, descending = SORTS[sort]
    return sorted(kept, key=lambda run: key(run, tests.get(run.id, {})),
                  reverse=descending != reverse)


def metric_names(tests: dict[str, dict[str, float]]) -> list[str]:
    names = {name for metrics in tests.values() for name in metrics
             if name != "users" and not name.startswith("ties@")}
    return sorted(names) or ["hr@10", "ndcg@10"]


def arm_label(run: RunRecord) -> str:
    """The study's arm name, or the encoder label (text:minilm-l6/TS) of a run without one."""
    return run.arm or run.encoder


def run_cells(run: RunRecord, test: dict[str, float], test_metrics: Sequence[str],
              params: Sequence[Any] = (), live_seconds: float | None = None) -> list[Any]:
    """params: the run's values of the varying settings, in base_columns' order;
    live_seconds: a running run's seconds per epoch so far, shown as ~12.3 until its cost is
    measured at the end."""
    seconds = ("" if live_seconds is None else f"~{live_seconds:.1f}"
               ) if run.seconds_per_epoch is None else f"{run.seconds_per_epoch:.1f}"
    cells: list[Any] = [
        run.study or NO_STUDY, arm_label(run), run.dataset,
        _metric(run.best_value), *[_metric(test.get(name)) for name in test_metrics],
        *[format_value(value) for value in params],
        "" if run.last_epoch is None else str(run.last_epoch + 1),
        seconds, _bytes(run.peak_memory_bytes), run.backbone, device_label(run.device),
        started_label(run.started_at), run.id[:8],
    ]
    status = Text(run.status, style=STATUS_STYLES.get(run.status, ""))
    if run.status == "collapsed":
        return [status, *(Text(cell, style="red") for cell in cells)]
    return [status, *cells]


def group_columns(test_metrics: Sequence[str], *, arm: int = ARM_WIDTH,
                  params: Mapping[str, str] | None = None) -> list[Column]:
    """params as in base_columns, without the seed (it is what a group's runs differ by)."""
    return [
        # Study to test metrics fit in 80 columns, as in base_columns; the status summary is long.
        Column("study", "study", 10), Column("arm", "arm", arm), Column("data", "data", 6),
        Column("runs", "N", 2), Column("valid", "valid", 13),
        *[Column(f"test:{name}", f"T {name} %", max(10, len(name) + 4)) for name in test_metrics],
        *[Column(f"param:{key}", label, min(PARAM_MAX_WIDTH, max(6, len(label))))
          for key, label in (params or {}).items()],
        Column("status", "status", 24), Column("spe", "s/ep", 6), Column("memory", "mem", 6),
        Column("backbone", "bb", 6), Column("id", "best", 8),
    ]


def seed_groups(runs: Sequence[RunRecord], tests: dict[str, dict[str, float]],
                test_metrics: Sequence[str],
                params: Mapping[str, Sequence[Any]] | None = None) -> list[tuple[str, list[Any]]]:
    """One line per (study, arm, spec_key) of `runs`, the runs that differ only by seed, in the
    order of each group's first run: the id of its best run (highest validation, completed
    first: what Enter opens) and its cells. Means and 95% intervals over its completed runs."""
    groups: dict[tuple[str, str, str], list[RunRecord]] = {}
    for run in runs:
        key = (run.study or NO_STUDY, run.arm or run.encoder, run.spec_key)
        groups.setdefault(key, []).append(run)
    lines = []
    for members in groups.values():
        best = max(members, key=lambda run: (run.status == "completed", _number(run.best_value)))
        done = [run for run in members if run.status == "completed"]
        counts = Counter(run.status for run in members)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(
            counts.items(), key=lambda item: (-item[1], RUN_STATUSES.index(item[0]))))
        speeds = [run.seconds_per_epoch for run in members if run.seconds_per_epoch is not None]
        memory = [run.peak_memory_bytes for run in members if run.peak_memory_bytes is not None]
        cells: list[Any] = [
            best.study or NO_STUDY, arm_label(best), best.dataset, str(len(members)),
            _mean_interval([run.best_value for run in done if run.best_value is not None]),
            *[_mean_interval([tests[run.id][name] for run in done
                              if name in tests.get(run.id, {})], percent=True)
              for name in test_metrics],
            *[format_value(value) for value in (params or {}).get(best.id, ())],
            Text(summary, style=STATUS_STYLES.get(best.status, "") if len(counts) == 1 else ""),
            f"{statistics.fmean(speeds):.1f}" if speeds else "", _bytes(max(memory, default=None)),
            best.backbone, best.id[:8],
        ]
        lines.append((best.id, cells))
    return lines


def _mean_interval(values: Sequence[float], *, percent: bool = False) -> str:
    """Mean±half of its 95% interval over seeds, e.g. 0.1170±0.0012 or, in %, 23.40±1.20;
    n/a for one value."""
    if not values:
        return ""
    scale, digits = (100.0, 2) if percent else (1.0, 4)
    interval = seed_interval(values)
    half = "n/a" if interval is None else f"{scale * (interval[1] - interval[0]) / 2:.{digits}f}"
    return f"{scale * statistics.fmean(values):.{digits}f}±{half}"


def _metric(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _bytes(value: int | None) -> str:
    """At most 6 characters with the unit: 1000-1023 MiB is 0.98G, not 1006.1M (which the
    column cut to 1006.1)."""
    if value is None:
        return ""
    for unit, size in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if value >= size * 1000 / 1024:
            scaled = value / size
            return f"{scaled:.2f}{unit}" if scaled < 1 else f"{scaled:.1f}{unit}"
    return f"{value}B"


def started_label(started_at: float) -> str:
    """Local time, as the jobs screen shows it: 11-14 22:13."""
    return time.strftime("%m-%d %H:%M", time.localtime(started_at))


def device_label(device: str) -> str:
    """The device without its details: "cuda:0 (NVIDIA H100), bf16" -> cuda:0, "cpu, fp32" ->
    cpu (a split on spaces alone left "cpu,")."""
    return re.split(r"[\s,(]", device.strip(), maxsplit=1)[0]
