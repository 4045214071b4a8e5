"""The report screen: `morec report` for the compare screen's table, read in the dashboard.

Built once in a worker thread from the same code as the command (morec_core.results.report), shown as
Markdown in a focusable scroll container (PgDn, End, the wheel); `w` writes the files
(Markdown, HTML, figures) in a worker to <runs folder>/reports/<table>.md, with a progress bar
while the figures are drawn, and the toast says where.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Markdown, ProgressBar, Static

from morec_core.results.report import Report, build_report
from morec_core.results.report_render import blocks_of, to_markdown
from morec_core.study.studies import load_studies
from morec_tui.screens.base import PollingScreen


class ReportLoaded(Message, bubble=False):
    def __init__(self, report: Report, markdown: str) -> None:
        super().__init__()
        self.report = report
        self.markdown = markdown


class ReportWritten(Message, bubble=False):
    """`w` finished: the files written, or why not (`error`)."""

    def __init__(self, written: list[Path], error: str = "") -> None:
        super().__init__()
        self.written = written
        self.error = error


def report_path(runs_dir: Path, label: str) -> Path:
    """Where `w` writes: under the runs folder (not the folder the dashboard was started in),
    named after the compare screen's table."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "report"
    return runs_dir / "reports" / f"{name}.md"


class ReportScreen(PollingScreen):
    BINDINGS = [
        Binding("w", "write", "Write files"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, label: str, studies: tuple[str, ...]) -> None:
        super().__init__()
        self.label = label
        self.studies = studies
        self.report: Report | None = None
        self.writing = False
        """A `w` is under way (a second one waits for it)."""

    def compose(self) -> ComposeResult:
        yield Static(f"report: {escape(self.label)}", id="bar", classes="bar")
        yield from self.compose_problem()
        with VerticalScroll(id="report-scroll", can_focus=True):
            yield Markdown("building the report…", id="report")
        yield ProgressBar(total=None, show_eta=False, id="write-progress")
        yield Footer()

    def on_mount(self) -> None:
        # PollingScreen.on_mount also runs (Textual calls each class's handler): its timer
        # is what `_poll` below turns off. The content widget is focused so PgDn/End scroll.
        self.query_one("#write-progress").display = False
        self.query_one("#report-scroll").focus()

    def _poll(self) -> None:
        # Built once on opening (the bootstrap takes a second or more on a large store), never
        # on the poll: re-rendering the Markdown replaced its paragraphs every poll, so a click
        # landing on a paragraph just removed crashed the app (its parent was None) and the
        # scroll position went back to the top. `p` on the compare screen rebuilds it.
        return

    def on_screen_resume(self) -> None:
        if self.report is None:
            self.reload()

    def fetch_args(self) -> Any:
        return self.studies

    def fetch(self, args: Any) -> Message:
        definitions = [study for name, study in load_studies(self.dashboard.studies_dir).items()
                       if name in args]
        report = build_report(self.dashboard.store, list(args), definitions,
                              command=f"morec report {' '.join(f'--study {s}' for s in args)}")
        return ReportLoaded(report, to_markdown(blocks_of(report, {})))

    def on_report_loaded(self, message: ReportLoaded) -> None:
        if self.report is None:
            self.report = message.report
            self.query_one("#report", Markdown).update(message.markdown)
        self.loaded()

    def action_write(self) -> None:
        if self.report is None:
            self.notify("the report is still being built", severity="warning")
            return
        if self.writing:
            self.notify("the report is being written", severity="warning")
            return
        self.writing = True
        progress = self.query_one("#write-progress", ProgressBar)
        progress.update(total=None, progress=0)  # indeterminate until the first step is done
        progress.display = True
        output = report_path(self.dashboard.queue.root, self.label)
        self.notify(f"writing {output} and its figures…", markup=False)
        self._write(self.report, output)

    @work(thread=True, exit_on_error=False, group="write")
    def _write(self, report: Report, output: Path) -> None:
        # The figures (matplotlib) take seconds: drawn here, never on the event loop.
        from morec_core.results.report_files import write_report

        progress = self.query_one("#write-progress", ProgressBar)

        def advance(done: int, total: int) -> None:
            self.app.call_from_thread(progress.update, total=total, progress=done)

        try:
            written = write_report(report, self.dashboard.store, output, progress=advance)
        except (OSError, ValueError) as error:
            self.post_message(ReportWritten([], f"report not written: {error}"))
            return
        self.post_message(ReportWritten(written))

    def on_report_written(self, message: ReportWritten) -> None:
        self.writing = False
        self.query_one("#write-progress").display = False
        if message.error:
            self.notify(message.error, severity="error", markup=False)
        else:
            self.notify(f"report written: {', '.join(map(str, message.written))}",
                        markup=False, timeout=10)

