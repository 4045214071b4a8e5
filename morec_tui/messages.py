"""Messages of the dashboard: what worker threads load, posted to their screen (data goes down
from there as attributes), and what screens ask of the app (open a run, launch a job)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from morec_core.results.compare import CompareRow
from morec_core.store import Curves, RunRecord
from morec_core.study.study_importance import ArmImportance
from morec_core.study.study_view import Progress, Trial
from morec_tui.jobs import Job


class RunsLoaded(Message, bubble=False):
    """Every run with its test metrics at its best validation epoch (None when no run changed
    since the last load), the job queue, the runs' versions (Store.run_versions), and what the
    worker derived from the runs so that the UI thread need not (10,000 runs: some 20 ms):
    which have ended (at which best epoch), their studies in the order the picker lists, and
    the running runs' seconds per epoch so far."""

    def __init__(self, runs: list[RunRecord] | None, tests: dict[str, dict[str, float]] | None,
                 jobs: list[Job], versions: dict[str, Any], finished: tuple[Any, ...] = (),
                 studies: list[str] | None = None,
                 live_seconds: dict[str, float] | None = None, total: int | None = None,
                 damaged: dict[str, str] | None = None) -> None:
        super().__init__()
        self.damaged = damaged or {}
        """The store's rows set aside so far ('run <id>' -> what is wrong; Store.damaged): the
        screen names them, since they are not among the runs."""
        self.total = total
        """Set on the first load, which reads only the newest runs (a screenful, drawn at
        once): how many runs the store has; the full load follows."""
        self.runs = runs
        self.tests = tests
        self.jobs = jobs
        self.versions = versions
        self.finished = finished
        self.studies = studies or []
        self.live_seconds = live_seconds or {}
        """Seconds per epoch so far of the running runs (their cost is measured at the end)."""


class RunLoaded(Message, bubble=False):
    """One run, its curves and the tail of its log (None: no log known to this dashboard)."""

    def __init__(self, run_id: str, run: RunRecord | None, curves: Curves,
                 test: dict[str, float], log_path: str | None, log: list[str]) -> None:
        super().__init__()
        self.run_id = run_id
        self.run = run
        """None while a job's run has not started (it records itself once its data is in)."""
        self.curves = curves
        self.test = test
        self.log_path = log_path
        self.log = log


@dataclass(frozen=True)
class TableChoice:
    """One table of the compare screen: all studies, one study, or a group of studies."""

    label: str
    studies: tuple[str, ...]


class CompareLoaded(Message, bubble=False):
    """The tables to choose from, the rows of the chosen one (None: no run changed since they
    were shown), a note on broken study modules, Store.run_versions(), and the lines of the
    tuning audit and of accuracy against cost of those rows."""

    def __init__(self, choices: list[TableChoice], chosen: TableChoice,
                 rows: list[CompareRow] | None, note: str, versions: dict[str, Any],
                 extra: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.choices = choices
        self.chosen = chosen
        self.rows = rows
        self.note = note
        self.versions = versions
        self.extra = extra


class JobsLoaded(Message, bubble=False):
    """The job queue, the runs each job announced, the log tail of one job, and the GPU pane's
    lines (empty: no GPU, the pane stays hidden)."""

    def __init__(self, jobs: list[Job], run_ids: dict[int, list[str]], log_job: int | None,
                 log: list[str], gpu_lines: list[str] | None = None) -> None:
        super().__init__()
        self.jobs = jobs
        self.run_ids = run_ids
        self.log_job = log_job
        self.log = log
        self.gpu_lines = gpu_lines or []


class StudyLoaded(Message, bubble=False):
    """One study: its progress over the grid, its trials (runs with the settings that vary),
    the grid points with no run yet as (arm, settings, queued in Optuna?), the importances per
    arm (None: unchanged since the last load: the finished trials they came from are
    `finished`), and a note (a study module that failed to load)."""

    def __init__(self, study: str, progress: Progress, keys: list[str], trials: list[Trial],
                 waiting: list[tuple[str, dict[str, Any], bool]],
                 importances: list[ArmImportance] | None, note: str,
                 finished: tuple[Any, ...]) -> None:
        super().__init__()
        self.study = study
        self.progress = progress
        self.keys = keys
        self.trials = trials
        self.waiting = waiting
        self.importances = importances
        self.note = note
        self.finished = finished


class StoreProblem(Message, bubble=False):
    """Loading failed (store locked or unreachable, a study module broken): shown, retried."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class OpenRun(Message):
    """Asks the app to show one run's detail."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class OpenStudy(Message):
    """Asks the app to show one study's view."""

    def __init__(self, study: str) -> None:
        super().__init__()
        self.study = study


class JobSubmitted(Message):
    """A job was queued (or could not be: `error`)."""

    def __init__(self, job: Job | None, error: str = "") -> None:
        super().__init__()
        self.job = job
        self.error = error
