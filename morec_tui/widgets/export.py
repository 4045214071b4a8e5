"""Tables as CSV or Markdown (`e` / `E` on the runs, study and compare screens), written under
<runs>/exports with the cells as shown (intervals included, as `mean±half`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

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


def write_export(folder: Path, name: str, text: str) -> Path:
    """Write `text` to folder/name (the folder made if needed); returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name.replace("/", "_")
    path.write_text(text, encoding="utf-8")
    return path
