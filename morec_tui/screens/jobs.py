"""The jobs screen: the local queue (queued, running and finished jobs), the slots they hold,
the log of the highlighted job; cancel a job; Enter opens its run (or its study's runs)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Log, Static

from morec_tui.jobs import CPU, Job, tail
from morec_tui.messages import JobsLoaded, OpenRun
from morec_tui.screens.base import PollingScreen
from morec_tui.screens.confirm import ConfirmScreen
from morec_tui.widgets.gpu import gpu_lines
from morec_tui.widgets.slurm_jobs import SlurmJobsPane
from morec_tui.widgets.wrapped_log import WrappedLog

JOB_STYLES = {"queued": "dim", "running": "bold cyan", "completed": "green",
              "failed": "bold red", "cancelled": "yellow"}
COLUMNS = (("id", 3), ("status", 9), ("job", 22), ("slot", 5), ("took", 5), ("note", 16),
           ("started", 11), ("run", 8))


class JobsScreen(PollingScreen):
    BINDINGS = [
        Binding("x", "cancel_job", "Cancel job"),
        Binding("l", "focus_log", "Log", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[Job] = []
        self.run_ids: dict[int, list[str]] = {}
        self._log: tuple[int | None, list[str]] | None = None
        self._rows: list[tuple[int, list[Any]]] = []

    def compose(self) -> ComposeResult:
        yield Static("jobs", id="bar", classes="bar")
        table: DataTable[Any] = DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        for label, width in COLUMNS:
            table.add_column(label, width=width, key=label)
        yield table
        yield Static("", id="gpu-pane")  # hidden until NVML reports a GPU
        yield Static("log", id="log-title", classes="hint")
        yield WrappedLog(id="job-log", auto_scroll=True)
        yield SlurmJobsPane(self.dashboard.queue.root)  # hidden without Slurm jobs
        yield from self.compose_problem()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#jobs", DataTable).focus()

    @property
    def selected(self) -> Job | None:
        table = self.query_one("#jobs", DataTable)
        if not self._rows or not 0 <= table.cursor_row < len(self._rows):
            return None
        job_id = self._rows[table.cursor_row][0]
        return next((job for job in self.jobs if job.id == job_id), None)

    def fetch_args(self) -> int | None:
        job = self.selected
        return None if job is None else job.id

    def fetch(self, selected: Any) -> JobsLoaded:
        queue = self.dashboard.queue
        jobs = queue.jobs()
        run_ids = {job.id: queue.run_ids(job) for job in jobs}
        shown = next((job for job in jobs if job.id == selected), jobs[0] if jobs else None)
        return JobsLoaded(jobs, run_ids, None if shown is None else shown.id,
                          tail(shown.log) if shown else [], self._gpu_lines(jobs))

    def _gpu_lines(self, jobs: list[Job]) -> list[str]:
        source = self.dashboard.gpu_source
        if source is None:
            return []
        try:
            return gpu_lines(source.sample(), jobs)
        except OSError as error:  # the driver failed this time: said in the pane, tried again
            return [f"GPUs: {error}"]

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        self.jobs, self.run_ids = message.jobs, message.run_ids
        now = time.time()
        rows = [(job.id, _cells(job, message.run_ids.get(job.id, []), now)) for job in self.jobs]
        if rows != self._rows:
            table = self.query_one("#jobs", DataTable)
            row = table.cursor_row
            # The cursor stays on its job, not on its row number: a job queued meanwhile comes
            # first (newest first), and `x` must still offer the job that was highlighted.
            highlighted = self._rows[row][0] if 0 <= row < len(self._rows) else None
            ids = [job_id for job_id, _ in rows]
            table.clear()
            for job_id, cells in rows:
                table.add_row(*cells, key=str(job_id))
            if rows:
                table.move_cursor(row=ids.index(highlighted) if highlighted in ids
                                  else min(row, len(rows) - 1), animate=False)
            self._rows = rows
        self._show_bar()
        pane = self.query_one("#gpu-pane", Static)
        self.show_text("#gpu-pane", escape("\n".join(message.gpu_lines)))
        pane.display = bool(message.gpu_lines)
        log = (message.log_job, message.log)
        if log != self._log:
            old, self._log = self._log, log
            job = next((job for job in self.jobs if job.id == message.log_job), None)
            self.show_text("#log-title",
                "no job yet: n launches one" if job is None else
                f"log of job {job.id}: {escape(Path(job.log).name)}")
            show_log(self.query_one("#job-log", Log), old[1] if old and old[0] == log[0] else [],
                     message.log)
        self.loaded()
        job_file = self.dashboard.queue.problem
        if job_file:  # a jobs file set aside (issue 13): shown until the next job is queued
            problem = self.query_one("#problem", Static)
            problem.update(f"⚠ {escape(job_file)}")
            problem.display = True

    def _show_bar(self) -> None:
        running = [job for job in self.jobs if job.status == "running"]
        queued = sum(job.status == "queued" for job in self.jobs)
        holder = {slot: job.id for job in running for slot in job.slots}
        gpus = self.dashboard.gpus
        slots = [gpu.index for gpu in gpus] if gpus else [CPU]
        names = [("CPU" if slot == CPU else f"GPU {slot}")
                 + (f" [cyan]job {holder[slot]}[/]" if slot in holder else " free")
                 for slot in slots]
        detecting = " (looking for GPUs…)" if gpus is None else ""
        self.show_text("#bar",
            f"[b]{len(running)}[/b] running · [b]{queued}[/b] queued · slots: "
            + " · ".join(names) + detecting)

    @on(DataTable.RowHighlighted, "#jobs")
    def _highlighted(self) -> None:
        job = self.selected
        if job is not None and (self._log is None or self._log[0] != job.id):
            self.reload()

    @on(DataTable.RowSelected, "#jobs")
    def _selected(self) -> None:
        job = self.selected
        if job is None:
            return
        runs = self.run_ids.get(job.id, [])
        if job.kind == "study" and job.study:
            self.dashboard.show_study(job.study)
        elif runs:
            self.post_message(OpenRun(runs[-1]))
        else:
            self.notify(f"job {job.id} has not started a run yet")

    def action_cancel_job(self) -> None:
        job = self.selected
        if job is None:
            return
        if not job.active:
            self.notify(f"job {job.id} is {job.status} already")
            return
        force = job.cancel_requested
        question = (f"Job {job.id} is still stopping. Kill it now (SIGKILL)?" if force else
                    f"Cancel job {job.id} ({escape(job.label)})?")

        def answer(yes: bool | None) -> None:
            if yes:
                self._cancel(job.id, force)

        self.app.push_screen(ConfirmScreen(question), answer)

    @work(thread=True, exit_on_error=False, group="cancel")
    def _cancel(self, job_id: int, force: bool) -> None:
        self.dashboard.queue.cancel(job_id, force=force)
        self.app.call_from_thread(self.reload)

    def action_focus_log(self) -> None:
        self.query_one("#job-log", Log).focus()


def show_log(widget: Log, shown: list[str], lines: list[str]) -> None:
    """Append what is new when the log only grew, else show `lines` afresh; follow the end
    unless the reader has scrolled up."""
    follow = widget.is_vertical_scroll_end or not shown
    if shown and lines[:len(shown)] == shown:
        widget.write_lines(lines[len(shown):], scroll_end=follow)
        return
    widget.clear()
    widget.write_lines(lines, scroll_end=follow)
    if follow:
        # Log.scroll_end right after clear() is clamped to the old scroll range, so another
        # job's long log kept the previous log's position: scroll once its size is known.
        widget.call_after_refresh(widget.scroll_end, animate=False, immediate=True)


def _cells(job: Job, run_ids: list[str], now: float) -> list[Any]:
    status = job.status + ("…" if job.cancel_requested and job.active else "")
    started = "" if job.started_at is None else time.strftime(
        "%m-%d %H:%M", time.localtime(job.started_at))
    end = job.finished_at if job.finished_at is not None else now
    took = "" if job.started_at is None else _duration(end - job.started_at)
    # Text, not str: DataTable reads a str as markup, and a label may hold "[".
    return [Text(str(job.id)), Text(status, style=JOB_STYLES.get(job.status, "")),
            Text(job.label), Text(job.slot_label), Text(took), Text(job.note), Text(started),
            Text(run_ids[-1][:8] if run_ids else "")]


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}"
