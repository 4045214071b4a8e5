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

from morec_core.events import RUN_STATUSES
from morec_core.store import RunRecord
from morec_tui.jobs import Job
from morec_tui.messages import OpenRun, RunsLoaded
from morec_tui.screens.base import PollingScreen
from morec_tui.widgets.runs_table import (
    ALL,
    NO_STUDY,
    SORT_OF_COLUMN,
    SORTS,
    RunsTable,
    base_columns,
    group_columns,
    metric_names,
    run_cells,
    seed_groups,
    visible_runs,
)

STATUS_CHOICES = [ALL, *RUN_STATUSES]
FILTER_DELAY_S = 0.25
RELOAD_ALL_ABOVE = 20  # changed runs: above this, one query for all beats one query each


class RunsScreen(PollingScreen):
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("t", "next_study", "Study", show=False),
        Binding("f", "next_status", "Status"),
        Binding("s", "next_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("G", "group_seeds", "Group seeds", show=False),
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
        self._row_cache: dict[str, tuple[RunRecord, dict[str, float], list[Any]]] = {}
        self._shown = 0
        """Runs that pass the filters (with seeds grouped, more than the table's lines)."""

    def compose(self) -> ComposeResult:
        yield Static("runs", id="bar", classes="bar")
        with Horizontal(id="filters"):
            yield Input(placeholder="/ filter: words in study, arm, data, status, id",
                        id="filter", compact=True)
            yield Select([("all studies", ALL)], value=ALL, allow_blank=False, id="study",
                         compact=True)
            yield Select([("any status" if s == ALL else s, s) for s in STATUS_CHOICES],
                         value=ALL, allow_blank=False, id="status", compact=True)
        yield RunsTable(id="runs")
        yield Static("", id="reason", classes="hint")
        yield from self.compose_problem()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(RunsTable).focus()

    def fetch_args(self) -> Any:
        return self._versions, self.runs, self._finished, self.tests

    def fetch(self, shown: Any) -> RunsLoaded:
        shown_versions, shown_runs, shown_finished, shown_tests = shown
        store = self.dashboard.store
        try:
            jobs = self.dashboard.queue.jobs()
        except (OSError, ValueError):
            jobs = []  # only the job counts of the bar: the jobs screen reports the error
        versions = store.run_versions()
        if versions == shown_versions:
            return RunsLoaded(None, None, jobs, versions)  # nothing recorded since
        changed = [run_id for run_id, version in versions.items()
                   if shown_versions.get(run_id) != version]
        if len(changed) > RELOAD_ALL_ABOVE:
            runs = store.runs()
        else:  # the usual poll: one training run has a new epoch
            by_id = {run.id: run for run in shown_runs if run.id in versions}
            by_id.update((run_id, store.run(run_id)) for run_id in changed)
            runs = sorted(by_id.values(), key=lambda run: run.started_at, reverse=True)
        # Test metrics come once a run ends: while only running runs change, keep them.
        tests = (shown_tests if _finished(runs) == shown_finished else
                 store.best_epoch_metrics("test"))
        return RunsLoaded(runs, tests, jobs, versions)

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        self.jobs = message.jobs
        if message.runs is None or message.tests is None:
            self._show_bar(self._shown)
            self.loaded()
            return
        self.runs, self.tests, self._versions = message.runs, message.tests, message.versions
        self._finished = _finished(self.runs)
        studies = sorted({run.study or NO_STUDY for run in self.runs},
                         key=lambda name: (name == NO_STUDY, name))  # runs without one last
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
        names = metric_names(self.tests)
        table = self.query_one(RunsTable)
        if self.grouped:  # after the filters and the sort: groups in the order of their runs
            table.show(group_columns(names), seed_groups(shown, self.tests, names))
        else:
            columns = base_columns(names)
            if columns != table.columns:
                self._row_cache = {}
            table.show(columns, [(run.id, self._cells(run, names)) for run in shown])
        self._shown = len(shown)
        self._show_bar(self._shown)
        self._show_reason()

    def _cells(self, run: RunRecord, names: list[str]) -> list[Any]:
        """A run's cells, formatted again only when the run or its test metrics changed."""
        test = self.tests.get(run.id, {})
        cached = self._row_cache.get(run.id)
        if cached is None or cached[0] != run or cached[1] != test:
            cached = self._row_cache[run.id] = (run, test, run_cells(run, test, names))
        return cached[2]

    def _show_bar(self, shown: int) -> None:
        counts = Counter(run.status for run in self.runs)
        jobs = Counter(job.status for job in self.jobs)
        parts = [f"[b]{shown}[/b] of {len(self.runs)} runs"]
        parts += [f"[{style}]{counts[status]} {status}[/]" for status, style in
                  (("running", "cyan"), ("collapsed", "red"), ("failed", "red"))
                  if counts[status]]
        if jobs["running"] or jobs["queued"]:
            parts.append(f"jobs {jobs['running']} running {jobs['queued']} queued")
        if self.grouped:
            parts.append(f"{len(self.query_one(RunsTable).keys)} seed groups")
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
        self.status = STATUS_CHOICES[(STATUS_CHOICES.index(self.status) + 1) % len(STATUS_CHOICES)]

    def action_next_sort(self) -> None:
        names = list(SORTS)
        self.sort = names[(names.index(self.sort) + 1) % len(names)]

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse

    def action_group_seeds(self) -> None:
        self.grouped = not self.grouped


def _finished(runs: list[RunRecord]) -> tuple[Any, ...]:
    """What the test metrics depend on: which runs have ended, and at which best epoch."""
    return tuple((run.id, run.best_epoch, run.status) for run in runs
                 if run.status not in ("running", "queued"))
