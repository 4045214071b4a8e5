"""The runs table: one row per run, filtered and sorted; a line-API widget that paints only
the rows in view. Seed groups: one line per configuration, its runs on every seed summed up.

Textual's DataTable repaints every visible cell through Rich whenever any cell changes (about
0.3 s for 40 rows of 13 columns on two cores) and measures every cell it is given; a dashboard
that polls a thousand runs cannot afford either. Here each row is padded once when it changes,
and a line is a few segments.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from morec_core.events import RUN_STATUSES
from morec_core.stats import seed_interval
from morec_core.store import RunRecord

# One style for every status a run row can hold (events.RUN_STATUSES; a test checks).
STATUS_STYLES = {
    "queued": "dim", "starting": "cyan", "running": "bold cyan", "completed": "green",
    "pruned": "dim", "collapsed": "bold white on red", "failed": "bold red",
    "interrupted": "yellow", "cancelled": "dim",
}
ALL = "*"
NO_STUDY = "-"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


def base_columns(test_metrics: Sequence[str]) -> list[Column]:
    return [
        # Status to test metrics fit in 80 columns; the rest scrolls (left/right).
        Column("status", "status", 11), Column("study", "study", 10), Column("arm", "arm", 14),
        Column("data", "data", 6), Column("valid", "valid", 6),
        *[Column(f"test:{name}", f"T {name}", max(6, len(name) + 2)) for name in test_metrics],
        Column("epochs", "ep", 3), Column("spe", "s/ep", 6), Column("memory", "mem", 6),
        Column("backbone", "bb", 6), Column("device", "device", 12), Column("id", "id", 8),
    ]


# Sort keys: label -> (key of a run and its test metrics, newest/largest first?).
SORTS: dict[str, tuple[Callable[[RunRecord, dict[str, float]], Any], bool]] = {
    "newest": (lambda run, test: run.started_at, True),
    "status": (lambda run, test: run.status, False),
    "study": (lambda run, test: (run.study or "", run.arm), False),
    "valid": (lambda run, test: _number(run.best_value), True),
    "test": (lambda run, test: _number(test.get("ndcg@10", test.get("hr@10"))), True),
    "s/epoch": (lambda run, test: _number(run.seconds_per_epoch), True),
    "memory": (lambda run, test: _number(run.peak_memory_bytes), True),
}
SORT_OF_COLUMN = {"status": "status", "study": "study", "arm": "study", "valid": "valid",
                  "spe": "s/epoch", "memory": "memory", "id": "newest"}


def _number(value: float | None) -> float:
    return float("-inf") if value is None else float(value)


def matches(run: RunRecord, terms: Sequence[str]) -> bool:
    """Every term (lower case) is in one of the run's labels."""
    text = " ".join((run.id, run.study or "", run.arm, run.encoder, run.dataset, run.backbone,
                     run.status, run.device, run.host)).lower()
    return all(term in text for term in terms)


def visible_runs(runs: Sequence[RunRecord], tests: dict[str, dict[str, float]], *, text: str = "",
                 study: str = ALL, status: str = ALL, sort: str = "newest",
                 reverse: bool = False) -> list[RunRecord]:
    terms = text.lower().split()
    kept = [run for run in runs
            if (study == ALL or (run.study or NO_STUDY) == study)
            and (status == ALL or run.status == status)
            and (not terms or matches(run, terms))]
    key, descending = SORTS[sort]
    return sorted(kept, key=lambda run: key(run, tests.get(run.id, {})),
                  reverse=descending != reverse)


def metric_names(tests: dict[str, dict[str, float]]) -> list[str]:
    names = {name for metrics in tests.values() for name in metrics
             if name != "users" and not name.startswith("ties@")}
    return sorted(names) or ["hr@10", "ndcg@10"]


def run_cells(run: RunRecord, test: dict[str, float], test_metrics: Sequence[str]) -> list[Any]:
    cells: list[Any] = [
        run.study or NO_STUDY, run.arm or run.encoder, run.dataset,
        _metric(run.best_value), *[_metric(test.get(name)) for name in test_metrics],
        "" if run.last_epoch is None else str(run.last_epoch + 1),
        "" if run.seconds_per_epoch is None else f"{run.seconds_per_epoch:.1f}",
        _bytes(run.peak_memory_bytes), run.backbone, run.device.split(" ")[0], run.id[:8],
    ]
    status = Text(run.status, style=STATUS_STYLES.get(run.status, ""))
    if run.status == "collapsed":
        return [status, *(Text(cell, style="red") for cell in cells)]
    return [status, *cells]


def group_columns(test_metrics: Sequence[str]) -> list[Column]:
    return [
        # Study to test metrics fit in 80 columns, as in base_columns; the status summary is long.
        Column("study", "study", 10), Column("arm", "arm", 14), Column("data", "data", 6),
        Column("runs", "N", 2), Column("valid", "valid", 13),
        *[Column(f"test:{name}", f"T {name} %", max(10, len(name) + 4)) for name in test_metrics],
        Column("status", "status", 24), Column("spe", "s/ep", 6), Column("memory", "mem", 6),
        Column("backbone", "bb", 6), Column("id", "best", 8),
    ]


def seed_groups(runs: Sequence[RunRecord], tests: dict[str, dict[str, float]],
                test_metrics: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """One line per (study, arm, spec_key) of `runs`, the runs that differ only by seed, in the
    order of each group's first run: the id of its best run (highest validation, completed
    first: what Enter opens) and its cells. Means and 95% intervals over its completed runs."""
    groups: dict[tuple[str, str, str], list[RunRecord]] = {}
    for run in runs:
        key = (run.study or NO_STUDY, run.arm or run.encoder, run.spec_key)
        groups.setdefault(key, []).append(run)
    lines = []
    for members in groups.values():
        best = max(members, key=lambda run: (run.status == "completed", _number(run.best_value)))
        done = [run for run in members if run.status == "completed"]
        counts = Counter(run.status for run in members)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(
            counts.items(), key=lambda item: (-item[1], RUN_STATUSES.index(item[0]))))
        speeds = [run.seconds_per_epoch for run in members if run.seconds_per_epoch is not None]
        memory = [run.peak_memory_bytes for run in members if run.peak_memory_bytes is not None]
        cells: list[Any] = [
            best.study or NO_STUDY, best.arm or best.encoder, best.dataset, str(len(members)),
            _mean_interval([run.best_value for run in done if run.best_value is not None]),
            *[_mean_interval([tests[run.id][name] for run in done
                              if name in tests.get(run.id, {})], percent=True)
              for name in test_metrics],
            Text(summary, style=STATUS_STYLES.get(best.status, "") if len(counts) == 1 else ""),
            f"{statistics.fmean(speeds):.1f}" if speeds else "", _bytes(max(memory, default=None)),
            best.backbone, best.id[:8],
        ]
        lines.append((best.id, cells))
    return lines


def _mean_interval(values: Sequence[float], *, percent: bool = False) -> str:
    """Mean±half of its 95% interval over seeds, e.g. 0.1170±0.0012 or, in %, 23.40±1.20;
    n/a for one value."""
    if not values:
        return ""
    scale, digits = (100.0, 2) if percent else (1.0, 4)
    interval = seed_interval(values)
    half = "n/a" if interval is None else f"{scale * (interval[1] - interval[0]) / 2:.{digits}f}"
    return f"{scale * statistics.fmean(values):.{digits}f}±{half}"


def _metric(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _bytes(value: int | None) -> str:
    if value is None:
        return ""
    for unit, size in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value}B"


class RunsTable(ScrollView, can_focus=True):
    """Rows of cells (str or styled Text) under a fixed header; a cursor row."""

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
        Binding("left", "scroll_columns(-8)", "Left", show=False),
        Binding("right", "scroll_columns(8)", "Right", show=False),
        Binding("enter", "choose", "Open", show=False),
    ]
    COMPONENT_CLASSES = {"runs-table--header", "runs-table--cursor", "runs-table--even"}
    DEFAULT_CSS = """
    RunsTable { background: $surface; }
    RunsTable > .runs-table--header { background: $panel; text-style: bold; }
    RunsTable > .runs-table--even { background: $surface-lighten-1; }
    RunsTable > .runs-table--cursor { background: $block-cursor-blurred-background; }
    RunsTable:focus > .runs-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    """

    class Highlighted(Message):
        def __init__(self, run_id: str | None) -> None:
            super().__init__()
            self.run_id = run_id

    class Chosen(Message):
        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    class HeaderClicked(Message):
        def __init__(self, column_key: str) -> None:
            super().__init__()
            self.column_key = column_key

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cursor = 0
        self.columns: list[Column] = []
        self.keys: list[str] = []
        self._cells: dict[str, list[Any]] = {}
        self._lines: dict[str, list[tuple[str, Style]]] = {}
        """Each row's cells padded to their columns, with their own styles."""

    @property
    def run_id(self) -> str | None:
        """The run under the cursor."""
        return self.keys[self.cursor] if 0 <= self.cursor < len(self.keys) else None

    def cells(self, run_id: str) -> list[Any]:
        return self._cells[run_id]

    def show(self, columns: list[Column], rows: list[tuple[str, list[Any]]]) -> None:
        """Show `rows` (run id, cells) in this order; the cursor stays on its run."""
        current = self.run_id
        if columns != self.columns:
            self.columns, self._lines = columns, {}
        cells = dict(rows)
        self._lines = {key: (self._lines[key] if key in self._lines
                             and self._cells.get(key) == row else _pad(columns, row))
                       for key, row in rows}
        self.keys, self._cells = [key for key, _ in rows], cells
        self.virtual_size = Size(sum(column.width + 2 for column in columns), len(rows) + 1)
        if current in cells:
            self._put_cursor(self.keys.index(current))
        else:
            self._put_cursor(min(self.cursor, max(0, len(self.keys) - 1)), announce=True)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            style = self.get_component_rich_style("runs-table--header")
            parts = [(_fit(column.label, column.width), Style()) for column in self.columns]
        else:
            row = scroll_y + y - 1
            if row >= len(self.keys):
                return Strip.blank(width, self.rich_style)
            style = self.rich_style
            if row == self.cursor:
                style += self.get_component_rich_style("runs-table--cursor")
            elif row % 2:
                style += self.get_component_rich_style("runs-table--even")
            parts = self._lines[self.keys[row]]
        segments = [Segment(text, style + cell_style) for text, cell_style in parts]
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, style)

    def _put_cursor(self, row: int, *, announce: bool = False) -> None:
        row = max(0, min(row, len(self.keys) - 1))
        changed = row != self.cursor
        self.cursor = row
        rows_in_view = max(1, self.scrollable_content_region.height - 1)
        if row < self.scroll_y:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= self.scroll_y + rows_in_view:
            self.scroll_to(y=row - rows_in_view + 1, animate=False, immediate=True)
        if changed or announce:
            self.post_message(self.Highlighted(self.run_id))
        self.refresh()

    def action_move(self, rows: int) -> None:
        self._put_cursor(self.cursor + rows)

    def action_page(self, pages: int) -> None:
        self._put_cursor(self.cursor + pages * max(1, self.scrollable_content_region.height - 2))

    def action_scroll_columns(self, columns: int) -> None:
        self.scroll_to(x=self.scroll_x + columns, animate=False)

    def action_choose(self) -> None:
        if self.run_id is not None:
            self.post_message(self.Chosen(self.run_id))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x + int(self.scroll_x)
            for column in self.columns:
                if x < column.width + 2:
                    self.post_message(self.HeaderClicked(column.key))
                    return
                x -= column.width + 2
            return
        row = int(self.scroll_y) + event.y - 1
        if row < len(self.keys):
            if row == self.cursor or event.chain > 1:  # as DataTable: a second click opens
                self.action_choose()
            self._put_cursor(row)


def _fit(text: str, width: int) -> str:
    """One cell: a space each side, the text cut or padded to the column's width."""
    return f" {set_cell_size(text, width)} "


def _pad(columns: list[Column], cells: list[Any]) -> list[tuple[str, Style]]:
    padded = []
    for column, cell in zip(columns, cells, strict=True):
        if isinstance(cell, Text):
            padded.append((_fit(cell.plain, column.width), _style(cell.style)))
        else:
            padded.append((_fit(str(cell), column.width), NO_STYLE))
    return padded


@lru_cache(maxsize=64)
def _style(style: str | Style) -> Style:
    return style if isinstance(style, Style) else Style.parse(style)


NO_STYLE = Style()
