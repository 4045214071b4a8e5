"""The dashboard with real jobs: `morec run` subprocesses on tiny synthetic data."""

import os
import signal

import pytest
from textual.widgets import Checkbox, Input

from morec_core.launch import queue_run, spec_from_options
from morec_core.store import Store, pid_alive
from morec_tui.jobs import CPU, JobRequest, run_argv
from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.confirm import ConfirmScreen
from morec_tui.screens.jobs import JobsScreen
from morec_tui.screens.launch import LaunchScreen
from morec_tui.screens.run_detail import RunDetailScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.widgets.curves import CurvePlot
from tests.tui.fill import app_on, drive, loaded, wait_for

JOB_START_S = 90  # a job imports torch and prepares its data first: slow on a busy 2-core box


def long_run(places, data):
    """A run that trains until it is stopped: many epochs, no early stop, no collapse stop.
    Queued in the store first, as the dashboard's form does."""
    spec = spec_from_options(dataset="pairs", path=str(data), overrides=(
        "backbone.embed_dim=16", "train.epochs=10000", "train.patience=10000"))
    with Store(places["store"]) as store:
        run_id = queue_run(store, spec)
    argv = run_argv(run_id, str(places["store"]), stop_on_collapse=False)
    return JobRequest(kind="run", label="long run", candidates=(CPU,), argv=tuple(argv),
                      run_id=run_id, spec_json=spec.to_json())


def running_run(app):
    """The run that the runs screen shows training (it has finished an epoch)."""
    runs = getattr(app.screen, "runs", [])
    return next((run for run in runs if run.status == "running"
                 and run.last_epoch is not None), None)


def test_launch_a_tiny_run_from_the_ui_and_watch_its_curve_grow(places, chains):
    # Enough epochs that the run is still training when its screen opens, on a loaded machine
    # too (8 were all done before the detail screen's first load once).
    epochs = 30

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the form")
        form = app.screen
        form.query_one("#dataset", Input).value = "pairs"
        form.query_one("#path", Input).value = str(chains)
        form.query_one("#overrides", Input).value = (
            f"backbone.embed_dim=16 train.epochs={epochs} train.patience={epochs}")
        form.query_one("#stop-on-collapse", Checkbox).value = False  # every epoch, whatever
        await pilot.press("ctrl+s")
        jobs = await loaded(app, pilot, JobsScreen)
        assert jobs.jobs[0].label == (f"pairs id sasrec backbone.embed_dim=16 "
                                      f"train.epochs={epochs} train.patience={epochs}")
        assert jobs.jobs[0].argv[-1] == "--no-stop-on-collapse"
        # Known by id from the moment it is queued: no waiting for the job to say it.
        assert jobs.run_ids.get(jobs.jobs[0].id) == [jobs.jobs[0].run_id]
        assert app.store.run(jobs.jobs[0].run_id).status in ("queued", "starting", "running")
        await pilot.press("enter")
        detail = await loaded(app, pilot, RunDetailScreen)
        loss = detail.query_one("#loss", CurvePlot)
        seen = []

        def finished():
            seen.append(loss.points)
            return detail.run is not None and detail.run.status != "running" \
                and loss.points == epochs

        await wait_for(pilot, finished, timeout=JOB_START_S, what="the run to finish")
        assert seen[0] < epochs and seen == sorted(seen)  # points arrived while it trained
        assert detail.run.status == "completed"
        assert detail.query_one("#valid-ndcg", CurvePlot).points == epochs
        await wait_for(pilot, lambda: any("completed" in line for line in detail._log or []),
                       what="the job's log in the detail")

    drive(app_on(places, poll_s=0.2), body)


def test_a_job_outlives_its_dashboard_and_is_cancelled_from_the_next(places, chains):
    started = {}

    async def first(app, pilot):
        await loaded(app, pilot, RunsScreen)
        started["job"] = app.queue.submit(long_run(places, chains))
        await wait_for(pilot, lambda: running_run(app), timeout=JOB_START_S,
                       what="the run to train")
        started["run"] = running_run(app)

    drive(app_on(places, poll_s=0.2), first)
    job = started["job"]
    assert pid_alive(job.runner_pid)  # closing the dashboard killed nothing

    async def second(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("j")
        jobs = await loaded(app, pilot, JobsScreen)
        assert jobs.jobs[0].status == "running"
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: jobs.jobs[0].status == "cancelled", timeout=30,
                       what="the job to be cancelled")
        await pilot.press("r")
        runs = await loaded(app, pilot, RunsScreen)
        await wait_for(pilot, lambda: [run.status for run in runs.runs] == ["cancelled"],
                       what="the run to be recorded cancelled")

    drive(app_on(places, poll_s=0.2), second)


def test_a_crashing_job_shows_failed_and_the_dashboard_keeps_working(places, chains):

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        job = app.queue.submit(long_run(places, chains))
        await wait_for(pilot, lambda: running_run(app), timeout=JOB_START_S,
                       what="the run to train")
        # The OOM killer's way: no exception, no last event.
        os.kill(app.queue.job(job.id).child_pid, signal.SIGKILL)
        runs = app.screen
        await wait_for(pilot, lambda: [run.status for run in runs.runs] == ["interrupted"],
                       what="the run to be marked interrupted")
        await pilot.press("j")
        jobs = await loaded(app, pilot, JobsScreen)
        await wait_for(pilot, lambda: jobs.jobs[0].status == "failed", what="a failed job")
        assert jobs.jobs[0].note == "killed by signal 9"
        await pilot.press("enter")
        detail = await loaded(app, pilot, RunDetailScreen)
        assert detail.run.status == "interrupted" and detail.run.status_reason == "process gone"
        await pilot.press("escape", "c")
        await loaded(app, pilot, CompareScreen)
        await pilot.press("r")
        before = runs.loads
        await wait_for(pilot, lambda: runs.loads > before + 2, what="the runs screen to poll")

    drive(app_on(places, poll_s=0.2, reap_s=0.5), body)


@pytest.mark.parametrize("after_s", [0.5, 3.0])
def test_a_job_cancelled_early_leaves_a_run_the_runs_screen_and_resume_know(places, chains,
                                                                             after_s):
    """Cancelled while its runner starts (0.5 s) or while its command imports torch and loads
    the data (3 s): the run queued for it ends `cancelled` (by the command's own SIGTERM handler,
    or by the dashboard when the command never started), never a phantom id."""

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        job = app.queue.submit(long_run(places, chains))
        await pilot.pause(after_s)
        app.queue.cancel(job.id)
        await wait_for(pilot, lambda: not app.queue.job(job.id).active, timeout=60,
                       what="the job to end")
        runs = app.screen
        await wait_for(pilot, lambda: [(run.id, run.status) for run in runs.runs]
                       == [(job.run_id, "cancelled")], timeout=30,
                       what="the run to be recorded cancelled")

    drive(app_on(places, poll_s=0.2, reap_s=0.5), body)


def test_a_run_job_whose_data_fails_to_load_is_a_failed_run(places, tmp_path):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        job = app.queue.submit(long_run(places, tmp_path / "no-such-folder"))
        runs = app.screen
        await wait_for(pilot, lambda: [run.status for run in runs.runs] == ["failed"],
                       timeout=JOB_START_S, what="the run to be recorded failed")
        assert "no-such-folder" in app.store.run(job.run_id).error

    drive(app_on(places, poll_s=0.2, reap_s=0.5), body)
