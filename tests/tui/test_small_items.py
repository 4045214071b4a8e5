"""Issue 24's smaller items: the palette's Screenshot under the runs folder, Enter after the
`b` dropdown, PgDn on the Spec tab, wrapped job log lines."""

from textual.widgets import Select

from morec_tui.messages import OpenRun
from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.run_detail import RunDetailScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, drive, loaded, wait_for


def test_the_palette_screenshot_lands_under_the_runs_folder_and_says_where(filled):
    toasts = []

    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        app.notify = lambda text, **_: toasts.append(str(text))
        command = next(command for command in app.get_system_commands(screen)
                       if command.title == "Screenshot")
        command.callback()
        folder = filled["runs"] / "screenshots"
        await wait_for(pilot, lambda: folder.is_dir() and list(folder.glob("*.svg")),
                       what="the screenshot")
        (svg,) = folder.glob("*.svg")
        assert svg.read_text().startswith("<svg")
        assert any(str(svg) in toast for toast in toasts), toasts

    drive(app_on(filled), body)


def test_enter_after_picking_the_table_shown_opens_its_best_run(filled):
    """Picking the table already shown changes nothing, so focus stayed on the dropdown and
    Enter opened it again."""
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("c")
        screen = await loaded(app, pilot, CompareScreen)
        select = screen.query_one("#table-choice", Select)
        await pilot.press("b")
        await wait_for(pilot, lambda: select.expanded, what="the dropdown")
        await pilot.press("enter")  # the table already shown
        await wait_for(pilot, lambda: not select.expanded, what="the dropdown closed")
        await pilot.press("enter")
        detail = await loaded(app, pilot, RunDetailScreen)
        assert detail.run_id == screen.rows[0].best_run and not select.expanded

    drive(app_on(filled), body)


def test_the_spec_tab_scrolls_with_page_down_at_once(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        app.post_message(OpenRun("a3" * 16))
        screen = await loaded(app, pilot, RunDetailScreen)
        await pilot.press("2")
        await pilot.pause(0.2)
        scroll = screen.query_one("#spec-scroll")
        assert scroll.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause(0.2)
        assert scroll.scroll_y > 0

    drive(app_on(filled), body, size=(80, 24))


def test_job_log_lines_wrap_at_the_pane_width(filled):
    from morec_tui.screens.jobs import JobsScreen
    from morec_tui.widgets.wrapped_log import WrappedLog

    long = "RuntimeError: " + "the part of a traceback that says what went wrong " * 3
    log = filled["runs"] / "logs" / "job-3.log"
    log.write_text(log.read_text() + long + "\n")

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("j")
        screen = await loaded(app, pilot, JobsScreen)
        widget = screen.query_one("#job-log", WrappedLog)
        await wait_for(pilot, lambda: any("RuntimeError" in line for line in widget.lines),
                       what="the long line")
        await pilot.pause(0.2)
        width = widget.scrollable_content_region.width
        assert all(len(line) <= width for line in widget.lines)
        assert "".join(line.strip() for line in widget.lines).replace(" ", "").endswith(
            long.replace(" ", ""))
        assert widget.written[-1] == long

    drive(app_on(filled), body, size=(80, 24))
