"""The collapse rule's errors, measured: replay the first rule and the current one on every run
of a store trained with train.stop_on_collapse=false (whole curves), and count how often each
would have stopped a run that learned (a false positive) or let a collapsed one go on (a false
negative).

Truth, read off the whole recorded curve:
- collapsed: the best validation metric never rose above 2x random ranking, or the run ended
  under 10% of its best for its last 3 evaluations after a best clearly above random (Figure 5);
- recovered (the issue's words for a run a rule should not have stopped): the run ended above
  2x random level, or its best validation value lies within (or above) the 95% t-interval of
  its configuration's seeds.
A false positive is a stop on a run that is not collapsed; a false negative, a collapsed run
never stopped. Epochs saved: what a stop would have spared, over collapsed runs.

    python benchmarks/collapse_replay.py --storage runs/reproduction/morec.db \
        [--study-prefix cpu_] [--output reports/collapse_rule.md]

The random level needs the catalogue size, read from the run's prepared dataset (prepared
again, once per data view, if this machine has not got it).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from scipy import stats as scipy_stats

from morec_core.config import RunSpec
from morec_core.run.collapse import CollapseRule, RecordedCurve, first_collapse, random_expectation
from morec_core.store import open_for_reading
from morec_core.store.records import RunRecord

RULES = {"first rule": CollapseRule.first(), "current rule": CollapseRule()}


@dataclass(frozen=True)
class Replayed:
    run: RunRecord
    epochs: int
    best: float
    final: float
    random_level: float
    collapsed: bool
    recovered: bool
    stops: dict[str, tuple[int, str] | None]


def _series(curves: dict, split: str, name: str) -> list[float]:
    return [point.value for point in curves.get((split, name), [])]


def _num_items(spec: RunSpec, cache: dict[str, int]) -> int:
    from morec_core.data.prepare import prepare

    key = repr(spec.data)
    if key not in cache:
        dataset = prepare(spec.data, require_content=spec.encoder.name != "id")
        cache[key] = dataset.num_items
    return cache[key]


def _truly_collapsed(valid: list[float], random_level: float) -> bool:
    best = max(valid)
    if best <= 2 * random_level:
        return True
    return len(valid) >= 3 and all(value < 0.1 * best for value in valid[-3:])


def replay(storage: str, prefix: str) -> list[Replayed]:
    store = open_for_reading(storage)
    runs = [run for run in store.runs()
            if (run.study or "").startswith(prefix) and run.status in ("completed", "collapsed")
            and not run.spec.get("train", {}).get("stop_on_collapse", True)]
    catalogue: dict[str, int] = {}
    curves_of = {run.id: store.curves(run.id) for run in runs}
    # Best validation value per configuration (spec_key) and seed: the arm's seed interval.
    best_by_config: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        if run.best_value is not None:
            best_by_config[run.spec_key].append(run.best_value)
    replayed = []
    for run in runs:
        spec = RunSpec.from_dict(run.spec)
        curves = curves_of[run.id]
        metric = run.selection_metric
        name, _, k = metric.partition("@")
        valid = _series(curves, "valid", metric)
        losses = _series(curves, "train", "loss")
        if not valid:
            continue
        users = _series(curves, "valid", "users")
        hit_rates = _series(curves, "valid", f"hr@{k}")
        hits = ([rate * count for rate, count in zip(hit_rates, users, strict=False)]
                if len(users) == len(valid) else [])
        tied = _series(curves, "valid", f"ties@{k}")
        num_items = _num_items(spec, catalogue)
        random_level = random_expectation(name, int(k), num_items)
        curve = RecordedCurve(losses=losses, valid=valid, hits=hits, tied=tied,
                              ended=run.status == "completed")
        stops = {label: first_collapse(curve, random_level=random_level, rule=rule,
                                       num_items=num_items, patience=spec.train.patience)
                 for label, rule in RULES.items()}
        seeds = best_by_config[run.spec_key]
        within_ci = False
        if len(seeds) >= 2 and run.best_value is not None:
            mean, sd = statistics.fmean(seeds), statistics.stdev(seeds)
            half = scipy_stats.t.ppf(0.975, len(seeds) - 1) * sd / math.sqrt(len(seeds))
            within_ci = run.best_value >= mean - half
        replayed.append(Replayed(
            run=run, epochs=len(valid), best=max(valid), final=valid[-1],
            random_level=random_level, collapsed=_truly_collapsed(valid, random_level),
            recovered=valid[-1] > 2 * random_level or within_ci, stops=stops))
    return replayed


def render(rows: list[Replayed], command: str) -> str:
    lines = [f"# The collapse rule, replayed on {len(rows)} whole curves", "",
             f"- command: `{command}`",
             "- runs: every completed run of the selected studies trained with "
             "`train.stop_on_collapse=false` (the rule observed, never stopped)",
             "- truth: collapsed = best never above 2x random ranking, or the last 3 "
             "evaluations under 10% of a best clearly above random; recovered = ended above 2x "
             "random, or best within its configuration's seed interval", ""]
    lines += ["| rule | stops | false positives (stopped, not collapsed) | of which recovered "
              "| false negatives (collapsed, never stopped) | epochs spared on collapsed runs |",
              "|---|---|---|---|---|---|"]
    for label in RULES:
        stopped = [row for row in rows if row.stops[label] is not None]
        false_positive = [row for row in stopped if not row.collapsed]
        recovered = [row for row in false_positive if row.recovered]
        false_negative = [row for row in rows if row.collapsed and row.stops[label] is None]
        spared = sum(row.epochs - row.stops[label][0] for row in stopped  # type: ignore[index]
                     if row.collapsed)
        lines.append(f"| {label} | {len(stopped)} | {len(false_positive)} | {len(recovered)} "
                     f"| {len(false_negative)} | {spared} |")
    lines += ["", f"Truly collapsed: {sum(row.collapsed for row in rows)} of {len(rows)} runs.",
              "", "| study | arm | seed | epochs | best / random | final / random | collapsed "
              "| first rule | current rule |", "|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda row: (row.run.study or "", row.run.arm, row.run.seed)):
        if all(stop is None for stop in row.stops.values()) and not row.collapsed:
            continue  # healthy and never stopped: counted above, not listed
        cells = [_stop_cell(row.stops[label]) for label in RULES]
        lines.append(f"| {row.run.study} | {row.run.arm} | {row.run.seed} | {row.epochs} "
                     f"| {row.best / row.random_level:.1f}x | {row.final / row.random_level:.1f}x "
                     f"| {'yes' if row.collapsed else 'no'} | {cells[0]} | {cells[1]} |")
    lines += ["", "Runs neither stopped by a rule nor collapsed are counted, not listed."]
    return "\n".join(lines) + "\n"


def _stop_cell(stop: tuple[int, str] | None) -> str:
    if stop is None:
        return "-"
    epoch, reason = stop
    return f"epoch {epoch}: {reason.replace('|', '/')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study-prefix", default="")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    command = "python benchmarks/collapse_replay.py " + " ".join(sys.argv[1:])
    text = render(replay(args.storage, args.study_prefix), command)
    if args.output:
        temporary = args.output.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(args.output)
    print(text)


if __name__ == "__main__":
    main()
