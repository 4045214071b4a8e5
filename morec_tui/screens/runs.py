"""The runs screen: every run of the store with its status, best validation and test metrics
and cost; filter by text, study and status; sort; Enter opens a run. G groups the runs that
differ only by seed into one line each (means with 95% intervals; Enter opens the best run)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Footer, Input, Select, Static

from morec_core.run.events import RUN_STATUSES
from morec_core.store import RunRecord
from morec_core.store.damage import damage_lines
from morec_core.study.study_view import short_labels
from morec_tui.jobs import Job
from morec_tui.messages import OpenRun, OpenStudy, RunsLoaded
from morec_tui.screens.base import PollingScreen
from morec_tui.screens.overlay import OverlayScreen
from morec_tui.screens.runs_cells import RunCells, param_values
from morec_tui.screens.runs_load import FIRST_PAGE, FULL_CHECK_EVERY, Shown, first_runs, load_runs
from morec_tui.widgets.export import FORMATS, export_text, runs_csv, table_cells, write_export
from morec_tui.widgets.run_rows import (
    ALL,
    NO_STUDY,
    SORT_OF_COLUMN,
    SORTS,
    base_columns,
    group_columns,
    metric_names,
    seed_groups,
    visible_runs,
)
from morec_tui.widgets.runs_table import RunsTable

STATUS_CHOICES = [ALL, *RUN_STATUSES]
FILTER_DELAY_S = 0.25


class RunsScreen(PollingScreen):
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("t", "next_study", "Study", show=False),
        Binding("f", "next_status", "Status"),
        Binding("s", "next_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("G", "group_seeds", "Group seeds", show=False),
        Binding("v", "study_view", "Study"),
        Binding("space", "mark", "Mark", show=False),
        Binding("o", "overlay", "Overlay"),
        Binding("e", "export('csv')", "Export", show=False),
        Binding("E", "export('md')", "Export Markdown", show=False),
        Binding("escape", "leave_filter", "Table", show=False),
    ]

    study: reactive[str] = reactive(ALL)
    status: reactive[str] = reactive(ALL)
    sort: reactive[str] = reactive("newest")
    reverse: reactive[bool] = reactive(False)
    grouped: reactive[bool] = reactive(False)
    """One line per configuration (its runs on every seed) instead of one per run."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunRecord] = []
        self.tests: dict[str, dict[str, float]] = {}
        self.jobs: list[Job] = []
        self._studies: list[str] = []
        self._versions: dict[str, Any] = {}
        """Store.run_versions() when the runs shown were loaded."""
        self._finished: tuple[Any, ...] = ()
        self._typing: Timer | None = None
        self.cells = RunCells()
        self.live_seconds: dict[str, float] = {}
        self._polls = 0
        self._shown = 0
        """Runs that pass the filters (with seeds grouped, more than the table's lines)."""
        self.first_page = FIRST_PAGE
        """Runs the first load reads before the full one (0: every run at once)."""
        self.partial: int | None = None
        """After the first load: how many runs the store has (the table shows the newest)."""
        self.damaged: dict[str, str] = {}
        """The store's rows left out (RunsLoaded.damaged), named in the bar."""

    def compose(self) -> ComposeResult:
        yield Static("runs", id="bar", classes="bar")
        with Horizontal(id="filters"):
            yield Input(placeholder="/ filter: study, arm, data, status, a setting (43, lr=0.001)",
                        id="filter", compact=True)
            yield Select([("all studies", ALL)], value=ALL, allow_blank=False, id="study",
                         compact=True)
            yield Select([("any status" if s == ALL else s, s) for s in STATUS_CHOICES],
                         value=ALL, allow_blank=False, id="status", compact=True)
        yield RunsTable(id="runs")
        yield Static("", id="reason", classes="hint")
        yield from self.compose_problem()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(RunsTable).focus()

    def fetch_args(self) -> Any:
        self._polls += 1
        return (self._versions, self.runs, self._finished, self.tests,
                self._polls % FULL_CHECK_EVERY == 0)

    def fetch(self, shown: Any) -> RunsLoaded:
        if self.first_page and not self.loads:
            # The first paint: a screenful of the newest runs, then every run (next load).
            return first_runs(self.dashboard.store, self.dashboard.queue, self.first_page)
        return load_runs(self.dashboard.store, self.dashboard.queue, Shown(*shown))

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        self.jobs = message.jobs
        self._name_damaged(message.damaged)
        self.partial = message.total
        if message.total is not None and message.runs is not None \
                and len(message.runs) < message.total:
            self._again = True  # the rest at once, after this first paint
        if message.runs is None or message.tests is None:
            self._show_bar(self._shown)
            self.loaded()
            return
        self.runs, self.tests, self._versions = message.runs, message.tests, message.versions
        self._finished = message.finished
        self.live_seconds = message.live_seconds
        studies = message.studies
        if studies != self._studies:
            self._studies = studies
            select = self.query_one("#study", Select)
            with select.prevent(Select.Changed):
                select.set_options([("all studies", ALL), *[
                    ("(no study)" if name == NO_STUDY else name, name) for name in studies]])
                select.value = self.study if self.study in (ALL, *studies) else ALL
        self.show_runs()
        self.loaded()

    def show_runs(self) -> None:
        """Filter, sort and show what was loaded last; no store access."""
        text = self.query_one("#filter", Input).value
        shown = visible_runs(self.runs, self.tests, text=text, study=self.study,
                             status=self.status, sort=self.sort, reverse=self.reverse)
        names = self.cells.metric_names(self.tests)
        table = self.query_one(RunsTable)
        # The settings that differ among the runs shown, as columns (the lr of two trials).
        keys, arm = self.cells.varying_keys(shown, self.grouped)
        params = short_labels(keys)
        if self.grouped:  # after the filters and the sort: groups in the order of their runs
            values = {run.id: param_values(run, keys) for run in shown}
            table.show(group_columns(names, arm=arm, params=params),
                       seed_groups(shown, self.tests, names, values))
        else:
            columns = base_columns(names, arm=arm, params=params)
            order = self.cells.order(columns, shown)
            columns = [columns[index] for index in order]
            if columns != table.columns:
                self.cells.forget_cells()
            table.show(columns, [(run.id, self.cells.cells(run, self.tests.get(run.id, {}),
                                                           self.live_seconds.get(run.id),
                                                           names, keys, order))
                                 for run in shown])
        self._shown = len(shown)
        self._show_bar(self._shown)
        self._show_reason()

    def _name_damaged(self, damaged: dict[str, str]) -> None:
        """Rows the store set aside are not among the runs: each one named once (a toast), and
        their count kept in the bar, so a run missing from the table is explained."""
        new = {key: problem for key, problem in damaged.items() if key not in self.damaged}
        self.damaged = dict(damaged)
        if new:
            self.notify("\n".join(damage_lines(new)), severity="warning", markup=False,
                        timeout=15)

    def _show_bar(self, shown: int) -> None:
        counts = Counter(run.status for run in self.runs)
        jobs = Counter(job.status for job in self.jobs)
        parts = [f"[b]{shown}[/b] of {len(self.runs)} runs"]
        if self.partial is not None and self.partial > len(self.runs):
            parts = [f"newest [b]{shown}[/b] of {self.partial:,} runs (reading the rest…)"]
        parts += [f"[{style}]{counts[status]} {status}[/]" for status, style in
                  (("running", "cyan"), ("collapsed", "red"), ("failed", "red"))
                  if counts[status]]
        if jobs["running"] or jobs["queued"]:
            parts.append(f"jobs {jobs['running']} running {jobs['queued']} queued")
        if self.damaged:
            parts.append(f"[red]{len(self.damaged)} damaged left out[/] (morec store check)")
        table = self.query_one(RunsTable)
        if self.grouped:
            parts.append(f"{len(table.keys)} seed groups")
        if table.marked:
            parts.append(f"{len(table.marked)} marked (o: overlay)")
        arrow = "↑" if SORTS[self.sort][1] == self.reverse else "↓"
        parts.append(f"sort {self.sort} {arrow}")
        self.show_text("#bar", " · ".join(parts))

    def _show_reason(self) -> None:
        run_id = self.query_one(RunsTable).run_id
        run = next((run for run in self.runs if run.id == run_id), None)
        text = ""
        if not self.runs:
            text = "No runs yet: n launches one; runs of morec run / tune on this store appear here."
        elif run is None:
            text = "No run matches: change the filter (/), the study or the status (f)."
        else:
            why = run.error or run.status_reason
            text = f"{run.id[:8]} {run.status}" + (f": {why}" if why else
                                                  f" · {run.encoder} · {run.backbone} · {run.host}")
            text = f"best run {text}" if self.grouped else text
        self.show_text("#reason", escape(text))

    @on(RunsTable.Highlighted)
    def _highlighted(self) -> None:
        self._show_reason()

    @on(RunsTable.Chosen)
    def _chosen(self, event: RunsTable.Chosen) -> None:
        self.post_message(OpenRun(event.run_id))

    @on(RunsTable.HeaderClicked)
    def _header(self, event: RunsTable.HeaderClicked) -> None:
        key = event.column_key
        sort = "test" if key.startswith("test:") else SORT_OF_COLUMN.get(key)
        if sort is not None:
            self.reverse = self.reverse if sort != self.sort else not self.reverse
            self.sort = sort

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        # Filter once typing pauses: a thousand rows are not rebuilt for every key.
        if self._typing is not None:
            self._typing.stop()
        self._typing = self.set_timer(FILTER_DELAY_S, self.show_runs)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        if self._typing is not None:
            self._typing.stop()
        self.show_runs()
        self.query_one(RunsTable).focus()

    @on(Select.Changed, "#study")
    def _study_changed(self, event: Select.Changed) -> None:
        self.study = str(event.value)

    @on(Select.Changed, "#status")
    def _status_changed(self, event: Select.Changed) -> None:
        self.status = str(event.value)

    def watch_study(self, study: str) -> None:
        self._sync_select("#study", study)

    def watch_status(self, status: str) -> None:
        self._sync_select("#status", status)

    def watch_sort(self) -> None:
        self.show_runs()

    def watch_reverse(self) -> None:
        self.show_runs()

    def watch_grouped(self) -> None:
        self.show_runs()

    def _sync_select(self, selector: str, value: str) -> None:
        if not self.is_mounted:
            return
        select = self.query_one(selector, Select)
        known = (ALL, *self._studies) if selector == "#study" else STATUS_CHOICES
        if select.value != value and value in known:  # a study not loaded yet: set on load
            with select.prevent(Select.Changed):
                select.value = value
        self.show_runs()

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(RunsTable).focus()

    def action_next_study(self) -> None:
        choices = [ALL, *self._studies]
        self.study = choices[(choices.index(self.study) + 1) % len(choices)
                             if self.study in choices else 0]

    def action_next_status(self) -> None:
        """The next status some run has (a status no run has shows an empty table)."""
        present = {run.status for run in self.runs}
        choices = [status for status in STATUS_CHOICES if status == ALL or status in present]
        index = choices.index(self.status) if self.status in choices else 0
        self.status = choices[(index + 1) % len(choices)]

    def action_next_sort(self) -> None:
        names = list(SORTS)
        self.sort = names[(names.index(self.sort) + 1) % len(names)]

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse

    def action_group_seeds(self) -> None:
        self.grouped = not self.grouped

    def action_export(self, suffix: str) -> None:
        """The runs shown (filters, sort) to <runs>/exports/runs-<time>.<suffix>: as data (csv:
        one line per run, grouped or not), or the table as shown (md)."""
        if suffix == "csv":
            shown = visible_runs(self.runs, self.tests, text=self.query_one("#filter", Input).value,
                                 study=self.study, status=self.status, sort=self.sort,
                                 reverse=self.reverse)
            keys, _ = self.cells.varying_keys(shown, self.grouped)
            text, count = runs_csv(shown, self.tests, metric_names(self.tests), keys), len(shown)
        else:
            headers, rows = table_cells(self.query_one(RunsTable))
            text, count = export_text(headers, rows, suffix), len(rows)
        name = f"runs{'-grouped' if self.grouped and suffix != 'csv' else ''}.{suffix}"
        path = write_export(self.dashboard.queue.root / "exports", name, text)
        self.notify(f"{FORMATS[suffix]} of {count} lines: {path}", markup=False)

    def action_mark(self) -> None:
        """Mark or unmark the highlighted run for `o` (overlaid curves)."""
        table = self.query_one(RunsTable)
        if table.run_id is not None:
            table.marked ^= {table.run_id}
            table.refresh()
            self._show_bar(self._shown)

    def action_overlay(self) -> None:
        """The marked runs' curves overlaid (the highlighted run's alone when none is)."""
        table = self.query_one(RunsTable)
        # In the table's order; a marked run filtered out of view still counts.
        ids = [key for key in table.keys if key in table.marked]
        ids += sorted(table.marked - set(ids))
        if not ids and table.run_id is not None:
            ids = [table.run_id]
        if ids:
            self.app.push_screen(OverlayScreen(ids))

    def action_study_view(self) -> None:
        """The study view of the study picked (t), else of the highlighted run's study."""
        study = self.study if self.study not in (ALL, NO_STUDY) else None
        if study is None:
            run_id = self.query_one(RunsTable).run_id
            study = next((run.study for run in self.runs if run.id == run_id), None)
        if study:
            self.post_message(OpenStudy(study))
        else:
            self.notify("this run belongs to no study: pick one with t")

