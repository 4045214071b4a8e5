"""The jobs screen's Slurm pane: morec's Slurm jobs (id, state, node, elapsed) as squeue lists
them, the log of the highlighted one from its output file, and `x` to cancel it (scancel).

It polls Slurm itself, in a worker thread, every few seconds, and stays hidden where there is
no Slurm or no job of morec's: the local queue's screen does not change for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Log, Static

from morec_core.study.slurm_jobs import (
    SlurmError,
    SlurmJob,
    cancel,
    list_jobs,
    log_paths,
    slurm_available,
)
from morec_tui.jobs import tail
from morec_tui.screens.confirm import ConfirmScreen

COLUMNS = (("slurm id", 9), ("state", 11), ("node", 12), ("elapsed", 9), ("study", 24))


def slurm_rows(jobs: list[SlurmJob]) -> list[tuple[str, list[str]]]:
    """The table's rows: (job id, cells)."""
    return [(job.job_id, [job.job_id, job.state.lower(), job.node, job.elapsed, job.study])
            for job in jobs]


def slurm_log(runs_dir: Path, job_id: str) -> list[str]:
    """The tail of the job's output file (then its error file, where submitit logs)."""
    out, err = log_paths(runs_dir, job_id)
    return [*tail(out), *(f"[stderr] {line}" for line in tail(err, max_lines=40))]


class SlurmJobsPane(Vertical):
    BINDINGS = [Binding("x", "cancel_slurm_job", "Cancel Slurm job")]

    def __init__(self, runs_dir: Path, *, every_s: float = 5.0) -> None:
        super().__init__(id="slurm-pane")
        self.runs_dir = runs_dir
        self.every_s = every_s
        self._rows: list[tuple[str, list[str]]] = []
        self._log: tuple[str | None, list[str]] = (None, [])
        self._highlighted: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("Slurm jobs", id="slurm-title", classes="hint")
        table: DataTable[Any] = DataTable(id="slurm-jobs", cursor_type="row", zebra_stripes=True)
        for label, width in COLUMNS:
            table.add_column(label, width=width, key=label)
        yield table
        yield Log(id="slurm-log", auto_scroll=True)

    def on_mount(self) -> None:
        self.display = False
        self._poll()

    @work(thread=True, exit_on_error=False, group="slurm-poll", exclusive=True)
    def _poll(self) -> None:
        if not slurm_available():
            return  # no Slurm here: the pane stays hidden and polls no more
        self.app.call_from_thread(self.set_interval, self.every_s, self._load)
        self._load()

    @work(thread=True, exit_on_error=False, group="slurm-load", exclusive=True)
    def _load(self) -> None:
        jobs = list_jobs()
        ids = [job.job_id for job in jobs]
        shown = self._highlighted if self._highlighted in ids else (ids[0] if ids else None)
        lines = slurm_log(self.runs_dir, shown) if shown else []
        self.app.call_from_thread(self._show, slurm_rows(jobs), shown, lines)

    def _show(self, rows: list[tuple[str, list[str]]], shown: str | None,
              lines: list[str]) -> None:
        self.display = bool(rows)
        if rows != self._rows:
            table = self.query_one("#slurm-jobs", DataTable)
            ids = [job_id for job_id, _ in rows]
            table.clear()
            for job_id, cells in rows:
                table.add_row(*cells, key=job_id)
            if shown in ids:
                table.move_cursor(row=ids.index(shown), animate=False)
            self._rows = rows
        if (shown, lines) != self._log:
            self._log = (shown, lines)
            self.query_one("#slurm-title", Static).update(
                f"Slurm jobs · log of {shown}" if shown else "Slurm jobs")
            log = self.query_one("#slurm-log", Log)
            log.clear()
            log.write_lines(lines)

    @on(DataTable.RowHighlighted, "#slurm-jobs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key != self._highlighted:
            self._highlighted = key
            self._load()

    def action_cancel_slurm_job(self) -> None:
        job_id = self._highlighted or (self._rows[0][0] if self._rows else None)
        if job_id is None:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._cancel(job_id)

        self.app.push_screen(ConfirmScreen(
            f"Cancel Slurm job {escape(job_id)} (scancel)? Its trial checkpoints and is "
            "queued again."), answer)

    @work(thread=True, exit_on_error=False, group="slurm-cancel")
    def _cancel(self, job_id: str) -> None:
        try:
            name = cancel(job_id)
        except SlurmError as error:
            self.app.call_from_thread(self.app.notify, str(error), severity="error")
            return
        self.app.call_from_thread(self.app.notify, f"Slurm job {job_id} ({name}) cancelled")
        self._load()
