"""The tuning audit: per arm of `morec compare`, how it was tuned and what a reviewer would ask.

For each arm: its grid (the study definition's, when the study is known here; else the values
its runs searched), the trials run, the configurations searched, the seeds, the device-hours
spent training, and the chosen value of every searched key. Then the warnings:

- grid edge: the chosen value of a numeric key is the grid's smallest or largest, so the
  optimum may lie beyond it (with two values every choice is an edge, and the warning says so);
- unequal budgets: a MoRec arm and the IDRec arm it is compared with searched configurations,
  or spent device-hours, in a ratio above BUDGET_RATIO;
- unequal epoch caps (train.epochs) between the two;
- configurations of one arm selected on different validation metrics.

Selection itself is on validation only (`compare._select` never reads test), so there is no
other selection to refuse here; the audit says which validation metric chose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from morec_core.results.compare import CompareRow
from morec_core.store import RunRecord

BUDGET_RATIO = 1.5
"""Above this ratio of configurations searched (or device-hours spent) between a MoRec arm and
its IDRec arm, the budgets are called unequal. Why 1.5: for two equally good arms whose trial
scores are exchangeable draws, the best of all n + m trials falls in the arm with n trials with
probability n / (n + m); at a ratio of 1.5 that is 60%, so beyond it the larger budget alone
would win a "which arm is best" contest more often than 3 times in 5."""

NOT_SEARCHED = ("train.seed", "train.compile", "train.stop_on_collapse", "encoder.packed")
"""Settings that differ between runs of one arm without being searched (spec_key leaves them out)."""


class StudyGrids(Protocol):
    """What the audit reads of a study definition (morec_core.study.studies.Study), named here so
    that the audit, and compare with it, never import the studies module: its model checks
    reach the encoders' registry (torch)."""

    def arm(self, name: str) -> Any: ...

    def grid_of(self, arm: Any) -> dict[str, tuple[object, ...]]: ...


@dataclass(frozen=True, kw_only=True)
class ArmAudit:
    label: str
    """study/arm, as the compare tables name it."""
    grid: dict[str, tuple[Any, ...]]
    """Searched key -> its values (two or more)."""
    grid_size: int
    """Configurations in the grid (the product of the searched keys' values)."""
    grid_from: str
    """"study definition" or "runs" (the study is not defined here: the values its runs had)."""
    configurations: int
    """Distinct configurations run (spec keys)."""
    trials: int
    seeds: int
    device_hours: float
    """Training device-hours of every run of the arm (the recorded epochs' seconds / 3600)."""
    chosen: dict[str, Any]
    """Searched key -> the selected configuration's value."""
    selection: str
    """e.g. "validation ndcg@10"."""
    warnings: tuple[str, ...] = field(default_factory=tuple)


def flatten(spec: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """{"train": {"lr": 0.001}} -> {"train.lr": 0.001}."""
    return {f"{section}.{key}": value for section, values in spec.items()
            for key, value in values.items()}


def _arm_name(row: CompareRow) -> str:
    """The study's own arm name: compare disambiguates "X [encoder, loss]"."""
    return row.arm.split(" [")[0]


def _grid(row: CompareRow, runs: Sequence[RunRecord], definitions: Mapping[str, StudyGrids]
          ) -> tuple[dict[str, tuple[Any, ...]], str]:
    study = definitions.get(row.study)
    if study is not None:
        try:
            arm = study.arm(_arm_name(row))
        except KeyError:
            arm = None
        if arm is not None:
            grid = study.grid_of(arm)
            return {key: tuple(values) for key, values in grid.items()
                    if len(set(map(repr, values))) > 1}, "study definition"
    flat = [flatten(run.run_spec.to_dict()) for run in runs]
    keys = sorted({key for spec in flat for key in spec} - set(NOT_SEARCHED))
    grid = {}
    for key in keys:
        values = {repr(spec.get(key)): spec.get(key) for spec in flat}
        if len(values) > 1:
            grid[key] = tuple(sorted(values.values(), key=_order))
    return grid, "runs"


def _order(value: Any) -> tuple[int, Any]:
    return (0, value) if _numeric(value) else (1, repr(value))


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _edge_warning(key: str, chosen: Any, values: tuple[Any, ...]) -> str:
    numbers = sorted({value for value in values if _numeric(value)})
    if len(numbers) < 2 or not _numeric(chosen) or numbers[0] < chosen < numbers[-1]:
        return ""
    side = "largest" if chosen == numbers[-1] else "smallest"
    listed = ", ".join(f"{value:g}" for value in numbers)
    beyond = ("a two-value grid has no inside: the optimum may lie beyond either end"
              if len(numbers) == 2 else "the optimum may lie beyond it")
    return f"best {key} is the grid's {side} value ({chosen:g} of {listed}): {beyond}"


def _ratio_warning(what: str, row: CompareRow, mine: float, other: CompareRow,
                   theirs: float, unit: str) -> str:
    if min(mine, theirs) <= 0:
        return ""
    ratio = max(mine, theirs) / min(mine, theirs)
    if ratio <= BUDGET_RATIO:
        return ""
    return (f"unequal budgets: {row.label} {what} {unit.format(mine)}, {other.label} "
            f"{unit.format(theirs)} ({ratio:.1f}x, above {BUDGET_RATIO:g}x)")


def audit_rows(rows: Sequence[CompareRow], runs: Mapping[str, RunRecord],
               definitions: Mapping[str, StudyGrids]) -> list[ArmAudit]:
    """One audit per row. runs: every run of the rows by id (compare_rows' trial_ids);
    definitions: study name -> definition, for the studies defined on this machine."""
    by_label = {row.label: row for row in rows}
    audits = []
    for row in rows:
        arm_runs = [runs[run_id] for run_id in row.trial_ids if run_id in runs]
        grid, grid_from = _grid(row, arm_runs, definitions)
        selected = runs.get(row.run_ids[0]) if row.run_ids else None
        chosen_spec = flatten(selected.run_spec.to_dict()) if selected is not None else {}
        # Nothing was chosen when no run completed (not every key "None").
        chosen = {key: chosen_spec.get(key) for key in grid} if selected is not None else {}
        warnings = [text for key, values in grid.items()
                    if (text := _edge_warning(key, chosen.get(key), values))] if selected else []
        metrics = sorted({run.selection_metric for run in arm_runs if run.selection_metric})
        if len(metrics) > 1:
            warnings.append(f"configurations selected on different validation metrics "
                            f"({', '.join(metrics)}): their best values do not compare")
        for control in sorted({comparison.control for comparison in row.comparisons.values()}):
            other = by_label.get(control)
            if other is None:
                continue
            warnings += [text for text in (
                _ratio_warning("searched", row, row.configurations, other,
                               other.configurations, "{:.0f} configurations"),
                _ratio_warning("spent", row, row.spent_seconds / 3600, other,
                               other.spent_seconds / 3600, "{:.3g} device-hours"))
                if text]
            caps = _epoch_cap(row, runs), _epoch_cap(other, runs)
            if None not in caps and caps[0] != caps[1]:
                warnings.append(f"unequal epoch caps: {row.label} train.epochs={caps[0]}, "
                                f"{other.label} train.epochs={caps[1]}")
        size = (math.prod(len(values) for values in grid.values()) if grid_from ==
                "study definition" else max(row.configurations, 1))
        audits.append(ArmAudit(
            label=row.label, grid=grid, grid_size=size, grid_from=grid_from,
            configurations=row.configurations, trials=row.trials, seeds=row.seeds,
            device_hours=row.spent_seconds / 3600, chosen=chosen,
            selection="validation " + (", ".join(metrics) or "(no run completed)"),
            warnings=tuple(warnings)))
    return audits


def _epoch_cap(row: CompareRow, runs: Mapping[str, RunRecord]) -> int | None:
    found = [runs[run_id] for run_id in row.run_ids if run_id in runs]
    return found[0].run_spec.train.epochs if found else None

