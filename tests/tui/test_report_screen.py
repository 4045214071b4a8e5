"""The report screen: `morec report` of the compare screen's table, and its files."""

from textual.containers import VerticalScroll
from textual.widgets import Markdown, ProgressBar

from morec_core.results.report import build_report
from morec_core.results.report_render import blocks_of, to_markdown
from morec_core.store import Store
from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.report import ReportScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, drive, loaded, wait_for


async def open_report(app, pilot) -> ReportScreen:
    """From the runs screen: `c` (compare), then `p` (its report), once built."""
    await loaded(app, pilot, RunsScreen)
    await pilot.press("c")
    await loaded(app, pilot, CompareScreen)
    await pilot.press("p")
    return await loaded(app, pilot, ReportScreen)


def test_p_on_the_compare_screen_shows_the_report_and_w_writes_it(filled, tmp_path,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    from morec_core.study.studies import load_studies

    studies = ["hm-vision", "mind-text"]
    # The screen's definitions (the tuning audit reads their grids).
    definitions = [study for name, study in load_studies(filled["studies"]).items()
                   if name in studies]
    with Store(filled["store"]) as store:
        report = build_report(store, studies, definitions)
    expected = [row.label for row in report.rows]
    # Under the runs folder, not ./reports of wherever the dashboard was started.
    written = filled["runs"] / "reports" / "all_studies.md"
    toasts: list[str] = []
    # The writer waits for the test's word, so the test sees the write under way whatever
    # the machine's speed (a fast one finished it before the key press returned).
    import threading

    import morec_core.results.report_files as report_files
    release = threading.Event()
    real_write = report_files.write_report

    def held_write(*args, **kwargs):
        assert release.wait(60), "the test never released the writer"
        return real_write(*args, **kwargs)

    monkeypatch.setattr(report_files, "write_report", held_write)

    async def body(app, pilot):
        screen = await open_report(app, pilot)
        assert screen.report is not None
        assert [row.label for row in screen.report.rows] == expected
        first, _, rest = screen.query_one("#report", Markdown).source.partition("\n\n")
        assert first.startswith("`morec report") and first.endswith("`")  # its command first
        assert rest.startswith("# morec reproduction report")
        app.notify = lambda text, **_: toasts.append(str(text))
        await pilot.press("w")
        # In a worker: the screen answers while the figures are drawn.
        assert screen.writing and screen.query_one("#write-progress").display
        # The event loop still answers while the writer is held: a second `w` is refused.
        await pilot.press("w")
        assert any("being written" in toast for toast in toasts), toasts
        bar = screen.query_one("#write-progress", ProgressBar)
        assert bar.total is None  # nothing done yet: indeterminate
        release.set()
        await wait_for(pilot, lambda: not screen.writing, timeout=60, what="the report files")
        # The bar counted the steps (each question's figures, the trade-off, the text files).
        assert bar.total is not None and bar.total >= 3 and bar.progress == bar.total
        await pilot.press("escape")
        await loaded(app, pilot, CompareScreen)

    drive(app_on(filled), body)
    assert not (tmp_path / "reports").exists()
    assert written.exists() and written.with_suffix(".html").exists()
    assert any(str(written) in toast for toast in toasts), toasts
    text = written.read_text()
    # The screen's file is the command's: same rows, same numbers.
    for line in to_markdown(blocks_of(report, {})).splitlines():
        if line.startswith("| ") and "/" in line:
            assert line in text


def test_the_report_scrolls_by_key_and_survives_clicks_across_polls(filled):
    """Issue 24: the view never scrolled (PgDn, End, wheel left scroll_y at 0), and clicks on
    its text crashed the app when a poll had just re-rendered the paragraphs."""
    async def body(app, pilot):
        screen = await open_report(app, pilot)
        scroll = screen.query_one("#report-scroll", VerticalScroll)
        await pilot.pause(0.3)
        assert scroll.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("end")
        await pilot.wait_for_scheduled_animations()  # "end" animates; a fixed pause can be short
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        await pilot.press("home")
        await pilot.pause(0.3)
        # Clicks on the text across several polls (0.05 s here, 2 or more between clicks): the
        # app stays up, and the position a reader scrolled to is kept. (Each pilot click waits
        # for the app to settle, over a second here: 4 clicks, not 12.)
        for round_ in range(4):
            await pilot.click(offset=(5 + 3 * round_, 3 + round_))
            await pilot.pause(0.12)
        assert app.is_running and isinstance(app.screen, ReportScreen)
        await pilot.mouse_down(offset=(10, 5))
        await pilot.pause(0.2)
        await pilot.mouse_up(offset=(20, 8))
        assert app.is_running

    drive(app_on(filled, poll_s=0.05), body, size=(80, 24))
