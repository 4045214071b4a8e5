"""The report screen: `morec report` of the compare screen's table, and its files."""

from textual.widgets import Markdown

from morec_core.report import build_report
from morec_core.report_render import blocks_of, to_markdown
from morec_core.store import Store
from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.report import ReportScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, drive, loaded, wait_for


def test_p_on_the_compare_screen_shows_the_report_and_w_writes_it(filled, tmp_path,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    from morec_core.studies import load_studies

    studies = ["hm-vision", "mind-text"]
    # The screen's definitions (the tuning audit reads their grids).
    definitions = [study for name, study in load_studies(filled["studies"]).items()
                   if name in studies]
    with Store(filled["store"]) as store:
        report = build_report(store, studies, definitions)
    expected = [row.label for row in report.rows]

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("c")
        await loaded(app, pilot, CompareScreen)
        await pilot.press("p")
        screen = await loaded(app, pilot, ReportScreen)
        assert screen.report is not None
        assert [row.label for row in screen.report.rows] == expected
        assert screen.query_one("#report", Markdown).source.startswith(
            "# morec reproduction report")
        await pilot.press("w")
        await wait_for(pilot, lambda: (tmp_path / "reports" / "all-studies.md").exists()
                       or (tmp_path / "reports" / "all_studies.md").exists(),
                       what="the report files")
        await pilot.press("escape")
        await loaded(app, pilot, CompareScreen)

    drive(app_on(filled), body)
    written = tmp_path / "reports" / "all_studies.md"
    assert written.exists() and written.with_suffix(".html").exists()
    text = written.read_text()
    # The screen's file is the command's: same rows, same numbers.
    for line in to_markdown(blocks_of(report, {})).splitlines():
        if line.startswith("| ") and "/" in line:
            assert line in text
