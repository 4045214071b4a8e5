"""The paper's tables from the run store, with verdicts: per study and arm, the best-by-
validation configuration's test HR@k / NDCG@k (mean and 95% CI over its seeds), and for each
MoRec arm the paired comparison with the best IDRec arm of the same dataset, backbone and loss.

A row holds the runs of one study arm that share dataset view (the whole data section),
backbone, encoder setup, loss and evaluation protocol: the best configuration is chosen only
among them, on validation (never test), and on the seeds every candidate has (the search seed,
when the study gives its winners further seeds). A comparison pairs users: each user's metric is
averaged over the arm's seeds, the MoRec-minus-IDRec differences give a paired-bootstrap CI, a
paired t-test and a paired randomization test (`morec_core.results.stats`), and the verdict is read at
alpha after a correction across the whole table (Holm by default).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from morec_core import spec_labels
from morec_core.results import stats
from morec_core.results.compare_types import (
    COST_FIELDS,
    DEFAULT_SETTINGS,
    FORMATS,
    RECOMPUTE_HINT,
    TESTS,
    VERDICTS,
    CompareRow,
    Comparison,
    Settings,
)
from morec_core.results.compare_verdicts import (
    compared,
    contrast_rows,
    data_differences,
    disambiguated,
    metric_name,
    pooled_user_values,
)
from morec_core.store import RunRecord, Store

# The types, and contrast_rows, named here for the callers of `morec_core.results.compare`.
__all__ = ["COST_FIELDS", "DEFAULT_SETTINGS", "FORMATS", "RECOMPUTE_HINT", "TESTS", "VERDICTS",
           "CompareRow", "Comparison", "Settings", "compare_rows", "contrast_rows",
           "data_differences"]


def compare_rows(store: Store, studies: Sequence[str], splits: Sequence[str] = ("test",),
                 settings: Settings = DEFAULT_SETTINGS) -> list[CompareRow]:
    """One row per (study, arm, dataset view, backbone, encoder, loss, protocol, by-values)."""
    rows: list[tuple[CompareRow, dict[str, dict[str, np.ndarray]]]] = []
    for study in studies:
        groups: dict[tuple[str, ...], list[RunRecord]] = defaultdict(list)
        for run in store.runs(study=study):
            groups[_row_key(run, settings.by)].append(run)
        # Each split's metrics of every run of the study, at its best epoch, in one query.
        metrics = {split: store.best_epoch_metrics(split, study) for split in splits}
        for key in sorted(groups):
            rows.append(_arm_row(store, study, groups[key], splits, metrics, settings))
    return disambiguated(compared(rows, settings))


# --- one arm ------------------------------------------------------------------------------


def _row_key(run: RunRecord, by: Sequence[str]) -> tuple[str, ...]:
    spec = run.run_spec
    return (run.arm or run.encoder, spec_labels.data_key(spec), run.backbone, run.encoder,
            spec.train.loss, json.dumps(spec_labels.protocol_fields(spec), sort_keys=True),
            *[spec_labels.setting_text(spec, key) for key in by])


def _arm_row(store: Store, study: str, runs: list[RunRecord], splits: Sequence[str],
             metrics: dict[str, dict[str, dict[str, float]]],
             settings: Settings) -> tuple[CompareRow, dict[str, dict[str, np.ndarray]]]:
    configs: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        if run.best_value is not None and run.status == "completed":
            configs[run.spec_key].append(run)
    selected = _select(list(configs.values()))
    tests = [{metric_name(split, name): value for split in splits
              for name, value in metrics[split].get(run.id, {}).items()} for run in selected]
    # "users" and "ties" describe the evaluation; they are no metric to compare.
    names = sorted({name for test in tests for name in test
                    if not name.endswith("users") and "ties@" not in name})
    values = {name: [test[name] for test in tests if name in test] for name in names}
    # HR@k and NDCG@k lie in [0, 1]; a t-interval over 2-3 seeds can reach past either end.
    intervals = {name: _clipped(stats.seed_interval(found)) for name, found in values.items()}
    ties = [test[name] for test in tests for name in test if name.startswith("ties@")]
    per_user, missing = pooled_user_values(store, selected, splits, names)
    seconds = store.training_seconds([run.id for run in runs])
    first = selected[0] if selected else runs[0]
    spec = first.run_spec
    row = CompareRow(
        study=study, dataset=spec_labels.data_view(spec), backbone=first.backbone,
        loss=spec.train.loss, arm=first.arm or first.encoder, encoder=first.encoder,
        paradigm=spec_labels.paradigm(spec),
        by={key: spec_labels.setting_text(spec, key) for key in settings.by},
        best_run=selected[0].id if selected else None,
        run_ids=tuple(run.id for run in selected), trial_ids=tuple(run.id for run in runs),
        # Drops nothing (`configs` keeps runs with a best value only); it narrows the type.
        valid=statistics.fmean(run.best_value for run in selected
                               if run.best_value is not None) if selected else None,
        test={name: statistics.fmean(found) for name, found in values.items()},
        test_ci={name: interval for name, interval in intervals.items() if interval},
        seeds=len(selected), configurations=len({run.spec_key for run in runs}),
        trials=len(runs), outcomes=dict(Counter(run.status for run in runs)),
        ties=statistics.fmean(ties) if ties else None, protocol=first.protocol,
        protocol_fields=spec_labels.protocol_fields(spec), data_key=spec_labels.data_key(spec),
        missing_user_results=missing,
        notes=tuple(_note(run) for run in runs if run.status in ("collapsed", "failed")),
        cost=_cost(selected),
        # The selected runs' data, else any run's: an arm whose runs all collapsed trained on
        # data too (every run of a row shares its data key).
        fingerprint=next((run.data_fingerprint for run in [*selected, *runs]
                          if run.data_fingerprint), ""),
        training_seconds=(statistics.fmean(seconds[run.id] for run in selected)
                          if selected and all(run.id in seconds for run in selected) else None),
        spent_seconds=sum(seconds.values()))
    return row, per_user



def _cost(runs: list[RunRecord]) -> dict[str, float]:
    """Mean of each cost field over the runs that recorded it."""
    cost = {}
    for name in COST_FIELDS:
        found = [float(value) for run in runs if (value := getattr(run, name)) is not None]
        if found:
            cost[name] = statistics.fmean(found)
    return cost


def _clipped(interval: tuple[float, float] | None) -> tuple[float, float] | None:
    return None if interval is None else (max(interval[0], 0.0), min(interval[1], 1.0))


def _select(configs: list[list[RunRecord]]) -> list[RunRecord]:
    """The configuration with the best validation, on the seeds every candidate has (the
    search seed of a study that re-ran its winners; every seed when all ran all), else on
    each one's mean; its runs, by seed."""
    if not configs:
        return []
    common = set.intersection(*({run.seed for run in runs} for runs in configs))

    def score(runs: list[RunRecord]) -> float:
        chosen = [run for run in runs if run.seed in common] or runs
        return statistics.fmean(run.best_value or 0.0 for run in chosen)

    best = max(configs, key=score)
    return sorted(best, key=lambda run: run.seed)


def _note(run: RunRecord) -> str:
    train = run.run_spec.train
    settings = f"lr {train.lr:g}, lr_encoder {train.lr_encoder:g}, seed {train.seed}"
    why = run.status_reason or run.error
    return f"{run.status} {run.id[:8]} ({run.arm}: {settings}): {why}"


