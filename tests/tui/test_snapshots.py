"""Snapshots of the main screens at fixed sizes, on fixed data (update with --snapshot-update
and look at the SVGs in the report before accepting them)."""

from textual.widgets import DataTable, Input

from morec_tui.messages import OpenRun
from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.jobs import JobsScreen
from morec_tui.screens.launch import LaunchScreen
from morec_tui.screens.run_detail import RunDetailScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, loaded, wait_for


async def shown(pilot, screen_type, loads=1):
    """Wait until the screen is up and loaded and the app is idle (no worker running: the
    reaper, GPU detection, the screens' loads), so that a slow machine takes the same picture
    as a fast one."""
    app = pilot.app
    await loaded(app, pilot, screen_type, loads)
    await wait_for(pilot, lambda: not any(worker.is_running for worker in app.workers),
                   what="the app's workers")
    # A DataTable measures new rows (virtual size, auto widths) on its own next Idle: wait for
    # it. This alone did not stop the compare screen's rare header-width picture (a frame drawn
    # before that Idle kept stale cells); the screen now sets its column widths when it fills
    # the table. Textual is pinned, so its pending-measure flags are safe to read.
    await wait_for(pilot, lambda: not any(table._require_update_dimensions or table._new_rows
                                          for table in app.screen.query(DataTable)),
                   what="the tables' column widths")
    await pilot.pause(0.2)
    await pilot.pause()


async def runs(pilot):
    await shown(pilot, RunsScreen)


def test_runs_screen(snap_compare, filled):
    assert snap_compare(app_on(filled), terminal_size=(100, 30), run_before=runs)


def test_runs_screen_at_80x24(snap_compare, filled):
    assert snap_compare(app_on(filled), terminal_size=(80, 24), run_before=runs)


def test_run_detail(snap_compare, filled):
    async def detail(pilot):
        await runs(pilot)
        pilot.app.post_message(OpenRun("a3" * 16))
        await shown(pilot, RunDetailScreen)

    assert snap_compare(app_on(filled), terminal_size=(100, 30), run_before=detail)


def test_compare_screen(snap_compare, filled):
    async def compare(pilot):
        await runs(pilot)
        await pilot.press("c")
        await shown(pilot, CompareScreen)

    assert snap_compare(app_on(filled), terminal_size=(100, 30), run_before=compare)


def test_compare_screen_at_80x24(snap_compare, filled):
    """Per MoRec arm its verdict, Δ pp and Improv. with their CIs in view, the cost table under
    it (issue 24)."""
    async def compare(pilot):
        await runs(pilot)
        await pilot.press("c")
        await shown(pilot, CompareScreen)

    assert snap_compare(app_on(filled), terminal_size=(80, 24), run_before=compare)


def test_jobs_screen(snap_compare, filled):
    async def jobs(pilot):
        await runs(pilot)
        await pilot.press("j")
        await shown(pilot, JobsScreen)

    assert snap_compare(app_on(filled), terminal_size=(100, 30), run_before=jobs)


def test_launch_form_at_80x24(snap_compare, filled):
    async def form(pilot):
        await runs(pilot)
        await pilot.press("n")
        await shown(pilot, LaunchScreen)
        pilot.app.screen.query_one("#dataset", Input).cursor_blink = False
        await wait_for(pilot, lambda: "pick a study" in str(
            pilot.app.screen.query_one("#study").prompt), what="the studies")
        await pilot.pause()

    assert snap_compare(app_on(filled), terminal_size=(80, 24), run_before=form)


def _study_view(places, tab):
    """The app on tests/tui/study_fill.py's study, and what opens its view on one tab."""
    from morec_core.store import Store
    from morec_tui.messages import OpenStudy
    from morec_tui.screens.study import StudyScreen
    from tests.tui.study_fill import fill_optuna, fill_study

    with Store(places["store"]) as store:
        fill_study(store, places["studies"])
        fill_optuna(store.url)

    async def study(pilot):
        await runs(pilot)
        pilot.app.post_message(OpenStudy("lrs"))
        await shown(pilot, StudyScreen)
        await pilot.press(tab)
        await pilot.pause(0.2)

    return app_on(places), study


def test_study_view_trials_at_80x24(snap_compare, places):
    app, study = _study_view(places, "1")
    assert snap_compare(app, terminal_size=(80, 24), run_before=study)


def test_study_view_metric_plot_at_120x40(snap_compare, places):
    app, study = _study_view(places, "2")
    assert snap_compare(app, terminal_size=(120, 40), run_before=study)


def _overlay(pilot):
    from morec_tui.screens.overlay import OverlayScreen

    async def run(pilot):
        await runs(pilot)
        table = pilot.app.screen.query_one("#runs")
        for run_id in ("a1" * 16, "a3" * 16, "a4" * 16):  # IDRec, MiniLM and its collapse
            table._put_cursor(table.keys.index(run_id))
            await pilot.press("space")
        await pilot.press("o")
        await shown(pilot, OverlayScreen)

    return run(pilot)


def test_overlay_at_120x40(snap_compare, filled):
    assert snap_compare(app_on(filled), terminal_size=(120, 40), run_before=_overlay)


def test_overlay_at_80x24(snap_compare, filled):
    assert snap_compare(app_on(filled), terminal_size=(80, 24), run_before=_overlay)


def test_study_view_parallel_coordinates_at_120x40(snap_compare, places):
    app, study = _study_view(places, "3")
    assert snap_compare(app, terminal_size=(120, 40), run_before=study)


def test_overlay_with_a_seed_stopped_early(snap_compare, filled):
    """Seed bands (b) with one seed pruned after two epochs: the band ends at epoch 2, inside
    [0, 1], and the legend says N=3 seeds (issue 24)."""
    from morec_core.store import Store
    from tests.tui.test_overlay import add_seeds_one_stopping_early, overlay_of_seeds

    with Store(filled["store"]) as store:
        add_seeds_one_stopping_early(store)

    async def bands(pilot):
        await overlay_of_seeds(pilot.app, pilot)
        await shown(pilot, type(pilot.app.screen))

    assert snap_compare(app_on(filled), terminal_size=(120, 30), run_before=bands)
