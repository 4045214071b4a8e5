"""One study: its progress over the grid (done / running / queued / collapsed / not started),
its trials with the settings that vary among them (grid points not started yet included),
one setting against the best validation metric (collapsed trials marked), parallel
coordinates with a top-k% filter, and Optuna's parameter importance per arm (exported as CSV).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static, TabbedContent, TabPane

from morec_core.study.studies import Study, load_studies, study_folders
from morec_core.study.study_analytics import GridMean, grid_means
from morec_core.study.study_importance import (
    ArmImportance,
    importance_csv,
    importance_lines,
    param_importances,
)
from morec_core.study.study_optuna import read_trials
from morec_core.study.study_view import (
    SEED_KEY,
    flat_spec,
    format_value,
    metric_points,
    not_started,
    numeric_keys,
    progress,
    short_labels,
    trials,
)
from morec_tui.messages import OpenRun, StudyLoaded
from morec_tui.screens.base import EXPECTED_ERRORS, PollingScreen
from morec_tui.widgets.export import export_text, table_cells, trials_csv, write_export
from morec_tui.widgets.palette import color_at, markup
from morec_tui.widgets.run_rows import STATUS_STYLES, Column, arm_width
from morec_tui.widgets.runs_table import RunsTable
from morec_tui.widgets.study_plots import MetricPlot, ParallelPlot

TOP_SHARES = (100, 50, 25, 10)
"""The top-k% filters of the parallel coordinates, in the order `%` steps through them."""
WAITING = "grid:"
"""Row keys of grid points with no run yet (not run ids: Enter has nothing to open)."""


class StudyScreen(PollingScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("1", "tab('trials')", "Trials"),
        Binding("2", "tab('metric')", "Metric"),
        Binding("3", "tab('parallel')", "Parallel"),
        Binding("4", "tab('importance')", "Importance"),
        Binding("k", "next_key", "x axis"),
        Binding("percent_sign", "next_top", "Top k%"),
        Binding("e", "export('csv')", "Export CSV"),
        Binding("E", "export('md')", "Export Markdown", show=False),
    ]

    def __init__(self, study: str) -> None:
        super().__init__()
        self.study = study
        self.keys: list[str] = []
        self.trials: list[Any] = []
        self.waiting: list[tuple[str, dict[str, Any], bool]] = []
        """Grid points with no run yet: (arm, their settings, queued in Optuna)."""
        self.importances: list[Any] = []
        self.x_key: str | None = None
        """The setting on the metric plot's x axis (train.lr when it varies)."""
        self.top = TOP_SHARES[0]
        self.metric = "validation"
        self._finished: tuple[Any, ...] | None = None
        """The finished trials the importances were computed from."""

    def compose(self) -> ComposeResult:
        yield Static(f"study {escape(self.study)}", id="bar", classes="bar")
        with TabbedContent(id="study-tabs"):
            with TabPane("Trials", id="trials"):
                yield RunsTable(id="trials-table")
            with TabPane("Metric", id="metric"):
                yield MetricPlot(id="metric-plot")
                yield Static("", id="metric-legend")
            with TabPane("Parallel", id="parallel"):
                yield ParallelPlot(id="parallel-plot")
            with TabPane("Importance", id="importance"):
                yield Static("computing…", id="importance-text", markup=False)
        yield Static("", id="study-note", classes="hint")
        yield from self.compose_problem()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(RunsTable).focus()

    def fetch_args(self) -> tuple[str, Any]:
        return self.study, self._finished

    def fetch(self, args: Any) -> StudyLoaded:
        name, shown_finished = args
        store = self.dashboard.store
        runs = store.runs(study=name)
        study, note = study_named(name, self.dashboard.studies_dir)
        keys, found = trials(runs)
        try:  # waiting trials have no run: Optuna knows them (and a --name study's grid)
            states, queued = read_trials(store.url, name)
        except EXPECTED_ERRORS:
            states, queued = {}, frozenset()
        waiting = []
        if study is not None:
            for point in not_started(study, runs):
                flat = flat_spec(point.spec.to_dict())
                waiting.append((point.arm, {key: flat.get(key) for key in keys or point.params},
                                point.key in queued))
        finished = tuple(sorted((run.id, run.status, run.best_value) for run in runs
                                if run.status == "completed"))
        importances = None
        if finished != shown_finished:  # Optuna is read again only when a trial ended
            arms = sorted({run.arm for run in runs if run.arm})
            try:
                importances = param_importances(store.url, name, arms)
            except EXPECTED_ERRORS as error:  # Optuna's storage locked or gone: the rest shows
                importances = [ArmImportance(arm=arm, importances={}, trials=0,
                                             reason=f"Optuna storage: {error}".splitlines()[0])
                               for arm in arms]
                finished = ()  # read again at the next poll
        return StudyLoaded(name, progress(runs, study, states), keys, found, waiting,
                           importances, note, finished)

    def on_study_loaded(self, message: StudyLoaded) -> None:
        self._finished = message.finished
        self.keys, self.trials, self.waiting = message.keys, message.trials, message.waiting
        metrics = {trial.run.selection_metric for trial in self.trials}
        self.metric = metrics.pop() if len(metrics) == 1 else "validation"
        self.show_text("#bar", f"study [b]{escape(message.study)}[/b] · "
                               f"{escape(message.progress.line())}")
        self._show_table(message.waiting)
        numeric = numeric_keys(self.trials)
        if self.x_key not in numeric:
            self.x_key = "train.lr" if "train.lr" in numeric else (numeric[0] if numeric else None)
        self._show_plots()
        if message.importances is not None:
            self.importances = message.importances
            lines = importance_lines(self.importances) or ["no arm with trials yet"]
            self.show_text("#importance-text", "\n".join(
                ["Optuna parameter importance (PED-ANOVA) per arm; e: export as CSV", "",
                 *lines]))
        self.show_text("#study-note", escape(message.note or
                       "Enter: open a trial · k: x axis · %: top k% · e: export CSV"))
        self.loaded()

    def _show_table(self, waiting: list[tuple[str, dict[str, Any], bool]]) -> None:
        labels = short_labels(self.keys)
        width = arm_width([trial.run.arm for trial in self.trials] + [arm for arm, _, _ in waiting])
        columns = [Column("trial", "#", 3), Column("arm", "arm", width),
                   Column("status", "status", 11),
                   *[Column(f"param:{key}", labels[key], max(6, min(12, len(labels[key]))))
                     for key in self.keys],
                   Column("valid", "valid", 6), Column("epochs", "ep", 3), Column("id", "id", 8)]
        rows: list[tuple[str, list[Any]]] = []
        for trial in sorted(self.trials, key=lambda trial: (trial.run.arm,
                                                            trial.run.trial_number or 0)):
            run = trial.run
            style = STATUS_STYLES.get(run.status, "")
            rows.append((run.id, [
                "" if run.trial_number is None else str(run.trial_number), run.arm,
                Text(run.status, style=style),
                *[format_value(trial.params.get(key)) for key in self.keys],
                "" if run.best_value is None else f"{run.best_value:.4f}",
                "" if run.last_epoch is None else str(run.last_epoch + 1), run.id[:8]]))
        for index, (arm, params, queued) in enumerate(waiting):
            # Queued: its trial waits in Optuna for a worker (the bar counts it as queued).
            rows.append((f"{WAITING}{index}", [
                "", arm, Text("queued" if queued else "not started", style="dim"),
                *[format_value(params.get(key)) for key in self.keys], "", "", ""]))
        self.query_one(RunsTable).show(columns, rows)

    def _show_plots(self) -> None:
        key = self.x_key
        collapsed = [point for point in metric_points(self.trials, key)
                     if point.collapsed] if key else []
        means = grid_means(self.trials, key) if key else []
        self.query_one(MetricPlot).show(means, collapsed, key or "(no numeric setting varies)",
                                        self.metric)
        self.show_text("#metric-legend", self._metric_legend(means, key, bool(collapsed)))
        axes = [key for key in numeric_keys(self.trials) if key != SEED_KEY]
        self.query_one(ParallelPlot).show(self.trials, axes, self.metric, self.top)

    def _metric_legend(self, means: list[GridMean], key: str | None, collapsed: bool) -> str:
        """The arms' colours, what a point and its bar are, and which grid key is shown."""
        arms = list(dict.fromkeys(mean.arm for mean in means))
        swatches = "  ".join(f"[{markup(color_at(index))}]━━[/] {escape(arm)}"
                             for index, arm in enumerate(arms))
        others = [other for other in numeric_keys(self.trials)
                  if other not in (key, SEED_KEY)]
        keys = (f"one grid key: {key}; k: next ({', '.join(others)}: pooled at each point)"
                if others else f"one grid key: {key}")
        marks = "  [rgb(230,25,75)]x[/] collapsed" if collapsed else ""
        return (f"{swatches}{marks}\n"
                f"each point: the mean over the trials at that value (seeds), bar: its 95% "
                f"interval (Student t) · {escape(keys)}") if key else ""

    @on(RunsTable.Chosen)
    def _chosen(self, event: RunsTable.Chosen) -> None:
        if event.run_id.startswith(WAITING):
            self.notify("this grid point has no run yet")
        else:
            self.post_message(OpenRun(event.run_id))

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_next_key(self) -> None:
        numeric = [key for key in numeric_keys(self.trials) if key != SEED_KEY]
        if numeric:
            index = numeric.index(self.x_key) if self.x_key in numeric else -1
            self.x_key = numeric[(index + 1) % len(numeric)]
            self._show_plots()

    def action_next_top(self) -> None:
        self.top = TOP_SHARES[(TOP_SHARES.index(self.top) + 1) % len(TOP_SHARES)]
        self._show_plots()

    def action_export(self, suffix: str) -> None:
        """On the importance tab the importances (CSV), else the trials table (CSV or
        Markdown), to <runs>/exports."""
        folder = self.dashboard.queue.root / "exports"
        if self.query_one(TabbedContent).active == "importance":
            path = write_export(folder, f"{self.study}-importance.csv",
                                importance_csv(self.importances))
        elif suffix == "csv":  # data: full ids, unrounded numbers, ISO times, the whole grid
            path = write_export(folder, f"{self.study}-trials.csv",
                                trials_csv(self.trials, self.keys, self.waiting))
        else:
            headers, rows = table_cells(self.query_one(RunsTable))
            path = write_export(folder, f"{self.study}-trials.{suffix}",
                                export_text(headers, rows, suffix))
        self.notify(f"written: {path}", markup=False)


_studies: dict[Any, tuple[dict[str, Study], str]] = {}


def study_named(name: str, folder: Path | None) -> tuple[Study | None, str]:
    """The study module's study of that name (None: renamed with --name, or from another
    checkout) and a note when the modules fail to load; modules run again only when one of
    them changes (as compare.study_groups)."""
    signature = tuple((str(path), path.stat().st_mtime_ns)
                      for directory in study_folders(folder) for path in sorted(directory.glob("*.py")))
    if signature not in _studies:
        try:
            found, note = load_studies(folder), ""
        except Exception as error:  # noqa: BLE001 - user code: shown, the store's runs still show
            found, note = {}, f"study modules: {type(error).__name__}: {error}"
        _studies.clear()
        _studies[signature] = (found, note)
    studies, note = _studies[signature]
    return studies.get(name), note
