"""The dashboard app: three modes (runs, compare, jobs), a run's detail on top, a launch form.

The app holds what every screen reads (the store, the job queue, the GPUs); screens load their
data in worker threads and get it back as messages. `make_app` is what the CLI and tests call.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.actions import SkipAction
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Input
from textual.worker import Worker

from morec_core import paths
from morec_core.config import RunSpec
from morec_core.launch import queue_run
from morec_core.store import Store, StoreError, open_for_reading
from morec_tui.jobs import Gpu, JobQueue, JobRequest, detect_gpus
from morec_tui.messages import JobSubmitted, OpenRun, OpenStudy
from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.jobs import JobsScreen
from morec_tui.screens.launch import LaunchScreen
from morec_tui.screens.run_detail import RunDetailScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.screens.study import StudyScreen
from morec_tui.widgets.gpu import GpuSource, NvmlSource

REAP_EVERY_S = 15.0


class MorecApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "morec"
    # Ctrl+P: every screen's actions by name (get_system_commands), for keys not remembered.
    ENABLE_COMMAND_PALETTE = True
    MODES = {"runs": RunsScreen, "compare": CompareScreen, "jobs": JobsScreen}
    DEFAULT_MODE = "runs"
    BINDINGS = [
        Binding("r", "switch_mode('runs')", "Runs"),
        Binding("c", "switch_mode('compare')", "Compare"),
        Binding("j", "switch_mode('jobs')", "Jobs"),
        # Priority: checked when the key arrives, before keys typed after it are forwarded to
        # the screen underneath (the action skips itself where `n` is text).
        Binding("n", "launch", "New job", priority=True),
        Binding("question_mark", "keys", "Keys"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, store: Store, queue: JobQueue, *, gpus: list[Gpu] | None = None,
                 studies_dir: Path | None = None, poll_s: float = 2.0,
                 reap_s: float = REAP_EVERY_S, gpu_source: GpuSource | None = None) -> None:
        super().__init__()
        self.gpu_source = gpu_source
        """What the jobs screen's GPU pane samples (None: no GPU, no pane)."""
        self.store = store
        self.queue = queue
        self.gpus = gpus
        """None until `nvidia-smi` has answered; [] means the CPU slot only."""
        self.studies_dir = studies_dir
        self._settled: set[int] = set()
        """Finished run jobs whose queued run was looked at (`_reap`)."""
        self.poll_s = poll_s
        self.reap_s = reap_s
        self._reaping: Worker[None] | None = None

    def on_mount(self) -> None:
        if self.gpus is None:
            self._detect_gpus()
        self._reap_now()
        self.set_interval(self.reap_s, self._reap_now)

    def _reap_now(self) -> None:
        if self._reaping is None or self._reaping.is_finished:  # a locked store: no pile-up
            self._reaping = self._reap()

    @work(thread=True, exit_on_error=False, group="gpus")
    def _detect_gpus(self) -> None:
        gpus = detect_gpus()
        self.call_from_thread(setattr, self, "gpus", gpus)

    @work(thread=True, exit_on_error=False, group="reap")
    def _reap(self) -> None:
        # Runs whose process died without a word become `interrupted`. A store that is locked
        # or down fails this round quietly (the screens' own loads show store problems); the
        # next round tries again.
        if not self.store.read_only:  # a store this user may only read is shown as it is
            self.store.reap_dead_runs()
            # A run job that ended before its command started the run (cancelled while queued,
            # its runner gone): its queued run says so.
            for job in self.queue.jobs():
                if job.run_id is not None and not job.active and job.id not in self._settled:
                    self._settled.add(job.id)  # one look per finished job
                    self.store.end_queued_run(
                        job.run_id, "cancelled" if job.status == "cancelled" else "failed",
                        f"job {job.id} {job.status} before the run started"
                        + (f" ({job.note})" if job.note else ""))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands, then each action a key takes on this screen or app-wide (its
        footer's and the hidden ones), named as in the footer, with the key in the help line;
        not a widget's own keys (a table's Up, Page down)."""
        yield from super().get_system_commands(screen)
        seen = {"Quit", "Keys"}  # Textual's own, above
        for key, active in screen.active_bindings.items():
            binding = active.binding
            title = binding.description
            if (not title or title in seen or not active.enabled
                    or not isinstance(active.node, App | Screen)):
                continue
            seen.add(title)
            node = active.node

            def run(action: str = binding.action, node: DOMNode = node) -> None:
                self.call_later(self.run_action, action, node)

            yield SystemCommand(title, f"key {binding.key_display or key}", run)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Ctrl+P Screenshot (and `screenshot` action): an SVG of the screen, written whole to
        <runs>/screenshots/ (Textual's default, ~/Downloads, is missing on most servers, and
        failed without saying where or why); the toast says where, or why not."""
        del time_format
        folder = Path(path).expanduser() if path else self.queue.root / "screenshots"
        name = filename or f"morec-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        target = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{name}.tmp"
            temporary.write_text(self.export_screenshot(), encoding="utf-8")
            os.replace(temporary, target)
        except OSError as error:
            self.notify(f"screenshot not saved to {folder}: {error.strerror or error}",
                        title="Screenshot", severity="error", markup=False)
            return None
        self.notify(f"saved {target}", title="Screenshot", markup=False, timeout=10)
        return str(target)

    def action_keys(self) -> None:
        """Show or hide the panel of every key the focused widget and its screen take."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def action_launch(self) -> None:
        if isinstance(self.screen, ModalScreen) or isinstance(self.focused, Input):
            raise SkipAction()  # `n` typed into a field, or a dialog already open
        # Awaited: keys typed right after `n` wait in the app's queue until the form is up and
        # its first field focused; they used to reach the screen underneath and were lost, a
        # lost Tab putting the overrides into the backbone field (issue 16, bug 5).
        form = LaunchScreen(self.store.url, self.gpus or [], self.studies_dir)
        await self.push_screen(form, self._submit)
        form.focus_first_field()  # now, not via the queue: the waiting keys come after it

    def _submit(self, request: JobRequest | None) -> None:
        if request is not None:
            self._submit_job(request)

    @work(thread=True, exit_on_error=False, group="submit")
    def _submit_job(self, request: JobRequest) -> None:
        try:
            if request.run_id is not None and request.spec_json is not None:
                # The run's row first, `queued`: the job's command resumes it by id.
                queue_run(self.store, RunSpec.from_json(request.spec_json),
                          run_id=request.run_id, study=request.study)
            job = self.queue.submit(request)
        except (OSError, ValueError, StoreError) as error:
            if request.run_id is not None:
                with contextlib.suppress(StoreError):
                    self.store.end_queued_run(request.run_id, "failed",
                                              f"could not queue the job: {error}")
            self.post_message(JobSubmitted(None, f"could not queue the job: {error}"))
            return
        self.post_message(JobSubmitted(job))

    def on_job_submitted(self, message: JobSubmitted) -> None:
        if message.job is None:
            self.notify(message.error, severity="error", markup=False)
            return
        self.notify(f"job {message.job.id} queued: {message.job.label}", markup=False)
        self.switch_mode("jobs")

    def on_open_run(self, message: OpenRun) -> None:
        self.push_screen(RunDetailScreen(message.run_id))

    def on_open_study(self, message: OpenStudy) -> None:
        self.push_screen(StudyScreen(message.study))

    def show_study(self, study: str) -> None:
        """The runs screen, filtered to one study."""
        self.switch_mode("runs")
        screen = self.get_screen_stack("runs")[0]
        if isinstance(screen, RunsScreen):
            screen.study = study


def make_app(store: str | None = None, *, runs_dir: Path | None = None,
             studies_dir: Path | None = None, gpus: list[Gpu] | None = None,
             poll_s: float = 2.0, reap_s: float = REAP_EVERY_S) -> MorecApp:
    """The dashboard on a store URL or path (default $MOREC_STORE or runs/morec.db) and the job
    queue of a runs folder (default $MOREC_RUNS_DIR or runs/). Studies come from `studies_dir`
    (default $MOREC_STUDIES_DIR or studies/); `gpus=None` asks nvidia-smi."""
    url = store or paths.default_store_url()
    built_in = url == paths.default_store_url() and paths.STORE_ENV not in os.environ
    if not built_in and "://" not in url and not Path(url).expanduser().parent.is_dir():
        # A typo in --store made a folder and an empty store, silently (issue 16); only the
        # default store's folder (runs/) is made on first use.
        raise StoreError(f"folder {Path(url).expanduser().parent} does not exist")
    # NVML only where GPUs are looked for (tests pass gpus=[]): without a driver it is None.
    gpu_source = NvmlSource.open() if gpus is None else None
    return MorecApp(open_for_reading(url),
                    JobQueue(runs_dir or paths.runs_dir()), gpus=gpus, studies_dir=studies_dir,
                    poll_s=poll_s, reap_s=reap_s, gpu_source=gpu_source)
