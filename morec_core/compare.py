"""The paper's tables from the run store: per study and arm, the best-by-validation
configuration's test HR@k / NDCG@k, trial counts by outcome, and the "Improv." of the best MoRec
over the best IDRec (Table 2). With several seeds, mean and standard deviation over seeds.

Selection uses the validation metric only; test numbers are read for the selected runs.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from morec_core.store import RunRecord, Store

FORMATS = ("table", "markdown", "csv", "latex", "json")


@dataclass(frozen=True, kw_only=True)
class CompareRow:
    study: str
    dataset: str
    arm: str
    paradigm: str
    """IDRec (ID embedding item encoder) or MoRec (a modality encoder)."""
    best_run: str | None
    """Run id of the selected configuration (of its first seed)."""
    valid: float | None
    """Mean validation selection metric of the selected configuration."""
    test: dict[str, float]
    """Mean test metrics of the selected configuration, e.g. {"hr@10": ..., "ndcg@10": ...}."""
    test_std: dict[str, float]
    """Standard deviation over seeds (empty with one seed)."""
    seeds: int
    trials: int
    outcomes: dict[str, int]
    """Runs by status: completed, pruned, collapsed, failed, interrupted, running..."""
    improvement: dict[str, float]
    """Best MoRec over best IDRec of the study, relative, on the MoRec rows that hold it."""
    protocol: str


def compare_rows(store: Store, studies: Sequence[str]) -> list[CompareRow]:
    rows: list[CompareRow] = []
    for study in studies:
        by_arm: dict[str, list[RunRecord]] = defaultdict(list)
        for run in store.runs(study=study):
            by_arm[run.arm or run.encoder].append(run)
        study_rows = [_arm_row(store, study, arm, runs) for arm, runs in sorted(by_arm.items())]
        rows.extend(_with_improvement(study_rows))
    return rows


def _arm_row(store: Store, study: str, arm: str, runs: list[RunRecord]) -> CompareRow:
    # Configurations are runs that differ only by seed (equal spec_key); the selected one has
    # the best mean validation metric over its seeds.
    configs: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        if run.best_value is not None and run.status == "completed":
            configs[run.spec_key].append(run)
    best_runs = max(configs.values(), key=lambda group: statistics.fmean(
        run.best_value for run in group), default=[])
    tests = [store.metrics(run.id, "test") for run in best_runs]
    names = sorted({name for test in tests for name in test if name != "users"})
    mean = {name: statistics.fmean(test[name] for test in tests if name in test) for name in names}
    spread = ({name: statistics.stdev(test[name] for test in tests if name in test)
               for name in names} if len(tests) > 1 else {})
    first = best_runs[0] if best_runs else runs[0]
    return CompareRow(
        study=study, dataset=first.dataset, arm=arm,
        paradigm="IDRec" if first.spec["encoder"]["name"] == "id" else "MoRec",
        best_run=best_runs[0].id if best_runs else None,
        valid=statistics.fmean(run.best_value for run in best_runs) if best_runs else None,
        test=mean, test_std=spread, seeds=len(best_runs), trials=len(runs),
        outcomes=dict(Counter(run.status for run in runs)), improvement={},
        protocol=first.protocol)


def _with_improvement(rows: list[CompareRow]) -> list[CompareRow]:
    """Table 2's Improv.: best MoRec (by validation) over best IDRec, on test, per metric."""
    def best(paradigm: str) -> CompareRow | None:
        candidates = [row for row in rows if row.paradigm == paradigm and row.valid is not None]
        return max(candidates, key=lambda row: row.valid or 0.0, default=None)

    idrec, morec = best("IDRec"), best("MoRec")
    if idrec is None or morec is None:
        return rows
    gain = {name: (morec.test[name] - idrec.test[name]) / idrec.test[name]
            for name in morec.test if idrec.test.get(name)}
    return [CompareRow(**{**asdict(row), "improvement": gain}) if row is morec else row
            for row in rows]


def render(rows: Sequence[CompareRow], output_format: str) -> str:
    if output_format not in FORMATS:
        raise ValueError(f"unknown format {output_format!r}; known: {', '.join(FORMATS)}")
    if output_format == "json":
        return json.dumps([asdict(row) for row in rows], indent=2)
    metrics = sorted({name for row in rows for name in row.test})
    header = ["study", "dataset", "arm", "paradigm", *[f"test {m}" for m in metrics],
              "Improv.", "valid", "trials", "collapsed", "failed", "pruned", "protocol"]
    body = [[row.study, row.dataset, row.arm, row.paradigm,
             *[_cell(row, metric) for metric in metrics],
             " / ".join(f"{value:+.2%}" for value in row.improvement.values()),
             "" if row.valid is None else f"{row.valid:.4f}", str(row.trials),
             str(row.outcomes.get("collapsed", 0)), str(row.outcomes.get("failed", 0)),
             str(row.outcomes.get("pruned", 0)), row.protocol] for row in rows]
    if output_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(body)
        return out.getvalue()
    if output_format == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    if output_format == "latex":
        lines = ["\\begin{tabular}{" + "l" * len(header) + "}", "\\toprule",
                 " & ".join(_latex(cell) for cell in header) + " \\\\", "\\midrule"]
        lines += [" & ".join(_latex(cell) for cell in cells) + " \\\\" for cells in body]
        return "\n".join(lines + ["\\bottomrule", "\\end{tabular}"])
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
                     .rstrip() for cells in [header, *body])


def _cell(row: CompareRow, metric: str) -> str:
    if metric not in row.test:
        return "-"
    text = f"{100 * row.test[metric]:.2f}"  # percent, as in the paper's tables
    if metric in row.test_std:
        text += f" ± {100 * row.test_std[metric]:.2f}"
    return text


def _latex(cell: str) -> str:
    return cell.replace("%", "\\%").replace("_", "\\_").replace("&", "\\&").replace("±", "$\\pm$")
