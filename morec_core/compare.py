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
    backbone: str
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
    """Best MoRec over best IDRec on the same dataset and backbone (Table 2's Improv.), relative;
    on the best MoRec row only."""
    protocol: str
    notes: tuple[str, ...] = ()
    """One line per collapsed or failed run: which settings, and why."""


def compare_rows(store: Store, studies: Sequence[str],
                 splits: Sequence[str] = ("test",)) -> list[CompareRow]:
    """One row per (study, arm). `splits`: test and, when recorded, test_cold / test_new."""
    rows: list[CompareRow] = []
    for study in studies:
        by_arm: dict[str, list[RunRecord]] = defaultdict(list)
        for run in store.runs(study=study):
            by_arm[run.arm or run.encoder].append(run)
        rows += [_arm_row(store, study, arm, runs, splits) for arm, runs in sorted(by_arm.items())]
    # Improv. compares the best MoRec with the best IDRec of the same dataset and backbone,
    # across studies (the paper keeps IDRec and each encoder in studies of their own).
    groups: dict[tuple[str, str], list[CompareRow]] = defaultdict(list)
    for row in rows:
        groups[(row.dataset, row.backbone)].append(row)
    improved = {(row.study, row.arm): row for group in groups.values()
                for row in _with_improvement(group)}
    return [improved[(row.study, row.arm)] for row in rows]


def _arm_row(store: Store, study: str, arm: str, runs: list[RunRecord],
             splits: Sequence[str]) -> CompareRow:
    # Configurations are runs that differ only by seed (equal spec_key); the selected one has
    # the best mean validation metric over its seeds.
    configs: dict[str, list[RunRecord]] = defaultdict(list)
    for run in runs:
        if run.best_value is not None and run.status == "completed":
            configs[run.spec_key].append(run)
    best_runs = max(configs.values(), key=lambda group: statistics.fmean(
        run.best_value for run in group), default=[])
    # "users" counts evaluated users; it is no metric to average or compare.
    tests = [{_metric_name(split, name): value for split in splits
              for name, value in store.metrics(run.id, split).items()} for run in best_runs]
    names = sorted({name for test in tests for name in test if not name.endswith("users")})
    values = {name: [test[name] for test in tests if name in test] for name in names}
    mean = {name: statistics.fmean(found) for name, found in values.items()}
    spread = {name: statistics.stdev(found) for name, found in values.items() if len(found) > 1}
    first = best_runs[0] if best_runs else runs[0]
    return CompareRow(
        study=study, dataset=first.dataset, backbone=first.backbone, arm=arm,
        paradigm="IDRec" if first.spec["encoder"]["name"] == "id" else "MoRec",
        best_run=best_runs[0].id if best_runs else None,
        valid=statistics.fmean(run.best_value for run in best_runs) if best_runs else None,
        test=mean, test_std=spread, seeds=len(best_runs), trials=len(runs),
        outcomes=dict(Counter(run.status for run in runs)), improvement={},
        protocol=first.protocol, notes=tuple(_note(run) for run in runs
                                             if run.status in ("collapsed", "failed")))


def _note(run: RunRecord) -> str:
    train = run.spec["train"]
    settings = f"lr {train['lr']:g}, lr_encoder {train['lr_encoder']:g}, seed {train['seed']}"
    why = run.status_reason or run.error
    return f"{run.status} {run.id[:8]} ({run.arm}: {settings}): {why}"


def _metric_name(split: str, name: str) -> str:
    """test/hr@10 -> hr@10; test_cold/hr@10 -> cold hr@10."""
    return name if split == "test" else f"{split.removeprefix('test_')} {name}"


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
    metrics = sorted({name for row in rows for name in row.test}, key=_metric_order)
    improved = [metric for metric in metrics if any(metric in row.improvement for row in rows)]
    protocols = {row.protocol for row in rows}
    # One protocol for every row goes under the table, not in a column of its own.
    footer = f"protocol: {protocols.pop()}" if len(protocols) == 1 else ""
    header = ["study", "dataset", "backbone", "arm", "paradigm", *metrics,
              *[f"Improv. {m}" for m in improved], "valid", "trials", "collapsed", "failed",
              "pruned", *([] if footer else ["protocol"])]
    body = [[row.study, row.dataset, row.backbone, row.arm, row.paradigm,
             *[_cell(row, metric) for metric in metrics],
             *[f"{row.improvement[m]:+.2%}" if m in row.improvement else "" for m in improved],
             "" if row.valid is None else f"{row.valid:.4f}", str(row.trials),
             str(row.outcomes.get("collapsed", 0)), str(row.outcomes.get("failed", 0)),
             str(row.outcomes.get("pruned", 0)), *([] if footer else [row.protocol])]
            for row in rows]
    metric_note = ("metrics: test-split % at the best validation epoch of the best-by-validation "
                   "configuration")
    notes = [note for row in rows for note in row.notes]
    if notes:
        metric_note += "\n" + "\n".join(notes)
    if output_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(body)
        return out.getvalue()
    if output_format == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join([*lines, "", metric_note, *([footer] if footer else [])])
    if output_format == "latex":
        lines = ["\\begin{tabular}{" + "l" * len(header) + "}", "\\toprule",
                 " & ".join(_latex(cell) for cell in header) + " \\\\", "\\midrule"]
        lines += [" & ".join(_latex(cell) for cell in cells) + " \\\\" for cells in body]
        return "\n".join(lines + ["\\bottomrule", "\\end{tabular}"])
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
             for cells in [header, *body]]
    return "\n".join([*lines, "", metric_note, *([footer] if footer else [])])


def _metric_order(name: str) -> tuple[int, str]:
    """Regular test metrics first, then the cold and new item subsets."""
    return (name.count(" "), name)


def _cell(row: CompareRow, metric: str) -> str:
    if metric not in row.test:
        return "-"
    text = f"{100 * row.test[metric]:.2f}"  # percent, as in the paper's tables
    if metric in row.test_std:
        text += f" ± {100 * row.test_std[metric]:.2f}"
    return text


def _latex(cell: str) -> str:
    return cell.replace("%", "\\%").replace("_", "\\_").replace("&", "\\&").replace("±", "$\\pm$")
