"""What the dashboard shows of runs and studies that is not one run's record: the settings that
differ among runs, a study's progress over its grid, its trials with their parameters, and how
the best validation metric moves with one grid key. No Textual, no torch: the dashboard's
worker threads and the benchmarks call it, and tests check it on plain records.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from morec_core.results.stats import seed_interval
from morec_core.store import CurvePoint, RunRecord
from morec_core.study.studies import GridPoint, Study

# Settings the runs table shows in columns of their own (data, arm label, backbone): a
# difference there needs no second column.
SHOWN_ELSEWHERE = frozenset({"data.source", "backbone.name", "encoder.name", "encoder.model",
                             "encoder.mode"})
SEED_KEY = "train.seed"


def flat_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec as `section.key -> value` (what `--set` takes); lists become tuples so that every
    value can sit in a set."""
    return {f"{section}.{key}": tuple(value) if isinstance(value, list) else value
            for section, values in spec.items() if isinstance(values, Mapping)
            for key, value in values.items()}


@functools.lru_cache(maxsize=20_000)
def parsed_spec(spec_json: str) -> tuple[frozenset[tuple[str, Any]], dict[str, Any]]:
    """A run's spec as hashable (key, value) pairs and as flat_spec, parsed once per spec text
    (a spec never changes; parsing 10,000 of them each poll took some 0.3 s). Read-only."""
    flat = flat_spec(json.loads(spec_json))
    items = frozenset((key, json.dumps(value) if isinstance(value, tuple | dict) else value)
                      for key, value in flat.items())
    return items, flat


def spec_items(spec_json: str) -> frozenset[tuple[str, Any]]:
    """The (key, value) pairs of a run's spec: runs are compared with set operations, and runs
    of one spec text share one object (varying_keys skips them)."""
    return parsed_spec(spec_json)[0]


def varying_keys(items: Sequence[frozenset[tuple[str, Any]]], *, seed: bool = True) -> list[str]:
    """The settings whose value is not the same in every one of `items` (spec_items of the runs
    shown), in `section.key` order; without the seed when `seed` is False (runs grouped by
    seed), and without what other columns show (SHOWN_ELSEWHERE)."""
    if len(items) < 2:
        return []
    first = items[0]
    differing: set[str] = set()
    for other in {id(item): item for item in items}.values():  # each spec text once
        if other is not first:
            differing.update(key for key, _ in other ^ first)
    differing -= SHOWN_ELSEWHERE
    if not seed:
        differing.discard(SEED_KEY)
    return sorted(differing)


def short_labels(keys: Sequence[str]) -> dict[str, str]:
    """Column labels: `lr` for train.lr, unless another section has a `lr` too."""
    names = [key.split(".", 1)[-1] for key in keys]
    return {key: name if names.count(name) == 1 else key for key, name in zip(keys, names,
                                                                               strict=True)}


def format_value(value: Any) -> str:
    """A setting as a cell: 0.0001 as 1e-04, 1000.0 as 1000, True as true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}" if 1e-3 <= abs(value) < 1e5 or value == 0 else f"{value:.0e}"
    if value is None:
        return ""
    return str(value)


@dataclass(frozen=True, kw_only=True)
class Progress:
    """A study's trials by state, against the size of its grid (None: no study module of that
    name here, e.g. a study renamed with `morec tune --name`)."""

    grid: int | None
    left: int | None
    """Trials of the grid neither run nor queued (search points, and the further seeds')."""
    done: int
    running: int
    queued: int
    """Queued runs, and trials waiting in Optuna for a worker (they have no run yet)."""
    collapsed: int
    failed: int
    pruned: int
    interrupted: int = 0
    """Interrupted or cancelled: they resume from their checkpoint (not failed)."""
    grid_source: str = "module"
    """Where the grid's size came from: the study's module, or Optuna's trials (a study made
    by `morec tune --name`)."""

    def line(self) -> str:
        parts = [f"{self.done} done", f"{self.running} running", f"{self.queued} queued",
                 f"{self.collapsed} collapsed"]
        parts += [f"{count} {name}" for name, count in (("failed", self.failed),
                                                        ("pruned", self.pruned),
                                                        ("interrupted", self.interrupted))
                  if count]
        if self.grid is not None:
            parts.append(f"{self.left} of {self.grid} not started"
                         + (" (grid: Optuna's trials)" if self.grid_source == "optuna" else ""))
        return " · ".join(parts)


def progress(runs: Sequence[RunRecord], study: Study | None,
             optuna_states: Mapping[str, int] | None = None) -> Progress:
    """Counts of a study's runs; interrupted and cancelled ones count as interrupted (they
    resume), not failed. optuna_states: the study's Optuna trials by state (study_optuna):
    its WAITING trials count as queued, and without a module they are the grid."""
    counts = {"completed": 0, "running": 0, "queued": 0, "collapsed": 0, "failed": 0,
              "pruned": 0, "interrupted": 0}
    for run in runs:
        state = {"starting": "running", "cancelled": "interrupted"}.get(run.status, run.status)
        counts[state] = counts.get(state, 0) + 1
    waiting = (optuna_states or {}).get("WAITING", 0)
    grid = left = None
    source = "module"
    if study is not None:
        grid = grid_size(study)
        first = study.seed_values[0]
        seed_runs = {(run.arm, run.seed) for run in runs if run.seed != first}
        seeds_left = len(study.arms) * (len(study.seed_values) - 1) - len(seed_runs)
        left = max(0, len(not_started(study, runs)) + max(0, seeds_left) - waiting)
    elif optuna_states:
        # `morec tune --name`: the grid is what was enqueued in Optuna (every trial, any state).
        grid, left, source = sum(optuna_states.values()), 0, "optuna"
    return Progress(grid=grid, left=left, done=counts["completed"], running=counts["running"],
                    queued=counts["queued"] + waiting, collapsed=counts["collapsed"],
                    failed=counts["failed"], pruned=counts["pruned"],
                    interrupted=counts["interrupted"], grid_source=source)


@dataclass(frozen=True, kw_only=True)
class Trial:
    """One run of a study as its trials table shows it."""

    run: RunRecord
    params: dict[str, Any]
    """The settings that vary among the study's runs (varying_keys), by `section.key`."""


def trials(runs: Sequence[RunRecord]) -> tuple[list[str], list[Trial]]:
    """The keys that vary among a study's runs (seed included) and each run with their values."""
    keys = varying_keys([spec_items(run.spec_json) for run in runs])
    found = []
    for run in runs:
        flat = parsed_spec(run.spec_json)[1]
        found.append(Trial(run=run, params={key: flat.get(key) for key in keys}))
    return keys, found


@dataclass(frozen=True, kw_only=True)
class Point:
    """One trial on the `key` vs best-validation plot."""

    x: float
    y: float
    collapsed: bool
    run_id: str


def numeric_keys(found: Sequence[Trial]) -> list[str]:
    """Keys whose values are numbers in every trial that has them (what can be an x axis)."""
    keys = []
    for key in (found[0].params if found else {}):
        values = [trial.params[key] for trial in found if trial.params.get(key) is not None]
        if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            keys.append(key)
    return keys


def metric_points(found: Sequence[Trial], key: str) -> list[Point]:
    """(value of `key`, best validation metric) per trial that has both; a collapsed trial
    without a best value is put at 0, where its metric fell."""
    points = []
    for trial in found:
        x = trial.params.get(key)
        if not isinstance(x, int | float) or isinstance(x, bool):
            continue
        collapsed = trial.run.status == "collapsed"
        y = trial.run.best_value
        if y is None and collapsed:
            y = 0.0
        if y is None or not math.isfinite(y):
            continue
        points.append(Point(x=float(x), y=float(y), collapsed=collapsed, run_id=trial.run.id))
    return points


def wants_log_axis(values: Sequence[float]) -> bool:
    """A log axis for positive values spanning more than a factor of 10 (learning rates)."""
    positive = [value for value in values if value > 0]
    return len(positive) == len(values) > 1 and max(positive) / min(positive) > 10


def grid_size(study: Study) -> int:
    """Trials the study runs in all: every search point, then each arm's selected
    configuration on each further seed."""
    return len(study.points()) + len(study.arms) * (len(study.seed_values) - 1)


def not_started(study: Study, runs: Iterable[RunRecord]) -> list[GridPoint]:
    """The search points no run of `runs` is (by arm, configuration and seed); the further
    seeds' points are not known until their arm's search has a winner."""
    recorded = {(run.arm, run.spec_key, run.seed) for run in runs}
    return [point for point in study.points()
            if (point.arm, point.spec.spec_key, point.seed) not in recorded]


@dataclass(frozen=True, kw_only=True)
class SeedBand:
    """A configuration's curve over its seeds: per epoch the mean and its 95% Student-t
    interval, only at the epochs every seed reached (issue 24: once one seed stops early the
    interval over the rest has fewer degrees of freedom, t(0.975, 1) = 12.7, and the band
    swamped the curves), clipped to the metric's range."""

    mean: list[CurvePoint]
    low: list[CurvePoint]
    high: list[CurvePoint]
    seeds: int
    reached: tuple[int, ...] = ()
    """Per seed, the last epoch (0-based) it recorded, -1 for none: where they differ, the
    band ends at the smallest."""


def seed_band(curves: Sequence[Sequence[CurvePoint]],
              bounds: tuple[float, float] | None = None) -> SeedBand:
    """The band of one configuration's runs (one curve per seed) at the epochs where every seed
    has a finite value (a NaN loss leaves its epoch out); `bounds` (low, high): the metric's
    range (HR and NDCG lie in [0, 1]), which the interval is clipped to."""
    by_epoch: dict[int, list[float]] = {}
    for curve in curves:
        for point in curve:
            if math.isfinite(point.value):
                by_epoch.setdefault(point.epoch, []).append(point.value)
    mean, low, high = [], [], []
    for epoch, values in sorted(by_epoch.items()):
        interval = seed_interval(values) if len(values) == len(curves) else None
        if interval is None:
            continue
        lower, upper = interval
        if bounds is not None:
            lower, upper = max(lower, bounds[0]), min(upper, bounds[1])
        mean.append(CurvePoint(epoch=epoch, value=sum(values) / len(values)))
        low.append(CurvePoint(epoch=epoch, value=lower))
        high.append(CurvePoint(epoch=epoch, value=upper))
    reached = tuple(max((point.epoch for point in curve), default=-1) for curve in curves)
    return SeedBand(mean=mean, low=low, high=high, seeds=len(curves), reached=reached)
