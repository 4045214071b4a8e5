"""`morec plan`: what a study will cost on this machine, before it runs.

For every distinct cost configuration of the study (an arm, and the grid values that change the
model's shape, such as backbone.embed_dim; learning rates and weight decay do not), the real
model is built on the real data and timed (`plan_measure`, in a process of its own): s/epoch,
one evaluation, peak memory against the device's, one-time setup. Then the study's total:
trials (the grid on the first seed, then each arm's winner on the further seeds) x epochs, as
an upper bound at train.epochs and, where the study has finished runs in the store, as expected
from the epochs those runs took; device-hours; and wall time for the given workers (GPUs or
Slurm jobs), by placing trials longest first on the first free worker.

A plan reads the store read-only (it never creates, migrates or writes one) and queues nothing.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import heapq
import json
import multiprocessing
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from morec_core.config import RunSpec
from morec_core.data.atomic import atomic_file
from morec_core.results.audit import flatten
from morec_core.run.run_status import TRAINED_STATUSES
from morec_core.study.plan_measure import Measurement, measure_or_problem
from morec_core.study.studies import GridPoint, Study

COST_NEUTRAL = ("train.lr", "train.lr_encoder", "train.weight_decay",
                "train.weight_decay_encoder", "train.seed", "train.patience", "train.epochs",
                "train.stop_on_collapse", "train.grad_clip", "eval.metric")
"""Settings that change what a run learns but not what a step or an evaluation costs."""


def cost_key(spec: RunSpec | dict[str, Any]) -> str:
    """A hash of the settings that decide a step's and an evaluation's cost."""
    flat = flatten(spec.to_dict() if isinstance(spec, RunSpec) else spec)
    kept = {key: value for key, value in flat.items() if key not in COST_NEUTRAL}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class Target:
    """One distinct cost configuration of an arm: the grid points that share it."""
    arm: str
    key: str
    variant: str
    """The grid values that set this cost apart within its arm, e.g. backbone.embed_dim=512."""
    spec: RunSpec
    search_trials: int


@dataclass(frozen=True, kw_only=True)
class PlanRow:
    arm: str
    variant: str
    cost_key: str
    measurement: Measurement | None
    problem: str = ""
    """Why it was not measured (one line)."""
    search_trials: int
    seed_trials: int
    """The arm's winner on the further seeds, priced at this configuration's cost (an arm of
    several cost configurations prices them at its dearest, an upper bound)."""
    epochs_upper: int
    epochs_expected: float | None
    """Mean epochs of the arm's finished runs in the store; None without any."""

    def trial_seconds(self, epochs: float) -> float | None:
        if self.measurement is None:
            return None
        found = self.measurement
        return epochs * (found.seconds_per_epoch + found.evaluation_seconds)

    @property
    def fits(self) -> bool | None:
        if self.measurement is None:
            return None
        return self.measurement.peak_memory_bytes <= self.measurement.device_memory_bytes


@dataclass(frozen=True, kw_only=True)
class Plan:
    study: str
    workers: int
    worker_kind: str
    """"local workers", "GPUs" or "Slurm jobs"."""
    rows: tuple[PlanRow, ...]
    notes: tuple[str, ...]
    """What could not be measured or estimated, one line each."""
    store: str
    made_at: float = field(default_factory=time.time)
    measured_in_seconds: float = 0.0

    def trials(self) -> int:
        return sum(row.search_trials + row.seed_trials for row in self.rows)

    def device_hours(self, expected: bool) -> float | None:
        """Every trial's epochs x (s/epoch + evaluation), plus each configuration's setup
        once; None when a configuration was not measured (or, expected, has no finished runs)."""
        total = 0.0
        for row in self.rows:
            epochs = row.epochs_expected if expected else row.epochs_upper
            seconds = None if epochs is None else row.trial_seconds(epochs)
            if seconds is None or row.measurement is None:
                return None
            total += (row.search_trials + row.seed_trials) * seconds
            total += row.measurement.setup_seconds
        return total / 3600

    def wall_hours(self, expected: bool) -> float | None:
        """Trials placed longest first, each on the worker free first (LPT): the time the last
        worker ends. It ignores that an arm's further seeds wait for its search to end."""
        durations = []
        for row in self.rows:
            epochs = row.epochs_expected if expected else row.epochs_upper
            seconds = None if epochs is None else row.trial_seconds(epochs)
            if seconds is None or row.measurement is None:
                return None
            durations += [seconds] * (row.search_trials + row.seed_trials)
        setup = sum(row.measurement.setup_seconds for row in self.rows if row.measurement)
        free = [0.0] * max(self.workers, 1)
        for seconds in sorted(durations, reverse=True):
            heapq.heapreplace(free, free[0] + seconds)
        return (max(free) + setup) / 3600

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw = json.loads(text)
        rows = tuple(PlanRow(**{**row, "measurement": None if row["measurement"] is None
                                else Measurement(**row["measurement"])})
                     for row in raw.pop("rows"))
        return cls(rows=rows, **{**raw, "notes": tuple(raw["notes"])})


def targets(study: Study) -> list[Target]:
    """The study's distinct cost configurations, arm by arm, in the study's order."""
    by_key: dict[tuple[str, str], list[GridPoint]] = defaultdict(list)
    for point in study.points():
        by_key[(point.arm, cost_key(point.spec))].append(point)
    found = []
    for (arm, key), points in by_key.items():
        shaping = {name: value for name, value in points[0].params.items()
                   if name not in COST_NEUTRAL}
        variants = {k for (other_arm, k) in by_key if other_arm == arm}
        variant = (", ".join(f"{name}={value}" for name, value in sorted(shaping.items()))
                   if len(variants) > 1 else "")
        found.append(Target(arm=arm, key=key, variant=variant, spec=points[0].spec,
                            search_trials=len(points)))
    return found


def expected_epochs(runs: Sequence[Any]) -> dict[str, float]:
    """Arm -> mean epochs trained by its finished runs (RunRecords: last_epoch is 0-based)."""
    epochs: dict[str, list[int]] = defaultdict(list)
    for run in runs:
        if run.status in TRAINED_STATUSES and run.last_epoch is not None:
            epochs[run.arm].append(run.last_epoch + 1)
    return {arm: statistics.fmean(found) for arm, found in epochs.items()}


def measure_in_process(spec: RunSpec, *, warmup: int, steps: int,
                       visible_gpu: str | None = None) -> Measurement | str:
    """`plan_measure.measure_or_problem` in a fresh process (spawned: no CUDA or thread state
    inherited); a process that dies (out of memory) is a problem line, not a crash."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(measure_or_problem, spec.to_json(), warmup, steps, visible_gpu)
        try:
            return future.result()
        except concurrent.futures.process.BrokenProcessPool:
            return "the measuring process died (out of memory?)"


def make_plan(study: Study, *, store_runs: Sequence[Any] | None, store: str, workers: int = 1,
              worker_kind: str = "local workers", visible_gpu: str | None = None,
              warmup: int = 2, steps: int = 5, notes: Sequence[str] = ()) -> Plan:
    """Measure every target of `study` and price the study. store_runs: the study's runs in the
    store (None: the store could not be read, the notes say why)."""
    started = time.perf_counter()
    seeds_after = len(study.seed_values) - 1
    expected = expected_epochs(store_runs or [])
    said = list(notes)
    found: list[tuple[Target, Measurement | str]] = []
    for target in targets(study):
        found.append((target, measure_in_process(target.spec, warmup=warmup, steps=steps,
                                                 visible_gpu=visible_gpu)))
    # Each arm's further seeds run its winner, unknown before the search: priced at the arm's
    # dearest measured configuration (its first one when none was measured).
    dearest: dict[str, str] = {}
    for target, _ in found:
        dearest.setdefault(target.arm, target.key)
    for target, measured in found:
        if isinstance(measured, Measurement):
            costs = {t.key: m.seconds_per_epoch + m.evaluation_seconds
                     for t, m in found if isinstance(m, Measurement) and t.arm == target.arm}
            if costs[target.key] > costs.get(dearest[target.arm], -1.0):
                dearest[target.arm] = target.key
    rows = []
    for target, measured in found:
        arm_expected = expected.get(target.arm)
        if arm_expected is None and store_runs is not None:
            said.append(f"{target.arm}: no finished run in the store: expected epochs unknown "
                        f"(upper bound {target.spec.train.epochs})")
        if isinstance(measured, str):
            said.append(f"{target.arm}{f' ({target.variant})' if target.variant else ''}: not "
                        f"measured: {measured}")
        rows.append(PlanRow(
            arm=target.arm, variant=target.variant, cost_key=target.key,
            measurement=measured if isinstance(measured, Measurement) else None,
            problem=measured if isinstance(measured, str) else "",
            search_trials=target.search_trials,
            seed_trials=seeds_after if dearest[target.arm] == target.key else 0,
            epochs_upper=target.spec.train.epochs, epochs_expected=arm_expected))
    return Plan(study=study.name, workers=workers, worker_kind=worker_kind, rows=tuple(rows),
                notes=tuple(dict.fromkeys(said)), store=store,
                measured_in_seconds=time.perf_counter() - started)


def plan_path(runs_dir: Path, study: str) -> Path:
    """Where `morec plan` keeps a study's last plan, for `morec report`'s planned-vs-measured."""
    return runs_dir / "plans" / f"{study}.json"


def save_plan(plan: Plan, path: Path) -> None:
    with atomic_file(path) as temporary:
        temporary.write_text(plan.to_json(), "utf-8")


def load_plan(path: Path) -> Plan | None:
    """The plan saved there; None when there is none, or it cannot be read (an older morec's)."""
    if not path.is_file():
        return None
    try:
        return Plan.from_json(path.read_text("utf-8"))
    except (ValueError, TypeError, KeyError):
        return None
