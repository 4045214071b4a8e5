"""The runs table: one row per run (or per seed group), a line-API widget that paints only
the rows in view; the rows themselves come from run_rows.py.

Textual's DataTable repaints every visible cell through Rich whenever any cell changes (about
0.3 s for 40 rows of 13 columns on two cores) and measures every cell it is given; a dashboard
that polls a thousand runs cannot afford either. Here each row is padded once when it changes,
and a line is a few segments.
"""

from __future__ import annotations

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

from morec_tui.widgets.run_rows import Column


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
    COMPONENT_CLASSES = {"runs-table--header", "runs-table--cursor", "runs-table--even",
                         "runs-table--marked"}
    DEFAULT_CSS = """
    RunsTable { background: $surface; }
    RunsTable > .runs-table--header { background: $panel; text-style: bold; }
    RunsTable > .runs-table--even { background: $surface-lighten-1; }
    RunsTable > .runs-table--marked { text-style: bold reverse; }
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
        """Each row's cells padded to their columns, with their own styles (the rows painted
        so far)."""
        self.marked: set[str] = set()
        """Rows picked (Space on the runs screen) for overlaid curves."""

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
        # A row is padded when first painted (render_line), not here: 10,000 rows padded at
        # once held the UI for a second; the screen shows some forty.
        self._lines = {key: self._lines[key] for key, row in rows
                       if key in self._lines and self._cells.get(key) == row}
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
            if self.marked and self.keys[row] in self.marked:
                style += self.get_component_rich_style("runs-table--marked")
            key = self.keys[row]
            if key not in self._lines:
                self._lines[key] = _pad(self.columns, self._cells[key])
            parts = self._lines[key]
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
