"""A screen that reloads its data in a worker thread every poll interval while it is visible.

The worker calls `fetch` (blocking: the store, files) and posts what it returns to the screen;
a store that is locked or unreachable becomes a `StoreProblem` message and the next poll
retries. At most one load runs at a time, so a store that hangs never piles up threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from morec_core.store import StoreError
from morec_tui.messages import StoreProblem

if TYPE_CHECKING:
    from morec_tui.app import MorecApp

# What a load may meet in normal operation: a locked or unreachable database, a log file being
# rotated, a broken jobs file. Anything else is a bug: shown as unexpected, then raised so the
# worker logs its traceback.
EXPECTED_ERRORS = (SQLAlchemyError, StoreError, OSError, ValueError)


class PollingScreen(Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self._busy = False
        self._again = False
        self._texts: dict[str, str] = {}
        self.loads = 0
        """Loads applied so far (tests wait on it)."""

    @property
    def dashboard(self) -> MorecApp:
        """The app, typed: what every screen reads (store, job queue, GPUs, studies folder,
        poll interval)."""
        from morec_tui.app import MorecApp  # here: app.py imports the screens

        app = self.app
        if not isinstance(app, MorecApp):
            raise TypeError(f"{type(self).__name__} runs in a MorecApp, not {type(app).__name__}")
        return app

    def show_text(self, selector: str, text: str) -> None:
        """Update a Static only when its text changes (an update costs a repaint)."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(text)

    def compose_problem(self) -> ComposeResult:
        yield Static("", id="problem", classes="problem")

    def on_mount(self) -> None:
        self.set_interval(self.dashboard.poll_s, self._poll)
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def _poll(self) -> None:
        if self.is_current:  # hidden screens and screens under a dialog wait
            self.reload()

    def reload(self) -> None:
        if self._busy:
            self._again = True  # after this load: what it reads may have changed meanwhile
            return
        self._busy, self._again = True, False
        self._load(self.fetch_args())

    def fetch_args(self) -> Any:
        """What the next load needs from the UI (read here, on the UI thread)."""
        return None

    def fetch(self, args: Any) -> Message:
        """Load the screen's data; runs in a worker thread and must not touch widgets."""
        raise NotImplementedError

    @work(thread=True, exit_on_error=False, group="load")
    def _load(self, args: Any) -> None:
        try:
            message = self.fetch(args)
        except EXPECTED_ERRORS as error:
            message = StoreProblem(f"{type(error).__name__}: {error}".splitlines()[0])
        except Exception as error:
            # A bug: shown, and raised so that the worker logs its traceback.
            self.post_message(StoreProblem(f"unexpected {type(error).__name__}: {error}"))
            raise
        self.post_message(message)

    def loaded(self) -> None:
        """Call after applying a load: clears a previous problem."""
        self.loads += 1
        problem = self.query_one("#problem", Static)
        if problem.display:
            problem.display = False
        self._done()

    def on_store_problem(self, message: StoreProblem) -> None:
        problem = self.query_one("#problem", Static)
        problem.update(f"⚠ {escape(message.text)} "
                       f"(retrying every {self.dashboard.poll_s:g} s)")
        problem.display = True
        self._done()

    def _done(self) -> None:
        self._busy = False
        if self._again:
            self.reload()
