"""The compare screen at 80 columns: per MoRec arm its verdict, Δ and Improv. with their CIs in
view without scrolling; wider terminals add means, users and p-values; exports as data
(issue 24)."""

import csv
import io

from textual.widgets import DataTable

from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, drive, loaded, wait_for


async def _compare(app, pilot):
    await loaded(app, pilot, RunsScreen)
    await pilot.press("c")
    screen = await loaded(app, pilot, CompareScreen)
    await pilot.pause(0.2)
    return screen


def _visible(screen):
    """The header labels whose columns lie wholly on screen, and the row of MiniLM E2E."""
    table = screen.query_one("#compare", DataTable)
    right, labels = table.scrollable_content_region.width, []
    x = 0
    for column in table.ordered_columns:
        x += column.get_render_width(table)
        if x <= right:
            labels.append(str(column.label))
    minilm = [row.arm for row in screen.rows].index("MiniLM E2E")
    return labels, [str(cell) for cell in table.get_row_at(minilm)]


def test_at_80_columns_the_verdict_delta_and_improvement_are_in_view(filled):
    async def body(app, pilot):
        screen = await _compare(app, pilot)
        labels, line = _visible(screen)
        for label in ("verdict", "Δ pp [95% CI]", "Improv. [95% CI]"):
            assert label in labels, labels
        shown = dict(zip(labels, line, strict=False))
        assert shown["verdict"] == "MoRec better"
        assert shown["Δ pp [95% CI]"].startswith("+") and "[" in shown["Δ pp [95% CI]"]
        assert shown["Improv. [95% CI]"] == "+15.7% [+10,+22]"
        # The cost table under it, on screen too.
        cost = screen.query_one("#cost", DataTable)
        assert cost.display and cost.region.height >= 2 and cost.region.bottom <= 24

    drive(app_on(filled), body, size=(80, 24))


def test_a_wide_screen_adds_means_users_and_p_values(filled):
    async def body(app, pilot):
        screen = await _compare(app, pilot)
        labels, line = _visible(screen)
        for label in ("mean % [95% CI]", "users", "p t", "p rand.", "p adj."):
            assert label in labels, labels
        shown = dict(zip(labels, line, strict=False))
        assert shown["users"] == "1000"

    drive(app_on(filled), body, size=(160, 40))


def test_the_csv_export_is_data_with_full_run_ids_and_never_overwrites(filled):
    async def body(app, pilot):
        screen = await _compare(app, pilot)
        await pilot.press("e")
        await pilot.press("e")
        exports = filled["runs"] / "exports"
        await wait_for(pilot, lambda: len(list(exports.glob("compare-all-studies-*.csv"))) == 2,
                       what="two exports")
        files = sorted(exports.glob("compare-all-studies-*.csv"))
        rows = list(csv.DictReader(io.StringIO(files[-1].read_text())))
        assert len(rows) == len(screen.rows)
        minilm = next(row for row in rows if row["arm"] == "MiniLM E2E")
        float(minilm["Δ ndcg@10"]), float(minilm["Δ ndcg@10 ci low"])  # numbers, one per cell
        assert minilm["best run"] == "a3" * 16  # the full id, as --resume takes it
        assert minilm["users ndcg@10"] == "1000" and minilm["verdict ndcg@10"] == "MoRec better"
        assert files[0].read_text() == files[1].read_text()

    drive(app_on(filled), body, size=(80, 24))
