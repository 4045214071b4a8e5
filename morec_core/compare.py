"""The paper's tables from the run store, with verdicts: per study and arm, the best-by-
validation configuration's test HR@k / NDCG@k (mean and 95% CI over its seeds), and for each
MoRec arm the paired comparison with the best IDRec arm of the same dataset, backbone and loss.

A row holds the runs of one study arm that share dataset view (the whole data section),
backbone, encoder setup, loss and evaluation protocol: the best configuration is chosen only
among them, on validation (never test), and on the seeds every candidate has (the search seed,
when the study gives its winners further seeds). A comparison pairs users: each user's metric is
averaged over the arm's seeds, the MoRec-minus-IDRec differences give a paired-bootstrap CI, a
paired t-test and a paired randomization test (`morec_core.stats`), and the verdict is read at
alpha after a correction across the whole table (Holm by default).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from morec_core import spec_labels, stats
from morec_core.fingerprint import DataFingerprint
from morec_core.store import RunRecord, Store
from morec_core.user_results import UserResults

FORMATS = ("table", "markdown", "csv", "latex", "json")
TESTS = ("randomization", "t")
VERDICTS = ("MoRec better", "on par", "IDRec better")
RECOMPUTE_HINT = "per-user results missing: re-run `morec compare --recompute`"


@dataclass(frozen=True, kw_only=True)
class Settings:
    alpha: float = 0.05
    correction: str = "holm"
    """holm | bh | none, across every comparison of the table."""
    test: str = "randomization"
    """Which p-value the verdict reads: randomization | t."""
    wilcoxon: bool = False
    resamples: int = 10_000
    by: tuple[str, ...] = ()
    """Spec keys (`section.key`) whose values split rows and verdicts, e.g. train.loss."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.correction not in stats.CORRECTIONS:
            raise ValueError(f"unknown correction {self.correction!r}; known: "
                             f"{', '.join(stats.CORRECTIONS)}")
        if self.test not in TESTS:
            raise ValueError(f"unknown test {self.test!r}; known: {', '.join(TESTS)}")


DEFAULT_SETTINGS = Settings()


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """One MoRec arm against its IDRec counterpart on one test metric, paired over users."""

    metric: str
    control: str
    """The IDRec row compared with: `study/arm`."""
    users: int
    difference: float
    """Mean over users of MoRec minus IDRec (each user's metric averaged over seeds)."""
    difference_ci: tuple[float, float]
    relative: float | None
    """difference / IDRec's mean (Table 2's Improv.); None when IDRec's mean is 0."""
    relative_ci: tuple[float, float] | None
    p_t: float
    p_randomization: float
    p_wilcoxon: float | None
    p_adjusted: float
    """The verdict's p-value (Settings.test) after the table-wide correction."""
    verdict: str


@dataclass(frozen=True, kw_only=True)
class CompareRow:
    study: str
    dataset: str
    backbone: str
    loss: str
    arm: str
    encoder: str
    paradigm: str
    """IDRec (ID embedding item encoder) or MoRec (a modality encoder)."""
    by: dict[str, str]
    """Values of the Settings.by keys."""
    best_run: str | None
    """Run id of the selected configuration (of its first seed)."""
    run_ids: tuple[str, ...]
    """The selected configuration's runs, one per seed."""
    trial_ids: tuple[str, ...]
    """Every run of the arm (searched, seeds, failed...): what the tuning audit reads."""
    valid: float | None
    """Validation selection metric of the selected configuration (mean over its seeds)."""
    test: dict[str, float]
    """Mean test metrics over seeds, e.g. {"hr@10": ..., "ndcg@10": ..., "cold hr@10": ...}."""
    test_ci: dict[str, tuple[float, float]]
    """95% Student-t interval over seeds (empty with one seed)."""
    seeds: int
    configurations: int
    """Configurations searched (distinct settings but the seed): the arm's tuning budget."""
    trials: int
    outcomes: dict[str, int]
    """Runs by status: completed, pruned, collapsed, failed, interrupted, running..."""
    ties: float | None
    """Share of test users whose target tied with another item (mean over seeds)."""
    protocol: str
    protocol_fields: dict[str, str]
    """What must match for a comparison: k, history masking, tie rule, catalogue size."""
    data_key: str
    """The data section the row's runs share (JSON): the dataset view behind the label."""
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    """MoRec rows: per test metric, against the best IDRec row of the same group."""
    verdict_note: str = ""
    """MoRec rows without comparisons: why."""
    missing_user_results: tuple[str, ...] = ()
    """Selected runs recorded without per-user results (an older morec)."""
    notes: tuple[str, ...] = ()
    """One line per collapsed or failed run: which settings, and why."""
    cost: dict[str, float] = field(default_factory=dict)
    """Means over the selected runs of what each recorded (the paper's Table 6, TPME-style):
    trainable_params, seconds_per_epoch, peak_memory_bytes."""
    fingerprint: str = ""
    """The data the selected runs trained on (DataFingerprint JSON); '' when they were recorded
    before fingerprints existed."""
    training_seconds: float | None = None
    """Training seconds of one run of the selected configuration (the recorded epochs' seconds,
    mean over its seeds): the cost of the accuracy shown."""
    spent_seconds: float = 0.0
    """Training seconds of every run of the arm, searched and seeds: the tuning budget spent."""

    @property
    def data(self) -> DataFingerprint | None:
        return DataFingerprint.from_json(self.fingerprint)

    @property
    def label(self) -> str:
        return f"{self.study}/{self.arm}"


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
    return _disambiguated(_compared(rows, settings))


# --- one arm ------------------------------------------------------------------------------


def _row_key(run: RunRecord, by: Sequence[str]) -> tuple[str, ...]:
    spec = run.run_spec
    return (run.arm or run.encoder, spec_labels.data_key(spec), run.backbone, run.encoder,
            spec.train.loss, json.dumps(spec_labels.protocol_fields(spec), sort_keys=True),
            *[spec_labels.setting_text(spec, key) for key in by])


def _tie_rule(run: RunRecord) -> str:
    return run.run_spec.eval.ties


def _arm_row(store: Store, study: str, runs: list[RunRecord], splits: Sequence[str],
             metrics: dict[str, dict[str, dict[str, float]]],
             settings: Settings) -> tuple[CompareRow, dict[str, dict[str, np.ndarray]]]:
    configs: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        if run.best_value is not None and run.status == "completed":
            configs[run.spec_key].append(run)
    selected = _select(list(configs.values()))
    tests = [{_metric_name(split, name): value for split in splits
              for name, value in metrics[split].get(run.id, {}).items()} for run in selected]
    # "users" and "ties" describe the evaluation; they are no metric to compare.
    names = sorted({name for test in tests for name in test
                    if not name.endswith("users") and "ties@" not in name})
    values = {name: [test[name] for test in tests if name in test] for name in names}
    # HR@k and NDCG@k lie in [0, 1]; a t-interval over 2-3 seeds can reach past either end.
    intervals = {name: _clipped(stats.seed_interval(found)) for name, found in values.items()}
    ties = [test[name] for test in tests for name in test if name.startswith("ties@")]
    per_user, missing = _pooled_user_values(store, selected, splits, names)
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
        fingerprint=next((run.data_fingerprint for run in selected if run.data_fingerprint), ""),
        training_seconds=(statistics.fmean(seconds[run.id] for run in selected)
                          if selected and all(run.id in seconds for run in selected) else None),
        spent_seconds=sum(seconds.values()))
    return row, per_user


COST_FIELDS = ("trainable_params", "seconds_per_epoch", "peak_memory_bytes")


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


def _pooled_user_values(store: Store, runs: list[RunRecord], splits: Sequence[str],
                        names: Sequence[str]) -> tuple[dict[str, dict[str, np.ndarray]],
                                                       tuple[str, ...]]:
    """metric -> {"users": (U,), "values": (U,)}: each user's value averaged over the seeds,
    for the users every seed evaluated; and the runs without per-user results."""
    pooled: dict[str, dict[str, np.ndarray]] = {}
    missing: set[str] = set()
    for split in splits:
        found = store.user_results([run.id for run in runs], split)
        missing |= {run.id for run in runs if run.id not in found and split == "test"}
        results: list[tuple[RunRecord, UserResults]] = [
            (run, found[run.id][1]) for run in runs if run.id in found]
        if not results or len(results) < len(runs):
            continue
        users = results[0][1].users
        for _, result in results[1:]:
            users = np.intersect1d(users, result.users)
        for name in names:
            if _metric_name(split, name.split(" ")[-1]) != name:
                continue
            metric = name.split(" ")[-1]
            columns = []
            for run, result in results:
                try:
                    per_user = result.values(metric, _tie_rule(run))
                except ValueError:
                    break
                columns.append(per_user[np.searchsorted(result.users, users)])
            else:
                pooled[name] = {"users": users, "values": np.mean(columns, axis=0)}
    return pooled, tuple(sorted(missing))


def _note(run: RunRecord) -> str:
    train = run.run_spec.train
    settings = f"lr {train.lr:g}, lr_encoder {train.lr_encoder:g}, seed {train.seed}"
    why = run.status_reason or run.error
    return f"{run.status} {run.id[:8]} ({run.arm}: {settings}): {why}"


def _metric_name(split: str, name: str) -> str:
    """test/hr@10 -> hr@10; test_cold/hr@10 -> cold hr@10."""
    return name if split == "test" else f"{split.removeprefix('test_')} {name}"


# --- verdicts -----------------------------------------------------------------------------


def _group_key(row: CompareRow) -> tuple[str, ...]:
    return (row.data_key, row.backbone, row.loss, *row.by.values())


def _compared(rows: list[tuple[CompareRow, dict[str, dict[str, np.ndarray]]]],
              settings: Settings) -> list[CompareRow]:
    """Every MoRec row against the best IDRec row (by validation) of its group: same dataset
    view, backbone, loss and by-values, across studies (the paper keeps IDRec and each encoder
    in studies of their own). Then one correction over every p-value of the table."""
    groups: dict[tuple[str, ...], list[tuple[CompareRow, Any]]] = defaultdict(list)
    for row, per_user in rows:
        groups[_group_key(row)].append((row, per_user))
    pending: list[tuple[CompareRow, dict[str, stats.PairedResult], str, str]] = []
    for row, per_user in rows:
        if row.paradigm != "MoRec":
            pending.append((row, {}, "", ""))
            continue
        idrec = [(other, values) for other, values in groups[_group_key(row)]
                 if other.paradigm == "IDRec" and other.valid is not None]
        pending.append((row, *_against_idrec(row, per_user, idrec, settings)))
    p_values = [getattr(result, f"p_{settings.test}") for _, results, _, _ in pending
                for result in results.values()]
    adjusted = iter(stats.adjust_p_values(p_values, settings.correction))
    out = []
    for row, results, control, note in pending:
        comparisons = {}
        for metric, result in results.items():
            p_adjusted = next(adjusted)
            comparisons[metric] = Comparison(
                metric=metric, control=control, users=result.users,
                difference=result.difference, difference_ci=result.difference_ci,
                relative=result.relative, relative_ci=result.relative_ci, p_t=result.p_t,
                p_randomization=result.p_randomization, p_wilcoxon=result.p_wilcoxon,
                p_adjusted=p_adjusted,
                verdict=_verdict(result.difference, p_adjusted, settings.alpha))
        out.append(replace(row, comparisons=comparisons, verdict_note=note))
    return out


def _best_idrec(idrec: list[tuple[CompareRow, Any]]) -> tuple[CompareRow, Any] | None:
    return max(idrec, key=lambda pair: pair[0].valid or 0.0, default=None)


def _against_idrec(row: CompareRow, per_user: dict[str, dict[str, np.ndarray]],
                   idrec: list[tuple[CompareRow, Any]], settings: Settings,
                   ) -> tuple[dict[str, stats.PairedResult], str, str]:
    """The paired results of one MoRec row, the IDRec row compared with, or why there are none."""
    if row.valid is None:
        return {}, "", "no verdict: no completed run"
    best_any = _best_idrec(idrec)
    if best_any is None:
        return {}, "", ("no verdict: no IDRec arm with the same dataset, backbone and loss"
                        + "".join(f" and {key}={value}" for key, value in row.by.items()))
    best = _best_idrec([pair for pair in idrec if _comparable(row, pair[0])
                        and not data_differences(row, pair[0])])
    if best is None:
        other = best_any[0]
        if not _comparable(row, other):
            differing = ", ".join(f"{name} {row.protocol_fields.get(name)} vs {value}"
                                  for name, value in other.protocol_fields.items()
                                  if row.protocol_fields.get(name) != value)
            differing = differing or f"{row.protocol!r} vs {other.protocol!r}"
            return {}, "", f"not compared with {other.label}: protocols differ ({differing})"
        return {}, "", (f"not compared with {other.label}: data fingerprints differ "
                        f"({', '.join(data_differences(row, other))})")
    control, control_values = best
    if row.missing_user_results or control.missing_user_results:
        return {}, control.label, RECOMPUTE_HINT
    results = {}
    for metric, treated in per_user.items():
        if metric not in control_values:
            continue
        users, mine, theirs = np.intersect1d(treated["users"], control_values[metric]["users"],
                                             return_indices=True)
        if len(users) == 0:
            continue
        results[metric] = stats.paired_comparison(
            treated["values"][mine], control_values[metric]["values"][theirs],
            resamples=settings.resamples, wilcoxon=settings.wilcoxon)
    if not results:
        return {}, control.label, f"no verdict: no users in common with {control.label}"
    return results, control.label, ""


def _comparable(row: CompareRow, other: CompareRow) -> bool:
    return row.protocol_fields == other.protocol_fields and row.protocol == other.protocol


def data_differences(row: CompareRow, other: CompareRow) -> list[str]:
    """What differs between the data two rows trained on (counts, sequences, split targets,
    item content); empty when the fingerprints are equal or either row has none (runs recorded
    before fingerprints: they are paired, and the notes say they have no fingerprint)."""
    mine, theirs = row.data, other.data
    if mine is None or theirs is None:
        return []
    return mine.differences(theirs)


def _verdict(difference: float, p_adjusted: float, alpha: float) -> str:
    if p_adjusted >= alpha or difference == 0:
        return "on par"
    return "MoRec better" if difference > 0 else "IDRec better"


def _disambiguated(rows: list[CompareRow]) -> list[CompareRow]:
    """Rows of one study and arm that differ in encoder setup or loss are named apart."""
    counts = Counter((row.study, row.arm) for row in rows)
    return [replace(row, arm=f"{row.arm} [{row.encoder}, {row.loss}]")
            if counts[(row.study, row.arm)] > 1 else row for row in rows]


# --- contrasts between any two rows (morec report) -----------------------------------------


def contrast_rows(store: Store, pairs: Sequence[tuple[CompareRow, CompareRow]],
                  splits: Sequence[str] = ("test",),
                  settings: Settings = DEFAULT_SETTINGS) -> list[dict[str, Comparison]]:
    """Each (treated, control) pair of rows compared as MoRec is with IDRec: paired over the
    users both evaluated, per test metric, one correction across every pair's p-values. The
    verdict reads "better", "on par" or "worse" (treated against control). For questions that
    are not MoRec vs IDRec: two-stage vs end to end, pretrained vs from scratch."""
    found: list[tuple[str, dict[str, stats.PairedResult]]] = []
    for treated, control in pairs:
        names = sorted(set(treated.test) & set(control.test))
        values = [_pooled_user_values(store, [store.run(run_id) for run_id in row.run_ids],
                                      splits, names)[0] for row in (treated, control)]
        results = {}
        for metric in names:
            if metric not in values[0] or metric not in values[1]:
                continue
            mine, theirs = values[0][metric], values[1][metric]
            _, left, right = np.intersect1d(mine["users"], theirs["users"],
                                            return_indices=True)
            if len(left):
                results[metric] = stats.paired_comparison(
                    mine["values"][left], theirs["values"][right],
                    resamples=settings.resamples, wilcoxon=settings.wilcoxon)
        found.append((control.label, results))
    p_values = [getattr(result, f"p_{settings.test}") for _, results in found
                for result in results.values()]
    adjusted = iter(stats.adjust_p_values(p_values, settings.correction))
    out = []
    for control_label, results in found:
        comparisons = {}
        for metric, result in results.items():
            p_adjusted = next(adjusted)
            verdict = {"MoRec better": "better", "IDRec better": "worse"}.get(
                _verdict(result.difference, p_adjusted, settings.alpha), "on par")
            comparisons[metric] = Comparison(
                metric=metric, control=control_label, users=result.users,
                difference=result.difference, difference_ci=result.difference_ci,
                relative=result.relative, relative_ci=result.relative_ci, p_t=result.p_t,
                p_randomization=result.p_randomization, p_wilcoxon=result.p_wilcoxon,
                p_adjusted=p_adjusted, verdict=verdict)
        out.append(comparisons)
    return out
