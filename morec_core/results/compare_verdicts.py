"""`morec compare`'s verdicts: each MoRec row against the best IDRec row of its group, paired over
users, one correction across the table; and contrasts between any two rows (`morec report`).
The per-user values of an arm are each user's metric averaged over the arm's selected seeds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from morec_core.results import stats
from morec_core.results.compare_types import (
    DEFAULT_SETTINGS,
    RECOMPUTE_HINT,
    CompareRow,
    Comparison,
    Settings,
)
from morec_core.run.user_results import UserResults
from morec_core.store import RunRecord, Store


def _tie_rule(run: RunRecord) -> str:
    return run.run_spec.eval.ties


def pooled_user_values(store: Store, runs: list[RunRecord], splits: Sequence[str],
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
            if metric_name(split, name.split(" ")[-1]) != name:
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


def metric_name(split: str, name: str) -> str:
    """test/hr@10 -> hr@10; test_cold/hr@10 -> cold hr@10."""
    return name if split == "test" else f"{split.removeprefix('test_')} {name}"


# --- verdicts -----------------------------------------------------------------------------


def _group_key(row: CompareRow) -> tuple[str, ...]:
    return (row.data_key, row.backbone, row.loss, *row.by.values())


def compared(rows: list[tuple[CompareRow, dict[str, dict[str, np.ndarray]]]],
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


def disambiguated(rows: list[CompareRow]) -> list[CompareRow]:
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
        values = [pooled_user_values(store, [store.run(run_id) for run_id in row.run_ids],
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
