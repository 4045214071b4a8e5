"""The runs screen's columns for the settings that vary among the runs shown, and its start
time column; a table exported as CSV and Markdown."""

import csv
import io

from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.widgets.export import table_csv, table_markdown
from tests.tui.fill import PLANS, T0, app_on, drive, loaded, wait_for


def _cells(table, run_id):
    return {column.key: cell for column, cell in zip(table.columns, table.cells(run_id),
                                                      strict=True)}


def test_the_settings_that_differ_among_the_shown_runs_get_columns(filled):
    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")
        params = [column for column in table.columns if column.key.startswith("param:")]
        # The fixed runs differ in lr (and in what the data / arm / backbone columns show).
        assert [(column.key, column.label) for column in params] == [("param:train.lr", "lr")]
        assert _cells(table, "a2" * 16)["param:train.lr"] == "1e-04"
        assert _cells(table, "a1" * 16)["param:train.lr"] == "0.001"
        first = PLANS[0]
        assert _cells(table, first.run_id)["started"] == "11-14 22:13"  # T0 in UTC
        # A running run's cost is measured at its end; until then its epochs' mean time.
        assert _cells(table, "b2" * 16)["spe"] == "~60.0"
        assert _cells(table, "a1" * 16)["spe"] == "60.0"
        screen.status = "completed"  # every completed run has lr 1e-3: no lr column
        await wait_for(pilot, lambda: not any(column.key.startswith("param:")
                                              for column in table.columns),
                       what="the lr column gone")
        screen.status = "*"
        await wait_for(pilot, lambda: any(column.key == "param:train.lr"
                                          for column in table.columns), what="lr back")
        text = table_csv(table).splitlines()
        assert text[0].startswith("status,study,arm,data,valid,T hr@10,T ndcg@10,lr,")
        assert len(text) == len(PLANS) + 1
        markdown = table_markdown(table).splitlines()
        assert markdown[1].startswith("| --- |") and len(markdown) == len(PLANS) + 2
        await pilot.press("e")
        exports = filled["runs"] / "exports"
        await wait_for(pilot, lambda: list(exports.glob("runs-*.csv")), what="runs-<time>.csv")
        (exported,) = exports.glob("runs-*.csv")
        # Data, not the cells (issue 24: `1.5G`, dates without a year, 8-character ids).
        lines = list(csv.DictReader(io.StringIO(exported.read_text())))
        assert [line["id"] for line in lines] == table.keys  # full ids, in the table's order
        first = next(line for line in lines if line["id"] == PLANS[0].run_id)
        assert first["started"] == "2023-11-14T22:13:20+00:00"
        assert first["peak memory bytes"] == str(2 * 2**30) and first["train.lr"] == "0.001"
        assert float(first["test ndcg@10"]) > 0 and first["best epoch"] == "4"
        await pilot.press("c")
        compare = await loaded(app, pilot, CompareScreen)
        await wait_for(pilot, lambda: compare.rows, what="the compare table")
        await pilot.press("E")
        await wait_for(pilot, lambda: list(exports.glob("compare-all-studies-*.md")),
                       what="the compare table's Markdown")
        (markdown_file,) = exports.glob("compare-all-studies-*.md")
        lines = markdown_file.read_text().splitlines()
        # `morec compare --format markdown`: the arms, then the verdicts, then the costs.
        assert lines[0].startswith("| study | dataset |")
        assert "| dataset | backbone | MoRec | IDRec | metric | users |" in markdown_file.read_text()

    drive(app_on(filled), body, size=(120, 30))


def test_a_poll_reads_the_runs_that_moved_and_now_and_then_all_of_them(filled):
    import time

    from morec_core.run import events as ev
    from morec_core.store import Store
    from morec_tui.screens.runs_load import FULL_CHECK_EVERY

    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")

        def epochs(run_id):
            return table.cells(run_id)[[column.key for column in table.columns].index("epochs")]

        async def poll():
            loads = screen.loads
            screen.reload()
            await wait_for(pilot, lambda: screen.loads > loads, what="a poll")

        while (screen._polls + 1) % FULL_CHECK_EVERY == 0:  # the next poll: an incremental one
            await poll()
        with Store(filled["store"]) as store:
            # b2 runs on a host whose clock is right; a1's host is far behind (its events are
            # stamped long before the newest heartbeat shown).
            store.record(ev.EpochEnded(run_id="b2" * 16, epoch=3, loss=0.5, learning_rates={},
                                       seconds=60.0, time=time.time() + 4000))
            store.record(ev.EpochEnded(run_id="a1" * 16, epoch=7, loss=0.5, learning_rates={},
                                       seconds=60.0, time=T0 + 500))
        await poll()
        assert epochs("b2" * 16) == "4"  # seen at once
        assert epochs("a1" * 16) == "5"  # not yet
        while screen._polls % FULL_CHECK_EVERY:
            await poll()
        assert epochs("a1" * 16) == "8"  # the full check saw it

    drive(app_on(filled), body)


def test_the_filter_reads_settings_and_labels_not_the_id(filled):
    """Issue 24: `/ minilm 43` matched the seed-44 run because its id held "43"."""
    from morec_core.store import Store
    from tests.tui.test_grouping import record

    text = ["data.source=mind", "encoder.name=text", "encoder.model=minilm-l6"]
    seed_43, seed_44 = "e1" * 16, "4343" * 8
    with Store(filled["store"]) as store:
        record(store, seed_43, text, seed=43, valid=0.1, arm="MiniLM E2E")
        record(store, seed_44, text, seed=44, valid=0.1, arm="MiniLM E2E")

    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")
        await wait_for(pilot, lambda: seed_44 in table.keys, what="the seeds")
        await pilot.press("slash", *"minilm 43", "enter")
        assert table.keys == [seed_43]
        screen.query_one("#filter").value = "lr=0.0001"
        await wait_for(pilot, lambda: table.keys == ["a2" * 16], what="lr=0.0001")
        screen.query_one("#filter").value = "seed=44"
        await wait_for(pilot, lambda: table.keys == [seed_44], what="seed=44")

    drive(app_on(filled), body)


def test_at_80_columns_the_varying_settings_come_before_constant_labels(filled):
    """Issue 24: lr and seed sat off-screen at 80 columns behind columns whose value was the
    same in every row (one study shown)."""
    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")
        screen.study = "mind-text"
        await wait_for(pilot, lambda: len(table.keys) == 5, what="mind-text's runs")
        keys = [column.key for column in table.columns]
        right = 0
        for column in table.columns:
            right += column.width + 2
            if column.key == "param:train.lr":
                break
        assert right <= 80, keys
        assert keys.index("param:train.lr") < keys.index("study")  # study: one value here

    drive(app_on(filled), body, size=(80, 24))
