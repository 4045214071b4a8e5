"""Tables as CSV or Markdown (`e` / `E` on the runs, study and compare screens), written under
<runs>/exports to a new, timestamped file each time (never one overwritten). The CSVs are
data: the runs screen's one line per run shown (full ids, unrounded numbers, ISO times), the
compare screen's `morec compare --format csv` with each arm's full run ids and users, the
study screen's one line per trial and per grid point not yet run; the Markdown files are the
cells as shown."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from morec_core.results.compare import CompareRow
from morec_core.results.compare_format import metrics_of, render
from morec_core.store import RunRecord
from morec_core.study.study_view import Trial, parsed_spec
from morec_tui.widgets.runs_table import RunsTable

FORMATS = {"csv": "CSV", "md": "Markdown"}


def table_cells(table: RunsTable) -> tuple[list[str], list[list[str]]]:
    """A RunsTable's header labels and each row's cells as text, in the order shown."""
    headers = [column.label for column in table.columns]
    rows = [[str(getattr(cell, "plain", cell)) for cell in table.cells(key)] for key in table.keys]
    return headers, rows


def csv_text(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()


def markdown_text(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *map(line, rows)]) + "\n"


def table_csv(table: RunsTable) -> str:
    return csv_text(*table_cells(table))


def table_markdown(table: RunsTable) -> str:
    return markdown_text(*table_cells(table))


def export_text(headers: Sequence[str], rows: Sequence[Sequence[str]], suffix: str) -> str:
    """csv or md (FORMATS)."""
    return csv_text(headers, rows) if suffix == "csv" else markdown_text(headers, rows)


def runs_csv(runs: Sequence[RunRecord], tests: Mapping[str, Mapping[str, float]],
             metrics: Sequence[str], keys: Sequence[str]) -> str:
    """The runs shown as data: one line per run, its full id (what `--resume` takes), every
    number unrounded in its own column (memory in bytes, seconds), times in ISO 8601 with
    their offset, the test metrics at the best validation epoch and the settings that vary
    (`keys`, `section.key`); not the table's cells (`1.5G`, `11-14 22:13`, 8-character ids)."""
    header = ["id", "study", "arm", "status", "dataset", "encoder", "backbone", "seed",
              "configuration", "selection metric", "best valid", "best epoch", "epochs",
              *[f"test {name}" for name in metrics], *keys, "seconds per epoch",
              "peak memory bytes", "trainable params", "total params", "device", "host",
              "started", "finished", "reason"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for run in runs:
        flat = parsed_spec(run.spec_json)[1]
        test = tests.get(run.id, {})
        writer.writerow([
            run.id, run.study or "", run.arm, run.status, run.dataset, run.encoder,
            run.backbone, run.seed, run.spec_key, run.selection_metric,
            _number(run.best_value), "" if run.best_epoch is None else run.best_epoch + 1,
            "" if run.last_epoch is None else run.last_epoch + 1,
            *[_number(test.get(name)) for name in metrics],
            *[_setting(flat.get(key)) for key in keys],
            _number(run.seconds_per_epoch), _number(run.peak_memory_bytes),
            _number(run.trainable_params), _number(run.total_params), run.device, run.host,
            iso_time(run.started_at), iso_time(run.finished_at),
            run.error or run.status_reason])
    return out.getvalue()


def trials_csv(trials: Sequence[Trial], keys: Sequence[str],
               waiting: Iterable[tuple[str, Mapping[str, object], bool]]) -> str:
    """A study's trials as data: per run its trial number, full id, arm, status, the settings
    that vary (`keys`, as study_view.trials read them), its best validation value and epoch,
    epochs run, cost and times (as runs_csv writes them); then each grid point with no run yet
    (arm, `queued` or `not started`, its settings), so the file holds the whole grid."""
    header = ["trial", "id", "arm", "status", *keys, "selection metric", "best valid",
              "best epoch", "epochs", "seconds per epoch", "peak memory bytes", "started",
              "finished", "reason"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for trial in sorted(trials, key=lambda trial: (trial.run.arm, trial.run.trial_number or 0)):
        run = trial.run
        writer.writerow([
            "" if run.trial_number is None else run.trial_number, run.id, run.arm, run.status,
            *[_setting(trial.params.get(key)) for key in keys], run.selection_metric,
            _number(run.best_value), "" if run.best_epoch is None else run.best_epoch + 1,
            "" if run.last_epoch is None else run.last_epoch + 1,
            _number(run.seconds_per_epoch), _number(run.peak_memory_bytes),
            iso_time(run.started_at), iso_time(run.finished_at), run.error or run.status_reason])
    for arm, params, queued in waiting:
        writer.writerow(["", "", arm, "queued" if queued else "not started",
                         *[_setting(params.get(key)) for key in keys],
                         *[""] * 9])
    return out.getvalue()


def iso_time(stamp: float | None) -> str:
    """Local time with its offset, to the second: 2023-11-14T22:13:20+00:00."""
    if stamp is None:
        return ""
    return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def _setting(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))
    return str(value)


def compare_csv(rows: Sequence[CompareRow]) -> str:
    """`morec compare --format csv` of `rows` (every number unrounded, in %, in its own
    column), then per arm its best run and every selected run, by full id (what `morec run
    --resume` and `morec show` take), and per metric the users its comparison paired."""
    metrics = metrics_of(rows)
    header, *lines = list(csv.reader(io.StringIO(render(rows, "csv"))))
    header += ["best run", "run ids", *[f"users {metric}" for metric in metrics]]
    body = []
    for row, line in zip(rows, lines, strict=True):
        users = [row.comparisons[metric].users if metric in row.comparisons else ""
                 for metric in metrics]
        body.append([*line, row.best_run or "", " ".join(row.run_ids), *users])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue()


def write_export(folder: Path, name: str, text: str, now: float | None = None) -> Path:
    """Write `text` to folder/<stem>-<local time>.<suffix> (the folder made if needed), whole
    (a temporary name, then a rename), beside earlier exports rather than over them; returns
    the path."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, dot, suffix = name.replace("/", "_").rpartition(".")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    path = folder / f"{stem}-{stamp}{dot}{suffix}"
    count = 1
    while path.exists():  # two exports in one second
        count += 1
        path = folder / f"{stem}-{stamp}-{count}{dot}{suffix}"
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path
