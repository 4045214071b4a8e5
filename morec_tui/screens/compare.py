"""The compare screen: `morec compare` by all studies, one study or one group, as one table.

Rows come from `compare_rows` and cells from `compare_cells`: a line per arm (Enter opens its
best run) with, for one metric at a time (`m` for the next), each MoRec line's verdict against
its IDRec arm, coloured, its Δ and Improv. with their 95% CIs, in view at 80 columns; wider
terminals add the means, users and p-values. The cost per arm is the table under it, then the
lines of `notes` (how to read the table, why a row has no verdict). The same code is behind
`morec compare`, so the dashboard can never disagree with the command line; `e` writes the
command's CSV (every number in its own column) with each arm's run ids and users.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Select, Static

from morec_core.results.audit import audit_rows
from morec_core.results.compare import DEFAULT_SETTINGS, CompareRow, compare_rows
from morec_core.results.compare_format import audit_lines, cost_table, metrics_of, notes, render
from morec_core.results.tradeoff import tradeoff_lines
from morec_core.study.studies import Study, load_studies, study_folders
from morec_tui.messages import CompareLoaded, OpenRun, TableChoice
from morec_tui.screens.base import PollingScreen
from morec_tui.widgets.compare_view import WIDE_COLUMNS, compare_cells, default_metric
from morec_tui.widgets.export import FORMATS, compare_csv, write_export

ALL_STUDIES = "all studies"
VERDICT_STYLES = {"MoRec better": "bold green", "IDRec better": "bold red", "on par": "dim",
                  "control": "dim", "no verdict": "dim"}
_groups_cache: dict[Any, tuple[dict[str, tuple[str, ...]], str, dict[str, Study]]] = {}


def study_groups(folder: Path | None) -> tuple[dict[str, tuple[str, ...]], str]:
    """Groups of the study modules (group -> study names) and a note if a module is broken;
    the modules run again only when one of them changes."""
    groups, note, _ = _studies(folder)
    return groups, note


def _studies(folder: Path | None) -> tuple[dict[str, tuple[str, ...]], str, dict[str, Study]]:
    """study_groups, and the definitions by name (the tuning audit's grids)."""
    # The folders `morec tune` looks in (the user's, then the packaged studies).
    folders = study_folders(folder)
    signature = tuple((str(path), path.stat().st_mtime_ns)
                      for directory in folders for path in sorted(directory.glob("*.py")))
    if signature not in _groups_cache:
        groups: dict[str, list[str]] = {}
        note = ""
        definitions: dict[str, Study] = {}
        try:
            definitions = load_studies(folder)
            for study in definitions.values():
                if study.group:
                    groups.setdefault(study.group, []).append(study.name)
        except Exception as error:  # noqa: BLE001 - user code: shown in the note, store studies still compare
            note = f"study modules: {type(error).__name__}: {error}"
        _groups_cache.clear()
        _groups_cache[signature] = ({name: tuple(members) for name, members in
                                     sorted(groups.items())}, note, definitions)
    return _groups_cache[signature]


class CompareScreen(PollingScreen):
    # The notes wrap, and scroll past 40% of the screen: the table keeps the rest.
    DEFAULT_CSS = """
    #cost { height: auto; max-height: 30%; margin-top: 1; }
    #note-box { height: 1fr; min-height: 2; }
    #note { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("g", "next_table", "Next table"),
        Binding("b", "pick_table", "By…"),
        Binding("e", "export('csv')", "Export", show=False),
        Binding("E", "export('md')", "Export Markdown", show=False),
        Binding("p", "report", "Report"),
        Binding("m", "next_metric", "Metric"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.chosen = ALL_STUDIES
        """Label of the table shown (a TableChoice label)."""
        self.choices: list[TableChoice] = []
        self.rows: list[CompareRow] = []
        self._extra: list[str] = []
        """Accuracy against cost and the tuning audit of the rows shown, as note lines."""
        self._cells: list[list[str]] | None = None
        self._costs: list[list[str]] | None = None
        """The cost table's cells shown."""
        self.metric: str | None = None
        """The metric whose verdicts, Δ and Improv. the table shows (`m`: the next)."""
        self._shown: tuple[TableChoice, Any] | None = None
        """The table shown and Store.run_versions() when it was loaded."""

    def compose(self) -> ComposeResult:
        yield Static("compare", id="bar", classes="bar")
        yield Select([(ALL_STUDIES, ALL_STUDIES)], value=ALL_STUDIES, allow_blank=False,
                     id="table-choice", compact=True)
        yield DataTable(id="compare", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="cost", cursor_type="none", zebra_stripes=True, show_cursor=False)
        with VerticalScroll(id="note-box"):
            yield Static("", id="note", markup=False)  # notes hold "[95% ...]" and `code`
        yield from self.compose_problem()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#compare", DataTable).focus()
        self.watch(self.query_one("#table-choice", Select), "expanded", self._dropdown_toggled,
                   init=False)

    def _dropdown_toggled(self, expanded: bool) -> None:
        # Closed, by a pick or not: back to the table, so Enter opens a run rather than the
        # dropdown again (picking the table already shown posts no Select.Changed).
        if not expanded:
            self.query_one("#compare", DataTable).focus()

    def fetch_args(self) -> tuple[str, Any]:
        return self.chosen, self._shown

    def fetch(self, args: Any) -> CompareLoaded:
        chosen, shown = args
        store = self.dashboard.store
        versions = store.run_versions()
        names = [study.name for study in store.studies()]
        choices = [TableChoice(ALL_STUDIES, tuple(names))]
        choices += [TableChoice(f"study {name}", (name,)) for name in names]
        groups, note, definitions = _studies(self.dashboard.studies_dir)
        choices += [TableChoice(f"group {group}", members) for group, members in groups.items()]
        table = next((choice for choice in choices if choice.label == chosen), choices[0])
        if shown == (table, versions):
            return CompareLoaded(choices, table, None, note, versions)  # no run changed
        rows = compare_rows(store, table.studies)
        runs = {run.id: run for name in table.studies for run in store.runs(study=name)}
        extra = (*tradeoff_lines(rows), *audit_lines(audit_rows(rows, runs, definitions)))
        return CompareLoaded(choices, table, rows, note, versions, extra)

    def on_compare_loaded(self, message: CompareLoaded) -> None:
        if message.choices != self.choices:
            self.choices = message.choices
            select = self.query_one("#table-choice", Select)
            with select.prevent(Select.Changed):
                select.set_options([(choice.label, choice.label) for choice in self.choices])
                select.value = message.chosen.label
        if message.rows is not None:
            self._shown = (message.chosen, message.versions)
            self.rows = message.rows
            self._extra = list(message.extra)
            if self.metric not in metrics_of(self.rows):
                self.metric = default_metric(self.rows)
            self._show_table()
        studies = escape(", ".join(message.chosen.studies) or "none in the store")
        metric = f" · [b]{escape(self.metric)}[/b] (m: next)" if self.metric else ""
        self.show_text("#bar", f"compare · [b]{escape(message.chosen.label)}[/b]{metric} · "
                               f"studies: {studies}")
        lines = [message.note] if message.note else []
        if self._cells:
            wider = ("" if self.size.width >= WIDE_COLUMNS else
                     f"; {WIDE_COLUMNS} columns or more add the means, users and p-values")
            lines += [f"Enter: open the line's best run; m: next metric{wider}; e: export CSV",
                      *notes(self.rows, DEFAULT_SETTINGS), *self._extra]
        self.show_text("#note", "\n".join(lines or ["No finished runs in these studies yet."]))
        self.loaded()

    def _show_table(self) -> None:
        """The arms for the metric chosen, laid out for the screen's width, and the costs."""
        self._show_rows(compare_cells(self.rows, self.metric, self.size.width)
                        if self.rows and self.metric else [])
        costs = cost_table(self.rows) if self.rows else []
        costs = costs if len(costs) > 1 else []
        if costs != self._costs:  # refilled only when changed: a refill is measured again
            self._costs = costs
            _fill(self.query_one("#cost", DataTable), costs)

    def on_resize(self) -> None:
        if self.rows:
            self._show_table()

    def action_next_metric(self) -> None:
        metrics = metrics_of(self.rows)
        if not metrics:
            return
        index = metrics.index(self.metric) if self.metric in metrics else -1
        self.metric = metrics[(index + 1) % len(metrics)]
        self._show_table()
        self._shown = None  # the bar names the metric: reload (no run changed: cheap)
        self.reload()

    def _show_rows(self, cells: list[list[str]]) -> None:
        """The header and lines of `compare_cells`, as a table; verdicts coloured."""
        if cells == self._cells:
            return
        self._cells = cells
        table = self.query_one("#compare", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        if cells:  # Text, not str: DataTable reads a str as markup, and a name may hold "["
            verdicts = [label.startswith("verdict") for label in cells[0]]
            rows = [[Text(cell, style=VERDICT_STYLES.get(cell, "") if verdict else "")
                     for cell, verdict in zip(row, verdicts, strict=True)] for row in cells[1:]]
            for index, label in enumerate(cells[0]):
                header = Text(label)
                # Measured here rather than on the table's next Idle: a frame drawn before that
                # Idle kept every column at its header's width (the snapshot test's rare failure).
                width = max([header.cell_len, *(row[index].cell_len for row in rows)])
                table.add_column(header, width=width)
            table.add_rows(rows)
            # The arm's name stays in view while the verdicts, on the right, scroll in.
            table.fixed_columns = cells[0].index("arm") + 1
            table.move_cursor(row=min(row, len(cells) - 2), animate=False)

    @on(Select.Changed, "#table-choice")
    def _choice_changed(self, event: Select.Changed) -> None:
        self.chosen = str(event.value)
        # Back to the table: Enter then opens its best run, not the dropdown again (bug 6).
        self.query_one("#compare", DataTable).focus()
        self.reload()

    @on(DataTable.RowSelected, "#compare")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.rows) and self.rows[event.cursor_row].best_run:
            self.post_message(OpenRun(str(self.rows[event.cursor_row].best_run)))

    def action_next_table(self) -> None:
        labels = [choice.label for choice in self.choices] or [ALL_STUDIES]
        index = labels.index(self.chosen) if self.chosen in labels else -1
        self.query_one("#table-choice", Select).value = labels[(index + 1) % len(labels)]

    def action_export(self, suffix: str) -> None:
        """The whole table to <runs>/exports/compare-<table>-<time>.<suffix>: as data (csv:
        every number unrounded in its own column, full run ids), or as `morec compare
        --format markdown` prints it (md); a new file each time, never one overwritten."""
        if not self._cells:
            self.notify("no table to export yet")
            return
        name = self.chosen.replace(" ", "-")
        text = compare_csv(self.rows) if suffix == "csv" else render(self.rows, "markdown")
        path = write_export(self.dashboard.queue.root / "exports", f"compare-{name}.{suffix}",
                            text)
        self.notify(f"{FORMATS[suffix]}: {path}", markup=False)

    def action_report(self) -> None:
        """`morec report` of the table shown: the paper's questions answered from its runs."""
        from morec_tui.screens.report import ReportScreen

        chosen = next((choice for choice in self.choices if choice.label == self.chosen), None)
        if chosen is None or not chosen.studies:
            self.notify("no studies to report yet")
            return
        self.app.push_screen(ReportScreen(chosen.label, chosen.studies))

    def action_pick_table(self) -> None:
        select = self.query_one("#table-choice", Select)
        select.focus()
        select.action_show_overlay()


def _fill(table: DataTable[Any], cells: list[list[str]]) -> None:
    """A plain table of `cells` (header first), its columns as wide as their widest cell."""
    table.clear(columns=True)
    table.display = bool(cells)
    if not cells:
        return
    rows = [[Text(cell) for cell in row] for row in cells[1:]]
    for index, label in enumerate(cells[0]):
        header = Text(label)
        table.add_column(header, width=max([header.cell_len,
                                            *(row[index].cell_len for row in rows)]))
    table.add_rows(rows)
