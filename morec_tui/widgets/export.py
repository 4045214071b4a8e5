"""Tables as CSV or Markdown (`e` / `E` on the runs, study and compare screens), written under
<runs>/exports to a new, timestamped file each time (never one overwritten): the compare
screen's CSV is `morec compare --format csv` (numbers in their own columns) with each arm's full
run ids and users; the others the cells as shown."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Sequence
from pathlib import Path

from morec_core.compare import CompareRow
from morec_core.compare_format import metrics_of, render
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
