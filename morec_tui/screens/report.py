"""The report screen: `morec report` for the compare screen's table, read in the dashboard.

Built in a worker thread from the same code as the command (morec_core.report), shown as
Markdown; `w` writes the files (Markdown, HTML, figures) to reports/<table>.md, as
`morec report` would, and says where.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Markdown, Static

from morec_core.report import Report, build_report
from morec_core.report_render import blocks_of, to_markdown
from morec_core.studies import load_studies
from morec_tui.screens.base import PollingScreen


class ReportLoaded(Message, bubble=False):
    def __init__(self, report: Report, markdown: str) -> None:
        super().__init__()
        self.report = report
        self.markdown = markdown


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

    def compose(self) -> ComposeResult:
        yield Static(f"report: {escape(self.label)}", id="bar", classes="bar")
        yield from self.compose_problem()
        yield Markdown("building the report…", id="report")
        yield Footer()

    def on_mount(self) -> None:
        # Built once on opening (the bootstrap takes a second or more on a large store), not
        # every poll: `p` on the compare screen again rebuilds it.
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
        self.report = message.report
        self.query_one("#report", Markdown).update(message.markdown)
        self.loaded()

    def action_write(self) -> None:
        from morec_core.report_files import write_report

        if self.report is None:
            self.notify("the report is still being built", severity="warning")
            return
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label).strip("_") or "report"
        output = Path("reports") / f"{name}.md"
        try:
            written = write_report(self.report, self.dashboard.store, output)
        except OSError as error:
            self.notify(f"report not written: {error}", severity="error")
            return
        self.notify(f"report written: {', '.join(map(str, written))}")
